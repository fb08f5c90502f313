// AVX2 + FMA affine kernels: the vector traits for affine_simd_impl.inc (8 float lanes).
// Compiled with -mavx2 -mfma; only called after kernels::active_isa() reported AVX2.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "affine_kernels_isa.h"

namespace quantkit::kernels::avx2 {
namespace {

struct Isa {
  using F = __m256;
  using I = __m256i;
  using D = __m256d;
  static constexpr std::size_t W = 8;

  static F loadf(const float* p) { return _mm256_loadu_ps(p); }
  static void storef(float* p, F v) { _mm256_storeu_ps(p, v); }
  static F set1(float v) { return _mm256_set1_ps(v); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  // x86 semantics: the second operand is returned when either is NaN.
  static F min(F a, F b) { return _mm256_min_ps(a, b); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  // Round half to even, independent of MXCSR.
  static F round(F v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // Exact for the integer-valued, in-range inputs the kernels pass.
  static I cvt_to_i(F v) { return _mm256_cvtps_epi32(v); }
  static F cvt_to_f(I v) { return _mm256_cvtepi32_ps(v); }
  static I set1_i(std::int32_t v) { return _mm256_set1_epi32(v); }
  static I sub_i(I a, I b) { return _mm256_sub_epi32(a, b); }
  // 1.0f where lo <= t <= hi (false for NaN), else 0.0f.
  static F select_ones(F t, F lo, F hi, F one) {
    const F in = _mm256_and_ps(_mm256_cmp_ps(t, lo, _CMP_GE_OQ), _mm256_cmp_ps(t, hi, _CMP_LE_OQ));
    return _mm256_and_ps(in, one);
  }

  static D set1d(double v) { return _mm256_set1_pd(v); }
  static D loadd(const double* p) { return _mm256_loadu_pd(p); }
  static D subd(D a, D b) { return _mm256_sub_pd(a, b); }
  static D muld(D a, D b) { return _mm256_mul_pd(a, b); }
  static D mind(D a, D b) { return _mm256_min_pd(a, b); }
  static D maxd(D a, D b) { return _mm256_max_pd(a, b); }
  static D cvt_lo_d(F v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
  static D cvt_hi_d(F v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
  static D cvt_lo_d_i(I v) { return _mm256_cvtepi32_pd(_mm256_castsi256_si128(v)); }
  static D cvt_hi_d_i(I v) { return _mm256_cvtepi32_pd(_mm256_extracti128_si256(v, 1)); }
  // Rounds each double to float32 (nearest even).
  static F cvt_from_d(D lo, D hi) {
    return _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
  }
  static I cvt_i_from_d(D lo, D hi) {
    return _mm256_set_m128i(_mm256_cvtpd_epi32(hi), _mm256_cvtpd_epi32(lo));
  }

  template <class T>
  static I load_widen(const T* p) {
    if constexpr (std::is_same_v<T, std::int8_t>) {
      return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    } else if constexpr (std::is_same_v<T, std::uint8_t>) {
      return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    } else if constexpr (std::is_same_v<T, std::int16_t>) {
      return _mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    } else {
      return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    }
  }

  // Stores 4 vectors (32 elements) of in-range int32 lanes as T. The packs work per 128-bit
  // lane, so a final permute restores element order.
  template <class T>
  static void store_narrow4(T* p, I a, I b, I c, I d) {
    if constexpr (sizeof(T) == 1) {
      const __m256i ab = _mm256_packs_epi32(a, b);  // a0-3 b0-3 | a4-7 b4-7 (int16)
      const __m256i cd = _mm256_packs_epi32(c, d);
      const __m256i bytes = std::is_signed_v<T> ? _mm256_packs_epi16(ab, cd)
                                                : _mm256_packus_epi16(ab, cd);
      const __m256i ordered =
          _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), ordered);
    } else if constexpr (sizeof(T) == 2) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                          _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 16),
                          _mm256_permute4x64_epi64(_mm256_packs_epi32(c, d), 0xD8));
    } else {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), a);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 8), b);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 16), c);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 24), d);
    }
  }
};

}  // namespace
}  // namespace quantkit::kernels::avx2

#define QUANTKIT_AFFINE_ISA avx2
#include "affine_simd_impl.inc"
#undef QUANTKIT_AFFINE_ISA
