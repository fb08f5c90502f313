// 2-d pooling with torch's window arithmetic (aten/src/ATen/native/Pool.h and the CPU
// kernels): padded positions never win a max and, unless count_include_pad, never count
// toward an average; ceil mode drops a last window that would start in the right padding.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "../type_inference.h"
#include "reference_ops.h"

namespace quantkit::graph::ref {
namespace {

// Views [N?, C, H, W] as planes of H x W.
struct Planes {
  std::int64_t count, h, w;
};
Planes planes_of(const Tensor& x) {
  const std::int64_t h = x.size(-2), w = x.size(-1);
  return {h * w == 0 ? 0 : x.numel() / (h * w), h, w};
}

Shape with_spatial(const Tensor& x, std::int64_t oh, std::int64_t ow) {
  Shape s = x.shape();
  s[s.size() - 2] = oh;
  s[s.size() - 1] = ow;
  return s;
}

}  // namespace

Tensor max_pool2d(const Tensor& x, const PoolParams& p) {
  const Planes pl = planes_of(x);
  const std::int64_t oh = infer::pooling_output_size(pl.h, p.kernel[0], p.padding[0], p.stride[0],
                                                     p.dilation[0], p.ceil_mode);
  const std::int64_t ow = infer::pooling_output_size(pl.w, p.kernel[1], p.padding[1], p.stride[1],
                                                     p.dilation[1], p.ceil_mode);
  Tensor out = Tensor::empty(with_spatial(x, oh, ow), x.dtype());
  visit_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* in = x.data<T>();
    T* o = out.data<T>();
    for (std::int64_t plane = 0; plane < pl.count; ++plane) {
      const T* src = in + plane * pl.h * pl.w;
      for (std::int64_t oy = 0; oy < oh; ++oy) {
        for (std::int64_t ox = 0; ox < ow; ++ox) {
          T best = std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                        : std::numeric_limits<T>::lowest();
          for (std::int64_t ki = 0; ki < p.kernel[0]; ++ki) {
            const std::int64_t iy = oy * p.stride[0] - p.padding[0] + ki * p.dilation[0];
            if (iy < 0 || iy >= pl.h) continue;
            for (std::int64_t kj = 0; kj < p.kernel[1]; ++kj) {
              const std::int64_t ix = ox * p.stride[1] - p.padding[1] + kj * p.dilation[1];
              if (ix < 0 || ix >= pl.w) continue;
              const T v = src[iy * pl.w + ix];
              bool take = v > best;
              if constexpr (std::is_floating_point_v<T>) take = take || std::isnan(v);  // NaN wins
              if (take) best = v;
            }
          }
          o[(plane * oh + oy) * ow + ox] = best;
        }
      }
    }
  });
  return out;
}

Tensor avg_pool2d(const Tensor& x, const PoolParams& p, bool count_include_pad,
                  std::optional<std::int64_t> divisor_override) {
  const Planes pl = planes_of(x);
  const std::int64_t oh =
      infer::pooling_output_size(pl.h, p.kernel[0], p.padding[0], p.stride[0], 1, p.ceil_mode);
  const std::int64_t ow =
      infer::pooling_output_size(pl.w, p.kernel[1], p.padding[1], p.stride[1], 1, p.ceil_mode);
  Tensor out = Tensor::empty(with_spatial(x, oh, ow), x.dtype());
  visit_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_floating_point_v<T>) {
      const T* in = x.data<T>();
      T* o = out.data<T>();
      for (std::int64_t plane = 0; plane < pl.count; ++plane) {
        const T* src = in + plane * pl.h * pl.w;
        for (std::int64_t oy = 0; oy < oh; ++oy) {
          for (std::int64_t ox = 0; ox < ow; ++ox) {
            std::int64_t y0 = oy * p.stride[0] - p.padding[0];
            std::int64_t x0 = ox * p.stride[1] - p.padding[1];
            std::int64_t y1 = std::min(y0 + p.kernel[0], pl.h + p.padding[0]);
            std::int64_t x1 = std::min(x0 + p.kernel[1], pl.w + p.padding[1]);
            const std::int64_t padded_size = (y1 - y0) * (x1 - x0);
            y0 = std::max<std::int64_t>(y0, 0);
            x0 = std::max<std::int64_t>(x0, 0);
            y1 = std::min(y1, pl.h);
            x1 = std::min(x1, pl.w);
            T sum = 0;
            for (std::int64_t iy = y0; iy < y1; ++iy) {
              for (std::int64_t ix = x0; ix < x1; ++ix) sum += src[iy * pl.w + ix];
            }
            std::int64_t divisor = count_include_pad ? padded_size : (y1 - y0) * (x1 - x0);
            if (divisor_override) divisor = *divisor_override;
            o[(plane * oh + oy) * ow + ox] = sum / static_cast<T>(divisor);
          }
        }
      }
    }
  });
  return out;
}

Tensor adaptive_avg_pool2d(const Tensor& x, std::int64_t out_h, std::int64_t out_w) {
  const Planes pl = planes_of(x);
  Tensor out = Tensor::empty(with_spatial(x, out_h, out_w), x.dtype());
  // torch's adaptive windows: [floor(i * in / out), ceil((i + 1) * in / out)).
  auto start = [](std::int64_t i, std::int64_t in, std::int64_t outn) { return i * in / outn; };
  auto end = [](std::int64_t i, std::int64_t in, std::int64_t outn) {
    return ((i + 1) * in + outn - 1) / outn;
  };
  visit_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_floating_point_v<T>) {
      const T* in = x.data<T>();
      T* o = out.data<T>();
      for (std::int64_t plane = 0; plane < pl.count; ++plane) {
        const T* src = in + plane * pl.h * pl.w;
        for (std::int64_t oy = 0; oy < out_h; ++oy) {
          const std::int64_t y0 = start(oy, pl.h, out_h), y1 = end(oy, pl.h, out_h);
          for (std::int64_t ox = 0; ox < out_w; ++ox) {
            const std::int64_t x0 = start(ox, pl.w, out_w), x1 = end(ox, pl.w, out_w);
            T sum = 0;
            for (std::int64_t iy = y0; iy < y1; ++iy) {
              for (std::int64_t ix = x0; ix < x1; ++ix) sum += src[iy * pl.w + ix];
            }
            o[(plane * out_h + oy) * out_w + ox] = sum / static_cast<T>((y1 - y0) * (x1 - x0));
          }
        }
      }
    }
  });
  return out;
}

}  // namespace quantkit::graph::ref
