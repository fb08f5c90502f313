// AVX-512 (F/BW/DQ/VL) affine kernels: the vector traits for affine_simd_impl.inc (16 float
// lanes). Only called after kernels::active_isa() reported AVX-512.
// GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsics (they start from
// _mm512_undefined_*(), e.g. _mm512_cvtps_pd); the warning is about the header, not this code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "affine_kernels_isa.h"

namespace quantkit::kernels::avx512 {
namespace {

struct Isa {
  using F = __m512;
  using I = __m512i;
  using D = __m512d;
  static constexpr std::size_t W = 16;

  static F loadf(const float* p) { return _mm512_loadu_ps(p); }
  static void storef(float* p, F v) { _mm512_storeu_ps(p, v); }
  static F set1(float v) { return _mm512_set1_ps(v); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  // x86 semantics: the second operand is returned when either is NaN.
  static F min(F a, F b) { return _mm512_min_ps(a, b); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  // Round half to even (scale 0), independent of MXCSR.
  static F round(F v) {
    return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  // Exact for the integer-valued, in-range inputs the kernels pass.
  static I cvt_to_i(F v) { return _mm512_cvtps_epi32(v); }
  static F cvt_to_f(I v) { return _mm512_cvtepi32_ps(v); }
  static I set1_i(std::int32_t v) { return _mm512_set1_epi32(v); }
  static I sub_i(I a, I b) { return _mm512_sub_epi32(a, b); }
  // 1.0f where lo <= t <= hi (false for NaN), else 0.0f.
  static F select_ones(F t, F lo, F hi, F one) {
    const __mmask16 in = _mm512_cmp_ps_mask(t, lo, _CMP_GE_OQ) & _mm512_cmp_ps_mask(t, hi, _CMP_LE_OQ);
    return _mm512_maskz_mov_ps(in, one);
  }

  static D set1d(double v) { return _mm512_set1_pd(v); }
  static D loadd(const double* p) { return _mm512_loadu_pd(p); }
  static D subd(D a, D b) { return _mm512_sub_pd(a, b); }
  static D muld(D a, D b) { return _mm512_mul_pd(a, b); }
  static D mind(D a, D b) { return _mm512_min_pd(a, b); }
  static D maxd(D a, D b) { return _mm512_max_pd(a, b); }
  static D cvt_lo_d(F v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
  static D cvt_hi_d(F v) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)); }
  static D cvt_lo_d_i(I v) { return _mm512_cvtepi32_pd(_mm512_castsi512_si256(v)); }
  static D cvt_hi_d_i(I v) { return _mm512_cvtepi32_pd(_mm512_extracti32x8_epi32(v, 1)); }
  // Rounds each double to float32 (nearest even).
  static F cvt_from_d(D lo, D hi) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1);
  }
  static I cvt_i_from_d(D lo, D hi) {
    return _mm512_inserti32x8(_mm512_castsi256_si512(_mm512_cvtpd_epi32(lo)),
                              _mm512_cvtpd_epi32(hi), 1);
  }

  template <class T>
  static I load_widen(const T* p) {
    if constexpr (std::is_same_v<T, std::int8_t>) {
      return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    } else if constexpr (std::is_same_v<T, std::uint8_t>) {
      return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    } else if constexpr (std::is_same_v<T, std::int16_t>) {
      return _mm512_cvtepi16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    } else {
      return _mm512_loadu_si512(p);
    }
  }

  // Stores 4 vectors (64 elements) of in-range int32 lanes as T (truncating moves are exact
  // because every lane is already inside T's range).
  template <class T>
  static void store_narrow4(T* p, I a, I b, I c, I d) {
    if constexpr (sizeof(T) == 1) {
      __m512i bytes = _mm512_castsi128_si512(_mm512_cvtepi32_epi8(a));
      bytes = _mm512_inserti32x4(bytes, _mm512_cvtepi32_epi8(b), 1);
      bytes = _mm512_inserti32x4(bytes, _mm512_cvtepi32_epi8(c), 2);
      bytes = _mm512_inserti32x4(bytes, _mm512_cvtepi32_epi8(d), 3);
      _mm512_storeu_si512(p, bytes);
    } else if constexpr (sizeof(T) == 2) {
      _mm512_storeu_si512(p, _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi32_epi16(a)),
                                                _mm512_cvtepi32_epi16(b), 1));
      _mm512_storeu_si512(p + 32,
                          _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi32_epi16(c)),
                                             _mm512_cvtepi32_epi16(d), 1));
    } else {
      _mm512_storeu_si512(p, a);
      _mm512_storeu_si512(p + 16, b);
      _mm512_storeu_si512(p + 32, c);
      _mm512_storeu_si512(p + 48, d);
    }
  }
};

}  // namespace
}  // namespace quantkit::kernels::avx512

#define QUANTKIT_AFFINE_ISA avx512
#include "affine_simd_impl.inc"
#undef QUANTKIT_AFFINE_ISA
