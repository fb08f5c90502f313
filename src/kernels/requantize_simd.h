#pragma once
// Vector forms of kernels/requantize.h, shared by the int8 NHWC kernels' AVX2 and AVX-512
// translation units. Include only from files compiled for those ISAs (*_avx2.cpp needs
// __AVX2__; the AVX-512 part is compiled only under __AVX512BW__). `static inline` for the
// reason given in requantize.h.
//
// Per lane: v = min(max(v, lo), hi); q = cvtps_epi32(v) (MXCSR round-to-nearest-even, the
// default environment: nearbyint) + zp. max_ps/min_ps differ from the scalar ternaries only
// for NaN (impossible here) and for equal values (same result).
#include <immintrin.h>

#include <cstdint>

#include "quantkit/kernels/requantize.h"

namespace quantkit::kernels::simd {

// Bounds broadcast once, outside the loops.
struct Bounds8 {
  __m256 lo, hi;
  __m256i zero_point;
  explicit Bounds8(const RequantBounds& b)
      : lo(_mm256_set1_ps(b.lo)),
        hi(_mm256_set1_ps(b.hi)),
        zero_point(_mm256_set1_epi32(b.zero_point)) {}
};

// Clamp, round and add the zero point to 8 float32 values: int32 inside [qmin, qmax].
static inline __m256i round_clamp8(__m256 v, const Bounds8& b) {
  v = _mm256_min_ps(_mm256_max_ps(v, b.lo), b.hi);
  return _mm256_add_epi32(_mm256_cvtps_epi32(v), b.zero_point);
}

// requantize(acc, multiplier) on 8 int32 lanes.
static inline __m256i requant8(__m256i acc, __m256 multiplier, const Bounds8& b) {
  return round_clamp8(_mm256_mul_ps(_mm256_cvtepi32_ps(acc), multiplier), b);
}

// Stores 8 int32 lanes that are inside the dtype's range as 8 bytes (exact saturating packs).
template <bool kSigned>
static inline void store8(std::uint8_t* out, __m256i q) {
  const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  const __m128i bytes = kSigned ? _mm_packs_epi16(words, words) : _mm_packus_epi16(words, words);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out), bytes);
}

#ifdef __AVX512BW__
struct Bounds16 {
  __m512 lo, hi;
  __m512i zero_point;
  explicit Bounds16(const RequantBounds& b)
      : lo(_mm512_set1_ps(b.lo)),
        hi(_mm512_set1_ps(b.hi)),
        zero_point(_mm512_set1_epi32(b.zero_point)) {}
};

static inline __m512i round_clamp16(__m512 v, const Bounds16& b) {
  v = _mm512_min_ps(_mm512_max_ps(v, b.lo), b.hi);
  return _mm512_add_epi32(_mm512_cvtps_epi32(v), b.zero_point);
}

static inline __m512i requant16(__m512i acc, __m512 multiplier, const Bounds16& b) {
  return round_clamp16(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), multiplier), b);
}
#endif

}  // namespace quantkit::kernels::simd
