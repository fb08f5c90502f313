// Learnable fake quantization (LSQ): torch 1.13's _fake_quantize_learnable_per_tensor_affine
// and its backward, bit-exact per element (tests/data/uniform/fake_quantize.json, whose
// description is the specification restated below).
//
// Forward: zf = int(clamp(nearbyint(zp), qmin, qmax));
//          q  = int64(float32(zf) + nearbyint(x * inv)),  inv = 1.0f / s;
//          y  = float32(double(clamp(q, qmin, qmax) - zf) * s).
// Backward uses ANOTHER integer zero point, zb = trunc(clamp(zp + 0.5f, qmin, qmax)), and
// rounds after adding it: xq = int64(nearbyint(fma(x, inv, float32(zb)))).
//   in range:     dx = dy * 1, dscale = ((dy * fma(float32(xq - zb), s, -x)) * inv) * g,
//                 dzero_point = 0
//   out of range: dx = dy * 0, dscale = (dy * float32(qmin - zb or qmax - zb)) * g,
//                 dzero_point = ((dy * -1) * s) * g
// with g = float32(grad_factor), every operation float32 and left to right. The two fma()
// are not in torch's C++ source: GCC contracted those expressions in the AVX2 build the
// golden data come from (and rounding the product separately changes most in-range dscale
// values), so they are written out here; the project compiles with -ffp-contract=off, so
// nothing else gets fused.
//
// Where torch is undefined we pick the answer its forward kernel in quantkit's affine.h
// gives (a float -> int64 conversion out of range is UB in C++): a non-finite or huge
// x * inv counts as below quant_min when NaN or negative, above quant_max when positive.
// torch's x86 build happens to send +inf to the quant_min side; no golden case has it.
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>

#include "quantkit/core/error.h"
#include "quantkit/core/tensor.h"
#include "quantkit/quant/fake_quantize.h"

namespace quantkit {
namespace {

constexpr std::string_view kForward = "fake_quantize_learnable_per_tensor";
constexpr std::string_view kBackward = "fake_quantize_learnable_per_tensor_backward";

// The float zero point and the integer range, shared by every entry point here.
void check_zero_point_and_range(std::string_view where, float zero_point,
                                std::int64_t quant_min, std::int64_t quant_max) {
  // torch reads the zero point through float -> int64 conversions, undefined for NaN/inf.
  check_argument(std::isfinite(zero_point), where, "zero_point", zero_point, "a finite value");
  // Quantized integers are at most 32-bit; the bound also keeps every q - zp exact.
  constexpr std::int64_t kMin = std::numeric_limits<std::int32_t>::min();
  constexpr std::int64_t kMax = std::numeric_limits<std::int32_t>::max();
  check_argument(quant_min >= kMin && quant_min <= kMax, where, "quant_min", quant_min,
                 "a value in the int32 range");
  check_argument(quant_max >= quant_min && quant_max <= kMax, where, "quant_max", quant_max,
                 "a value >= quant_min (" + std::to_string(quant_min) +
                     ") in the int32 range");
}

void check_parameters(std::string_view where, float scale, float zero_point,
                      std::int64_t quant_min, std::int64_t quant_max, double grad_factor) {
  check_argument(std::isfinite(scale) && scale > 0.0f, where, "scale", scale,
                 "a finite value > 0");
  check_zero_point_and_range(where, zero_point, quant_min, quant_max);
  check_argument(std::isfinite(grad_factor), where, "grad_factor", grad_factor,
                 "a finite value");
}

void check_float32(std::string_view where, std::string_view arg, const Tensor& t) {
  check_argument(t.dtype() == DType::Float32, where, arg, dtype_name(t.dtype()), "float32");
}

// torch clamps in float32 and truncates to int64. The clamp is done in double here: the same
// for |quant_min|, |quant_max| <= 2^24, where float32(quant_*) is exact, and never lands
// outside the range beyond that (float32(2^31 - 1) would round up to 2^31).
std::int64_t clamp_to_range(float z, std::int64_t quant_min, std::int64_t quant_max) {
  const double clamped = std::fmin(std::fmax(static_cast<double>(z),
                                             static_cast<double>(quant_min)),
                                   static_cast<double>(quant_max));
  return static_cast<std::int64_t>(clamped);  // truncation toward zero, like torch
}

// Where an integral (or non-finite) float32 q falls relative to [quant_min, quant_max],
// without the out-of-range float -> int64 conversion torch performs first.
enum class Side { Below, Inside, Above };
Side side_of(float q, std::int64_t quant_min, std::int64_t quant_max) {
  if (std::isnan(q) || static_cast<double>(q) < static_cast<double>(quant_min)) {
    return Side::Below;
  }
  if (static_cast<double>(q) > static_cast<double>(quant_max)) return Side::Above;
  return Side::Inside;
}

// Sum of float32 terms: Neumaier-compensated double accumulation, rounded once to float32.
// torch.sum's vectorised order cannot be matched cheaply, so this aims at the exact sum
// instead (error far below float32's half ulp except for catastrophic cancellation), and it
// does not depend on any thread count. Non-finite terms give the naive IEEE sum.
float accurate_sum(std::span<const float> terms) {
  double sum = 0.0;
  double compensation = 0.0;
  for (const float term : terms) {
    const double t = term;
    const double next = sum + t;
    compensation += std::fabs(sum) >= std::fabs(t) ? (sum - next) + t : (t - next) + sum;
    sum = next;
  }
  if (!std::isfinite(sum)) return static_cast<float>(sum);
  return static_cast<float>(sum + compensation);
}

}  // namespace

// Forward's zero point: round half to even, then clamp.
std::int64_t learnable_forward_zero_point(float zero_point, std::int64_t quant_min,
                                          std::int64_t quant_max) {
  check_zero_point_and_range("learnable_forward_zero_point", zero_point, quant_min, quant_max);
  return clamp_to_range(std::nearbyint(zero_point), quant_min, quant_max);
}

// Backward's zero point: add 0.5f in float32, clamp, truncate.
std::int64_t learnable_backward_zero_point(float zero_point, std::int64_t quant_min,
                                           std::int64_t quant_max) {
  check_zero_point_and_range("learnable_backward_zero_point", zero_point, quant_min,
                             quant_max);
  return clamp_to_range(zero_point + 0.5f, quant_min, quant_max);
}

Tensor fake_quantize_learnable_per_tensor(const Tensor& x, float scale, float zero_point,
                                          std::int64_t quant_min, std::int64_t quant_max,
                                          double grad_factor) {
  check_parameters(kForward, scale, zero_point, quant_min, quant_max, grad_factor);
  check_float32(kForward, "x", x);
  // grad_factor only scales the backward; torch's forward takes and ignores it too.

  const std::int64_t zf = learnable_forward_zero_point(zero_point, quant_min, quant_max);
  const float zf_f = static_cast<float>(zf);
  const float inv_scale = 1.0f / scale;
  const double scale_d = scale;

  Tensor y = Tensor::empty(x.shape(), DType::Float32);
  const float* in = x.data<float>();
  float* out = y.data<float>();
  const std::int64_t n = x.numel();
  for (std::int64_t i = 0; i < n; ++i) {
    const float q = zf_f + std::nearbyint(in[i] * inv_scale);
    std::int64_t clamped;
    switch (side_of(q, quant_min, quant_max)) {
      case Side::Below: clamped = quant_min; break;
      case Side::Above: clamped = quant_max; break;
      default: clamped = static_cast<std::int64_t>(q); break;
    }
    out[i] = static_cast<float>(static_cast<double>(clamped - zf) * scale_d);
  }
  return y;
}

LearnableFakeQuantizeGrads fake_quantize_learnable_per_tensor_backward(
    const Tensor& dy, const Tensor& x, float scale, float zero_point, std::int64_t quant_min,
    std::int64_t quant_max, double grad_factor) {
  check_parameters(kBackward, scale, zero_point, quant_min, quant_max, grad_factor);
  check_float32(kBackward, "dy", dy);
  check_float32(kBackward, "x", x);
  check_argument(dy.shape() == x.shape(), kBackward, "dy", shape_to_string(dy.shape()),
                 "x's shape " + shape_to_string(x.shape()));

  const std::int64_t zb = learnable_backward_zero_point(zero_point, quant_min, quant_max);
  const float zb_f = static_cast<float>(zb);
  const float inv_scale = 1.0f / scale;
  const float g = static_cast<float>(grad_factor);
  const float dscale_below = static_cast<float>(quant_min - zb);
  const float dscale_above = static_cast<float>(quant_max - zb);

  LearnableFakeQuantizeGrads grads;
  grads.dx = Tensor::empty(x.shape(), DType::Float32);
  grads.dscale_elem = Tensor::empty(x.shape(), DType::Float32);
  grads.dzero_point_elem = Tensor::empty(x.shape(), DType::Float32);
  const float* xs = x.data<float>();
  const float* dys = dy.data<float>();
  float* dx = grads.dx.data<float>();
  float* dscale = grads.dscale_elem.data<float>();
  float* dzero_point = grads.dzero_point_elem.data<float>();
  const std::int64_t n = x.numel();
  for (std::int64_t i = 0; i < n; ++i) {
    const float xi = xs[i];
    const float dyi = dys[i];
    const float xq = std::nearbyint(std::fma(xi, inv_scale, zb_f));
    const Side side = side_of(xq, quant_min, quant_max);
    if (side == Side::Inside) {
      const float residual =
          std::fma(static_cast<float>(static_cast<std::int64_t>(xq) - zb), scale, -xi);
      dx[i] = dyi * 1.0f;
      dscale[i] = ((dyi * residual) * inv_scale) * g;
      dzero_point[i] = 0.0f;
    } else {
      dx[i] = dyi * 0.0f;
      dscale[i] = (dyi * (side == Side::Below ? dscale_below : dscale_above)) * g;
      dzero_point[i] = ((dyi * -1.0f) * scale) * g;
    }
  }
  grads.dscale = accurate_sum(grads.dscale_elem.span<const float>());
  grads.dzero_point = accurate_sum(grads.dzero_point_elem.span<const float>());
  return grads;
}

}  // namespace quantkit
