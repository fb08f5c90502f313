#pragma once
// Internal pieces shared by the per-tensor and per-channel learnable fake quantization
// (LSQ) kernels (learnable_fake_quantize*.cpp): argument checks, torch's per-element
// gradient arithmetic, and the compensated sum behind dscale / dzero_point.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "quantkit/core/error.h"

namespace quantkit::learnable_detail {

// A float zero point and the integer range, as every LSQ entry point takes them.
inline void check_zero_point_and_range(std::string_view where, std::string_view arg,
                                       float zero_point, std::int64_t quant_min,
                                       std::int64_t quant_max) {
  // torch reads the zero point through float -> int64 conversions, undefined for NaN/inf.
  check_argument(std::isfinite(zero_point), where, arg, zero_point, "a finite value");
  // Quantized integers are at most 32-bit; the bound also keeps every q - zp exact.
  constexpr std::int64_t kMin = std::numeric_limits<std::int32_t>::min();
  constexpr std::int64_t kMax = std::numeric_limits<std::int32_t>::max();
  check_argument(quant_min >= kMin && quant_min <= kMax, where, "quant_min", quant_min,
                 "a value in the int32 range");
  check_argument(quant_max >= quant_min && quant_max <= kMax, where, "quant_max", quant_max,
                 "a value >= quant_min (" + std::to_string(quant_min) + ") in the int32 range");
}

inline void check_scale(std::string_view where, std::string_view arg, float scale) {
  check_argument(std::isfinite(scale) && scale > 0.0f, where, arg, scale, "a finite value > 0");
}

// torch clamps in float32 and truncates to int64. The clamp is done in double here: the same
// for |quant_min|, |quant_max| <= 2^24, where float32(quant_*) is exact, and never lands
// outside the range beyond that (float32(2^31 - 1) would round up to 2^31).
inline std::int64_t clamp_to_range(float z, std::int64_t quant_min, std::int64_t quant_max) {
  const double clamped =
      std::fmin(std::fmax(static_cast<double>(z), static_cast<double>(quant_min)),
                static_cast<double>(quant_max));
  return static_cast<std::int64_t>(clamped);  // truncation toward zero, like torch
}

// Where an integral (or non-finite) float32 q falls relative to [quant_min, quant_max],
// without the out-of-range float -> int64 conversion torch performs first.
enum class Side { Below, Inside, Above };
inline Side side_of(float q, std::int64_t quant_min, std::int64_t quant_max) {
  if (std::isnan(q) || static_cast<double>(q) < static_cast<double>(quant_min)) {
    return Side::Below;
  }
  if (static_cast<double>(q) > static_cast<double>(quant_max)) return Side::Above;
  return Side::Inside;
}

// One element of torch's fake_quantize_learnable_{tensor,channel}_grad_kernel_cpu, with the
// integer zero point zp the caller derived (they differ: see the callers):
//   xq = nearbyint(fma(x, inv, float32(zp)))
//   in range:     dx = dy * 1, dscale = ((dy * fma(float32(xq - zp), s, -x)) * inv) * g,
//                 dzero_point = 0
//   out of range: dx = dy * 0, dscale = (dy * float32(qmin - zp or qmax - zp)) * g,
//                 dzero_point = ((dy * -1) * s) * g
// every operation float32, left to right. The two fma() are not in torch's C++ source: GCC
// contracted those expressions in torch's AVX2/AVX-512 kernel builds (and rounding the
// product separately changes most in-range dscale values); this project compiles with
// -ffp-contract=off, so nothing else gets fused.
struct GradTerms {
  float dx;
  float dscale;
  float dzero_point;
};
inline GradTerms learnable_grad_terms(float x, float dy, float scale, float inv_scale,
                                      std::int64_t zp, std::int64_t quant_min,
                                      std::int64_t quant_max, float g) {
  const float xq = std::nearbyint(std::fma(x, inv_scale, static_cast<float>(zp)));
  const Side side = side_of(xq, quant_min, quant_max);
  if (side == Side::Inside) {
    const float residual =
        std::fma(static_cast<float>(static_cast<std::int64_t>(xq) - zp), scale, -x);
    return {dy * 1.0f, ((dy * residual) * inv_scale) * g, 0.0f};
  }
  const float edge = static_cast<float>((side == Side::Below ? quant_min : quant_max) - zp);
  return {dy * 0.0f, (dy * edge) * g, ((dy * -1.0f) * scale) * g};
}

// Sum of float32 terms: Neumaier-compensated double accumulation, rounded once to float32.
// torch.sum's vectorised order cannot be matched cheaply, so this aims at the exact sum
// instead (error far below float32's half ulp except for catastrophic cancellation), and it
// does not depend on any thread count. Non-finite terms give the naive IEEE sum.
class CompensatedSum {
 public:
  void add(float term) {
    const double t = term;
    const double next = sum_ + t;
    compensation_ += std::fabs(sum_) >= std::fabs(t) ? (sum_ - next) + t : (t - next) + sum_;
    sum_ = next;
  }
  float result() const {
    if (!std::isfinite(sum_)) return static_cast<float>(sum_);
    return static_cast<float>(sum_ + compensation_);
  }

 private:
  double sum_ = 0.0;
  double compensation_ = 0.0;
};

}  // namespace quantkit::learnable_detail
