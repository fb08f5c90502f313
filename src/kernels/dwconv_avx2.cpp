// AVX2 depthwise convolution kernels: 16 channels per step (int16 products in a ymm, widened
// into two int32 accumulators); the last C mod 16 channels run the scalar form of the same
// arithmetic (requantize.h), so every channel gets the same bits as the reference.
#include <immintrin.h>

#include "dwconv_internal.h"

namespace quantkit::kernels::dwconv_detail {
namespace {

// The requantization of kernels/requantize.h on 8 int32 lanes (result still int32).
inline __m256i requant8(__m256i acc, const float* multiplier, const RequantBounds& b) {
  __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_loadu_ps(multiplier));
  v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(b.lo)), _mm256_set1_ps(b.hi));
  return _mm256_add_epi32(_mm256_cvtps_epi32(v), _mm256_set1_epi32(b.zero_point));
}

struct Avx2Kernel {
  template <int kTaps, bool kSigned>
  static void pixel(const DwConvPlan& plan, const std::uint8_t* const* rows, int runtime_taps,
                    std::uint8_t* out) {
    const int taps = kTaps ? kTaps : runtime_taps;
    const std::int64_t channels = plan.params->channels;
    const std::int64_t c_pad = plan.c_pad;
    std::int64_t c = 0;
    for (; c + 16 <= channels; c += 16) {
      __m256i acc0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(plan.bias + c));
      __m256i acc1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(plan.bias + c + 8));
      const std::int16_t* w = plan.weights + c;
#pragma GCC unroll 25
      for (int t = 0; t < taps; ++t) {
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[t] + c));
        const __m256i x = kSigned ? _mm256_cvtepi8_epi16(bytes) : _mm256_cvtepu8_epi16(bytes);
        const __m256i prod = _mm256_mullo_epi16(
            x, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + t * c_pad)));
        acc0 = _mm256_add_epi32(acc0, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(prod)));
        acc1 = _mm256_add_epi32(acc1, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(prod, 1)));
      }
      const __m256i q0 = requant8(acc0, plan.multiplier + c, plan.bounds);
      const __m256i q1 = requant8(acc1, plan.multiplier + c + 8, plan.bounds);
      // packs works per 128-bit lane: [q0 0-3, q1 0-3 | q0 4-7, q1 4-7]; reorder the qwords.
      const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xD8);
      const __m128i lo = _mm256_castsi256_si128(words);
      const __m128i hi = _mm256_extracti128_si256(words, 1);
      const __m128i bytes = kSigned ? _mm_packs_epi16(lo, hi) : _mm_packus_epi16(lo, hi);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + c), bytes);
    }
    for (; c < channels; ++c) {
      std::int32_t acc = plan.bias[c];
      for (int t = 0; t < taps; ++t) {
        const std::int32_t x = kSigned ? static_cast<std::int8_t>(rows[t][c]) : rows[t][c];
        acc = wrapping_add(acc, x * plan.weights[t * c_pad + c]);
      }
      out[c] = static_cast<std::uint8_t>(requantize(acc, plan.multiplier[c], plan.bounds));
    }
  }
};

}  // namespace

DwConvKernels dwconv_kernels_avx2() {
  DwConvKernels k;
  k.name_3x3 = "avx2_3x3";
  k.name_5x5 = "avx2_5x5";
  k.name_generic = "avx2_generic";
  k.conv3x3 = &dwconv_entry<Avx2Kernel, 3, 3>;
  k.conv5x5 = &dwconv_entry<Avx2Kernel, 5, 5>;
  k.generic = &dwconv_entry<Avx2Kernel, 0, 0>;
  return k;
}

}  // namespace quantkit::kernels::dwconv_detail
