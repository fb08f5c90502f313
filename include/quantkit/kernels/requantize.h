#pragma once
// The runtime's requantization: one definition shared by every int8 kernel's portable
// reference (dwconv, pooling, eltwise, lut, concat) and matched bit for bit by their vector
// epilogues. It is exactly kernels::RequantEpilogue with RequantRounding::NearestEven
// (quantkit/kernels/gemm.h): given an int32 accumulator acc (bias already added), a float32
// multiplier m, an output zero point zp and the output range [qmin, qmax]:
//
//   v = float(acc) * m                      float(acc): int32 → float32, nearest-even;
//                                           one float32 multiply (no FMA)
//   v = min(max(v, float(qmin − zp)), float(qmax − zp))
//   q = nearbyint(v) + zp                   round half to even (default FP environment)
//
// Clamping before rounding equals clamping after it (the bounds are integers) and keeps the
// float → int conversion in range. Vector kernels: cvtepi32_ps, mul_ps, max_ps, min_ps,
// cvtps_epi32 (MXCSR round-to-nearest-even), add zp.
//
// The lowering (pt2e/lowering.h) computes the constants: m[c] = float32(x_scale · w_scale[c]
// / out_scale) in float64, rounded once; bias_i32[c] = round_half_even(bias[c] / (x_scale ·
// w_scale[c])) in float64, saturated (quantize_bias below).
//
// This is NOT torchao's reference representation (pt2e/reference_representation.h), which
// truncates toward zero when it converts to int32: that is its pattern-matching definition;
// as deployment arithmetic it biases every layer by up to −1 step (docs/kernels.md).
// float32 rather than float64: float32(acc) is exact for |acc| < 2^24 and the product's
// relative error is 2^-24, so the result differs from exact real-number requantization only
// when acc·m lies within ~|acc·m|·2^-23 of a half-integer (tests/pt2e and tests/runtime
// measure the agreement with the Q/DQ float graph: within one step, equal on >= 99%).
//
// `static inline` on purpose (as in src/kernels/gemm_internal.h): translation units compiled
// with AVX flags include this header too, and a shared inline definition could be resolved by
// the linker to their AVX-compiled copy.
#include <cmath>
#include <cstdint>
#include <limits>

namespace quantkit::kernels {

// The clamp bounds of the requantization, as float32: float(qmin − zp), float(qmax − zp).
struct RequantBounds {
  float lo = 0.0f;
  float hi = 0.0f;
  std::int32_t zero_point = 0;
};

static inline RequantBounds requant_bounds(std::int32_t zero_point, std::int32_t qmin,
                                           std::int32_t qmax) {
  return {static_cast<float>(qmin - zero_point), static_cast<float>(qmax - zero_point), zero_point};
}

// The definition above, for bounds from requant_bounds.
static inline std::int32_t requantize(std::int32_t acc, float multiplier, const RequantBounds& b) {
  const float v = static_cast<float>(acc) * multiplier;
  // (v < lo) ? lo : v, then (hi < v) ? hi : v: matches vmaxps/vminps for non-NaN v.
  const float low_clamped = v < b.lo ? b.lo : v;
  const float clamped = b.hi < low_clamped ? b.hi : low_clamped;
  return static_cast<std::int32_t>(std::nearbyint(clamped)) + b.zero_point;
}

static inline std::int32_t requantize(std::int32_t acc, float multiplier, std::int32_t zero_point,
                                      std::int32_t qmin, std::int32_t qmax) {
  return requantize(acc, multiplier, requant_bounds(zero_point, qmin, qmax));
}

// Same rounding and clamp for a value already computed in float32 (the elementwise kernels
// form v as a sum of products; see eltwise.h).
static inline std::int32_t requantize_float(float v, const RequantBounds& b) {
  const float low_clamped = v < b.lo ? b.lo : v;
  const float clamped = b.hi < low_clamped ? b.hi : low_clamped;
  return static_cast<std::int32_t>(std::nearbyint(clamped)) + b.zero_point;
}

// Wrap-around int32 arithmetic: accumulators are defined modulo 2^32 (as in gemm.h), so every
// kernel gives the same bits even if a sum overflowed, and no kernel has undefined behaviour.
static inline std::int32_t wrapping_add(std::int32_t a, std::int32_t b) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(b));
}
static inline std::int32_t wrapping_mul(std::int32_t a, std::int32_t b) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) * static_cast<std::uint32_t>(b));
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
