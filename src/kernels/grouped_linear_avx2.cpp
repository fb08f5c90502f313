// AVX2 grouped_linear: activations and weights widened to int16, vpmaddwd, 32 k per step;
// 4-bit weights unpacked from 16 bytes per chunk with one AND and one shift.
#include <immintrin.h>

#include "grouped_linear_internal.h"
#include "grouped_linear_simd.h"

namespace quantkit::kernels::grouped_detail {
namespace {

inline __m256i widen(const std::int8_t* p) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

struct Avx2Dots {
  static constexpr std::int32_t kXOffset = 0;
  template <int Rows>
  static void add_groups(float* sum, const std::int32_t* dot, const std::int32_t* zp,
                         std::int32_t wsum, float scale) {
    add_groups_simd<Rows>(sum, dot, zp, wsum, scale);
  }

  // The weights of the 32-k chunk at k as int16: lo = k..k+15, hi = k+16..k+31.
  template <int Bits>
  static void weights(const std::uint8_t* row, std::int64_t k, __m256i& lo, __m256i& hi) {
    if constexpr (Bits == 8) {
      lo = widen(reinterpret_cast<const std::int8_t*>(row + k));
      hi = widen(reinterpret_cast<const std::int8_t*>(row + k + 16));
    } else {
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k / 2));
      const __m128i mask = _mm_set1_epi8(0x0F);
      const __m256i eight = _mm256_set1_epi16(8);
      lo = _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_and_si128(b, mask)), eight);
      hi = _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(b, 4), mask)),
                            eight);
    }
  }

  template <int Bits, int Rows>
  static void group_dots(const std::int8_t* const* x, const std::uint8_t* row,
                         std::int64_t k_begin, std::int64_t k_end, std::int32_t* dot) {
    __m256i acc[Rows];
    for (int r = 0; r < Rows; ++r) acc[r] = _mm256_setzero_si256();
    std::int64_t k = k_begin;
    for (; k + 32 <= k_end; k += 32) {
      __m256i lo, hi;
      weights<Bits>(row, k, lo, hi);
      for (int r = 0; r < Rows; ++r) {
        const __m256i prod = _mm256_add_epi32(_mm256_madd_epi16(widen(x[r] + k), lo),
                                              _mm256_madd_epi16(widen(x[r] + k + 16), hi));
        acc[r] = _mm256_add_epi32(acc[r], prod);
      }
    }
    reduce_rows<Rows>(acc, dot);
    add_scalar_tail<Rows>(x, row, k, k_end, kXOffset, dot);
  }
};

}  // namespace

GroupedKernels grouped_kernels_avx2() { return {"avx2", run_simd<Avx2Dots>}; }

}  // namespace quantkit::kernels::grouped_detail
