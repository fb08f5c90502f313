#pragma once
// Choosing quantization parameters.
//  * calculate_qparams: torch.ao observers' _calculate_qparams (float32 tensor arithmetic,
//    true division, symmetric divisor (qmax - qmin) / 2, eps floor) for per-tensor and
//    per-channel schemes; this is what every observer's calculate_qparams uses.
//  * observer_quant_range: the effective range of an observer (reduce_range halves with
//    Python floor division; custom ranges kept as given).
//  * choose_qparams_dynamic: PyTorch's C++ ChooseQuantizationParams (double arithmetic, the
//    6.1e-5 scale floor), used by dynamic quantization per tensor and per row (per token).
#include <cstdint>
#include <optional>
#include <span>

#include "quantkit/core/tensor.h"
#include "quantkit/quant/qparams.h"

namespace quantkit {

// torch.finfo(torch.float32).eps, the default observer eps.
inline constexpr float kDefaultObserverEps = 1.1920928955078125e-07f;

// Effective observer range. dtype must be int8, uint8 or int32 (torch's quint8 / qint8 /
// qint32); quant_min/quant_max must be given together.
QuantRange observer_quant_range(DType dtype, std::optional<std::int64_t> quant_min,
                                std::optional<std::int64_t> quant_max, bool reduce_range);

// min_val / max_val have one entry per channel (one for per-tensor schemes).
QParams calculate_qparams(std::span<const float> min_val, std::span<const float> max_val,
                          QScheme qscheme, const QuantRange& range,
                          float eps = kDefaultObserverEps, std::int64_t axis = 0);

struct DynamicQParams {
  double scale = 1.0;  // unrounded double, as torch returns it; kernels use float32(scale)
  std::int64_t zero_point = 0;
};

// ChooseQuantizationParams(min, max, qmin, qmax, preserve_sparsity=false,
// force_scale_power_of_two=false, reduce_range).
DynamicQParams choose_qparams_dynamic(float min, float max, std::int64_t quant_min,
                                      std::int64_t quant_max, bool reduce_range);
// torch._choose_qparams_per_tensor / quantize_per_tensor_dynamic's qparams for x
// (dtype int8 or uint8; full range of the dtype).
DynamicQParams choose_qparams_per_tensor_dynamic(const Tensor& x, DType dtype, bool reduce_range);
// torch.quantize_per_tensor_dynamic: qparams from x, then quantize_per_tensor.
Tensor quantize_per_tensor_dynamic(const Tensor& x, DType dtype, bool reduce_range,
                                   DynamicQParams* qparams_out = nullptr);
// Per-row (per-token) dynamic qparams: one (scale, zero_point) per row of x viewed as
// [numel / last_dim, last_dim]; same formula as choose_qparams_dynamic on each row.
QParams choose_qparams_per_row_dynamic(const Tensor& x, const QuantRange& range);

}  // namespace quantkit
