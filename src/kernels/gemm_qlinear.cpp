// kernels::qlinear: argument checks, the zero-point folding (gemm_internal.h) and the
// run-time choice of the kernel family.
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gemm_internal.h"
#include "quantkit/core/error.h"
#include "quantkit/kernels/cpu_features.h"
#include "quantkit/kernels/gemm.h"

namespace quantkit::kernels {
namespace gemm_detail {

QLinearShape validate_qlinear(const char* where, const Tensor& x, std::int32_t x_zero_point,
                              std::int64_t n, std::int64_t k, const Epilogue& epilogue,
                              const std::optional<Tensor>& bias_i32) {
  check_argument(x.dtype() == DType::UInt8 || x.dtype() == DType::Int8, where, "x.dtype",
                 dtype_name(x.dtype()), "uint8 or int8");
  check_argument(x.dim() >= 1 && x.size(-1) == k, where, "x.shape", shape_to_string(x.shape()),
                 "[..., K] with K = " + std::to_string(k) + " (the weight's input size)");
  check_argument(x_zero_point >= dtype_min(x.dtype()) && x_zero_point <= dtype_max(x.dtype()),
                 where, "x_zero_point", x_zero_point,
                 "a value inside the " + std::string(dtype_name(x.dtype())) + " range");
  const std::string n_shape = "[" + std::to_string(n) + "]";
  if (bias_i32) {
    check_argument(bias_i32->dtype() == DType::Int32, where, "bias_i32.dtype",
                   dtype_name(bias_i32->dtype()), "int32");
    check_argument(bias_i32->shape() == Shape{n}, where, "bias_i32.shape",
                   shape_to_string(bias_i32->shape()), n_shape);
  }
  QLinearShape out;
  out.out_shape = x.shape();
  out.out_shape.back() = n;
  out.m = 1;
  for (std::int64_t d = 0; d + 1 < x.dim(); ++d) out.m *= x.size(d);

  const auto check_per_channel = [&](const std::vector<float>& values, const char* arg,
                                     bool positive) {
    check_argument(values.size() == 1 || static_cast<std::int64_t>(values.size()) == n, where, arg,
                   values.size(), "1 or N = " + std::to_string(n) + " values");
    for (float v : values) {
      check_argument(std::isfinite(v) && (!positive || v > 0.0f), where, arg, v,
                     positive ? "finite values > 0" : "finite values");
    }
  };
  if (std::holds_alternative<Int32Epilogue>(epilogue)) {
    out.out_dtype = DType::Int32;
  } else if (const auto* fe = std::get_if<FloatEpilogue>(&epilogue)) {
    check_per_channel(fe->scale, "scale", false);
    if (fe->bias) {
      check_argument(fe->bias->dtype() == DType::Float32, where, "bias.dtype",
                     dtype_name(fe->bias->dtype()), "float32");
      check_argument(fe->bias->shape() == Shape{n}, where, "bias.shape",
                     shape_to_string(fe->bias->shape()), n_shape);
    }
    out.out_dtype = DType::Float32;
  } else {
    const auto& re = std::get<RequantEpilogue>(epilogue);
    check_per_channel(re.multiplier, "multiplier", true);
    check_argument(re.out_dtype == DType::Int8 || re.out_dtype == DType::UInt8, where, "out_dtype",
                   dtype_name(re.out_dtype), "int8 or uint8");
    const std::int64_t lo = dtype_min(re.out_dtype), hi = dtype_max(re.out_dtype);
    const std::string range = "inside the " + std::string(dtype_name(re.out_dtype)) + " range";
    check_argument(re.zero_point >= lo && re.zero_point <= hi, where, "zero_point", re.zero_point,
                   "a value " + range);
    check_argument(re.quant_min >= lo && re.quant_min <= hi, where, "quant_min", re.quant_min,
                   "a value " + range);
    check_argument(re.quant_max >= re.quant_min && re.quant_max <= hi, where, "quant_max",
                   re.quant_max, "quant_min <= quant_max, " + range);
    out.out_dtype = re.out_dtype;
  }
  return out;
}

}  // namespace gemm_detail

namespace {

using gemm_detail::OutputKind;
using gemm_detail::QGemmProblem;
using gemm_detail::wrap_add;
using gemm_detail::wrap_mul;
using gemm_detail::wrap_sub;

std::atomic<bool> g_vnni_enabled{true};

bool vnni_active() {
  return active_isa() == IsaLevel::Avx512 && cpu_has_avx512_vnni() &&
         g_vnni_enabled.load(std::memory_order_relaxed);
}

// Per-column values padded with zeros to the packed width, so kernels load whole vectors.
std::vector<float> padded_per_column(const std::vector<float>& values, std::int64_t n,
                                     std::int64_t padded) {
  std::vector<float> out(static_cast<std::size_t>(padded), 0.0f);
  for (std::int64_t c = 0; c < n; ++c) out[c] = values.size() == 1 ? values[0] : values[c];
  return out;
}

}  // namespace

namespace gemm_detail {

void qgemm(const QGemmProblem& p) {
  switch (active_isa()) {
    case IsaLevel::Avx512:
      if (vnni_active()) {
        qgemm_avx512_vnni(p);
      } else {
        qgemm_avx512(p);
      }
      return;
    case IsaLevel::Avx2:
      qgemm_avx2(p);
      return;
    case IsaLevel::Portable:
      qgemm_portable(p);
      return;
  }
}

}  // namespace gemm_detail

bool cpu_has_avx512_vnni() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool has = [] {
    __builtin_cpu_init();
    return detected_isa() == IsaLevel::Avx512 && __builtin_cpu_supports("avx512vnni");
  }();
  return has;
#else
  return false;
#endif
}

void set_avx512_vnni_enabled(bool enabled) { g_vnni_enabled.store(enabled); }

const char* active_qlinear_kernel() {
  switch (active_isa()) {
    case IsaLevel::Avx512:
      return vnni_active() ? "avx512_vnni" : "avx512";
    case IsaLevel::Avx2:
      return "avx2";
    case IsaLevel::Portable:
      return "portable";
  }
  return "portable";
}

Tensor qlinear(const Tensor& x, std::int32_t x_zero_point, const PackedWeights& w,
               const Epilogue& epilogue, const std::optional<Tensor>& bias_i32) {
  const auto shape =
      gemm_detail::validate_qlinear("qlinear", x, x_zero_point, w.n(), w.k(), epilogue, bias_i32);
  Tensor y = Tensor::empty(shape.out_shape, shape.out_dtype);
  const std::int64_t n = w.n(), k = w.k();
  if (shape.m == 0 || n == 0) return y;

  // Fold the zero points (gemm_internal.h): everything modulo 2^32.
  const bool x_signed = x.dtype() == DType::Int8;
  const std::int32_t x_zp = x_signed ? x_zero_point + 128 : x_zero_point;
  const std::int32_t k_mod = static_cast<std::int32_t>(static_cast<std::uint32_t>(k));
  const std::int64_t padded = w.num_blocks() * PackedWeights::kBlockN;
  std::vector<std::int32_t> col_offset(static_cast<std::size_t>(padded), 0);
  std::vector<std::int32_t> w_zp(static_cast<std::size_t>(padded), 0);
  const std::int32_t* bias = bias_i32 ? bias_i32->data<std::int32_t>() : nullptr;
  for (std::int64_t c = 0; c < n; ++c) {
    w_zp[c] = w.zero_points()[c];
    std::int32_t offset = bias ? bias[c] : 0;
    offset = wrap_sub(offset, wrap_mul(x_zp, w.column_sums()[c]));
    offset = wrap_add(offset, wrap_mul(wrap_mul(k_mod, x_zp), w_zp[c]));
    col_offset[c] = offset;
  }
  std::vector<std::int32_t> row_sum;
  if (w.has_zero_points()) {
    row_sum.assign(static_cast<std::size_t>(shape.m), 0);
    const auto* xb = static_cast<const std::uint8_t*>(x.raw_data());
    const std::uint8_t flip = x_signed ? 0x80 : 0x00;
    for (std::int64_t r = 0; r < shape.m; ++r) {
      std::int32_t sum = 0;
      for (std::int64_t c = 0; c < k; ++c) sum = wrap_add(sum, xb[r * k + c] ^ flip);
      row_sum[r] = sum;
    }
  }

  QGemmProblem p;
  p.m = shape.m;
  p.n = n;
  p.k = k;
  p.ldx = k;
  p.ldy = n;
  p.x = static_cast<const std::uint8_t*>(x.raw_data());
  p.x_signed = x_signed;
  p.w = &w;
  p.col_offset = col_offset.data();
  p.w_zero_point = w.has_zero_points() ? w_zp.data() : nullptr;
  p.row_sum = w.has_zero_points() ? row_sum.data() : nullptr;
  p.y = y.raw_data();
  std::vector<float> scale, fbias;
  if (std::holds_alternative<Int32Epilogue>(epilogue)) {
    p.kind = OutputKind::Int32;
  } else if (const auto* fe = std::get_if<FloatEpilogue>(&epilogue)) {
    p.kind = OutputKind::Float32;
    scale = padded_per_column(fe->scale, n, padded);
    if (fe->bias) {
      fbias = padded_per_column(fe->bias->to_vector<float>(), n, padded);
      p.bias = fbias.data();
    }
  } else {
    const auto& re = std::get<RequantEpilogue>(epilogue);
    p.kind = OutputKind::Quantized;
    scale = padded_per_column(re.multiplier, n, padded);
    p.clamp_lo = static_cast<float>(re.quant_min - re.zero_point);
    p.clamp_hi = static_cast<float>(re.quant_max - re.zero_point);
    p.out_zero_point = re.zero_point;
  }
  p.scale = scale.empty() ? nullptr : scale.data();
  gemm_detail::qgemm(p);
  return y;
}

std::vector<float> requant_multipliers(double x_scale, std::span<const double> w_scales,
                                       double out_scale) {
  constexpr const char* kWhere = "requant_multipliers";
  check_argument(std::isfinite(x_scale) && x_scale > 0, kWhere, "x_scale", x_scale,
                 "a finite value > 0");
  check_argument(std::isfinite(out_scale) && out_scale > 0, kWhere, "out_scale", out_scale,
                 "a finite value > 0");
  check_argument(!w_scales.empty(), kWhere, "w_scales.size", w_scales.size(), "at least 1");
  std::vector<float> out;
  out.reserve(w_scales.size());
  for (double ws : w_scales) {
    check_argument(std::isfinite(ws) && ws > 0, kWhere, "w_scales", ws, "finite values > 0");
    const float v = static_cast<float>(x_scale * ws / out_scale);
    check_argument(std::isfinite(v) && v > 0.0f, kWhere, "x_scale * w_scale / out_scale",
                   x_scale * ws / out_scale, "a finite float32 > 0");
    out.push_back(v);
  }
  return out;
}

std::vector<float> dequant_scales(double x_scale, std::span<const double> w_scales) {
  constexpr const char* kWhere = "dequant_scales";
  check_argument(std::isfinite(x_scale) && x_scale > 0, kWhere, "x_scale", x_scale,
                 "a finite value > 0");
  check_argument(!w_scales.empty(), kWhere, "w_scales.size", w_scales.size(), "at least 1");
  std::vector<float> out;
  out.reserve(w_scales.size());
  for (double ws : w_scales) {
    check_argument(std::isfinite(ws) && ws > 0, kWhere, "w_scales", ws, "finite values > 0");
    const float v = static_cast<float>(x_scale * ws);
    check_argument(std::isfinite(v) && v > 0.0f, kWhere, "x_scale * w_scale", x_scale * ws,
                   "a finite float32 > 0");
    out.push_back(v);
  }
  return out;
}

}  // namespace quantkit::kernels
