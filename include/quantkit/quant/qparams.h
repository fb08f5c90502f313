#pragma once
// Quantization parameters and integer ranges shared by the whole quant layer.
#include <cstdint>
#include <string_view>
#include <vector>

#include "quantkit/core/dtype.h"

namespace quantkit {

enum class QScheme {
  PerTensorAffine,
  PerTensorSymmetric,
  PerChannelAffine,
  PerChannelSymmetric,
  PerChannelAffineFloatQParams,
};

// "per_tensor_affine", ... (torch's names without the "torch." prefix).
std::string_view qscheme_name(QScheme qscheme);
QScheme qscheme_from_name(std::string_view name, std::string_view arg = "qscheme");
bool is_per_channel(QScheme qscheme);
bool is_symmetric(QScheme qscheme);

// The integer target of quantization: a storage dtype and the clamp range inside it.
// Any sub-range works, e.g. int4 as {Int8, -8, 7} or uint4 as {UInt8, 0, 15}.
struct QuantRange {
  DType dtype = DType::UInt8;
  std::int64_t quant_min = 0;
  std::int64_t quant_max = 255;

  // The dtype's full range. Throws Error unless dtype is int8, uint8, int16 or int32.
  static QuantRange full(DType dtype);
  // A validated sub-range: quant_min <= quant_max, both inside the dtype.
  static QuantRange of(DType dtype, std::int64_t quant_min, std::int64_t quant_max);
  // Throws Error naming `where` if the range is not valid for the dtype.
  void validate(std::string_view where) const;
};

// Quantization parameters as observers produce them. Per-tensor: one scale and zero point.
// Per-channel: one per channel along `axis`. PerChannelAffineFloatQParams uses
// float_zero_point instead of zero_point.
struct QParams {
  QScheme qscheme = QScheme::PerTensorAffine;
  std::vector<double> scale;
  std::vector<std::int64_t> zero_point;
  std::vector<float> float_zero_point;
  std::int64_t axis = 0;

  bool per_channel() const { return is_per_channel(qscheme); }
};

}  // namespace quantkit
