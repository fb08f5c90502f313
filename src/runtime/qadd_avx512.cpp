// AVX-512 quantized add: 16 elements per step (two 8 × float64 halves), narrowed back with vpmovdb
// (values are clamped into the byte range first, so the truncating narrow is exact). GCC 12 reports
// -W(maybe-)uninitialized inside its own AVX-512 intrinsics (they start from _mm512_undefined; GCC
// bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include "qadd_kernels.h"

namespace quantkit::runtime::detail {
namespace {

__m256i rescale8(__m256i centered, __m512d mult, bool half_even) {
  const __m512d v = _mm512_mul_pd(_mm512_cvtepi32_pd(centered), mult);
  return half_even ? _mm512_cvt_roundpd_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
                   : _mm512_cvttpd_epi32(v);
}

__m512i rescale(__m512i q, __m512i zp, __m512d mult, bool half_even) {
  const __m512i c = _mm512_sub_epi32(q, zp);
  return _mm512_inserti64x4(
      _mm512_castsi256_si512(rescale8(_mm512_castsi512_si256(c), mult, half_even)),
      rescale8(_mm512_extracti64x4_epi64(c, 1), mult, half_even), 1);
}

template <bool kSigned>
void run(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out, std::int64_t n,
         const QAddParams& p) {
  const __m512i azp = _mm512_set1_epi32(p.a_zero_point), bzp = _mm512_set1_epi32(p.b_zero_point);
  const __m512i ozp = _mm512_set1_epi32(p.out_zero_point);
  const __m512d am = _mm512_set1_pd(p.a_multiplier), bm = _mm512_set1_pd(p.b_multiplier);
  const __m512i lo = _mm512_set1_epi32(p.quant_min), hi = _mm512_set1_epi32(p.quant_max);
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i));
    const __m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i));
    const __m512i qa = kSigned ? _mm512_cvtepi8_epi32(va) : _mm512_cvtepu8_epi32(va);
    const __m512i qb = kSigned ? _mm512_cvtepi8_epi32(vb) : _mm512_cvtepu8_epi32(vb);
    const __m512i s = _mm512_add_epi32(
        _mm512_add_epi32(rescale(qa, azp, am, p.half_even), rescale(qb, bzp, bm, p.half_even)),
        ozp);
    const __m512i r = _mm512_min_epi32(_mm512_max_epi32(s, lo), hi);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm512_cvtepi32_epi8(r));
  }
  if (i < n) qadd_reference(a + i, b + i, out + i, n - i, p);
}

}  // namespace

void qadd_avx512(const void* a, const void* b, void* out, std::int64_t n, const QAddParams& p) {
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

#pragma GCC diagnostic pop
