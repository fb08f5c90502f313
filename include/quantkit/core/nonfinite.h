#pragma once
// Counting NaN and infinity in a tensor. Quantizing maps NaN to quant_min and +-inf to the ends of
// the range (quant/affine.h), so non-finite data fed to a quantized model comes out as finite,
// normal-looking numbers; callers that take data from users (the calibration pipeline, the CLI's
// model commands) count them first and refuse or warn.
#include <cstdint>
#include <string>

#include "quantkit/core/tensor.h"

namespace quantkit {

struct NonFiniteCount {
  std::int64_t nan = 0;
  std::int64_t inf = 0;           // +inf and -inf
  std::int64_t first_index = -1;  // flat (C-order) index of the first one; -1 when none
  double first_value = 0;         // its value (NaN, +inf or -inf)

  std::int64_t total() const { return nan + inf; }
  // "3072 non-finite values (3072 NaN, 0 infinite; the first, at flat index 0, is nan)"
  std::string to_string() const;
};

// Float32 / float64 tensors are scanned; integer tensors hold no NaN (all zero counts).
NonFiniteCount count_nonfinite(const Tensor& t);

}  // namespace quantkit
