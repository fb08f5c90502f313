#pragma once
// APoT levels as small integers times one step. Every APoT level is γ times a sum of powers
// of two (arXiv 1909.13144), so a layer's levels are integer multiples of one power-of-two
// step times γ: weights stored as codes can run on int8 integer kernels with one scale.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "quantkit/core/tensor.h"

namespace quantkit::apot {

struct IntegerLevels {
  double scale = 1;                   // levels[i] ≈ integers[i] · scale
  std::vector<std::int8_t> integers;  // one per level
};

// The integers are those of the smallest power-of-two step (the smallest nonzero |level| /
// 2^j, j = 0 … 8) that makes every level / step an integer up to the levels' float32
// rounding (1e-5 relative), with |integers| <= 127; the scale is the largest |level| over its
// integer (the smallest relative error). Null when there is no such step (levels that are not
// dyadic multiples of each other, all zero, non-finite, or integers beyond int8).
std::optional<IntegerLevels> integer_levels(std::span<const double> levels);

// An APoT weight given as codes (any integer dtype) into `levels`, as the int8 integers of
// integer_levels looked up per code, with its one scale. Null when the levels have no integer
// form or a code is not a level index (the interpreter reports that one).
struct IntegerWeight {
  Tensor weight;  // int8, the codes' shape
  double scale = 1;
};
std::optional<IntegerWeight> integer_weight(const Tensor& codes, std::span<const double> levels);

}  // namespace quantkit::apot
