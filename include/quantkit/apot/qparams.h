#pragma once
// APoT quantization parameters: what APoTObserver.calculate_qparams(signed) returns
// (alpha, gamma, quantization_levels, level_indices), plus the scheme they came from.
#include <cstdint>
#include <vector>

#include "quantkit/apot/scheme.h"
#include "quantkit/core/tensor.h"

namespace quantkit::apot {

struct ApotQParams {
  ApotScheme scheme;
  float alpha = 0.0f;                       // clipping level, max(-min_val, max_val)
  float gamma = 0.0f;                       // level scale
  std::vector<float> levels;                // ascending, scheme.num_levels() entries
  std::vector<std::int64_t> level_indices;  // cartesian index (= APoT code) per level

  // torch-like views: float32 [L] and int64 [L] (copies).
  Tensor levels_tensor() const;
  Tensor level_indices_tensor() const;
};

// The qparams for a given alpha (finite, >= 0): levels built and sorted as PyTorch does, or
// the paper's signed set (make_apot_paper_qparams, apot/paper_levels.h) for PaperSigned.
// Throws Error for an invalid scheme or alpha, or if a level overflows float32.
ApotQParams make_apot_qparams(const ApotScheme& scheme, float alpha);

// Checks user-supplied qparams before they drive a quantizer: alpha finite >= 0, levels
// finite and ascending, level_indices a permutation of [0, L) (as every PyTorch level set's
// are: each cartesian index appears once).
void validate_apot_qparams(const ApotQParams& qparams, const char* where);

}  // namespace quantkit::apot
