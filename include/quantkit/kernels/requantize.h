#pragma once
// The runtime's requantization: how every fused integer op (quantized_linear,
// quantized_conv2d, the NHWC conv / depthwise kernels) turns an int32 accumulator into an
// int8 / uint8 output. It is the arithmetic of XNNPACK's "fp32" requantization and of
// MLAS's QGEMM output processor, and exactly kernels::RequantEpilogue (gemm.h), whose
// vectorized form runs on the accumulators in registers:
//
//   acc  = Σ (x − x_zp)·w + bias_i32                       int32 (bias included)
//   v    = float32(acc) · multiplier[c]                    one float32 multiply, no FMA
//   v    = min(max(v, float32(qmin − zp)), float32(qmax − zp))
//   y    = nearbyint(v) + zp                               round half to even
//
// with multiplier[c] = float32(x_scale · w_scale[c] / out_scale) computed in float64 and
// rounded once, and bias_i32[c] = round_half_even(bias[c] / (x_scale · w_scale[c])) in
// float64, saturated to int32. Clamping before rounding equals clamp(round(v) + zp) because
// the bounds are integers and rounding is monotone; it also keeps the conversion in range.
//
// This is NOT torchao's reference representation (pt2e/reference_representation.h), which
// truncates toward zero when it converts to int32: that is its pattern-matching definition;
// as deployment arithmetic it biases every layer by up to −1 step (docs/kernels.md).
//
// float32 rather than float64: float32(acc) is exact for |acc| < 2^24 and the product's
// relative error is 2^-24, so the result differs from the exact real-number requantization
// only when acc·m lies within ~|acc·m|·2^-23 of a half-integer (tests/runtime measure the
// agreement with the Q/DQ float graph: within one step everywhere, equal on ≥ 99%).
#include <cmath>
#include <cstdint>
#include <limits>

namespace quantkit::kernels {

// One output value. `static` so that translation units compiled with AVX flags keep their
// own copy (an inline definition could be merged with an AVX-compiled one at link time).
static inline std::int32_t requantize_value(std::int32_t acc, float multiplier,
                                            std::int32_t zero_point, std::int32_t quant_min,
                                            std::int32_t quant_max) {
  const float lo = static_cast<float>(quant_min - zero_point);
  const float hi = static_cast<float>(quant_max - zero_point);
  const float v = static_cast<float>(acc) * multiplier;
  const float low_clamped = v < lo ? lo : v;  // vmaxps / vminps order for non-NaN v
  const float clamped = hi < low_clamped ? hi : low_clamped;
  return static_cast<std::int32_t>(std::nearbyint(clamped)) + zero_point;
}

// float64 → int32, round half to even, saturating; NaN → 0.
static inline std::int32_t round_to_i32_saturated(double v) {
  if (v != v) return 0;
  const double r = std::nearbyint(v);
  if (r >= 2147483647.0) return std::numeric_limits<std::int32_t>::max();
  if (r <= -2147483648.0) return std::numeric_limits<std::int32_t>::min();
  return static_cast<std::int32_t>(r);
}

// The int32 bias of a fused op: round_half_even(bias / (x_scale · w_scale)), in float64.
static inline std::int32_t quantize_bias(float bias, double x_scale, double w_scale) {
  return round_to_i32_saturated(static_cast<double>(bias) / (x_scale * w_scale));
}

}  // namespace quantkit::kernels
