#include "quantkit/quant/qparams.h"

#include <array>
#include <string>
#include <utility>

#include "quantkit/core/error.h"

namespace quantkit {
namespace {

constexpr std::array<std::pair<QScheme, std::string_view>, 5> kQSchemeNames{{
    {QScheme::PerTensorAffine, "per_tensor_affine"},
    {QScheme::PerTensorSymmetric, "per_tensor_symmetric"},
    {QScheme::PerChannelAffine, "per_channel_affine"},
    {QScheme::PerChannelSymmetric, "per_channel_symmetric"},
    {QScheme::PerChannelAffineFloatQParams, "per_channel_affine_float_qparams"},
}};

// The storage dtypes a quantized tensor may use (torch's quint8 / qint8 / qint32, plus int16).
bool is_quantized_storage(DType dtype) {
  return dtype == DType::Int8 || dtype == DType::UInt8 || dtype == DType::Int16 ||
         dtype == DType::Int32;
}

constexpr std::string_view kStorageDTypes = "one of int8, uint8, int16, int32";

}  // namespace

std::string_view qscheme_name(QScheme qscheme) {
  for (const auto& [scheme, name] : kQSchemeNames) {
    if (scheme == qscheme) return name;
  }
  throw_invalid_argument("qscheme_name", "qscheme", static_cast<int>(qscheme),
                         "a QScheme enumerator");
}

QScheme qscheme_from_name(std::string_view name, std::string_view arg) {
  // torch prints qschemes as "torch.per_tensor_affine"; accept that spelling too.
  std::string_view bare = name;
  if (bare.starts_with("torch.")) bare.remove_prefix(6);
  for (const auto& [scheme, scheme_name] : kQSchemeNames) {
    if (scheme_name == bare) return scheme;
  }
  throw_invalid_argument("qscheme_from_name", arg, name,
                         "one of per_tensor_affine, per_tensor_symmetric, per_channel_affine, "
                         "per_channel_symmetric, per_channel_affine_float_qparams");
}

bool is_per_channel(QScheme qscheme) {
  return qscheme == QScheme::PerChannelAffine || qscheme == QScheme::PerChannelSymmetric ||
         qscheme == QScheme::PerChannelAffineFloatQParams;
}

bool is_symmetric(QScheme qscheme) {
  return qscheme == QScheme::PerTensorSymmetric || qscheme == QScheme::PerChannelSymmetric;
}

QuantRange QuantRange::full(DType dtype) {
  check_argument(is_quantized_storage(dtype), "QuantRange::full", "dtype", dtype_name(dtype),
                 kStorageDTypes);
  return QuantRange{dtype, dtype_min(dtype), dtype_max(dtype)};
}

QuantRange QuantRange::of(DType dtype, std::int64_t quant_min, std::int64_t quant_max) {
  QuantRange range{dtype, quant_min, quant_max};
  range.validate("QuantRange::of");
  return range;
}

void QuantRange::validate(std::string_view where) const {
  check_argument(is_quantized_storage(dtype), where, "dtype", dtype_name(dtype), kStorageDTypes);
  const std::int64_t lo = dtype_min(dtype);
  const std::int64_t hi = dtype_max(dtype);
  const std::string inside = "a value inside " + std::string(dtype_name(dtype)) + " [" +
                             std::to_string(lo) + ", " + std::to_string(hi) + "]";
  check_argument(lo <= quant_min && quant_min <= hi, where, "quant_min", quant_min, inside);
  check_argument(lo <= quant_max && quant_max <= hi, where, "quant_max", quant_max, inside);
  check_argument(quant_min <= quant_max, where, "quant_max", quant_max,
                 "a value >= quant_min (" + std::to_string(quant_min) + ")");
}

}  // namespace quantkit
