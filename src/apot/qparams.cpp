#include "quantkit/apot/qparams.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "quantkit/apot/paper_levels.h"
#include "quantkit/core/error.h"

namespace quantkit::apot {

Tensor ApotQParams::levels_tensor() const { return Tensor::from_vector(levels); }
Tensor ApotQParams::level_indices_tensor() const { return Tensor::from_vector(level_indices); }

ApotQParams make_apot_qparams(const ApotScheme& scheme, float alpha) {
  constexpr const char* where = "make_apot_qparams";
  scheme.validate(where);
  if (scheme.level_set == ApotLevelSet::PaperSigned) return make_apot_paper_qparams(scheme, alpha);
  check_argument(std::isfinite(alpha) && alpha >= 0.0f, where, "alpha", alpha,
                 "a finite value >= 0");
  const int n = scheme.n();
  const std::size_t m = static_cast<std::size_t>(scheme.terms_per_list());
  const std::size_t total = static_cast<std::size_t>(scheme.num_levels());

  // Unscaled float32 running sums in cartesian order, built one term at a time: after term
  // i, sums[c] holds ((0 + t_0[d_0]) + t_1[d_1]) + ... + t_i[d_i], rounded after every add,
  // exactly as PyTorch's Python loop accumulates its float32 0-d tensors.
  std::vector<float> sums{0.0f};
  sums.reserve(total);
  for (int i = 0; i < n; ++i) {
    const std::vector<float> terms = apot_term_list(scheme, i);
    std::vector<float> next(sums.size() * m);
    for (std::size_t c = 0; c < sums.size(); ++c) {
      for (std::size_t d = 0; d < m; ++d) next[c * m + d] = sums[c] + terms[d];
    }
    sums.swap(next);
  }

  ApotQParams q;
  q.scheme = scheme;
  q.alpha = alpha;
  q.gamma = apot_gamma(scheme, alpha);

  // PyTorch: torch.tensor([float(gamma) * s ...]) (float32 products), then .sort(), whose
  // CPU kernel is libstdc++ std::sort over (value, index) pairs comparing values only,
  // starting from cartesian order. Calling the same algorithm reproduces the order of
  // duplicate levels, which decides which code a tie maps to. The payload type does not
  // change the sequence of comparisons and moves, so 32-bit indices keep memory down.
  std::vector<std::pair<float, std::int32_t>> pairs(total);
  for (std::size_t c = 0; c < total; ++c) {
    const float level = q.gamma * sums[c];
    if (!std::isfinite(level)) {
      throw_invalid_argument(where, "alpha", alpha,
                             "a value whose levels stay finite in float32 (level overflows)");
    }
    pairs[c] = {level, static_cast<std::int32_t>(c)};
  }
  std::vector<float>().swap(sums);
  std::sort(pairs.begin(), pairs.end(),
            [](const std::pair<float, std::int32_t>& a, const std::pair<float, std::int32_t>& b) {
              return a.first < b.first;
            });
  q.levels.resize(total);
  q.level_indices.resize(total);
  for (std::size_t p = 0; p < total; ++p) {
    q.levels[p] = pairs[p].first;
    q.level_indices[p] = pairs[p].second;
  }
  return q;
}

void validate_apot_qparams(const ApotQParams& q, const char* where) {
  check_argument(std::isfinite(q.alpha) && q.alpha >= 0.0f, where, "alpha", q.alpha,
                 "a finite value >= 0");
  check_argument(!q.levels.empty(), where, "levels", q.levels.size(), "at least one level");
  check_argument(q.level_indices.size() == q.levels.size(), where, "level_indices",
                 q.level_indices.size(),
                 "one index per level (" + std::to_string(q.levels.size()) + ")");
  for (std::size_t p = 0; p < q.levels.size(); ++p) {
    if (!std::isfinite(q.levels[p]) || (p > 0 && q.levels[p] < q.levels[p - 1])) {
      throw_invalid_argument(
          where, "levels", q.levels[p],
          "finite levels in ascending order (at position " + std::to_string(p) + ")");
    }
    const std::int64_t c = q.level_indices[p];
    check_argument(c >= 0 && c < static_cast<std::int64_t>(q.levels.size()), where, "level_indices",
                   c, "indices in [0, " + std::to_string(q.levels.size()) + ") (one per level)");
  }
  std::vector<std::int64_t> sorted = q.level_indices;
  std::sort(sorted.begin(), sorted.end());
  const auto dup = std::adjacent_find(sorted.begin(), sorted.end());
  if (dup != sorted.end()) {
    throw_invalid_argument(where, "level_indices", *dup,
                           "a permutation of [0, L) (duplicate found)");
  }
}

}  // namespace quantkit::apot
