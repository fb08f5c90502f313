// The APoT paper's signed N-bit weight level sets (quantkit/apot/paper_levels.h).
#include "quantkit/apot/paper_levels.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <set>
#include <string>

#include "quantkit/core/error.h"

namespace quantkit::apot {
namespace {

// Exponents e of the 2^-e entries of each base list (every list also holds 0), per B = 2 ... 6:
// the additive branches of the authors' build_power_value.
using BaseLists = std::vector<std::vector<int>>;
const BaseLists& base_lists(int magnitude_bits) {
  static const std::array<BaseLists, 5> lists{{
      {{1, 2, 3}},
      {{1, 2, 4}, {3}},
      {{1, 3, 5}, {2, 4, 6}},
      {{1, 3, 6}, {2, 4, 7}, {5}},
      {{1, 4, 7}, {2, 5, 8}, {3, 6, 9}},
  }};
  return lists[static_cast<std::size_t>(magnitude_bits - 2)];
}

}  // namespace

std::vector<float> apot_paper_magnitudes(int magnitude_bits) {
  check_argument(magnitude_bits >= 1 && magnitude_bits <= 6, "apot_paper_magnitudes",
                 "magnitude_bits", magnitude_bits, "1 ... 6 (the paper's build_power_value)");
  // B = 1 (2-bit weights): the ImageNet code quantizes uniformly to {-1, 0, 1}.
  if (magnitude_bits == 1) return {0.0f, 1.0f};
  // Every sum is a dyadic rational with at most 9 fractional bits: exact in double and float.
  std::set<double> sums{0.0};
  for (const std::vector<int>& list : base_lists(magnitude_bits)) {
    std::set<double> next;
    for (double s : sums) {
      next.insert(s);  // the list's 0 entry
      for (int e : list) next.insert(s + std::ldexp(1.0, -e));
    }
    sums.swap(next);
  }
  // torch: values.mul(1.0 / torch.max(values)), a float32 reciprocal then float32 products.
  const float reciprocal = 1.0f / static_cast<float>(*sums.rbegin());
  std::vector<float> out;
  out.reserve(sums.size());
  for (double s : sums) out.push_back(static_cast<float>(s) * reciprocal);
  return out;
}

std::vector<float> apot_paper_signed_values(int bits) {
  check_argument(bits >= 2 && bits <= 7, "apot_paper_signed_values", "bits", bits,
                 "2 ... 7 storage bits (1 sign bit + 1 ... 6 magnitude bits)");
  const std::vector<float> magnitudes = apot_paper_magnitudes(bits - 1);
  std::vector<float> out;
  out.reserve(2 * magnitudes.size() - 1);
  for (auto it = magnitudes.rbegin(); it + 1 != magnitudes.rend(); ++it) out.push_back(-*it);
  out.insert(out.end(), magnitudes.begin(), magnitudes.end());
  return out;
}

ApotQParams make_apot_paper_qparams(const ApotScheme& scheme, float alpha) {
  constexpr const char* where = "make_apot_paper_qparams";
  scheme.validate(where);
  check_argument(scheme.level_set == ApotLevelSet::PaperSigned, where, "scheme", scheme.label(),
                 "a PaperSigned scheme (apot_paper_scheme)");
  check_argument(std::isfinite(alpha) && alpha >= 0.0f, where, "alpha", alpha,
                 "a finite value >= 0");
  ApotQParams q;
  q.scheme = scheme;
  q.alpha = alpha;
  q.gamma = alpha;
  for (float v : apot_paper_signed_values(scheme.b)) {
    // The paper multiplies the chosen normalized level by alpha (sign restored exactly).
    q.levels.push_back(v * alpha);
  }
  q.level_indices.resize(q.levels.size());
  std::iota(q.level_indices.begin(), q.level_indices.end(), std::int64_t{0});
  return q;
}

}  // namespace quantkit::apot
