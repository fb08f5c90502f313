// Reference kernels of the fused integer ops the lowering pass produces (quantized_linear,
// quantized_conv2d, quantized_add, dynamic_quantized_linear). quantized_linear / conv2d use
// the runtime's requantization (kernels/requantize.h: float32 multiply, round half to even)
// on torchao's int32 accumulation; quantized_add and dynamic_quantized_linear follow
// torchao's reference representation (reference_representation_rewrite.py) with torch's
// dtype promotion. The optimized kernels the runtime uses are tested against these.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/kernels/requantize.h"
#include "quantkit/quant/affine.h"
#include "quantkit/quant/choose_qparams.h"
#include "reference_ops.h"
#include "quantkit/kernels/grouped_linear.h"
#include "quantkit/quant/per_token.h"

namespace quantkit::graph::ref {
namespace {

// torch's int32 addition wraps.
std::int32_t add_i32(std::int64_t a, std::int64_t b) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(b));
}

Tensor minus_zero_point_i32(const Tensor& q, std::int64_t zero_point) {
  return binary(BinaryOp::Sub, cast(q, DType::Int32),
                Tensor::scalar(static_cast<std::int32_t>(zero_point)));
}

// out[i] = kernels::requantize(acc[i], m[channel(i)], zp, qmin, qmax): channel(i) walks
// dimension `channel_dim` of acc's shape; a 1-element multiplier applies everywhere.
Tensor requantize_per_channel(const Tensor& acc, const Tensor& multipliers, std::size_t channel_dim,
                              std::int64_t zero_point, std::int64_t quant_min,
                              std::int64_t quant_max, DType dtype) {
  const Shape& shape = acc.shape();
  std::int64_t inner = 1;
  for (std::size_t d = channel_dim + 1; d < shape.size(); ++d) inner *= shape[d];
  const std::int64_t channels = shape[channel_dim];
  const float* m = multipliers.data<float>();
  const bool per_channel = multipliers.numel() > 1;
  const auto* a = acc.data<std::int32_t>();
  Tensor out = Tensor::empty(shape, dtype);
  visit_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    T* o = out.data<T>();
    for (std::int64_t i = 0; i < acc.numel(); ++i) {
      const float mult = per_channel ? m[(i / inner) % channels] : m[0];
      o[i] = static_cast<T>(kernels::requantize(
          a[i], mult, static_cast<std::int32_t>(zero_point), static_cast<std::int32_t>(quant_min),
          static_cast<std::int32_t>(quant_max)));
    }
  });
  return out;
}

}  // namespace

Tensor quantized_linear(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        const Tensor& multipliers, const QuantizedParams& p) {
  const Tensor acc = integer_linear(minus_zero_point_i32(x, p.x_zero_point), weight, &bias);
  return requantize_per_channel(acc, multipliers, acc.shape().size() - 1, p.out_zero_point,
                                p.quant_min, p.quant_max, p.dtype);
}

Tensor quantized_conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        const Tensor& multipliers, const ConvParams& conv,
                        const QuantizedParams& p) {
  // Zero padding of (x - x_zp) is padding x with x_zp: both paths agree.
  const Tensor acc = integer_conv2d(minus_zero_point_i32(x, p.x_zero_point), weight, &bias, conv);
  return requantize_per_channel(acc, multipliers, 1, p.out_zero_point, p.quant_min, p.quant_max,
                                p.dtype);
}

Tensor quantized_add(const Tensor& a, const Tensor& b, const QuantizedAddParams& p) {
  // The runtime's quantized add (kernels/eltwise.h, XNNPACK's fp32 vadd): in float32,
  //   v = float(a - a_zp) * float32(a_multiplier) + float(b - b_zp) * float32(b_multiplier)
  // each product and the sum rounded to float32, then clamp, round half to even, + out_zp
  // (kernels::requantize_float). One rounding of the sum, not one per input (torchao's).
  auto scaled = [](const Tensor& q, std::int64_t zp, double multiplier) {
    const Tensor centered = minus_zero_point_i32(q, zp);
    Tensor out = Tensor::empty(q.shape(), DType::Float32);
    const auto* c = centered.data<std::int32_t>();
    const auto m = static_cast<float>(multiplier);
    float* o = out.data<float>();
    for (std::int64_t i = 0; i < q.numel(); ++i) o[i] = static_cast<float>(c[i]) * m;
    return out;
  };
  const Tensor sum = binary(BinaryOp::Add, scaled(a, p.a_zero_point, p.a_multiplier),
                            scaled(b, p.b_zero_point, p.b_multiplier));
  const kernels::RequantBounds bounds = kernels::requant_bounds(
      static_cast<std::int32_t>(p.out.out_zero_point), static_cast<std::int32_t>(p.out.quant_min),
      static_cast<std::int32_t>(p.out.quant_max));
  Tensor out = Tensor::empty(sum.shape(), p.out.dtype);
  const float* s = sum.data<float>();
  visit_dtype(p.out.dtype, [&](auto zero) {
    using T = decltype(zero);
    T* o = out.data<T>();
    for (std::int64_t i = 0; i < sum.numel(); ++i) {
      o[i] = static_cast<T>(kernels::requantize_float(s[i], bounds));
    }
  });
  return out;
}

Tensor dynamic_quantized_linear(const Tensor& x, const Tensor& weight, const Tensor& weight_scales,
                                const Tensor* bias, std::int64_t quant_min, std::int64_t quant_max,
                                double eps) {
  // choose_qparams.tensor (the graph's choose_qparams op): a float32 scale held in a float64
  // 0-d tensor, an int64 zero point.
  const DynamicQParams q =
      choose_qparams_tensor(x, QuantRange::of(DType::Int8, quant_min, quant_max),
                            static_cast<float>(eps), "dynamic_quantized_linear");
  const double x_scale = q.scale;
  const std::int64_t x_zp = q.zero_point;
  const float* px = x.data<float>();
  // torchao's decomposed quantize: x / x_scale with x float32 [..] and x_scale float64 [1]
  // (both dimensioned: float64), round half to even, .to(int32), + zp (int64), clamp, int8.
  // This divides where quantize_per_tensor multiplies by 1/scale, so it is spelled out.
  Tensor x_q = Tensor::empty(x.shape(), DType::Int8);
  auto* pq = x_q.data<std::int8_t>();
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const std::int64_t v = static_cast<std::int64_t>(saturating_trunc_i32(
                               std::nearbyint(static_cast<double>(px[i]) / x_scale))) +
                           x_zp;
    pq[i] = static_cast<std::int8_t>(std::clamp(v, quant_min, quant_max));
  }
  const Tensor acc = integer_linear(minus_zero_point_i32(x_q, x_zp), weight, nullptr);
  // combined = x_scale * w_scale (float64); bias_i32 = trunc(f64(bias) / combined) (float32
  // [out] and float64 [1] are both dimensioned: float64); out = f64(acc + bias_i32) *
  // combined, float64 in torch, rounded to float32 here.
  const std::int64_t out_features = weight.shape()[0];
  const double* ws = weight_scales.data<double>();
  std::vector<double> combined(static_cast<std::size_t>(out_features));
  std::vector<std::int32_t> bias_i32(static_cast<std::size_t>(out_features), 0);
  const float* b = bias != nullptr ? bias->data<float>() : nullptr;
  for (std::int64_t c = 0; c < out_features; ++c) {
    const double s = x_scale * ws[weight_scales.numel() > 1 ? c : 0];
    combined[static_cast<std::size_t>(c)] = s;
    if (b != nullptr) {
      bias_i32[static_cast<std::size_t>(c)] = saturating_trunc_i32(static_cast<double>(b[c]) / s);
    }
  }
  Tensor out = Tensor::empty(acc.shape(), DType::Float32);
  const auto* a = acc.data<std::int32_t>();
  float* o = out.data<float>();
  for (std::int64_t i = 0; i < acc.numel(); ++i) {
    const auto c = static_cast<std::size_t>(i % out_features);
    o[i] = static_cast<float>(static_cast<double>(add_i32(a[i], bias_i32[c])) * combined[c]);
  }
  return out;
}

Tensor dynamic_quantized_linear_per_token(const Tensor& x, const Tensor& weight,
                                          const Tensor& weight_scales, const Tensor* bias,
                                          std::int64_t group_size, const QuantRange& range,
                                          float eps) {
  const std::int64_t k = weight.shape()[1], n = weight.shape()[0];
  const std::int64_t rows = x.numel() / k;
  Shape out_shape = x.shape();
  out_shape.back() = n;
  Tensor out = Tensor::empty(out_shape, DType::Float32);
  if (rows == 0) return out;
  std::vector<std::int8_t> xq(static_cast<std::size_t>(x.numel()));
  std::vector<float> scales(static_cast<std::size_t>(rows));
  std::vector<std::int32_t> zps(static_cast<std::size_t>(rows));
  quantize_rows_per_token(x.data<float>(), rows, k, range, eps, xq.data(), scales.data(),
                          zps.data(), "dynamic_quantized_linear_per_token");
  const std::span<const float> b =
      bias != nullptr ? std::span<const float>(bias->data<float>(), static_cast<std::size_t>(n))
                      : std::span<const float>{};
  kernels::grouped_linear_reference(
      std::span<const std::int8_t>(weight.data<std::int8_t>(), static_cast<std::size_t>(n * k)),
      std::span<const float>(weight_scales.data<float>(),
                             static_cast<std::size_t>(weight_scales.numel())),
      n, k, group_size, {xq.data(), rows, scales, zps}, b, out.data<float>());
  return out;
}

}  // namespace quantkit::graph::ref
