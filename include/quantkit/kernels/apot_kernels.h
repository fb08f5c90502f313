#pragma once
// APoT nearest-level quantization kernels.
//
// PyTorch's quantize_APoT scans the ascending levels and keeps the first position with a
// strictly smaller float32 distance |level - x| (tests/data/apot/README.md item 9). For a
// given level set, that rule depends only on the two distinct levels around x, so it can be
// precomputed once as float32 thresholds: T[j] is the smallest float32 x whose nearest
// distinct level is j + 1 (found by stepping ulps from the midpoint with PyTorch's float32
// comparison itself). A quantizer then only counts thresholds <= x: a branchless binary
// search, vectorized with in-register table permutes for the first levels of the search and
// gathers below them.
//
// One caveat of the float32 scan: far from a level, x - v may round to the same float32 for
// two close lower levels, and the scan then keeps the LOWER one (first found). Level sets
// where that can happen for some x in [-alpha, alpha] are detected when the table is built
// (`exact_scan_needed`), and quantized by a scalar search that applies the scan rule to the
// neighbourhood of x exactly. No level set in the golden data needs it.
//
// Inputs are clamped to [lower, upper] = [-alpha, alpha] first (PyTorch's out-of-range codes
// are a defect; see docs/apot.md) and NaN is treated as 0.
#include <cstdint>
#include <vector>

namespace quantkit::kernels {

struct ApotSearchTable {
  float lower = 0.0f;                    // -alpha
  float upper = 0.0f;                    // alpha
  std::int32_t num_distinct = 0;         // D distinct level values
  std::int32_t padded_size = 16;         // P: power of two >= max(D, 16)
  std::vector<float> thresholds;         // P entries; T[j] for j < D-1, +inf after
  std::vector<float> distinct_levels;    // D entries, ascending
  std::vector<std::int32_t> codes;       // P entries: code of distinct level j (first in sorted
                                         // order among equal values); padding repeats the last
  std::vector<std::int32_t> value_bits;  // P entries: float32 bits of distinct level j
  bool exact_scan_needed = false;
};

// Builds the table from PyTorch-style qparams (levels ascending, one index per level).
// Preconditions (checked by the caller): L >= 1, levels finite and ascending, alpha >= 0.
ApotSearchTable build_apot_search_table(const float* levels, const std::int64_t* level_indices,
                                        std::int64_t num_levels, float alpha);

// out[i] = payload[j(x[i])], j the distinct-level position PyTorch's scan picks for the
// clamped x[i]. payload is table.codes (APoT codes) or table.value_bits (the level value's
// bits: quant-dequant). Dispatched on kernels::active_isa(); all ISAs give identical results.
void apot_lookup(const ApotSearchTable& table, const float* x, std::int64_t n,
                 const std::int32_t* payload, std::int32_t* out);

// The portable reference of apot_lookup (exposed for tests and benchmarks).
void apot_lookup_portable(const ApotSearchTable& table, const float* x, std::int64_t n,
                          const std::int32_t* payload, std::int32_t* out);

// Distinct-level position for one value by the exact scan rule (binary search for the
// neighbours, float32 distances, first-minimum tie rule), no threshold table. Used for level
// sets with exact_scan_needed, and by tests as an independent O(log D) reference.
std::int32_t apot_exact_position(const ApotSearchTable& table, float x);

// out[i] = value_of_code[codes[i]]. Returns the index of the first code outside
// [0, num_codes) (nothing meaningful is written from there on), or -1 if all are valid.
std::int64_t apot_dequantize_f32(const float* value_of_code, std::int64_t num_codes,
                                 const std::int32_t* codes, std::int64_t n, float* out);
std::int64_t apot_dequantize_f64(const float* value_of_code, std::int64_t num_codes,
                                 const std::int32_t* codes, std::int64_t n, double* out);

namespace detail {
void apot_lookup_avx2(const ApotSearchTable& table, const float* x, std::int64_t n,
                      const std::int32_t* payload, std::int32_t* out);
void apot_lookup_avx512(const ApotSearchTable& table, const float* x, std::int64_t n,
                        const std::int32_t* payload, std::int32_t* out);
// Scalar position for one clamped, NaN-free value (shared tail handling of the SIMD kernels).
inline std::int32_t apot_search_position(const ApotSearchTable& table, float x) {
  const float* t = table.thresholds.data();
  std::int32_t idx = 0;
  for (std::int32_t s = table.padded_size >> 1; s > 0; s >>= 1) {
    idx += (t[idx + s - 1] <= x) ? s : 0;
  }
  return idx;
}
inline float apot_clamp_input(const ApotSearchTable& table, float x) {
  if (x != x) return 0.0f;  // lower <= 0 <= upper always
  return x < table.lower ? table.lower : (x > table.upper ? table.upper : x);
}
}  // namespace detail

}  // namespace quantkit::kernels
