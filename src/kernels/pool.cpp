// Pooling: output geometry, the scalar definitions, the dispatch table and the window driver
// of the vector kernels (quantkit/kernels/pool.h).
#include <algorithm>
#include <array>
#include <cmath>

#include "pool_internal.h"
#include "quantkit/core/error.h"
#include "quantkit/kernels/cpu_features.h"

namespace quantkit::kernels {
namespace {

using pool_detail::PoolKernels;
using pool_detail::PoolWindow;

const PoolKernels& pool_table(IsaLevel level) {
  static const std::array<PoolKernels, 3> tables = [] {
    std::array<PoolKernels, 3> t{};
    if (detected_isa() >= IsaLevel::Avx2) t[1] = pool_detail::pool_kernels_avx2();
    if (detected_isa() >= IsaLevel::Avx512) t[2] = pool_detail::pool_kernels_avx512();
    return t;
  }();
  return tables[static_cast<int>(level)];
}

std::int64_t pooled_size(std::int64_t in, int kernel, int stride, int dilation, int pad_begin,
                         int pad_end, bool ceil_mode) {
  const std::int64_t span = static_cast<std::int64_t>(dilation) * (kernel - 1) + 1;
  const std::int64_t room = in + pad_begin + pad_end - span;
  if (room < 0) return 0;
  std::int64_t out = (room + (ceil_mode ? stride - 1 : 0)) / stride + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
  return out;
}

// One output coordinate's window along one axis: taps [start, start + count·dilation) step
// dilation inside [0, in); for averages also the padded extent (ATen's pool_size factor).
struct AxisWindow {
  std::int64_t start = 0, count = 0, padded = 0;
};

AxisWindow axis_window(const PoolParams& p, bool vertical, std::int64_t o, std::int64_t in,
                       std::int64_t out_size) {
  AxisWindow w;
  if (p.kind == PoolKind::AdaptiveAverage) {
    w.start = o * in / out_size;
    const std::int64_t end = ((o + 1) * in + out_size - 1) / out_size;
    w.count = end - w.start;
    w.padded = w.count;
    return w;
  }
  const int k = vertical ? p.kernel_h : p.kernel_w;
  const int stride = vertical ? p.stride_h : p.stride_w;
  const int dil = vertical ? p.dilation_h : p.dilation_w;
  const int pad_begin = vertical ? p.pad_top : p.pad_left;
  const int pad_end = vertical ? p.pad_bottom : p.pad_right;
  const std::int64_t first = o * stride - pad_begin;
  const std::int64_t padded_end = std::min<std::int64_t>(first + k, in + pad_end);
  w.padded = padded_end - first;  // only meaningful for dilation 1 (Average)
  std::int64_t lo = -1, hi = -1;
  for (int t = 0; t < k; ++t) {
    const std::int64_t i = first + static_cast<std::int64_t>(t) * dil;
    if (i >= 0 && i < in) {
      if (lo < 0) lo = t;
      hi = t;
    }
  }
  if (lo < 0) return w;  // count 0
  w.start = first + lo * dil;
  w.count = hi - lo + 1;
  return w;
}

void check_params(const char* where, const PoolParams& p) {
  check_argument(p.dtype == DType::Int8 || p.dtype == DType::UInt8, where, "dtype",
                 dtype_name(p.dtype), "int8 or uint8");
  check_argument(p.channels >= 1, where, "channels", p.channels, ">= 1");
  if (p.kind != PoolKind::AdaptiveAverage) {
    check_argument(p.kernel_h >= 1 && p.kernel_w >= 1, where, "kernel",
                   std::min(p.kernel_h, p.kernel_w), ">= 1");
    check_argument(p.stride_h >= 1 && p.stride_w >= 1, where, "stride",
                   std::min(p.stride_h, p.stride_w), ">= 1");
    check_argument(p.dilation_h >= 1 && p.dilation_w >= 1, where, "dilation",
                   std::min(p.dilation_h, p.dilation_w), ">= 1");
    check_argument(std::min({p.pad_top, p.pad_left, p.pad_bottom, p.pad_right}) >= 0, where,
                   "padding", std::min({p.pad_top, p.pad_left, p.pad_bottom, p.pad_right}), ">= 0");
  } else {
    check_argument(p.out_h >= 1 && p.out_w >= 1, where, "out_h", std::min(p.out_h, p.out_w),
                   ">= 1");
  }
  if (p.kind == PoolKind::Max) return;
  check_argument(p.kind != PoolKind::Average || (p.dilation_h == 1 && p.dilation_w == 1), where,
                 "dilation", std::max(p.dilation_h, p.dilation_w), "1 for average pooling");
  check_argument(p.divisor_override >= 0, where, "divisor_override", p.divisor_override,
                 ">= 0 (0: none)");
  check_argument(std::isfinite(p.in_scale) && p.in_scale > 0, where, "in_scale", p.in_scale,
                 "finite and > 0");
  check_argument(std::isfinite(p.out_scale) && p.out_scale > 0, where, "out_scale", p.out_scale,
                 "finite and > 0");
  const std::int64_t lo = dtype_min(p.dtype), hi = dtype_max(p.dtype);
  check_argument(p.in_zero_point >= lo && p.in_zero_point <= hi, where, "in_zero_point",
                 p.in_zero_point, "inside the dtype's range");
  check_argument(p.out_zero_point >= lo && p.out_zero_point <= hi, where, "out_zero_point",
                 p.out_zero_point, "inside the dtype's range");
  check_argument(p.qmin >= lo && p.qmin <= p.qmax && p.qmax <= hi, where, "qmin", p.qmin,
                 "lo <= qmin <= qmax <= hi of the dtype");
}

float scale_ratio(const PoolParams& p) {
  return static_cast<float>(p.in_scale) / static_cast<float>(p.out_scale);
}

// ATen: float multiplier = input_scale / output_scale / divide_factor (int → float).
float average_multiplier(float ratio, std::int64_t divisor) {
  return ratio / static_cast<float>(divisor);
}

std::int64_t average_divisor(const PoolParams& p, const AxisWindow& y, const AxisWindow& x) {
  if (p.kind == PoolKind::AdaptiveAverage) return y.count * x.count;
  if (p.divisor_override != 0) return p.divisor_override;
  return p.count_include_pad ? y.padded * x.padded : y.count * x.count;
}

}  // namespace

PoolShape pool_shape(const PoolParams& p, std::int64_t batch, std::int64_t in_h, std::int64_t in_w,
                     std::int64_t in_pixel_stride, std::int64_t out_pixel_stride) {
  constexpr const char* kWhere = "pool_shape";
  check_params(kWhere, p);
  check_argument(batch >= 1, kWhere, "batch", batch, ">= 1");
  check_argument(in_h >= 1 && in_w >= 1, kWhere, "in_h", std::min(in_h, in_w), "sizes >= 1");
  PoolShape s;
  s.batch = batch;
  s.in_h = in_h;
  s.in_w = in_w;
  s.in_pixel_stride = in_pixel_stride == 0 ? p.channels : in_pixel_stride;
  s.out_pixel_stride = out_pixel_stride == 0 ? p.channels : out_pixel_stride;
  check_argument(s.in_pixel_stride >= p.channels && s.out_pixel_stride >= p.channels, kWhere,
                 "pixel_stride", std::min(s.in_pixel_stride, s.out_pixel_stride), ">= channels");
  if (p.kind == PoolKind::AdaptiveAverage) {
    s.out_h = p.out_h;
    s.out_w = p.out_w;
  } else {
    s.out_h = pooled_size(in_h, p.kernel_h, p.stride_h, p.dilation_h, p.pad_top, p.pad_bottom,
                          p.ceil_mode);
    s.out_w = pooled_size(in_w, p.kernel_w, p.stride_w, p.dilation_w, p.pad_left, p.pad_right,
                          p.ceil_mode);
  }
  check_argument(s.out_h >= 1 && s.out_w >= 1, kWhere, "in_h", std::min(in_h, in_w),
                 "an input at least the padded window");
  // Every window must see the input (a window all in padding has no max and no average).
  for (std::int64_t o = 0; o < s.out_h; ++o) {
    check_argument(axis_window(p, true, o, in_h, s.out_h).count > 0, kWhere, "pad_top", p.pad_top,
                   "windows that overlap the input (padding too large)");
  }
  for (std::int64_t o = 0; o < s.out_w; ++o) {
    check_argument(axis_window(p, false, o, in_w, s.out_w).count > 0, kWhere, "pad_left",
                   p.pad_left, "windows that overlap the input (padding too large)");
  }
  return s;
}

void pool_reference(const PoolParams& p, const PoolShape& s, const void* input, void* output,
                    std::int64_t begin, std::int64_t end) {
  const auto* in = static_cast<const std::uint8_t*>(input);
  auto* out = static_cast<std::uint8_t*>(output);
  const bool is_signed = p.dtype == DType::Int8;
  const auto value = [is_signed](std::uint8_t b) -> std::int32_t {
    return is_signed ? static_cast<std::int8_t>(b) : b;
  };
  const RequantBounds bounds = requant_bounds(p.out_zero_point, p.qmin, p.qmax);
  const float ratio = scale_ratio(p);
  const int dil_h = p.kind == PoolKind::Max ? p.dilation_h : 1;
  const int dil_w = p.kind == PoolKind::Max ? p.dilation_w : 1;
  for (std::int64_t px = begin; px < end; ++px) {
    const std::int64_t n = px / (s.out_h * s.out_w);
    const std::int64_t oy = px / s.out_w % s.out_h, ox = px % s.out_w;
    const AxisWindow wy = axis_window(p, true, oy, s.in_h, s.out_h);
    const AxisWindow wx = axis_window(p, false, ox, s.in_w, s.out_w);
    for (std::int64_t c = 0; c < p.channels; ++c) {
      std::int32_t best = 0, sum = 0;
      bool any = false;
      for (std::int64_t r = 0; r < wy.count; ++r) {
        for (std::int64_t q = 0; q < wx.count; ++q) {
          const std::int64_t iy = wy.start + r * dil_h, ix = wx.start + q * dil_w;
          const std::int32_t v =
              value(in[((n * s.in_h + iy) * s.in_w + ix) * s.in_pixel_stride + c]);
          best = any ? std::max(best, v) : v;
          any = true;
          sum += v;
        }
      }
      std::int32_t y = best;
      if (p.kind != PoolKind::Max) {
        const std::int64_t size = wy.count * wx.count;
        const std::int32_t acc = sum - p.in_zero_point * static_cast<std::int32_t>(size);
        y = requantize(acc, average_multiplier(ratio, average_divisor(p, wy, wx)), bounds);
      }
      out[px * s.out_pixel_stride + c] = static_cast<std::uint8_t>(y);
    }
  }
}

Pool2d::Pool2d(const PoolParams& params) : params_(params) {
  check_params("Pool2d", params_);
  if (params_.kind != PoolKind::Max) scale_ratio_ = scale_ratio(params_);
}

const PoolShape& Pool2d::setup(std::int64_t batch, std::int64_t in_h, std::int64_t in_w,
                               std::int64_t in_pixel_stride, std::int64_t out_pixel_stride) {
  shape_ = pool_shape(params_, batch, in_h, in_w, in_pixel_stride, out_pixel_stride);
  return shape_;
}

void Pool2d::run(const void* input, void* output, std::int64_t begin, std::int64_t end) const {
  const PoolKernels& k = pool_table(active_isa());
  if (!k.max) {
    run_reference(input, output, begin, end);
    return;
  }
  const PoolParams& p = params_;
  const PoolShape& s = shape_;
  const auto* in = static_cast<const std::uint8_t*>(input);
  auto* out = static_cast<std::uint8_t*>(output);
  const bool is_signed = p.dtype == DType::Int8;
  const RequantBounds bounds = requant_bounds(p.out_zero_point, p.qmin, p.qmax);
  const std::int64_t dil_h = p.kind == PoolKind::Max ? p.dilation_h : 1;
  const std::int64_t dil_w = p.kind == PoolKind::Max ? p.dilation_w : 1;
  for (std::int64_t px = begin; px < end; ++px) {
    const std::int64_t n = px / (s.out_h * s.out_w);
    const std::int64_t oy = px / s.out_w % s.out_h, ox = px % s.out_w;
    const AxisWindow wy = axis_window(p, true, oy, s.in_h, s.out_h);
    const AxisWindow wx = axis_window(p, false, ox, s.in_w, s.out_w);
    PoolWindow w;
    w.first = in + ((n * s.in_h + wy.start) * s.in_w + wx.start) * s.in_pixel_stride;
    w.rows = wy.count;
    w.cols = wx.count;
    w.row_step = dil_h * s.in_w * s.in_pixel_stride;
    w.col_step = dil_w * s.in_pixel_stride;
    std::uint8_t* y = out + px * s.out_pixel_stride;
    if (p.kind == PoolKind::Max) {
      k.max(w, p.channels, is_signed, y);
    } else {
      const std::int64_t size = wy.count * wx.count;
      const std::int32_t init = -p.in_zero_point * static_cast<std::int32_t>(size);
      const float m = average_multiplier(scale_ratio_, average_divisor(p, wy, wx));
      k.avg(w, p.channels, is_signed, init, m, bounds, y);
    }
  }
}

void Pool2d::run_reference(const void* input, void* output, std::int64_t begin,
                           std::int64_t end) const {
  pool_reference(params_, shape_, input, output, begin, end);
}

const char* Pool2d::kernel_name() const {
  const PoolKernels& k = pool_table(active_isa());
  return k.max ? k.name : "reference";
}

}  // namespace quantkit::kernels
