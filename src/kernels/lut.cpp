// Table construction, the scalar lookup and the lookup dispatch (quantkit/kernels/lut.h).
#include <algorithm>
#include <array>
#include <cmath>

#include "lut_internal.h"
#include "quantkit/core/error.h"
#include "quantkit/kernels/cpu_features.h"

namespace quantkit::kernels {
namespace {

const lut_detail::LutKernels& lut_table(IsaLevel level) {
  static const std::array<lut_detail::LutKernels, 3> tables = [] {
    std::array<lut_detail::LutKernels, 3> t{};  // portable: the scalar loop
    if (detected_isa() >= IsaLevel::Avx2) t[1] = t[2] = lut_detail::lut_kernels_avx2();
    if (cpu_has_avx512_vbmi()) t[2] = lut_detail::lut_kernels_avx512();
    return t;
  }();
  return tables[static_cast<int>(level)];
}

void check_quantization(const char* where, const LutQuantization& q) {
  for (DType t : {q.in_dtype, q.out_dtype}) {
    check_argument(t == DType::Int8 || t == DType::UInt8, where, "dtype", dtype_name(t),
                   "int8 or uint8");
  }
  check_argument(std::isfinite(q.in_scale) && q.in_scale > 0, where, "in_scale", q.in_scale,
                 "finite and > 0");
  check_argument(std::isfinite(q.out_scale) && q.out_scale > 0, where, "out_scale", q.out_scale,
                 "finite and > 0");
  check_argument(
      q.in_zero_point >= dtype_min(q.in_dtype) && q.in_zero_point <= dtype_max(q.in_dtype), where,
      "in_zero_point", q.in_zero_point, "inside in_dtype's range");
  check_argument(
      q.out_zero_point >= dtype_min(q.out_dtype) && q.out_zero_point <= dtype_max(q.out_dtype),
      where, "out_zero_point", q.out_zero_point, "inside out_dtype's range");
  check_argument(
      q.qmin >= dtype_min(q.out_dtype) && q.qmin <= q.qmax && q.qmax <= dtype_max(q.out_dtype),
      where, "qmin", q.qmin, "lo <= qmin <= qmax <= hi of out_dtype");
}

}  // namespace

double apply_unary(UnaryFunction f, double x) {
  switch (f) {
    case UnaryFunction::Hardswish:
      return x * std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0;
    case UnaryFunction::Hardsigmoid:
      return std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0;
    case UnaryFunction::Sigmoid:
      return 1.0 / (1.0 + std::exp(-x));
    case UnaryFunction::Tanh:
      return std::tanh(x);
    case UnaryFunction::SiLU:
      return x / (1.0 + std::exp(-x));
    case UnaryFunction::Relu:
      return std::max(x, 0.0);
    case UnaryFunction::Identity:
      return x;
  }
  return x;
}

Lut256 make_lut(const LutQuantization& q, const std::function<double(double)>& f) {
  check_quantization("make_lut", q);
  const float in_scale = static_cast<float>(q.in_scale);
  Lut256 table{};
  for (int byte = 0; byte < 256; ++byte) {
    const std::int32_t value = q.in_dtype == DType::Int8
                                   ? static_cast<std::int8_t>(static_cast<std::uint8_t>(byte))
                                   : byte;
    const float x = static_cast<float>(value - q.in_zero_point) * in_scale;
    const double y = f(static_cast<double>(x));
    double r = std::nearbyint(y / q.out_scale) + q.out_zero_point;
    if (!(r >= q.qmin)) r = q.qmin;  // NaN (f undefined) maps to qmin
    if (r > q.qmax) r = q.qmax;
    table[static_cast<std::size_t>(byte)] = static_cast<std::uint8_t>(static_cast<std::int32_t>(r));
  }
  return table;
}

Lut256 make_lut(const LutQuantization& q, UnaryFunction f) {
  return make_lut(q, [f](double x) { return apply_unary(f, x); });
}

void lut_apply_reference(const Lut256& table, const std::uint8_t* x, std::uint8_t* y,
                         std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = table[x[i]];
}

void lut_apply(const Lut256& table, const std::uint8_t* x, std::uint8_t* y, std::int64_t n) {
  const lut_detail::LutKernels& k = lut_table(active_isa());
  if (k.apply) {
    k.apply(table, x, y, n);
  } else {
    lut_apply_reference(table, x, y, n);
  }
}

const char* lut_kernel_name() {
  const lut_detail::LutKernels& k = lut_table(active_isa());
  return k.apply ? k.name : "reference";
}

}  // namespace quantkit::kernels
