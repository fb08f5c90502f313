// Choosing quantization parameters: torch.ao observers' float32 formula and PyTorch's C++
// ChooseQuantizationParams (double) used by dynamic quantization. Every rounding below is
// written where torch rounds; the project compiles with -ffp-contract=off so nothing fuses.
#include "quantkit/quant/choose_qparams.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "quantkit/core/error.h"

namespace quantkit {
namespace {

// Python's floor division for integers (-127 // 2 == -64), which torch.ao uses for
// reduce_range on customized ranges.
std::int64_t floor_div2(std::int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

bool is_observer_dtype(DType dtype) {
  return dtype == DType::Int8 || dtype == DType::UInt8 || dtype == DType::Int32;
}

}  // namespace

QuantRange observer_quant_range(DType dtype, std::optional<std::int64_t> quant_min,
                                std::optional<std::int64_t> quant_max, bool reduce_range) {
  constexpr std::string_view where = "observer_quant_range";
  check_argument(is_observer_dtype(dtype), where, "dtype", dtype_name(dtype),
                 "int8, uint8 or int32 (torch qint8, quint8, qint32)");
  check_argument(quant_min.has_value() == quant_max.has_value(), where,
                 quant_min ? "quant_max" : "quant_min", std::string("unset"),
                 "quant_min and quant_max given together or both unset");
  if (quant_min) {
    const std::int64_t lo = *quant_min;
    const std::int64_t hi = *quant_max;
    // torch.ao's _validate_qmin_qmax: the range must contain 0 and be non-degenerate. We also
    // require it to fit in the dtype (torch only checks its length, which lets e.g. a uint8
    // range of -10..10 through and then clamps into garbage).
    check_argument(lo >= dtype_min(dtype) && lo <= 0, where, "quant_min", lo,
                   "a value in [" + std::to_string(dtype_min(dtype)) + ", 0] for " +
                       std::string(dtype_name(dtype)));
    check_argument(hi <= dtype_max(dtype) && hi > 0 && hi > lo, where, "quant_max", hi,
                   "a value in [1, " + std::to_string(dtype_max(dtype)) + "] above quant_min");
    if (reduce_range) return QuantRange{dtype, floor_div2(lo), floor_div2(hi)};
    return QuantRange{dtype, lo, hi};
  }
  switch (dtype) {
    case DType::Int8:
      return reduce_range ? QuantRange{dtype, -64, 63} : QuantRange{dtype, -128, 127};
    case DType::UInt8:
      return reduce_range ? QuantRange{dtype, 0, 127} : QuantRange{dtype, 0, 255};
    default:  // Int32: torch ignores reduce_range for the default qint32 range.
      return QuantRange{dtype, dtype_min(DType::Int32), dtype_max(DType::Int32)};
  }
}

QParams calculate_qparams(std::span<const float> min_val, std::span<const float> max_val,
                          QScheme qscheme, const QuantRange& range, float eps, std::int64_t axis) {
  const bool customized =
      !(range.dtype == DType::UInt8 && range.quant_min == 0 && range.quant_max == 255);
  return calculate_qparams(min_val, max_val, qscheme, range, eps, axis, customized);
}

QParams calculate_qparams(std::span<const float> min_val, std::span<const float> max_val,
                          QScheme qscheme, const QuantRange& range, float eps, std::int64_t axis,
                          bool customized_range) {
  constexpr std::string_view where = "calculate_qparams";
  check_argument(is_observer_dtype(range.dtype), where, "range.dtype", dtype_name(range.dtype),
                 "int8, uint8 or int32");
  check_argument(range.quant_min >= dtype_min(range.dtype) && range.quant_min < range.quant_max,
                 where, "range.quant_min", range.quant_min,
                 "a value inside the dtype below quant_max");
  check_argument(range.quant_max <= dtype_max(range.dtype), where, "range.quant_max",
                 range.quant_max, "a value inside the dtype");
  check_argument(std::isfinite(eps) && eps > 0.0f, where, "eps", eps, "a finite value > 0");
  check_argument(min_val.size() == max_val.size(), where, "max_val.size()", max_val.size(),
                 "the size of min_val (" + std::to_string(min_val.size()) + ")");
  check_argument(!min_val.empty(), where, "min_val.size()", min_val.size(), "at least 1");
  if (!is_per_channel(qscheme)) {
    check_argument(min_val.size() == 1, where, "min_val.size()", min_val.size(),
                   "1 for a per-tensor qscheme");
  }
  for (std::size_t c = 0; c < min_val.size(); ++c) {
    const std::string at = "[" + std::to_string(c) + "]";
    check_argument(std::isfinite(min_val[c]), where, "min_val" + at, min_val[c],
                   "a finite value (no finite scale covers an infinite range)");
    check_argument(std::isfinite(max_val[c]), where, "max_val" + at, max_val[c],
                   "a finite value (no finite scale covers an infinite range)");
    check_argument(min_val[c] <= max_val[c], where, "min_val" + at, min_val[c],
                   "a value <= max_val" + at + " = " + detail::describe_value(max_val[c]));
  }

  const std::int64_t qmin = range.quant_min;
  const std::int64_t qmax = range.quant_max;
  QParams out;
  out.qscheme = qscheme;
  out.axis = axis;
  const std::size_t n = min_val.size();
  out.scale.resize(n);

  if (qscheme == QScheme::PerChannelAffineFloatQParams) {
    // scale = (max - min) / (qmax - qmin), replaced by 1 where <= eps; zp = -min / scale.
    const float levels = static_cast<float>(static_cast<double>(qmax - qmin));
    out.float_zero_point.resize(n);
    for (std::size_t c = 0; c < n; ++c) {
      float scale = (max_val[c] - min_val[c]) / levels;
      if (!(scale > eps)) scale = 1.0f;
      check_argument(std::isfinite(scale), where, "max_val - min_val", max_val[c] - min_val[c],
                     "a range whose scale is finite in float32");
      out.scale[c] = scale;
      out.float_zero_point[c] = (-min_val[c]) / scale;
    }
    return out;
  }

  out.zero_point.resize(n);
  const bool symmetric = is_symmetric(qscheme);
  // Python: float(qmax - qmin) / 2 and float(qmax - qmin), each then used as a float32
  // operand of the tensor division.
  const float sym_divisor = static_cast<float>(static_cast<double>(qmax - qmin) / 2.0);
  const float aff_divisor = static_cast<float>(static_cast<double>(qmax - qmin));
  for (std::size_t c = 0; c < n; ++c) {
    const float min_neg = std::min(min_val[c], 0.0f);
    const float max_pos = std::max(max_val[c], 0.0f);
    float scale;
    std::int64_t zp = 0;
    if (symmetric) {
      scale = std::max(-min_neg, max_pos) / sym_divisor;
      scale = std::max(scale, eps);
      if (range.dtype == DType::UInt8) {
        // Python floor division of a non-negative sum.
        zp = customized_range ? (qmin + qmax) / 2 : 128;
      }
    } else {
      scale = (max_pos - min_neg) / aff_divisor;
      scale = std::max(scale, eps);
      // round half to even in float32, then qmin - r, clamped. |r| <= (qmax - qmin) + 1 for
      // a finite scale, so int64 holds it.
      const float r = std::nearbyint(min_neg / scale);
      zp = std::clamp(qmin - static_cast<std::int64_t>(r), qmin, qmax);
    }
    check_argument(std::isfinite(scale), where, "max_val - min_val",
                   static_cast<double>(max_pos) - min_neg,
                   "a range whose scale is finite in float32");
    out.scale[c] = scale;
    out.zero_point[c] = zp;
  }
  return out;
}

DynamicQParams choose_qparams_dynamic(float min, float max, std::int64_t quant_min,
                                      std::int64_t quant_max, bool reduce_range) {
  constexpr std::string_view where = "choose_qparams_dynamic";
  constexpr std::int64_t i32_lo = std::numeric_limits<std::int32_t>::min();
  constexpr std::int64_t i32_hi = std::numeric_limits<std::int32_t>::max();
  check_argument(std::isfinite(min), where, "min", min, "a finite value");
  check_argument(std::isfinite(max), where, "max", max, "a finite value");
  check_argument(min <= max, where, "min", min, "a value <= max = " + detail::describe_value(max));
  // torch computes qmax - qmin in C int: keep it representable.
  check_argument(quant_min >= i32_lo && quant_min <= i32_hi, where, "quant_min", quant_min,
                 "a value that fits in int32");
  check_argument(quant_max >= i32_lo && quant_max <= i32_hi && quant_max - quant_min <= i32_hi,
                 where, "quant_max", quant_max,
                 "a value that fits in int32 with quant_max - quant_min fitting too");

  std::int64_t qmin = quant_min;
  std::int64_t qmax = quant_max;
  if (reduce_range) {  // C integer division (truncates toward zero)
    qmin /= 2;
    qmax /= 2;
  }
  check_argument(qmin < qmax, where, "quant_max", quant_max,
                 "a value above quant_min (after reduce_range)");

  min = std::min(min, 0.0f);
  max = std::max(max, 0.0f);
  const int levels = static_cast<int>(qmax - qmin);
  double scale = (static_cast<double>(max) - min) / levels;
  if (static_cast<float>(scale) == 0.0f || std::isinf(1.0f / static_cast<float>(scale))) {
    scale = 0.1;
  }
  constexpr float kSmallScale = 6.1e-5f;  // SMALL_SCALE_THRESHOLD
  if (scale < kSmallScale) {
    const float org_scale = static_cast<float>(scale);
    scale = kSmallScale;
    if (min == 0.0f) {
      max = kSmallScale * static_cast<float>(levels);
    } else if (max == 0.0f) {
      min = -kSmallScale * static_cast<float>(levels);
    } else {
      const float amplifier = kSmallScale / org_scale;
      min *= amplifier;
      max *= amplifier;
    }
  }

  // Zero point from whichever end adds the smaller terms.
  const double zp_from_min = static_cast<double>(qmin) - min / scale;
  const double zp_from_max = static_cast<double>(qmax) - max / scale;
  const double zp_from_min_error = static_cast<double>(std::abs(qmin)) - std::abs(min / scale);
  const double zp_from_max_error = static_cast<double>(std::abs(qmax)) - std::abs(max / scale);
  const double initial = zp_from_min_error < zp_from_max_error ? zp_from_min : zp_from_max;
  std::int64_t zp;
  if (initial < static_cast<double>(qmin)) {
    zp = qmin;
  } else if (initial > static_cast<double>(qmax)) {
    zp = qmax;
  } else {
    zp = static_cast<std::int64_t>(std::nearbyint(initial));
  }
  return DynamicQParams{scale, zp};
}

namespace {

void check_dynamic_input(const Tensor& x, DType dtype, std::string_view where) {
  check_argument(x.dtype() == DType::Float32, where, "x.dtype", dtype_name(x.dtype()), "float32");
  check_argument(dtype == DType::Int8 || dtype == DType::UInt8, where, "dtype", dtype_name(dtype),
                 "int8 or uint8");
  check_argument(x.numel() > 0, where, "x.numel()", x.numel(),
                 "a non-empty tensor (torch's min() of an empty tensor raises too)");
}

// min and max of a float32 span; Error on NaN or infinity (torch's result is an error or
// undefined behaviour there).
std::pair<float, float> finite_min_max(std::span<const float> v, std::string_view where,
                                       std::string_view arg) {
  float lo = std::numeric_limits<float>::infinity();
  float hi = -std::numeric_limits<float>::infinity();
  bool finite = true;
  for (float f : v) {
    finite &= std::isfinite(f);
    lo = f < lo ? f : lo;
    hi = f > hi ? f : hi;
  }
  if (!finite) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!std::isfinite(v[i])) {
        throw_invalid_argument(where, std::string(arg) + "[" + std::to_string(i) + "]", v[i],
                               "finite values (NaN or infinity has no finite qparams)");
      }
    }
  }
  return {lo, hi};
}

}  // namespace

DynamicQParams choose_qparams_per_tensor_dynamic(const Tensor& x, DType dtype, bool reduce_range) {
  constexpr std::string_view where = "choose_qparams_per_tensor_dynamic";
  check_dynamic_input(x, dtype, where);
  const auto [lo, hi] = finite_min_max(x.span<float>(), where, "x");
  return choose_qparams_dynamic(lo, hi, dtype_min(dtype), dtype_max(dtype), reduce_range);
}

DynamicQParams choose_qparams_tensor(const Tensor& x, const QuantRange& range, float eps,
                                     std::string_view where) {
  check_argument(x.dtype() == DType::Float32, where, "x.dtype", dtype_name(x.dtype()), "float32");
  check_argument(x.numel() > 0, where, "x", shape_to_string(x.shape()),
                 "a non-empty tensor (its min/max choose the qparams)");
  const float* p = x.data<float>();
  float lo = p[0], hi = p[0];
  for (std::int64_t i = 1; i < x.numel(); ++i) {
    lo = std::min(lo, p[i]);
    hi = std::max(hi, p[i]);
  }
  const QParams q =
      calculate_qparams(std::span<const float>(&lo, 1), std::span<const float>(&hi, 1),
                        QScheme::PerTensorAffine, range, eps);
  return {q.scale[0], q.zero_point[0]};
}

QParams choose_qparams_per_row_dynamic(const Tensor& x, const QuantRange& range) {
  constexpr std::string_view where = "choose_qparams_per_row_dynamic";
  check_argument(x.dtype() == DType::Float32, where, "x.dtype", dtype_name(x.dtype()), "float32");
  check_argument(x.dim() >= 1, where, "x.dim()", x.dim(), "at least 1 (rows along the last axis)");
  range.validate(where);
  const std::int64_t row_len = x.size(-1);
  std::int64_t rows = 1;
  for (std::int64_t d = 0; d + 1 < x.dim(); ++d) rows *= x.shape()[static_cast<std::size_t>(d)];
  check_argument(row_len > 0 || rows == 0, where, "x.shape", shape_to_string(x.shape()),
                 "rows with at least one element");
  QParams out;
  out.qscheme = QScheme::PerChannelAffine;
  out.axis = 0;
  out.scale.resize(static_cast<std::size_t>(rows));
  out.zero_point.resize(static_cast<std::size_t>(rows));
  const float* data = x.data<float>();
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::span<const float> row(data + r * row_len, static_cast<std::size_t>(row_len));
    const auto [lo, hi] = finite_min_max(row, where, "x row " + std::to_string(r) + " element");
    const DynamicQParams qp =
        choose_qparams_dynamic(lo, hi, range.quant_min, range.quant_max, false);
    out.scale[static_cast<std::size_t>(r)] = qp.scale;
    out.zero_point[static_cast<std::size_t>(r)] = qp.zero_point;
  }
  return out;
}

}  // namespace quantkit
