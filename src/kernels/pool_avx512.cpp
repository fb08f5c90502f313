// AVX-512BW pooling window kernels: max over 64 channels per step (byte max), average sums
// of 16 channels per step in int32 lanes; masked loads and stores for the tails.
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*() (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "pool_internal.h"
#include "requantize_simd.h"

namespace quantkit::kernels::pool_detail {
namespace {

template <bool kSigned>
void max_typed(const PoolWindow& w, std::int64_t channels, std::uint8_t* out) {
  for (std::int64_t c = 0; c < channels; c += 64) {
    const std::int64_t left = channels - c;
    const __mmask64 mask = left >= 64 ? ~__mmask64{0} : (std::uint64_t{1} << left) - 1;
    __m512i best = _mm512_maskz_loadu_epi8(mask, w.first + c);
    for (std::int64_t r = 0; r < w.rows; ++r) {
      const std::uint8_t* row = w.first + r * w.row_step + c;
      for (std::int64_t q = 0; q < w.cols; ++q) {
        const __m512i x = _mm512_maskz_loadu_epi8(mask, row + q * w.col_step);
        best = kSigned ? _mm512_max_epi8(best, x) : _mm512_max_epu8(best, x);
      }
    }
    _mm512_mask_storeu_epi8(out + c, mask, best);
  }
}

void max_window(const PoolWindow& w, std::int64_t channels, bool is_signed, std::uint8_t* out) {
  is_signed ? max_typed<true>(w, channels, out) : max_typed<false>(w, channels, out);
}

template <bool kSigned>
void avg_typed(const PoolWindow& w, std::int64_t channels, std::int32_t init, float multiplier,
               const RequantBounds& b, std::uint8_t* out) {
  const __m512 m = _mm512_set1_ps(multiplier);
  const simd::Bounds16 bounds(b);
  for (std::int64_t c = 0; c < channels; c += 16) {
    const std::int64_t left = channels - c;
    const __mmask16 mask =
        left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
    __m512i acc = _mm512_set1_epi32(init);
    for (std::int64_t r = 0; r < w.rows; ++r) {
      const std::uint8_t* row = w.first + r * w.row_step + c;
      for (std::int64_t q = 0; q < w.cols; ++q) {
        const __m128i bytes = _mm_maskz_loadu_epi8(mask, row + q * w.col_step);
        acc = _mm512_add_epi32(acc,
                               kSigned ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes));
      }
    }
    const __m128i y = _mm512_cvtepi32_epi8(simd::requant16(acc, m, bounds));
    _mm_mask_storeu_epi8(out + c, mask, y);
  }
}

void avg_window(const PoolWindow& w, std::int64_t channels, bool is_signed, std::int32_t init,
                float multiplier, const RequantBounds& b, std::uint8_t* out) {
  is_signed ? avg_typed<true>(w, channels, init, multiplier, b, out)
            : avg_typed<false>(w, channels, init, multiplier, b, out);
}

}  // namespace

PoolKernels pool_kernels_avx512() { return {"avx512", &max_window, &avg_window}; }

}  // namespace quantkit::kernels::pool_detail
