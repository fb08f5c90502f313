#pragma once
// Internal, for the AVX2 / AVX-512 grouped_linear files only (compiled with -mavx2 at least):
// the horizontal sums of a tile's accumulators. Eight at once share one hadd tree (15
// instructions for eight sums instead of eight separate reductions) — small groups (G = 32)
// reduce once per 32 k, so this is most of their cost. Integer sums: any order gives the same
// bits.
#include <immintrin.h>

#include <cstdint>

#include "grouped_linear_internal.h"

namespace quantkit::kernels::grouped_detail {

// out[i] = Σ lanes of v[i], i < 8.
inline void reduce8(const __m256i* v, std::int32_t* out) {
  const __m256i t0 = _mm256_hadd_epi32(v[0], v[1]);
  const __m256i t1 = _mm256_hadd_epi32(v[2], v[3]);
  const __m256i t2 = _mm256_hadd_epi32(v[4], v[5]);
  const __m256i t3 = _mm256_hadd_epi32(v[6], v[7]);
  // Per 128-bit lane: [v0 v1 v2 v3] and [v4 v5 v6 v7] partial sums.
  const __m256i u0 = _mm256_hadd_epi32(t0, t1);
  const __m256i u1 = _mm256_hadd_epi32(t2, t3);
  const __m256i sums = _mm256_add_epi32(_mm256_permute2x128_si256(u0, u1, 0x20),
                                        _mm256_permute2x128_si256(u0, u1, 0x31));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), sums);
}

inline std::int32_t reduce1(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// The sums of Rows 256-bit accumulators.
template <int Rows>
void reduce_rows(const __m256i* acc, std::int32_t* dot) {
  if constexpr (Rows == 8) {
    reduce8(acc, dot);
  } else {
    for (int r = 0; r < Rows; ++r) dot[r] = reduce1(acc[r]);
  }
}

// add_groups_scalar (grouped_linear_internal.h) with 8 rows in one AVX2 vector: vpmulld /
// vpsubd wrap like the scalar uint32 arithmetic, vcvtdq2ps rounds to nearest like the int32 →
// float conversion, then one multiply and one add (no FMA): the same bits per lane.
template <int Rows>
void add_groups_simd(float* sum, const std::int32_t* dot, const std::int32_t* zp,
                     std::int32_t wsum, float scale) {
  if constexpr (Rows == 8) {
    const __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(dot));
    const __m256i z = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(zp));
    const __m256i acc = _mm256_sub_epi32(d, _mm256_mullo_epi32(z, _mm256_set1_epi32(wsum)));
    const __m256 term = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_set1_ps(scale));
    _mm256_storeu_ps(sum, _mm256_add_ps(_mm256_loadu_ps(sum), term));
  } else {
    add_groups_scalar<Rows>(sum, dot, zp, wsum, scale);
  }
}

}  // namespace quantkit::kernels::grouped_detail
