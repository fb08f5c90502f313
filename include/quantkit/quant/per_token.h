#pragma once
// torchao's transformer quantization numerics (pinned: pytorch/ao 36027d82d1ad, torchao/
// quantization/quant_primitives.py `_choose_qparams_affine`, `_quantize_affine_no_dtype_cast`,
// `_dequantize_affine_no_dtype_check`; utils.py `per_token_dynamic_quant`,
// `get_group_qparams_symmetric`; docs/transformers.md writes every formula out):
//
//  * per-token dynamic activations (choose_qparams_affine ASYMMETRIC, block [1, …, 1, K],
//    int8 [-128, 127], eps = float32 eps, float32 scales), per row of x viewed as
//    [numel / K, K], all in float32:
//      lo = min(min(row), 0), hi = max(max(row), 0)
//      scale = max((hi − lo) / float(qmax − qmin), eps)
//      zero_point = clamp(qmin − round_half_even(lo / scale), qmin, qmax)
//    quantize = quantize_per_group with group_size K (affine.h: round(x · (1 / scale)) + zp,
//    clamped), dequantize = dequantize_per_group (float32 (q − zp) · scale).
//  * groupwise symmetric weights (choose_qparams_affine SYMMETRIC, block [1, G], eps = the
//    smallest normal float32 2^-126 unless given, float32 scales): per group of G columns of
//    a row,
//      amax = max(−min(min(group), 0), max(max(group), 0))
//      scale = max(amax / (float(qmax − qmin) / 2), eps),  zero_point = int((qmax + qmin + 1) / 2)
//    (4-bit: [-8, 7], divisor 7.5, zero point 0).
// NaN / infinity have no qparams: Error naming the row (torch would return NaN scales).
#include <cstdint>
#include <limits>

#include "quantkit/core/tensor.h"
#include "quantkit/quant/qparams.h"

namespace quantkit {

struct TokenQParams {
  float scale = 1.0f;
  std::int32_t zero_point = 0;
};

// One row of k ≥ 1 finite floats (the runtime kernels call this per row; Error otherwise,
// naming `where`).
TokenQParams choose_qparams_per_token_row(const float* row, std::int64_t k,
                                          const QuantRange& range, float eps,
                                          const char* where = "choose_qparams_per_token");

// The dynamic quantization of a float32 [rows, k] buffer into int8 (range: int8), row by row:
// qparams of each row as above, then quantize_per_group's formula (round(x · (1 / scale)) +
// zp, clamped). The one implementation behind the reference kernel of
// dynamic_quantized_linear_per_token and the runtime's fused op. Error (naming `where`) on a
// non-finite row.
void quantize_rows_per_token(const float* x, std::int64_t rows, std::int64_t k,
                             const QuantRange& range, float eps, std::int8_t* q, float* scales,
                             std::int32_t* zero_points, const char* where);

struct PerTokenQParams {
  Tensor scales;       // float32 [rows, 1]
  Tensor zero_points;  // int32 [rows, 1]
};

// Every row of x (float32, rank ≥ 1, last dim ≥ 1). range: int8 or uint8; eps finite > 0.
PerTokenQParams choose_qparams_per_token(const Tensor& x, const QuantRange& range, float eps);

struct GroupQParams {
  Tensor scales;       // float32 [rows, K / group_size]
  Tensor zero_points;  // int32, same shape
};

// w: float32 [rows, K] (rank 2), group_size ≥ 1 dividing K, every value finite.
GroupQParams choose_qparams_per_group_symmetric(
    const Tensor& w, std::int64_t group_size, const QuantRange& range,
    float eps = std::numeric_limits<float>::min());

}  // namespace quantkit
