#pragma once
// Differentiable fake quantization for LibTorch programs, computed by quantkit's kernels
// (quant/affine.h, quant/fake_quantize.h, apot/fake_quantize.h) inside
// torch::autograd::Function subclasses, so a LibTorch model can train through them.
// Each matches a LibTorch built-in (tests/torch/ compare them with LibTorch 1.13 as the
// oracle; docs/torch.md says what is bit-exact):
//   fake_quantize_per_tensor     torch::fake_quantize_per_tensor_affine (STE, torch's mask)
//   fake_quantize_per_channel    torch::fake_quantize_per_channel_affine (STE, torch's mask)
//   fake_quantize_learnable_*    torch::_fake_quantize_learnable_per_{tensor,channel}_affine
//                                (LSQ: gradients for x, scale and zero point)
//   apot_fake_quantize           no torch built-in: quantkit's APoT fake quantize with the
//                                straight-through estimator dy * (-alpha <= x <= alpha)
// Tensors: float32 on the CPU, any shape and strides (non-contiguous ones are copied once);
// anything else throws quantkit::Error naming the argument. Results are float32.
#include <ATen/core/Tensor.h>

#include <cstdint>

#include "quantkit/apot/quantizer.h"

namespace quantkit::torch {

// Gradient for x only (scale and zero point are constants), dx = dy * mask with mask =
// quant_min <= q <= quant_max on the unclamped q (torch's cachemask).
at::Tensor fake_quantize_per_tensor(const at::Tensor& x, double scale, std::int64_t zero_point,
                                    std::int64_t quant_min, std::int64_t quant_max);
// scales: 1-D float32 [x.size(axis)]; zero_points: 1-D int32 or int64, same size.
at::Tensor fake_quantize_per_channel(const at::Tensor& x, const at::Tensor& scales,
                                     const at::Tensor& zero_points, std::int64_t axis,
                                     std::int64_t quant_min, std::int64_t quant_max);

// LSQ per tensor: scale and zero_point are one-element float32 tensors (learnable leaves);
// their gradients have their shapes. grad_factor scales the scale / zero-point gradients
// (LSQ's 1/sqrt(numel * quant_max) when the caller uses gradient scaling).
at::Tensor fake_quantize_learnable_per_tensor(const at::Tensor& x, const at::Tensor& scale,
                                              const at::Tensor& zero_point, std::int64_t quant_min,
                                              std::int64_t quant_max, double grad_factor = 1.0);
// LSQ per channel: scale and zero_point are 1-D float32 [x.size(axis)].
at::Tensor fake_quantize_learnable_per_channel(const at::Tensor& x, const at::Tensor& scale,
                                               const at::Tensor& zero_point, std::int64_t axis,
                                               std::int64_t quant_min, std::int64_t quant_max,
                                               double grad_factor = 1.0);

// APoT: the float32 nearest level of quantizer (apot_fake_quantize_f32); gradient for x only.
at::Tensor apot_fake_quantize(const at::Tensor& x, const apot::ApotQuantizer& quantizer);

}  // namespace quantkit::torch
