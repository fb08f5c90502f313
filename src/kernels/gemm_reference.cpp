// The integer linear's definition as plain loops (qlinear_reference, the oracle of every
// kernel) and the portable kernel on PackedWeights (IsaLevel::Portable).
#include <cstdint>
#include <string>

#include "gemm_internal.h"
#include "quantkit/core/error.h"
#include "quantkit/kernels/gemm.h"

namespace quantkit::kernels {
namespace {

using gemm_detail::wrap_add;
using gemm_detail::wrap_mul;
using gemm_detail::wrap_sub;

template <class X, class W>
void reference_loops(const X* x, std::int32_t x_zp, const W* w, const std::int32_t* w_zp,
                     const std::int32_t* bias, std::int64_t m_rows, std::int64_t n_cols,
                     std::int64_t k_depth, const Epilogue& epilogue, Tensor& y) {
  for (std::int64_t m = 0; m < m_rows; ++m) {
    for (std::int64_t n = 0; n < n_cols; ++n) {
      std::int32_t acc = 0;
      for (std::int64_t k = 0; k < k_depth; ++k) {
        const std::int32_t xv = static_cast<std::int32_t>(x[m * k_depth + k]) - x_zp;
        const std::int32_t wv = static_cast<std::int32_t>(w[n * k_depth + k]) - w_zp[n];
        acc = wrap_add(acc, wrap_mul(xv, wv));
      }
      if (bias) acc = wrap_add(acc, bias[n]);
      const std::int64_t index = m * n_cols + n;
      if (std::holds_alternative<Int32Epilogue>(epilogue)) {
        y.data<std::int32_t>()[index] = acc;
      } else if (const auto* fe = std::get_if<FloatEpilogue>(&epilogue)) {
        const float scale = fe->scale.size() == 1 ? fe->scale[0] : fe->scale[n];
        float v = static_cast<float>(acc) * scale;
        if (fe->bias) v = v + fe->bias->data<float>()[n];
        y.data<float>()[index] = v;
      } else {
        const auto& re = std::get<RequantEpilogue>(epilogue);
        const float multiplier = re.multiplier.size() == 1 ? re.multiplier[0] : re.multiplier[n];
        const float lo = static_cast<float>(re.quant_min - re.zero_point);
        const float hi = static_cast<float>(re.quant_max - re.zero_point);
        const std::int32_t q =
            gemm_detail::requant_round(gemm_detail::requant_clamped(acc, multiplier, lo, hi)) +
            re.zero_point;
        if (re.out_dtype == DType::Int8) {
          y.data<std::int8_t>()[index] = static_cast<std::int8_t>(q);
        } else {
          y.data<std::uint8_t>()[index] = static_cast<std::uint8_t>(q);
        }
      }
    }
  }
}

template <class W>
void portable_loops(const gemm_detail::QGemmProblem& p, const W* packed) {
  constexpr std::int64_t B = PackedWeights::kBlockN;
  constexpr std::int64_t G = PackedWeights::kGroupK;
  const std::int64_t kp = p.w->k_padded();
  const std::uint8_t flip = p.x_signed ? 0x80 : 0x00;
  for (std::int64_t m = 0; m < p.m; ++m) {
    const std::uint8_t* xr = p.x + m * p.ldx;
    for (std::int64_t n = 0; n < p.n; ++n) {
      const W* col = packed + (p.w_block + n / B) * kp * B + (n % B) * G;
      std::int32_t dot = 0;
      for (std::int64_t k = 0; k < p.k; ++k) {
        const std::int32_t xv = static_cast<std::uint8_t>(xr[k] ^ flip);
        dot = wrap_add(dot, xv * static_cast<std::int32_t>(col[(k / G) * B * G + k % G]));
      }
      std::int32_t acc = wrap_add(dot, p.col_offset[n]);
      if (p.w_zero_point) acc = wrap_sub(acc, wrap_mul(p.w_zero_point[n], p.row_sum[m]));
      gemm_detail::store_epilogue_scalar(p, m, n, acc);
    }
  }
}

}  // namespace

Tensor qlinear_reference(const Tensor& x, std::int32_t x_zero_point, const Tensor& w,
                         std::span<const std::int32_t> w_zero_points, const Epilogue& epilogue,
                         const std::optional<Tensor>& bias_i32) {
  constexpr const char* kWhere = "qlinear_reference";
  check_argument(w.dtype() == DType::Int8 || w.dtype() == DType::Int16, kWhere, "w.dtype",
                 dtype_name(w.dtype()), "int8 or int16");
  check_argument(w.dim() == 2, kWhere, "w.shape", shape_to_string(w.shape()),
                 "a 2-d [N, K] weight");
  const std::int64_t n = w.size(0), k = w.size(1);
  check_argument(w_zero_points.empty() || w_zero_points.size() == 1 ||
                     static_cast<std::int64_t>(w_zero_points.size()) == n,
                 kWhere, "w_zero_points.size", w_zero_points.size(),
                 "0, 1 or N = " + std::to_string(n) + " values");
  for (std::int32_t zp : w_zero_points) {
    check_argument(zp >= dtype_min(w.dtype()) && zp <= dtype_max(w.dtype()), kWhere,
                   "w_zero_points", zp,
                   "a value inside the " + std::string(dtype_name(w.dtype())) + " range");
  }
  const auto shape =
      gemm_detail::validate_qlinear(kWhere, x, x_zero_point, n, k, epilogue, bias_i32);
  std::vector<std::int32_t> zp(static_cast<std::size_t>(n), 0);
  for (std::int64_t c = 0; c < n; ++c) {
    if (!w_zero_points.empty())
      zp[c] = w_zero_points.size() == 1 ? w_zero_points[0] : w_zero_points[c];
  }
  const std::int32_t* bias = bias_i32 ? bias_i32->data<std::int32_t>() : nullptr;
  Tensor y = Tensor::empty(shape.out_shape, shape.out_dtype);
  const auto run = [&](auto x_tag, auto w_tag) {
    using X = decltype(x_tag);
    using W = decltype(w_tag);
    reference_loops(x.data<X>(), x_zero_point, w.data<W>(), zp.data(), bias, shape.m, n, k,
                    epilogue, y);
  };
  if (x.dtype() == DType::UInt8) {
    if (w.dtype() == DType::Int8)
      run(std::uint8_t{}, std::int8_t{});
    else
      run(std::uint8_t{}, std::int16_t{});
  } else {
    if (w.dtype() == DType::Int8)
      run(std::int8_t{}, std::int8_t{});
    else
      run(std::int8_t{}, std::int16_t{});
  }
  return y;
}

namespace gemm_detail {

void qgemm_portable(const QGemmProblem& p) {
  if (p.w->dtype() == DType::Int8) {
    portable_loops(p, static_cast<const std::int8_t*>(p.w->data()));
  } else {
    portable_loops(p, static_cast<const std::int16_t*>(p.w->data()));
  }
}

}  // namespace gemm_detail
}  // namespace quantkit::kernels
