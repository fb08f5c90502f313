// AVX2 pooling window kernels: max over 32 channels per step (byte max), average sums of 8
// channels per step in int32 lanes; the last channels run the scalar form of the same
// arithmetic (requantize.h), which gives the same bits.
#include <immintrin.h>

#include <algorithm>

#include "pool_internal.h"
#include "requantize_simd.h"

namespace quantkit::kernels::pool_detail {
namespace {

template <bool kSigned>
std::int32_t value(std::uint8_t b) {
  return kSigned ? static_cast<std::int8_t>(b) : b;
}

template <bool kSigned>
void max_typed(const PoolWindow& w, std::int64_t channels, std::uint8_t* out) {
  std::int64_t c = 0;
  for (; c + 32 <= channels; c += 32) {
    __m256i best = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.first + c));
    for (std::int64_t r = 0; r < w.rows; ++r) {
      const std::uint8_t* row = w.first + r * w.row_step + c;
      for (std::int64_t q = 0; q < w.cols; ++q) {
        const __m256i x =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + q * w.col_step));
        best = kSigned ? _mm256_max_epi8(best, x) : _mm256_max_epu8(best, x);
      }
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + c), best);
  }
  for (; c < channels; ++c) {
    std::int32_t best = value<kSigned>(w.first[c]);
    for (std::int64_t r = 0; r < w.rows; ++r) {
      for (std::int64_t q = 0; q < w.cols; ++q) {
        best = std::max(best, value<kSigned>(w.first[r * w.row_step + q * w.col_step + c]));
      }
    }
    out[c] = static_cast<std::uint8_t>(best);
  }
}

void max_window(const PoolWindow& w, std::int64_t channels, bool is_signed, std::uint8_t* out) {
  is_signed ? max_typed<true>(w, channels, out) : max_typed<false>(w, channels, out);
}

template <bool kSigned>
void avg_typed(const PoolWindow& w, std::int64_t channels, std::int32_t init, float multiplier,
               const RequantBounds& b, std::uint8_t* out) {
  const __m256 m = _mm256_set1_ps(multiplier);
  const simd::Bounds8 bounds(b);
  std::int64_t c = 0;
  for (; c + 8 <= channels; c += 8) {
    __m256i acc = _mm256_set1_epi32(init);
    for (std::int64_t r = 0; r < w.rows; ++r) {
      const std::uint8_t* row = w.first + r * w.row_step + c;
      for (std::int64_t q = 0; q < w.cols; ++q) {
        const __m128i bytes =
            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + q * w.col_step));
        acc = _mm256_add_epi32(acc,
                               kSigned ? _mm256_cvtepi8_epi32(bytes) : _mm256_cvtepu8_epi32(bytes));
      }
    }
    simd::store8<kSigned>(out + c, simd::requant8(acc, m, bounds));
  }
  for (; c < channels; ++c) {
    std::int32_t acc = init;
    for (std::int64_t r = 0; r < w.rows; ++r) {
      for (std::int64_t q = 0; q < w.cols; ++q) {
        acc += value<kSigned>(w.first[r * w.row_step + q * w.col_step + c]);
      }
    }
    out[c] = static_cast<std::uint8_t>(requantize(acc, multiplier, b));
  }
}

void avg_window(const PoolWindow& w, std::int64_t channels, bool is_signed, std::int32_t init,
                float multiplier, const RequantBounds& b, std::uint8_t* out) {
  is_signed ? avg_typed<true>(w, channels, init, multiplier, b, out)
            : avg_typed<false>(w, channels, init, multiplier, b, out);
}

}  // namespace

PoolKernels pool_kernels_avx2() { return {"avx2", &max_window, &avg_window}; }

}  // namespace quantkit::kernels::pool_detail
