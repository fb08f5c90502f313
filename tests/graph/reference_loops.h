#pragma once
// Straightforward loop references (double accumulation) for the float ops the graph tests
// check the interpreter against.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/builder.h"

namespace quantkit::graph::testing {

inline Tensor linear_reference(const Tensor& x, const Tensor& w, const Tensor* bias) {
  const std::int64_t k = w.size(1), n = w.size(0), rows = x.numel() / k;
  Shape shape = x.shape();
  shape.back() = n;
  Tensor out = Tensor::empty(shape, DType::Float32);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < n; ++j) {
      double acc = bias ? bias->data<float>()[j] : 0.0;
      for (std::int64_t i = 0; i < k; ++i) {
        acc += double{x.data<float>()[r * k + i]} * double{w.data<float>()[j * k + i]};
      }
      out.data<float>()[r * n + j] = static_cast<float>(acc);
    }
  }
  return out;
}

inline Tensor conv_reference(const Tensor& x, const Tensor& w, const Tensor* bias,
                             const Conv2dOptions& o) {
  const std::int64_t n = x.size(0), c = x.size(1), h = x.size(2), wd = x.size(3);
  const std::int64_t oc = w.size(0), kh = w.size(2), kw = w.size(3);
  const std::int64_t g = o.groups, cg = c / g, og = oc / g;
  const std::int64_t oh = (h + 2 * o.padding[0] - o.dilation[0] * (kh - 1) - 1) / o.stride[0] + 1;
  const std::int64_t ow = (wd + 2 * o.padding[1] - o.dilation[1] * (kw - 1) - 1) / o.stride[1] + 1;
  Tensor out = Tensor::empty({n, oc, oh, ow}, DType::Float32);
  const float* xp = x.data<float>();
  const float* wp = w.data<float>();
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t k = 0; k < oc; ++k)
      for (std::int64_t i = 0; i < oh; ++i)
        for (std::int64_t j = 0; j < ow; ++j) {
          double acc = bias ? bias->data<float>()[k] : 0.0;
          const std::int64_t grp = k / og;
          for (std::int64_t ci = 0; ci < cg; ++ci)
            for (std::int64_t u = 0; u < kh; ++u)
              for (std::int64_t v = 0; v < kw; ++v) {
                const std::int64_t y = i * o.stride[0] - o.padding[0] + u * o.dilation[0];
                const std::int64_t z = j * o.stride[1] - o.padding[1] + v * o.dilation[1];
                if (y < 0 || y >= h || z < 0 || z >= wd) continue;
                acc += double{xp[((b * c + grp * cg + ci) * h + y) * wd + z]} *
                       double{wp[((k * cg + ci) * kh + u) * kw + v]};
              }
          out.data<float>()[((b * oc + k) * oh + i) * ow + j] = static_cast<float>(acc);
        }
  return out;
}

inline Tensor max_pool_reference(const Tensor& x, const MaxPool2dOptions& o, std::int64_t oh,
                                 std::int64_t ow) {
  const std::int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
  Tensor out = Tensor::empty({x.size(0), x.size(1), oh, ow}, DType::Float32);
  for (std::int64_t p = 0; p < planes; ++p)
    for (std::int64_t i = 0; i < oh; ++i)
      for (std::int64_t j = 0; j < ow; ++j) {
        float best = -std::numeric_limits<float>::infinity();
        for (std::int64_t u = 0; u < o.kernel_size[0]; ++u)
          for (std::int64_t v = 0; v < o.kernel_size[1]; ++v) {
            const std::int64_t y = i * o.stride[0] - o.padding[0] + u * o.dilation[0];
            const std::int64_t z = j * o.stride[1] - o.padding[1] + v * o.dilation[1];
            if (y >= 0 && y < h && z >= 0 && z < w)
              best = std::max(best, x.data<float>()[(p * h + y) * w + z]);
          }
        out.data<float>()[(p * oh + i) * ow + j] = best;
      }
  return out;
}

}  // namespace quantkit::graph::testing
