#pragma once
// PyTorch's apot_utils.float_to_apot restated literally (O(L) scan, float32 distances,
// strict '<'), for in-range x: the oracle the fast quantizer is checked against.
#include <cmath>
#include <cstdint>
#include <limits>

#include "quantkit/apot/qparams.h"

namespace quantkit::apot::testing {

inline std::int64_t reference_scan_position(const ApotQParams& q, float x) {
  float min_delta = std::numeric_limits<float>::infinity();
  std::int64_t best = 0;
  for (std::size_t p = 0; p < q.levels.size(); ++p) {
    const float d = std::fabs(q.levels[p] - x);
    if (d < min_delta) {
      min_delta = d;
      best = static_cast<std::int64_t>(p);
    }
  }
  return best;
}

inline std::int64_t reference_code(const ApotQParams& q, float x) {
  return q.level_indices[static_cast<std::size_t>(reference_scan_position(q, x))];
}

}  // namespace quantkit::apot::testing
