// AVX2 quantized add: 32 elements per step (four 8 × int32 vectors, each rescaled as two
// 4 × float64 halves), packed back to bytes with packs + a dword permutation (the packs
// work per 128-bit lane).
#include <immintrin.h>

#include "qadd_kernels.h"

namespace quantkit::runtime::detail {
namespace {

template <bool kSigned>
__m256i widen8(const std::uint8_t* p) {
  const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return kSigned ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v);
}

__m128i rescale4(__m128i centered, __m256d mult, bool half_even) {
  const __m256d v = _mm256_mul_pd(_mm256_cvtepi32_pd(centered), mult);
  // cvtpd rounds with MXCSR's default mode (nearest, ties to even); cvttpd truncates.
  return half_even ? _mm256_cvtpd_epi32(v) : _mm256_cvttpd_epi32(v);
}

__m256i rescale(__m256i q, __m256i zp, __m256d mult, bool half_even) {
  const __m256i c = _mm256_sub_epi32(q, zp);
  return _mm256_set_m128i(rescale4(_mm256_extracti128_si256(c, 1), mult, half_even),
                          rescale4(_mm256_castsi256_si128(c), mult, half_even));
}

template <bool kSigned>
void run(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out, std::int64_t n,
         const QAddParams& p) {
  const __m256i azp = _mm256_set1_epi32(p.a_zero_point), bzp = _mm256_set1_epi32(p.b_zero_point);
  const __m256i ozp = _mm256_set1_epi32(p.out_zero_point);
  const __m256d am = _mm256_set1_pd(p.a_multiplier), bm = _mm256_set1_pd(p.b_multiplier);
  const __m256i lo = _mm256_set1_epi32(p.quant_min), hi = _mm256_set1_epi32(p.quant_max);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  std::int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i r[4];
    for (int j = 0; j < 4; ++j) {
      const __m256i s = _mm256_add_epi32(
          _mm256_add_epi32(rescale(widen8<kSigned>(a + i + 8 * j), azp, am, p.half_even),
                           rescale(widen8<kSigned>(b + i + 8 * j), bzp, bm, p.half_even)),
          ozp);
      r[j] = _mm256_min_epi32(_mm256_max_epi32(s, lo), hi);
    }
    // Values are inside the byte range already, so the saturating packs are exact.
    const __m256i w01 = _mm256_packs_epi32(r[0], r[1]);
    const __m256i w23 = _mm256_packs_epi32(r[2], r[3]);
    const __m256i bytes = kSigned ? _mm256_packs_epi16(w01, w23) : _mm256_packus_epi16(w01, w23);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                        _mm256_permutevar8x32_epi32(bytes, order));
  }
  if (i < n) qadd_reference(a + i, b + i, out + i, n - i, p);
}

}  // namespace

void qadd_avx2(const void* a, const void* b, void* out, std::int64_t n, const QAddParams& p) {
  const auto* pa = static_cast<const std::uint8_t*>(a);
  const auto* pb = static_cast<const std::uint8_t*>(b);
  auto* po = static_cast<std::uint8_t*>(out);
  if (p.dtype == DType::Int8) {
    run<true>(pa, pb, po, n, p);
  } else {
    run<false>(pa, pb, po, n, p);
  }
}

}  // namespace quantkit::runtime::detail
