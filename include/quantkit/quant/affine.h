#pragma once
// Uniform affine quantization with PyTorch's exact numerics (torch 1.13, see
// tests/data/uniform/README.md):
//   quantize:   q = clamp(int(float32(zp) + nearbyint(x * (1.0f / float32(scale)))), qmin, qmax)
//               (float32 multiply by the reciprocal, round half to even, zero point added
//               after rounding)
//   dequantize per tensor:  float32(scale) * float32(int32(q - zp))
//   dequantize per channel: float32(double(float32(q) - float32(zp)) * double(scale[c]))
//   fake quantize: (clamp(q) - zp) * float32(scale); STE mask = qmin <= q <= qmax on the
//               UNclamped q.
// Inputs are float32 (quantize / fake quantize) or the range's dtype (dequantize).
// Non-finite inputs (torch leaves them undefined): +inf -> quant_max, -inf -> quant_min,
// NaN -> quant_min (what torch's x86 build produces); the fake-quant STE mask is false for
// all three. This is defined, not an error, so a quantized model given NaN returns finite
// numbers: callers feeding user data check it first (core/nonfinite.h; the CLI refuses it
// unless --allow-nonfinite, see docs/cli.md). Empty tensors are valid and give empty results.
//
// Every function validates its arguments and throws quantkit::Error naming the bad one:
// scales must be finite, > 0 and round to a normal float32 (so 1/float32(scale) is finite);
// zero points must lie in [quant_min, quant_max] (dequantize: inside q's dtype); fake-quantize
// ranges must lie inside int32. Per-channel fake quantize uses s = float32(scales[c]) (torch
// requires float32 scales there); per-channel dequantize uses the double scales unrounded.
// Where torch is undefined, quantkit is exact: q - zp in int32 dequantize is computed without
// int32 overflow, and |x/scale| >= 2^63 saturates like any other out-of-range value.
// `*_into` variants write into a caller-provided tensor of the right dtype and shape
// (no allocation: use them in loops). Nothing here modifies its inputs.
// Per-group quantization (torchao block quantization along the last axis) uses float32
// scales of shape [numel / last_dim, last_dim / group_size] and integer zero points of
// the same shape, with the per-tensor formulas inside each group.
#include <cstdint>
#include <span>

#include "quantkit/core/tensor.h"
#include "quantkit/quant/qparams.h"

namespace quantkit {

// ---- per tensor ----
Tensor quantize_per_tensor(const Tensor& x, double scale, std::int64_t zero_point,
                           const QuantRange& range);
void quantize_per_tensor_into(const Tensor& x, double scale, std::int64_t zero_point,
                              const QuantRange& range, Tensor& out);
// q's dtype must be range.dtype; its values are not clamped.
Tensor dequantize_per_tensor(const Tensor& q, double scale, std::int64_t zero_point);
void dequantize_per_tensor_into(const Tensor& q, double scale, std::int64_t zero_point,
                                Tensor& out);
Tensor fake_quantize_per_tensor(const Tensor& x, double scale, std::int64_t zero_point,
                                std::int64_t quant_min, std::int64_t quant_max);
void fake_quantize_per_tensor_into(const Tensor& x, double scale, std::int64_t zero_point,
                                   std::int64_t quant_min, std::int64_t quant_max, Tensor& out);
// Straight-through estimator: dx = dy * (qmin <= q <= qmax) with q unclamped.
Tensor fake_quantize_per_tensor_backward(const Tensor& dy, const Tensor& x, double scale,
                                         std::int64_t zero_point, std::int64_t quant_min,
                                         std::int64_t quant_max);

// ---- per channel (axis in [-ndim, ndim)) ----
Tensor quantize_per_channel(const Tensor& x, std::span<const double> scales,
                            std::span<const std::int64_t> zero_points, std::int64_t axis,
                            const QuantRange& range);
void quantize_per_channel_into(const Tensor& x, std::span<const double> scales,
                               std::span<const std::int64_t> zero_points, std::int64_t axis,
                               const QuantRange& range, Tensor& out);
Tensor dequantize_per_channel(const Tensor& q, std::span<const double> scales,
                              std::span<const std::int64_t> zero_points, std::int64_t axis);
void dequantize_per_channel_into(const Tensor& q, std::span<const double> scales,
                                 std::span<const std::int64_t> zero_points, std::int64_t axis,
                                 Tensor& out);
Tensor fake_quantize_per_channel(const Tensor& x, std::span<const double> scales,
                                 std::span<const std::int64_t> zero_points, std::int64_t axis,
                                 std::int64_t quant_min, std::int64_t quant_max);
void fake_quantize_per_channel_into(const Tensor& x, std::span<const double> scales,
                                    std::span<const std::int64_t> zero_points,
                                    std::int64_t axis, std::int64_t quant_min,
                                    std::int64_t quant_max, Tensor& out);
Tensor fake_quantize_per_channel_backward(const Tensor& dy, const Tensor& x,
                                          std::span<const double> scales,
                                          std::span<const std::int64_t> zero_points,
                                          std::int64_t axis, std::int64_t quant_min,
                                          std::int64_t quant_max);
// Float zero points (per_channel_affine_float_qparams): q = nearbyint(fma(x, 1/s, zp)).
Tensor fake_quantize_per_channel_float_zp(const Tensor& x, std::span<const double> scales,
                                          std::span<const float> zero_points,
                                          std::int64_t axis, std::int64_t quant_min,
                                          std::int64_t quant_max);
Tensor fake_quantize_per_channel_float_zp_backward(const Tensor& dy, const Tensor& x,
                                                   std::span<const double> scales,
                                                   std::span<const float> zero_points,
                                                   std::int64_t axis, std::int64_t quant_min,
                                                   std::int64_t quant_max);

// ---- per group along the last axis (torchao block quantization) ----
Tensor quantize_per_group(const Tensor& x, const Tensor& scales, const Tensor& zero_points,
                          std::int64_t group_size, const QuantRange& range);
Tensor dequantize_per_group(const Tensor& q, const Tensor& scales, const Tensor& zero_points,
                            std::int64_t group_size);
Tensor fake_quantize_per_group(const Tensor& x, const Tensor& scales, const Tensor& zero_points,
                               std::int64_t group_size, std::int64_t quant_min,
                               std::int64_t quant_max);

}  // namespace quantkit
