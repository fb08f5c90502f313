// Uniform affine quantization per tensor and per channel (quantkit/quant/affine.h): argument
// validation, then the element kernels of quantkit/kernels/affine_kernels.h.
#include "quantkit/quant/affine.h"

#include <cmath>
#include <string>
#include <vector>

#include "affine_common.h"
#include "quantkit/core/error.h"
#include "quantkit/kernels/affine_kernels.h"

namespace quantkit {
namespace {

using namespace affine_detail;

std::string indexed(std::string_view name, std::size_t i) {
  return std::string(name) + "[" + std::to_string(i) + "]";
}

// float32(scales[c]) for every channel, after checking each one and the count.
std::vector<float> checked_channel_scales(std::string_view where, std::span<const double> scales,
                                          std::int64_t channels) {
  check_argument(static_cast<std::int64_t>(scales.size()) == channels, where, "scales",
                 std::to_string(scales.size()) + " values",
                 std::to_string(channels) + " (the size of the channel axis)");
  std::vector<float> out(scales.size());
  for (std::size_t c = 0; c < scales.size(); ++c) {
    if (!is_valid_scale(scales[c])) checked_scale(where, indexed("scales", c), scales[c]);
    out[c] = static_cast<float>(scales[c]);
  }
  return out;
}

void check_channel_zero_points(std::string_view where, std::span<const std::int64_t> zero_points,
                               std::int64_t channels, std::int64_t lo, std::int64_t hi) {
  check_argument(static_cast<std::int64_t>(zero_points.size()) == channels, where, "zero_points",
                 std::to_string(zero_points.size()) + " values",
                 std::to_string(channels) + " (the size of the channel axis)");
  for (std::size_t c = 0; c < zero_points.size(); ++c) {
    if (zero_points[c] < lo || zero_points[c] > hi) {
      check_zero_point(where, indexed("zero_points", c), zero_points[c], lo, hi);
    }
  }
}

void check_channel_zero_points(std::string_view where, std::span<const float> zero_points,
                               std::int64_t channels) {
  check_argument(static_cast<std::int64_t>(zero_points.size()) == channels, where, "zero_points",
                 std::to_string(zero_points.size()) + " values",
                 std::to_string(channels) + " (the size of the channel axis)");
  for (std::size_t c = 0; c < zero_points.size(); ++c) {
    check_argument(std::isfinite(zero_points[c]), where, indexed("zero_points", c),
                   zero_points[c], "a finite value");
  }
}

std::size_t count(std::int64_t n) { return static_cast<std::size_t>(n); }

// Calls run(offset, length, channel) for every contiguous run of one channel.
template <class Run>
void for_each_channel_run(const ChannelLayout& l, Run&& run) {
  for (std::int64_t o = 0; o < l.outer; ++o) {
    for (std::int64_t c = 0; c < l.channels; ++c) {
      run(count((o * l.channels + c) * l.inner), count(l.inner), count(c));
    }
  }
}

// ---- fake quantize per channel, shared by the int and float zero-point variants.

template <class ZeroPoint>
kernels::FakeQuantizeParams channel_fake_params(float scale, ZeroPoint zp, std::int64_t qmin,
                                                std::int64_t qmax) {
  const auto lo = static_cast<std::int32_t>(qmin);
  const auto hi = static_cast<std::int32_t>(qmax);
  if constexpr (std::is_same_v<ZeroPoint, float>) {
    return kernels::FakeQuantizeParams::with_float_zero_point(scale, zp, lo, hi);
  } else {
    return kernels::FakeQuantizeParams::with_integer_zero_point(
        scale, static_cast<std::int32_t>(zp), lo, hi);
  }
}

// dy == nullptr: forward into out; otherwise the STE gradient into out.
template <class ZeroPoint>
void fake_quantize_channels(std::string_view where, const Tensor& x, const Tensor* dy,
                            std::span<const double> scales,
                            std::span<const ZeroPoint> zero_points, std::int64_t axis,
                            std::int64_t quant_min, std::int64_t quant_max, Tensor& out) {
  check_float32(where, "x", x);
  if (dy) check_grad(where, *dy, x);
  check_fake_range(where, quant_min, quant_max);
  const std::int64_t a = normalize_axis(where, axis, x.dim());
  const ChannelLayout l = channel_layout(x.shape(), a);
  const std::vector<float> s = checked_channel_scales(where, scales, l.channels);
  if constexpr (std::is_same_v<ZeroPoint, float>) {
    check_channel_zero_points(where, zero_points, l.channels);
  } else {
    check_channel_zero_points(where, zero_points, l.channels, quant_min, quant_max);
  }
  check_out(where, out, DType::Float32, x.shape());
  if (x.numel() == 0) return;

  const float* xp = x.data<float>();
  const float* dyp = dy ? dy->data<float>() : nullptr;
  float* op = out.data<float>();
  if (use_channel_runs(l) || !kernels::fake_quantize_periodic_supported(quant_min, quant_max)) {
    for_each_channel_run(l, [&](std::size_t off, std::size_t len, std::size_t c) {
      const auto p = channel_fake_params(s[c], zero_points[c], quant_min, quant_max);
      if (dyp) {
        kernels::fake_quantize_backward(dyp + off, xp + off, op + off, len, p);
      } else {
        kernels::fake_quantize(xp + off, op + off, len, p);
      }
    });
    return;
  }
  const std::vector<std::int64_t> pattern = periodic_channel_pattern(l);
  std::vector<float> ps(pattern.size()), pinv(pattern.size()), pzp(pattern.size());
  for (std::size_t j = 0; j < pattern.size(); ++j) {
    const auto c = count(pattern[j]);
    ps[j] = s[c];
    pinv[j] = 1.0f / s[c];
    pzp[j] = static_cast<float>(zero_points[c]);  // exact: |zp| <= 2^24 here
  }
  const kernels::FakeQuantizePeriodicParams p{ps.data(),
                                              pinv.data(),
                                              pzp.data(),
                                              pattern.size(),
                                              static_cast<std::int32_t>(quant_min),
                                              static_cast<std::int32_t>(quant_max),
                                              std::is_same_v<ZeroPoint, float>};
  if (dyp) {
    kernels::fake_quantize_backward(dyp, xp, op, count(x.numel()), p);
  } else {
    kernels::fake_quantize(xp, op, count(x.numel()), p);
  }
}

}  // namespace

// ---------------------------------------------------------------- per tensor

void quantize_per_tensor_into(const Tensor& x, double scale, std::int64_t zero_point,
                              const QuantRange& range, Tensor& out) {
  constexpr std::string_view where = "quantize_per_tensor";
  check_float32(where, "x", x);
  range.validate(where);
  const float s = checked_scale(where, "scale", scale);
  check_zero_point(where, "zero_point", zero_point, range.quant_min, range.quant_max);
  check_out(where, out, range.dtype, x.shape());
  const kernels::QuantizeParams p{1.0f / s, static_cast<float>(zero_point),
                                  static_cast<std::int32_t>(range.quant_min),
                                  static_cast<std::int32_t>(range.quant_max)};
  visit_quantized(range.dtype, [&](auto tag) {
    using T = decltype(tag);
    kernels::quantize(x.data<float>(), out.data<T>(), count(x.numel()), p);
  });
}

Tensor quantize_per_tensor(const Tensor& x, double scale, std::int64_t zero_point,
                           const QuantRange& range) {
  range.validate("quantize_per_tensor");
  Tensor out = Tensor::empty(x.shape(), range.dtype);
  quantize_per_tensor_into(x, scale, zero_point, range, out);
  return out;
}

void dequantize_per_tensor_into(const Tensor& q, double scale, std::int64_t zero_point,
                                Tensor& out) {
  constexpr std::string_view where = "dequantize_per_tensor";
  check_quantized_dtype(where, "q", q);
  const float s = checked_scale(where, "scale", scale);
  check_zero_point(where, "zero_point", zero_point, dtype_min(q.dtype()), dtype_max(q.dtype()));
  check_out(where, out, DType::Float32, q.shape());
  const kernels::DequantizeParams p{s, static_cast<std::int32_t>(zero_point)};
  visit_quantized(q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::dequantize(q.data<T>(), out.data<float>(), count(q.numel()), p);
  });
}

Tensor dequantize_per_tensor(const Tensor& q, double scale, std::int64_t zero_point) {
  Tensor out = Tensor::empty(q.shape(), DType::Float32);
  dequantize_per_tensor_into(q, scale, zero_point, out);
  return out;
}

void fake_quantize_per_tensor_into(const Tensor& x, double scale, std::int64_t zero_point,
                                   std::int64_t quant_min, std::int64_t quant_max, Tensor& out) {
  constexpr std::string_view where = "fake_quantize_per_tensor";
  check_float32(where, "x", x);
  check_fake_range(where, quant_min, quant_max);
  const float s = checked_scale(where, "scale", scale);
  check_zero_point(where, "zero_point", zero_point, quant_min, quant_max);
  check_out(where, out, DType::Float32, x.shape());
  const auto p = kernels::FakeQuantizeParams::with_integer_zero_point(
      s, static_cast<std::int32_t>(zero_point), static_cast<std::int32_t>(quant_min),
      static_cast<std::int32_t>(quant_max));
  kernels::fake_quantize(x.data<float>(), out.data<float>(), count(x.numel()), p);
}

Tensor fake_quantize_per_tensor(const Tensor& x, double scale, std::int64_t zero_point,
                                std::int64_t quant_min, std::int64_t quant_max) {
  Tensor out = Tensor::empty(x.shape(), DType::Float32);
  fake_quantize_per_tensor_into(x, scale, zero_point, quant_min, quant_max, out);
  return out;
}

Tensor fake_quantize_per_tensor_backward(const Tensor& dy, const Tensor& x, double scale,
                                         std::int64_t zero_point, std::int64_t quant_min,
                                         std::int64_t quant_max) {
  constexpr std::string_view where = "fake_quantize_per_tensor_backward";
  check_float32(where, "x", x);
  check_grad(where, dy, x);
  check_fake_range(where, quant_min, quant_max);
  const float s = checked_scale(where, "scale", scale);
  check_zero_point(where, "zero_point", zero_point, quant_min, quant_max);
  Tensor dx = Tensor::empty(x.shape(), DType::Float32);
  const auto p = kernels::FakeQuantizeParams::with_integer_zero_point(
      s, static_cast<std::int32_t>(zero_point), static_cast<std::int32_t>(quant_min),
      static_cast<std::int32_t>(quant_max));
  kernels::fake_quantize_backward(dy.data<float>(), x.data<float>(), dx.data<float>(),
                                  count(x.numel()), p);
  return dx;
}

// ---------------------------------------------------------------- per channel

void quantize_per_channel_into(const Tensor& x, std::span<const double> scales,
                               std::span<const std::int64_t> zero_points, std::int64_t axis,
                               const QuantRange& range, Tensor& out) {
  constexpr std::string_view where = "quantize_per_channel";
  check_float32(where, "x", x);
  range.validate(where);
  const std::int64_t a = normalize_axis(where, axis, x.dim());
  const ChannelLayout l = channel_layout(x.shape(), a);
  const std::vector<float> s = checked_channel_scales(where, scales, l.channels);
  check_channel_zero_points(where, zero_points, l.channels, range.quant_min, range.quant_max);
  check_out(where, out, range.dtype, x.shape());
  if (x.numel() == 0) return;

  const auto qmin = static_cast<std::int32_t>(range.quant_min);
  const auto qmax = static_cast<std::int32_t>(range.quant_max);
  visit_quantized(range.dtype, [&](auto tag) {
    using T = decltype(tag);
    const float* xp = x.data<float>();
    T* qp = out.data<T>();
    if (use_channel_runs(l)) {
      for_each_channel_run(l, [&](std::size_t off, std::size_t len, std::size_t c) {
        const kernels::QuantizeParams p{1.0f / s[c], static_cast<float>(zero_points[c]), qmin,
                                        qmax};
        kernels::quantize(xp + off, qp + off, len, p);
      });
      return;
    }
    const std::vector<std::int64_t> pattern = periodic_channel_pattern(l);
    std::vector<float> inv(pattern.size()), zp(pattern.size());
    for (std::size_t j = 0; j < pattern.size(); ++j) {
      inv[j] = 1.0f / s[count(pattern[j])];
      zp[j] = static_cast<float>(zero_points[count(pattern[j])]);
    }
    const kernels::QuantizePeriodicParams p{inv.data(), zp.data(), pattern.size(), qmin, qmax};
    kernels::quantize(xp, qp, count(x.numel()), p);
  });
}

Tensor quantize_per_channel(const Tensor& x, std::span<const double> scales,
                            std::span<const std::int64_t> zero_points, std::int64_t axis,
                            const QuantRange& range) {
  range.validate("quantize_per_channel");
  Tensor out = Tensor::empty(x.shape(), range.dtype);
  quantize_per_channel_into(x, scales, zero_points, axis, range, out);
  return out;
}

void dequantize_per_channel_into(const Tensor& q, std::span<const double> scales,
                                 std::span<const std::int64_t> zero_points, std::int64_t axis,
                                 Tensor& out) {
  constexpr std::string_view where = "dequantize_per_channel";
  check_quantized_dtype(where, "q", q);
  const std::int64_t a = normalize_axis(where, axis, q.dim());
  const ChannelLayout l = channel_layout(q.shape(), a);
  checked_channel_scales(where, scales, l.channels);
  check_channel_zero_points(where, zero_points, l.channels, dtype_min(q.dtype()),
                            dtype_max(q.dtype()));
  check_out(where, out, DType::Float32, q.shape());
  if (q.numel() == 0) return;

  visit_quantized(q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* qp = q.data<T>();
    float* yp = out.data<float>();
    if (use_channel_runs(l)) {
      for_each_channel_run(l, [&](std::size_t off, std::size_t len, std::size_t c) {
        // torch keeps per-channel scales as float64 and uses them unrounded here.
        const kernels::DequantizeChannelParams p{scales[c], static_cast<float>(zero_points[c])};
        kernels::dequantize(qp + off, yp + off, len, p);
      });
      return;
    }
    const std::vector<std::int64_t> pattern = periodic_channel_pattern(l);
    std::vector<double> ps(pattern.size());
    std::vector<float> pz(pattern.size());
    for (std::size_t j = 0; j < pattern.size(); ++j) {
      ps[j] = scales[count(pattern[j])];
      pz[j] = static_cast<float>(zero_points[count(pattern[j])]);
    }
    const kernels::DequantizeChannelPeriodicParams p{ps.data(), pz.data(), pattern.size()};
    kernels::dequantize(qp, yp, count(q.numel()), p);
  });
}

Tensor dequantize_per_channel(const Tensor& q, std::span<const double> scales,
                              std::span<const std::int64_t> zero_points, std::int64_t axis) {
  Tensor out = Tensor::empty(q.shape(), DType::Float32);
  dequantize_per_channel_into(q, scales, zero_points, axis, out);
  return out;
}

void fake_quantize_per_channel_into(const Tensor& x, std::span<const double> scales,
                                    std::span<const std::int64_t> zero_points,
                                    std::int64_t axis, std::int64_t quant_min,
                                    std::int64_t quant_max, Tensor& out) {
  fake_quantize_channels<std::int64_t>("fake_quantize_per_channel", x, nullptr, scales,
                                       zero_points, axis, quant_min, quant_max, out);
}

Tensor fake_quantize_per_channel(const Tensor& x, std::span<const double> scales,
                                 std::span<const std::int64_t> zero_points, std::int64_t axis,
                                 std::int64_t quant_min, std::int64_t quant_max) {
  Tensor out = Tensor::empty(x.shape(), DType::Float32);
  fake_quantize_per_channel_into(x, scales, zero_points, axis, quant_min, quant_max, out);
  return out;
}

Tensor fake_quantize_per_channel_backward(const Tensor& dy, const Tensor& x,
                                          std::span<const double> scales,
                                          std::span<const std::int64_t> zero_points,
                                          std::int64_t axis, std::int64_t quant_min,
                                          std::int64_t quant_max) {
  Tensor dx = Tensor::empty(x.shape(), DType::Float32);
  fake_quantize_channels<std::int64_t>("fake_quantize_per_channel_backward", x, &dy, scales,
                                       zero_points, axis, quant_min, quant_max, dx);
  return dx;
}

Tensor fake_quantize_per_channel_float_zp(const Tensor& x, std::span<const double> scales,
                                          std::span<const float> zero_points,
                                          std::int64_t axis, std::int64_t quant_min,
                                          std::int64_t quant_max) {
  Tensor out = Tensor::empty(x.shape(), DType::Float32);
  fake_quantize_channels<float>("fake_quantize_per_channel_float_zp", x, nullptr, scales,
                                zero_points, axis, quant_min, quant_max, out);
  return out;
}

Tensor fake_quantize_per_channel_float_zp_backward(const Tensor& dy, const Tensor& x,
                                                   std::span<const double> scales,
                                                   std::span<const float> zero_points,
                                                   std::int64_t axis, std::int64_t quant_min,
                                                   std::int64_t quant_max) {
  Tensor dx = Tensor::empty(x.shape(), DType::Float32);
  fake_quantize_channels<float>("fake_quantize_per_channel_float_zp_backward", x, &dy, scales,
                                zero_points, axis, quant_min, quant_max, dx);
  return dx;
}

}  // namespace quantkit
