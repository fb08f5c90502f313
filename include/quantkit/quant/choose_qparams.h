#pragma once
// Choosing quantization parameters.
//  * calculate_qparams: torch.ao observers' _calculate_qparams (float32 tensor arithmetic,
//    true division, symmetric divisor (qmax - qmin) / 2, eps floor) for per-tensor and
//    per-channel schemes; this is what every observer's calculate_qparams uses.
//  * observer_quant_range: the effective range of an observer (reduce_range halves with
//    Python floor division; custom ranges kept as given).
//  * choose_qparams_tensor: quantized_decomposed.choose_qparams.tensor, the dynamic
//    per-tensor qparams of PT2E graphs (min/max of the tensor, then calculate_qparams).
//  * choose_qparams_dynamic: PyTorch's C++ ChooseQuantizationParams (double arithmetic, the
//    6.1e-5 scale floor), used by dynamic quantization per tensor and per row (per token).
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "quantkit/core/tensor.h"
#include "quantkit/quant/qparams.h"

namespace quantkit {

// torch.finfo(torch.float32).eps, the default observer eps.
inline constexpr float kDefaultObserverEps = 1.1920928955078125e-07f;

// Effective observer range. dtype must be int8, uint8 or int32 (torch's quint8 / qint8 /
// qint32); quant_min/quant_max must be given together.
QuantRange observer_quant_range(DType dtype, std::optional<std::int64_t> quant_min,
                                std::optional<std::int64_t> quant_max, bool reduce_range);

// min_val / max_val have one entry per channel (one for per-tensor schemes); every entry
// must be finite with min <= max, and eps finite and > 0 (Error otherwise; torch would
// assert or return garbage). The affine zero point is computed in int64, so the rare
// qint32 cases where torch's int32 cast overflows clamp cleanly instead.
// This overload treats a uint8 range other than 0..255 as customized (see below).
QParams calculate_qparams(std::span<const float> min_val, std::span<const float> max_val,
                          QScheme qscheme, const QuantRange& range, float eps = kDefaultObserverEps,
                          std::int64_t axis = 0);
// The same, with torch's has_customized_qrange given explicitly: it only matters for
// symmetric uint8, whose zero point is 128 for the default range and (qmin + qmax) // 2
// for a customized one (so an explicitly given 0..255 gives 127, as in torch).
QParams calculate_qparams(std::span<const float> min_val, std::span<const float> max_val,
                          QScheme qscheme, const QuantRange& range, float eps, std::int64_t axis,
                          bool customized_range);

struct DynamicQParams {
  double scale = 1.0;  // unrounded double, as torch returns it; kernels use float32(scale)
  std::int64_t zero_point = 0;
};

// quantized_decomposed.choose_qparams.tensor: lo/hi = min/max of the float32 tensor x
// (std::min / std::max from x[0]), then calculate_qparams(PerTensorAffine, range, eps). The
// scale is float32 arithmetic held in a double, as torch's float64 0-d scale tensor. The one
// implementation behind the graph's choose_qparams op, the reference and the runtime kernels
// of dynamic_quantized_linear. Error naming `where` for an empty or non-float32 x, or when
// lo/hi are not finite.
DynamicQParams choose_qparams_tensor(const Tensor& x, const QuantRange& range, float eps,
                                     std::string_view where = "choose_qparams_tensor");

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
