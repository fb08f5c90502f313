// AVX-512BW depthwise convolution kernels: 32 channels per step (int16 products in a zmm,
// widened into two int32 accumulators), masked loads and stores for the last C mod 32.
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(), which -W(maybe-)uninitialized
// reports as a use of an uninitialized variable (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "dwconv_internal.h"

namespace quantkit::kernels::dwconv_detail {
namespace {

// The requantization of kernels/requantize.h on 16 int32 lanes; returns 16 output bytes.
inline __m128i requant16(__m512i acc, const float* multiplier, const RequantBounds& b) {
  __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_loadu_ps(multiplier));
  v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(b.lo)), _mm512_set1_ps(b.hi));
  const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), _mm512_set1_epi32(b.zero_point));
  return _mm512_cvtepi32_epi8(q);  // q is inside the dtype's range: its low byte is the value
}

template <bool kSigned>
inline __m512i widen(__m256i bytes) {
  return kSigned ? _mm512_cvtepi8_epi16(bytes) : _mm512_cvtepu8_epi16(bytes);
}

struct Avx512Kernel {
  template <int kTaps, bool kSigned>
  static void pixel(const DwConvPlan& plan, const std::uint8_t* const* rows, int runtime_taps,
                    std::uint8_t* out) {
    const int taps = kTaps ? kTaps : runtime_taps;
    const std::int64_t channels = plan.params->channels;
    const std::int64_t c_pad = plan.c_pad;
    std::int64_t c = 0;
    for (; c + 32 <= channels; c += 32) {
      __m512i acc0 = _mm512_loadu_si512(plan.bias + c);
      __m512i acc1 = _mm512_loadu_si512(plan.bias + c + 16);
      const std::int16_t* w = plan.weights + c;
#pragma GCC unroll 25
      for (int t = 0; t < taps; ++t) {
        const __m512i x =
            widen<kSigned>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[t] + c)));
        const __m512i prod = _mm512_mullo_epi16(x, _mm512_loadu_si512(w + t * c_pad));
        acc0 = _mm512_add_epi32(acc0, _mm512_cvtepi16_epi32(_mm512_castsi512_si256(prod)));
        acc1 = _mm512_add_epi32(acc1, _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(prod, 1)));
      }
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + c),
                       requant16(acc0, plan.multiplier + c, plan.bounds));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + c + 16),
                       requant16(acc1, plan.multiplier + c + 16, plan.bounds));
    }
    if (c < channels) {  // 1..31 channels left: masked input loads and output stores
      const int left = static_cast<int>(channels - c);
      const __mmask32 mask = static_cast<__mmask32>((std::uint64_t{1} << left) - 1);
      __m512i acc0 = _mm512_loadu_si512(plan.bias + c);  // bias/weights are padded
      __m512i acc1 = _mm512_loadu_si512(plan.bias + c + 16);
      const std::int16_t* w = plan.weights + c;
#pragma GCC unroll 25
      for (int t = 0; t < taps; ++t) {
        const __m512i x = widen<kSigned>(_mm256_maskz_loadu_epi8(mask, rows[t] + c));
        const __m512i prod = _mm512_mullo_epi16(x, _mm512_loadu_si512(w + t * c_pad));
        acc0 = _mm512_add_epi32(acc0, _mm512_cvtepi16_epi32(_mm512_castsi512_si256(prod)));
        acc1 = _mm512_add_epi32(acc1, _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(prod, 1)));
      }
      _mm_mask_storeu_epi8(out + c, static_cast<__mmask16>(mask),
                           requant16(acc0, plan.multiplier + c, plan.bounds));
      if (left > 16) {
        _mm_mask_storeu_epi8(out + c + 16, static_cast<__mmask16>(mask >> 16),
                             requant16(acc1, plan.multiplier + c + 16, plan.bounds));
      }
    }
  }
};

}  // namespace

DwConvKernels dwconv_kernels_avx512() {
  DwConvKernels k;
  k.name_3x3 = "avx512_3x3";
  k.name_5x5 = "avx512_5x5";
  k.name_generic = "avx512_generic";
  k.conv3x3 = &dwconv_entry<Avx512Kernel, 3, 3>;
  k.conv5x5 = &dwconv_entry<Avx512Kernel, 5, 5>;
  k.generic = &dwconv_entry<Avx512Kernel, 0, 0>;
  return k;
}

}  // namespace quantkit::kernels::dwconv_detail
