// AVX-512BW grouped_linear: activations and weights widened to int16, vpmaddwd, 64 k per step
// (a group's last 32 k, when its size is an odd multiple of 32, with 256-bit registers).
// GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsics (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include "grouped_linear_internal.h"
#include "grouped_linear_simd.h"

namespace quantkit::kernels::grouped_detail {
namespace {

inline __m512i widen64(const void* p) {
  return _mm512_cvtepi8_epi16(_mm256_loadu_si256(static_cast<const __m256i*>(p)));
}
inline __m256i widen32(const void* p) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(static_cast<const __m128i*>(p)));
}

struct Avx512Dots {
  static constexpr std::int32_t kXOffset = 0;
  template <int Rows>
  static void add_groups(float* sum, const std::int32_t* dot, const std::int32_t* zp,
                         std::int32_t wsum, float scale) {
    add_groups_simd<Rows>(sum, dot, zp, wsum, scale);
  }

  // The weights of the 64 k at k as int16: w0 = k..k+31, w1 = k+32..k+63.
  template <int Bits>
  static void weights64(const std::uint8_t* row, std::int64_t k, __m512i& w0, __m512i& w1) {
    if constexpr (Bits == 8) {
      w0 = widen64(row + k);
      w1 = widen64(row + k + 32);
    } else {
      // Two 16-byte chunks: low nibbles of chunk A | chunk B, high nibbles likewise.
      const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + k / 2));
      const __m256i mask = _mm256_set1_epi8(0x0F);
      const __m256i lo = _mm256_and_si256(b, mask);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), mask);
      const __m512i eight = _mm512_set1_epi16(8);
      w0 = _mm512_sub_epi16(_mm512_cvtepu8_epi16(_mm256_permute2x128_si256(lo, hi, 0x20)), eight);
      w1 = _mm512_sub_epi16(_mm512_cvtepu8_epi16(_mm256_permute2x128_si256(lo, hi, 0x31)), eight);
    }
  }
  // The weights of the 32 k at k as int16: lo = k..k+15, hi = k+16..k+31.
  template <int Bits>
  static void weights32(const std::uint8_t* row, std::int64_t k, __m256i& lo, __m256i& hi) {
    if constexpr (Bits == 8) {
      lo = widen32(row + k);
      hi = widen32(row + k + 16);
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
    __m512i acc[Rows];
    for (int r = 0; r < Rows; ++r) acc[r] = _mm512_setzero_si512();
    std::int64_t k = k_begin;
    for (; k + 64 <= k_end; k += 64) {
      __m512i w0, w1;
      weights64<Bits>(row, k, w0, w1);
      for (int r = 0; r < Rows; ++r) {
        const __m512i prod = _mm512_add_epi32(_mm512_madd_epi16(widen64(x[r] + k), w0),
                                              _mm512_madd_epi16(widen64(x[r] + k + 32), w1));
        acc[r] = _mm512_add_epi32(acc[r], prod);
      }
    }
    if (k + 32 <= k_end) {
      __m256i lo, hi;
      weights32<Bits>(row, k, lo, hi);
      for (int r = 0; r < Rows; ++r) {
        const __m256i prod = _mm256_add_epi32(_mm256_madd_epi16(widen32(x[r] + k), lo),
                                              _mm256_madd_epi16(widen32(x[r] + k + 16), hi));
        acc[r] = _mm512_add_epi32(acc[r], _mm512_zextsi256_si512(prod));
      }
      k += 32;
    }
    // Halves added first: the sums of Rows 256-bit vectors.
    __m256i half[Rows];
    for (int r = 0; r < Rows; ++r) {
      half[r] = _mm256_add_epi32(_mm512_castsi512_si256(acc[r]), _mm512_extracti64x4_epi64(acc[r], 1));
    }
    reduce_rows<Rows>(half, dot);
    add_scalar_tail<Rows>(x, row, k, k_end, kXOffset, dot);
  }
};

}  // namespace

GroupedKernels grouped_kernels_avx512() { return {"avx512", run_simd<Avx512Dots>}; }

}  // namespace quantkit::kernels::grouped_detail
