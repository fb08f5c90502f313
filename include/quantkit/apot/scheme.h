#pragma once
// APoT (Additive Powers-of-Two, Li, Dong & Wang, ICLR 2020, arXiv 1909.13144) level sets,
// built exactly as torch.ao.quantization.experimental.APoTObserver.calculate_qparams does
// (tests/data/apot/README.md items 2-8):
//
//   n = b / k additive terms; term i draws from {0} u {2^-(i + j*n) : j = 0 .. 2^k - 2}
//   (signed: also the negatives, the term list sorted descending);
//   gamma = float32(alpha / (2 - 2^(1-n)));
//   level(c) = float32(gamma * s(c)), s(c) the float32 running sum over the terms picked by
//   the base-m digits of the cartesian index c (first term most significant);
//   levels sorted ascending with libstdc++ std::sort (ties keep introsort's order, which is
//   what torch.sort(stable=False) gives on CPU); level_indices[p] = c of sorted position p.
//
// Size limit: PyTorch's representation lists every level with its cartesian index, and the
// order of duplicate levels (which decides the code of a tie) is that of an introsort over
// the whole array, so it cannot be produced without materializing all levels. We refuse
// schemes with more than kMaxApotLevels levels (2^23: at most ~170 MB and about a second
// to build). This admits every unsigned scheme with b <= 23 and every signed scheme with
// (2^(k+1)-1)^n <= 2^23, e.g. signed b=16 with k=2 (5.76M levels) and k=4 (923,521), but not
// signed k=1 with b >= 15 (3^15 = 14.3M).
// A second limit keeps every term a normal-or-subnormal nonzero float32 (so that the
// signed term lists have no ties): n * (2^k - 1) - 1 <= 149.
//
// A second kind of level set, ApotLevelSet::PaperSigned, is the APoT paper's own signed
// N-bit weight set (1 sign bit + an (N-1)-bit additive-powers-of-two magnitude set; see
// apot/paper_levels.h): b = N storage bits, k = 1 (unused), always signed. The functions
// below that describe PyTorch's cartesian construction (term lists, gamma, running sums,
// multipliers) throw Error for it; make_apot_qparams, the observer, the quantizer and the
// fake quantize take either kind.
#include <cstdint>
#include <string>
#include <vector>

namespace quantkit::apot {

inline constexpr std::int64_t kMaxApotLevels = std::int64_t{1} << 23;
inline constexpr int kMaxApotTermExponent = 149;

enum class ApotLevelSet {
  PyTorch,      // torch.ao.quantization.experimental: (2^k or 2^(k+1) - 1)^(b/k) cartesian codes
  PaperSigned,  // the paper's signed N-bit weights: 2^N - 1 codes (apot/paper_levels.h)
};

struct ApotScheme {
  int b = 4;  // total bits (PaperSigned: storage bits N, 2 ... 7)
  int k = 2;  // bits per additive term (PaperSigned: 1, unused)
  bool is_signed = false;
  ApotLevelSet level_set = ApotLevelSet::PyTorch;

  // PyTorch: throws quantkit::Error unless b > 0, k > 0, b % k == 0 and the scheme is within
  // the level-count and term-exponent limits above. PaperSigned: unless 2 <= b <= 7, k == 1
  // and is_signed.
  void validate(const char* where = "ApotScheme") const;
  bool is_pytorch() const { return level_set == ApotLevelSet::PyTorch; }
  int n() const { return b / k; }
  // Entries per term list: 2^k (unsigned) or 2^(k+1) - 1 (signed).
  std::int64_t terms_per_list() const;
  // Total number of levels (= codes): terms_per_list()^n, or 2^b - 1 for PaperSigned (valid
  // schemes only).
  std::int64_t num_levels() const;
  // E = n * (2^k - 1) - 1: the exponent of the smallest power-of-two term.
  int smallest_term_exponent() const { return n() * ((1 << k) - 1) - 1; }
  // "b4_k2_u" style label for messages ("paper_w4" for PaperSigned).
  std::string label() const;
};

// The paper's signed N-bit scheme: {N, 1, true, PaperSigned} (validated).
ApotScheme apot_paper_scheme(int bits);

// Term list i (0 <= i < n) as float32, in PyTorch's order: unsigned [0, 2^-i, 2^-(i+n), ...];
// signed descending [2^-i, ..., smallest, 0, -smallest, ..., -2^-i].
std::vector<float> apot_term_list(const ApotScheme& scheme, int i);

// Exponents of the term list i entries (2^-e); 0 entries are reported as -1 and negative
// terms as the exponent of their magnitude (sign from apot_term_list).
std::vector<int> apot_term_exponents(const ApotScheme& scheme, int i);

// gamma = float32(alpha) / float32(2 - 2^(1-n)), as ATen's float32 division computes it.
float apot_gamma(const ApotScheme& scheme, float alpha);

// The unscaled float32 running sum s(c) for cartesian index c (0 <= c < num_levels()).
float apot_level_sum(const ApotScheme& scheme, std::int64_t cartesian_index);

// Integer view of the levels for shift-and-add arithmetic: level(c) ~= gamma * M(c) * 2^-E
// with E = smallest_term_exponent() and M(c) = sum over terms of +-2^(E - e_i) (exact, no
// float rounding; the float32 level can differ from gamma * M * 2^-E by the running-sum and
// product roundings). Indexed by cartesian index. Throws Error if E > 61 (M would not fit).
std::vector<std::int64_t> apot_level_multipliers(const ApotScheme& scheme);

}  // namespace quantkit::apot
