#include "quantkit/apot/scheme.h"

#include <cmath>
#include <string>

#include "quantkit/core/error.h"

namespace quantkit::apot {

namespace {
constexpr int kMinPaperBits = 2;
constexpr int kMaxPaperBits = 7;  // the paper's build_power_value stops at B = 6 magnitude bits
}  // namespace

std::int64_t ApotScheme::terms_per_list() const {
  return is_signed ? (std::int64_t{2} << k) - 1 : std::int64_t{1} << k;
}

namespace {

// terms^n, or -1 once it exceeds kMaxApotLevels (no overflow for any int b, k).
std::int64_t bounded_power(std::int64_t base, int exponent) {
  std::int64_t result = 1;
  for (int i = 0; i < exponent; ++i) {
    result *= base;
    if (result > kMaxApotLevels) return -1;
  }
  return result;
}

}  // namespace

void ApotScheme::validate(const char* where) const {
  if (level_set == ApotLevelSet::PaperSigned) {
    check_argument(b >= kMinPaperBits && b <= kMaxPaperBits, where, "b", b,
                   "2 ... 7 storage bits for the paper's signed APoT level set");
    check_argument(k == 1, where, "k", k, "1 for the paper's level set (k is not a parameter)");
    check_argument(is_signed, where, "is_signed", "false",
                   "true: the paper's level set is the signed weight set");
    return;
  }
  check_argument(level_set == ApotLevelSet::PyTorch, where, "level_set",
                 static_cast<int>(level_set), "PyTorch or PaperSigned");
  check_argument(k > 0, where, "k", k, "k > 0 (bits per additive term)");
  check_argument(b > 0 && b % k == 0, where, "b", b,
                 "a positive multiple of k = " + std::to_string(k));
  // k <= 30 keeps 2^k in int arithmetic; the exponent limit below is far stricter anyway.
  check_argument(k <= 30 && static_cast<std::int64_t>(n()) * ((std::int64_t{1} << k) - 1) - 1 <=
                                kMaxApotTermExponent,
                 where, "k", k,
                 "n * (2^k - 1) - 1 <= 149 so that every term 2^-e is a nonzero float32 (b = " +
                     std::to_string(b) + ")");
  const std::int64_t levels =
      bounded_power(is_signed ? (std::int64_t{2} << k) - 1 : std::int64_t{1} << k, n());
  if (levels < 0) {
    throw_invalid_argument(where, "b", b,
                           "a scheme with at most 2^23 = 8388608 levels (k = " + std::to_string(k) +
                               (is_signed ? ", signed" : ", unsigned") +
                               " has more; PyTorch's sorted level table must be materialized)");
  }
}

std::int64_t ApotScheme::num_levels() const {
  if (!is_pytorch()) return (std::int64_t{1} << b) - 1;
  return bounded_power(terms_per_list(), n());
}

std::string ApotScheme::label() const {
  if (!is_pytorch()) return "paper_w" + std::to_string(b);
  return "b" + std::to_string(b) + "_k" + std::to_string(k) + (is_signed ? "_s" : "_u");
}

ApotScheme apot_paper_scheme(int bits) {
  const ApotScheme scheme{bits, 1, true, ApotLevelSet::PaperSigned};
  scheme.validate("apot_paper_scheme");
  return scheme;
}

namespace {
// The cartesian-term functions below describe PyTorch's construction only.
void require_pytorch_levels(const ApotScheme& scheme, const char* where) {
  scheme.validate(where);
  check_argument(scheme.is_pytorch(), where, "scheme", scheme.label(),
                 "a PyTorch (b, k) scheme (the paper's level set has no cartesian terms)");
}
}  // namespace

std::vector<int> apot_term_exponents(const ApotScheme& scheme, int i) {
  require_pytorch_levels(scheme, "apot_term_exponents");
  const int n = scheme.n();
  check_argument(i >= 0 && i < n, "apot_term_exponents", "i", i,
                 "a term number in [0, " + std::to_string(n) + ")");
  const int count = (1 << scheme.k) - 1;  // nonzero powers per term
  std::vector<int> powers;                // exponents, largest magnitude first
  for (int j = 0; j < count; ++j) powers.push_back(i + j * n);
  std::vector<int> out;
  if (!scheme.is_signed) {
    out.push_back(-1);
    out.insert(out.end(), powers.begin(), powers.end());
  } else {
    out.insert(out.end(), powers.begin(), powers.end());    // +2^-i ... +smallest
    out.push_back(-1);                                      // 0
    out.insert(out.end(), powers.rbegin(), powers.rend());  // -smallest ... -2^-i
  }
  return out;
}

std::vector<float> apot_term_list(const ApotScheme& scheme, int i) {
  const std::vector<int> exponents = apot_term_exponents(scheme, i);
  std::vector<float> out;
  out.reserve(exponents.size());
  const std::size_t count = static_cast<std::size_t>((1 << scheme.k) - 1);
  for (std::size_t p = 0; p < exponents.size(); ++p) {
    if (exponents[p] < 0) {
      out.push_back(0.0f);
      continue;
    }
    // Python's 2 ** -e is a correctly rounded double; torch.tensor rounds it to float32.
    const float magnitude = static_cast<float>(std::ldexp(1.0, -exponents[p]));
    const bool negative = scheme.is_signed && p > count;
    out.push_back(negative ? -magnitude : magnitude);
  }
  return out;
}

float apot_gamma(const ApotScheme& scheme, float alpha) {
  require_pytorch_levels(scheme, "apot_gamma");
  // p_sum = sum of 2^-i for i < n is exact in double; ATen divides a float32 tensor by the
  // Python float after converting it to float32 (exact for n <= 24, and double rounding of a
  // float32 quotient is innocuous, so float32(alpha / p_sum) is the same value).
  const double p_sum = 2.0 - std::ldexp(1.0, 1 - scheme.n());
  return alpha / static_cast<float>(p_sum);
}

float apot_level_sum(const ApotScheme& scheme, std::int64_t cartesian_index) {
  require_pytorch_levels(scheme, "apot_level_sum");
  const std::int64_t total = scheme.num_levels();
  check_argument(cartesian_index >= 0 && cartesian_index < total, "apot_level_sum",
                 "cartesian_index", cartesian_index,
                 "an index in [0, " + std::to_string(total) + ")");
  const int n = scheme.n();
  const std::int64_t m = scheme.terms_per_list();
  std::vector<std::int64_t> digits(static_cast<std::size_t>(n));
  std::int64_t c = cartesian_index;
  for (int i = n - 1; i >= 0; --i) {
    digits[static_cast<std::size_t>(i)] = c % m;
    c /= m;
  }
  float s = 0.0f;
  for (int i = 0; i < n; ++i) {
    s += apot_term_list(scheme, i)[static_cast<std::size_t>(digits[static_cast<std::size_t>(i)])];
  }
  return s;
}

std::vector<std::int64_t> apot_level_multipliers(const ApotScheme& scheme) {
  require_pytorch_levels(scheme, "apot_level_multipliers");
  const int e_max = scheme.smallest_term_exponent();
  check_argument(e_max <= 61, "apot_level_multipliers", "scheme", scheme.label(),
                 "n * (2^k - 1) - 1 <= 61 so that integer multipliers fit in int64");
  const int n = scheme.n();
  const std::int64_t m = scheme.terms_per_list();
  const std::size_t count = static_cast<std::size_t>((1 << scheme.k) - 1);
  // Per term list: the integer 2^(E - e) with sign, or 0.
  std::vector<std::vector<std::int64_t>> lists(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const std::vector<int> ex = apot_term_exponents(scheme, i);
    for (std::size_t p = 0; p < ex.size(); ++p) {
      std::int64_t v = ex[p] < 0 ? 0 : std::int64_t{1} << (e_max - ex[p]);
      if (scheme.is_signed && p > count) v = -v;
      lists[static_cast<std::size_t>(i)].push_back(v);
    }
  }
  // Cartesian order, first term most significant: out[c] = out[c / m] + list_last[c % m]
  // built term by term.
  std::vector<std::int64_t> out{0};
  for (int i = 0; i < n; ++i) {
    std::vector<std::int64_t> next;
    next.reserve(out.size() * static_cast<std::size_t>(m));
    for (const std::int64_t prefix : out) {
      for (const std::int64_t t : lists[static_cast<std::size_t>(i)]) next.push_back(prefix + t);
    }
    out.swap(next);
  }
  return out;
}

}  // namespace quantkit::apot
