// torchao's per-token (asymmetric) and groupwise (symmetric) qparams (per_token.h), float32
// arithmetic exactly as torch evaluates the tensor expressions.
#include "quantkit/quant/per_token.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "quantkit/core/error.h"
#include "quantkit/kernels/affine_kernels.h"

namespace quantkit {
namespace {

// min / max of n floats; Error naming the row when one is not finite.
std::pair<float, float> finite_min_max(const float* v, std::int64_t n, const char* where,
                                       const char* what, std::int64_t index) {
  float lo = v[0], hi = v[0];
  for (std::int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) {
      throw Error(std::string(where) + ": " + what + " " + std::to_string(index) +
                  " holds a non-finite value (" + std::to_string(v[i]) +
                  "), which has no quantization parameters");
    }
    lo = std::min(lo, v[i]);
    hi = std::max(hi, v[i]);
  }
  return {lo, hi};
}

void check_eps(const char* where, float eps) {
  check_argument(std::isfinite(eps) && eps > 0, where, "eps", eps, "a finite value > 0");
}

}  // namespace

TokenQParams choose_qparams_per_token_row(const float* row, std::int64_t k,
                                          const QuantRange& range, float eps, const char* where) {
  const auto [min_val, max_val] = finite_min_max(row, k, where, "row", 0);
  const float lo = std::min(min_val, 0.0f), hi = std::max(max_val, 0.0f);
  const float span = hi - lo;  // overflows to inf only beyond float32's range
  if (!std::isfinite(span)) {
    throw Error(std::string(where) + ": the row's range [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "] overflows float32");
  }
  const float scale =
      std::max(span / static_cast<float>(range.quant_max - range.quant_min), eps);
  const float zp = static_cast<float>(range.quant_min) - std::nearbyint(lo / scale);
  const float clamped = std::clamp(zp, static_cast<float>(range.quant_min),
                                   static_cast<float>(range.quant_max));
  return {scale, static_cast<std::int32_t>(clamped)};
}

void quantize_rows_per_token(const float* x, std::int64_t rows, std::int64_t k,
                             const QuantRange& range, float eps, std::int8_t* q, float* scales,
                             std::int32_t* zero_points, const char* where) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const TokenQParams qp = choose_qparams_per_token_row(x + r * k, k, range, eps, where);
    scales[r] = qp.scale;
    zero_points[r] = qp.zero_point;
    const kernels::QuantizeParams p{1.0f / qp.scale, static_cast<float>(qp.zero_point),
                                    static_cast<std::int32_t>(range.quant_min),
                                    static_cast<std::int32_t>(range.quant_max)};
    kernels::quantize(x + r * k, q + r * k, static_cast<std::size_t>(k), p);
  }
}

PerTokenQParams choose_qparams_per_token(const Tensor& x, const QuantRange& range, float eps) {
  constexpr const char* where = "choose_qparams_per_token";
  check_argument(x.dtype() == DType::Float32, where, "x", dtype_name(x.dtype()), "float32");
  check_argument(x.dim() >= 1 && x.size(-1) >= 1, where, "x", shape_to_string(x.shape()),
                 "a tensor whose last dimension is >= 1");
  range.validate(where);
  check_argument(range.dtype == DType::Int8 || range.dtype == DType::UInt8, where, "range",
                 dtype_name(range.dtype), "an int8 or uint8 range");
  check_eps(where, eps);
  const std::int64_t k = x.size(-1), rows = x.numel() / k;
  PerTokenQParams out{Tensor::empty({rows, 1}, DType::Float32),
                      Tensor::empty({rows, 1}, DType::Int32)};
  const float* px = x.data<float>();
  for (std::int64_t r = 0; r < rows; ++r) {
    std::string row_where = std::string(where) + " (row " + std::to_string(r) + ")";
    const TokenQParams q = choose_qparams_per_token_row(px + r * k, k, range, eps,
                                                        row_where.c_str());
    out.scales.data<float>()[r] = q.scale;
    out.zero_points.data<std::int32_t>()[r] = q.zero_point;
  }
  return out;
}

GroupQParams choose_qparams_per_group_symmetric(const Tensor& w, std::int64_t group_size,
                                                const QuantRange& range, float eps) {
  constexpr const char* where = "choose_qparams_per_group_symmetric";
  check_argument(w.dtype() == DType::Float32, where, "w", dtype_name(w.dtype()), "float32");
  check_argument(w.dim() == 2, where, "w", shape_to_string(w.shape()), "a 2-d tensor [rows, K]");
  check_argument(group_size >= 1 && w.size(1) % group_size == 0, where, "group_size", group_size,
                 "a divisor of K (" + std::to_string(w.size(1)) + ")");
  range.validate(where);
  check_eps(where, eps);
  const std::int64_t groups = w.numel() / group_size;
  const Shape shape{w.size(0), w.size(1) / group_size};
  GroupQParams out{Tensor::empty(shape, DType::Float32), Tensor::empty(shape, DType::Int32)};
  // torch: float(quant_max - quant_min) / 2 is a Python float; the float32 tensor divided by
  // it stays float32 (the divisor, a half-integer, is exact in float32).
  const float divisor = static_cast<float>(range.quant_max - range.quant_min) / 2.0f;
  // int((quant_max + quant_min + 1) / 2): Python true division, then truncation.
  const auto zero_point = static_cast<std::int32_t>(
      static_cast<double>(range.quant_max + range.quant_min + 1) / 2.0);
  const float* pw = w.data<float>();
  for (std::int64_t g = 0; g < groups; ++g) {
    const auto [min_val, max_val] = finite_min_max(pw + g * group_size, group_size, where,
                                                   "group", g);
    const float amax = std::max(-std::min(min_val, 0.0f), std::max(max_val, 0.0f));
    out.scales.data<float>()[g] = std::max(amax / divisor, eps);
    out.zero_points.data<std::int32_t>()[g] = zero_point;
  }
  return out;
}

}  // namespace quantkit
