// AVX2 depthwise convolution kernels: 16 channels per step. Taps go in pairs: the two taps'
// inputs, widened to int16 and interleaved (vpunpcklwd / vpunpckhwd), meet weights packed in
// the same order in vpmaddwd, which adds both products per channel into int32 lanes (exact:
// |x·w'| ≤ 255·128). The interleave permutes channels within each 128-bit lane; bias and
// multipliers are packed in that order and vpackssdw undoes it. The last C mod 16 channels
// run the scalar form of the same arithmetic (requantize.h) on the tap-major weights.
#include <immintrin.h>

#include "dwconv_internal.h"
#include "requantize_simd.h"

namespace quantkit::kernels::dwconv_detail {
namespace {

constexpr int kBlock = 16;

template <bool kSigned>
inline __m256i load16(const std::uint8_t* p) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return kSigned ? _mm256_cvtepi8_epi16(bytes) : _mm256_cvtepu8_epi16(bytes);
}

inline __m256i load_weights(const std::int16_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

struct Avx2Kernel {
  template <int kTaps, bool kSigned>
  static void pixel(const DwConvPlan& plan, const std::uint8_t* const* rows, int runtime_taps,
                    std::uint8_t* out) {
    const int taps = kTaps ? kTaps : runtime_taps;
    const int pairs = (taps + 1) / 2;  // rows[taps] is the zero-point row (weight 0)
    const std::int64_t channels = plan.params->channels;
    const simd::Bounds8 bounds(plan.bounds);
    std::int64_t c = 0;
    for (; c + kBlock <= channels; c += kBlock) {
      __m256i acc_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(plan.pair_bias + c));
      __m256i acc_hi =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(plan.pair_bias + c + kBlock / 2));
      const std::int16_t* w = plan.pair_weights + (c / kBlock) * pairs * 2 * kBlock;
#pragma GCC unroll 13
      for (int p = 0; p < pairs; ++p) {
        const __m256i x0 = load16<kSigned>(rows[2 * p] + c);
        const __m256i x1 = load16<kSigned>(rows[2 * p + 1] + c);
        acc_lo = _mm256_add_epi32(acc_lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, x1),
                                                            load_weights(w + p * 2 * kBlock)));
        acc_hi =
            _mm256_add_epi32(acc_hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, x1),
                                                       load_weights(w + p * 2 * kBlock + kBlock)));
      }
      const __m256i q_lo =
          simd::requant8(acc_lo, _mm256_loadu_ps(plan.pair_multiplier + c), bounds);
      const __m256i q_hi =
          simd::requant8(acc_hi, _mm256_loadu_ps(plan.pair_multiplier + c + kBlock / 2), bounds);
      // Per 128-bit lane: [lo: channels 8k..8k+3, hi: 8k+4..8k+7] → natural order.
      const __m256i words = _mm256_packs_epi32(q_lo, q_hi);
      const __m128i lo = _mm256_castsi256_si128(words);
      const __m128i hi = _mm256_extracti128_si256(words, 1);
      const __m128i bytes = kSigned ? _mm_packs_epi16(lo, hi) : _mm_packus_epi16(lo, hi);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + c), bytes);
    }
    for (; c < channels; ++c) {
      std::int32_t acc = plan.bias[c];
      for (int t = 0; t < taps; ++t) {
        const std::int32_t x = kSigned ? static_cast<std::int8_t>(rows[t][c]) : rows[t][c];
        acc = wrapping_add(acc, x * plan.weights[t * plan.c_pad + c]);
      }
      out[c] = static_cast<std::uint8_t>(requantize(acc, plan.multiplier[c], plan.bounds));
    }
  }
};

}  // namespace

DwConvKernels dwconv_kernels_avx2() {
  DwConvKernels k;
  k.block = kBlock;
  k.name_3x3 = "avx2_3x3";
  k.name_5x5 = "avx2_5x5";
  k.name_generic = "avx2_generic";
  k.conv3x3 = &dwconv_entry<Avx2Kernel, 3, 3>;
  k.conv5x5 = &dwconv_entry<Avx2Kernel, 5, 5>;
  k.generic = &dwconv_entry<Avx2Kernel, 0, 0>;
  return k;
}

}  // namespace quantkit::kernels::dwconv_detail
