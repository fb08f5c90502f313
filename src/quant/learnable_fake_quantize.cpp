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
#include <string_view>

#include "learnable_common.h"
#include "quantkit/core/error.h"
#include "quantkit/core/tensor.h"
#include "quantkit/quant/fake_quantize.h"

namespace quantkit {
namespace {

constexpr std::string_view kForward = "fake_quantize_learnable_per_tensor";
constexpr std::string_view kBackward = "fake_quantize_learnable_per_tensor_backward";

using learnable_detail::clamp_to_range;
using learnable_detail::Side;
using learnable_detail::side_of;

void check_parameters(std::string_view where, float scale, float zero_point,
                      std::int64_t quant_min, std::int64_t quant_max, double grad_factor) {
  learnable_detail::check_scale(where, "scale", scale);
  learnable_detail::check_zero_point_and_range(where, "zero_point", zero_point, quant_min,
                                               quant_max);
  check_argument(std::isfinite(grad_factor), where, "grad_factor", grad_factor,
                 "a finite value");
}

void check_float32(std::string_view where, std::string_view arg, const Tensor& t) {
  check_argument(t.dtype() == DType::Float32, where, arg, dtype_name(t.dtype()), "float32");
}

}  // namespace

// Forward's zero point: round half to even, then clamp.
std::int64_t learnable_forward_zero_point(float zero_point, std::int64_t quant_min,
                                          std::int64_t quant_max) {
  learnable_detail::check_zero_point_and_range("learnable_forward_zero_point", "zero_point",
                                               zero_point, quant_min, quant_max);
  return clamp_to_range(std::nearbyint(zero_point), quant_min, quant_max);
}

// Backward's zero point: add 0.5f in float32, clamp, truncate.
std::int64_t learnable_backward_zero_point(float zero_point, std::int64_t quant_min,
                                           std::int64_t quant_max) {
  learnable_detail::check_zero_point_and_range("learnable_backward_zero_point", "zero_point",
                                               zero_point, quant_min, quant_max);
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
  const float inv_scale = 1.0f / scale;
  const float g = static_cast<float>(grad_factor);

  LearnableFakeQuantizeGrads grads;
  grads.dx = Tensor::empty(x.shape(), DType::Float32);
  grads.dscale_elem = Tensor::empty(x.shape(), DType::Float32);
  grads.dzero_point_elem = Tensor::empty(x.shape(), DType::Float32);
  const float* xs = x.data<float>();
  const float* dys = dy.data<float>();
  float* dx = grads.dx.data<float>();
  float* dscale = grads.dscale_elem.data<float>();
  float* dzero_point = grads.dzero_point_elem.data<float>();
  learnable_detail::CompensatedSum dscale_sum;
  learnable_detail::CompensatedSum dzero_point_sum;
  const std::int64_t n = x.numel();
  for (std::int64_t i = 0; i < n; ++i) {
    const auto terms = learnable_detail::learnable_grad_terms(xs[i], dys[i], scale, inv_scale,
                                                              zb, quant_min, quant_max, g);
    dx[i] = terms.dx;
    dscale[i] = terms.dscale;
    dzero_point[i] = terms.dzero_point;
    dscale_sum.add(terms.dscale);
    dzero_point_sum.add(terms.dzero_point);
  }
  grads.dscale = dscale_sum.result();
  grads.dzero_point = dzero_point_sum.result();
  return grads;
}

}  // namespace quantkit
