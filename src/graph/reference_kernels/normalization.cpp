// batch_norm (inference) and softmax.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "reference_ops.h"

namespace quantkit::graph::ref {

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                  const Tensor& var, double eps) {
  const std::int64_t n = x.size(0);
  const std::int64_t c = x.size(1);
  const std::int64_t inner = (n * c) == 0 ? 0 : x.numel() / (n * c);
  Tensor out = Tensor::empty(x.shape(), DType::Float32);
  // Like torch's CPU inference path: fold the statistics into one scale and shift per
  // channel (alpha = weight / sqrt(var + eps), beta = bias - mean * alpha), then
  // y = x * alpha + beta.
  std::vector<float> alpha(static_cast<std::size_t>(c)), beta(static_cast<std::size_t>(c));
  const float* w = weight.data<float>();
  const float* b = bias.data<float>();
  const float* m = mean.data<float>();
  const float* v = var.data<float>();
  for (std::int64_t ch = 0; ch < c; ++ch) {
    const float invstd = 1.0f / std::sqrt(v[ch] + static_cast<float>(eps));
    alpha[static_cast<std::size_t>(ch)] = invstd * w[ch];
    beta[static_cast<std::size_t>(ch)] = b[ch] - m[ch] * alpha[static_cast<std::size_t>(ch)];
  }
  const float* in = x.data<float>();
  float* o = out.data<float>();
  for (std::int64_t img = 0; img < n; ++img) {
    for (std::int64_t ch = 0; ch < c; ++ch) {
      const float a = alpha[static_cast<std::size_t>(ch)];
      const float s = beta[static_cast<std::size_t>(ch)];
      const std::int64_t base = (img * c + ch) * inner;
      for (std::int64_t i = 0; i < inner; ++i) o[base + i] = in[base + i] * a + s;
    }
  }
  return out;
}

Tensor softmax(const Tensor& x, std::int64_t dim) {
  const std::int64_t rank = std::max<std::int64_t>(x.dim(), 1);
  if (dim < 0) dim += rank;
  const std::int64_t len = x.dim() == 0 ? 1 : x.size(dim);
  std::int64_t inner = 1;
  for (std::int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.size(d);
  const std::int64_t outer = len * inner == 0 ? 0 : x.numel() / (len * inner);
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  visit_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_floating_point_v<T>) {
      const T* in = x.data<T>();
      T* o = out.data<T>();
      for (std::int64_t a = 0; a < outer; ++a) {
        for (std::int64_t i = 0; i < inner; ++i) {
          const std::int64_t base = a * len * inner + i;
          // Subtract the max so exp never overflows.
          T max = -std::numeric_limits<T>::infinity();
          for (std::int64_t k = 0; k < len; ++k) max = std::max(max, in[base + k * inner]);
          T sum = 0;
          for (std::int64_t k = 0; k < len; ++k) {
            const T e = std::exp(in[base + k * inner] - max);
            o[base + k * inner] = e;
            sum += e;
          }
          for (std::int64_t k = 0; k < len; ++k) o[base + k * inner] /= sum;
        }
      }
    }
  });
  return out;
}

}  // namespace quantkit::graph::ref
