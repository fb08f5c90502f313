// AVX-512BW depthwise convolution kernels: 32 channels per step. Taps go in pairs: the two
// taps' inputs, widened to int16 and interleaved (vpunpcklwd / vpunpckhwd), meet weights
// packed in the same order in vpmaddwd, which adds both products per channel into int32
// lanes (exact: |x·w'| ≤ 255·128). The interleave permutes channels within each 128-bit lane;
// bias and multipliers are packed in that order, and vpackssdw undoes it before the store.
// Masked loads and stores handle the last C mod 32 channels (a 256-bit step when ≤ 16 are left).
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(), which -W(maybe-)uninitialized
// reports as a use of an uninitialized variable (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "dwconv_internal.h"
#include "requantize_simd.h"

namespace quantkit::kernels::dwconv_detail {
namespace {

constexpr int kBlock = 32;

template <bool kSigned>
inline __m512i widen(__m256i bytes) {
  return kSigned ? _mm512_cvtepi8_epi16(bytes) : _mm512_cvtepu8_epi16(bytes);
}

struct Avx512Kernel {
  template <int kTaps, bool kSigned>
  static void pixel(const DwConvPlan& plan, const std::uint8_t* const* rows, int runtime_taps,
                    std::uint8_t* out) {
    const int taps = kTaps ? kTaps : runtime_taps;
    const int pairs = (taps + 1) / 2;  // rows[taps] is the zero-point row (weight 0)
    const std::int64_t channels = plan.params->channels;
    const simd::Bounds16 bounds16(plan.bounds);
    std::int64_t c = 0;
    for (; c < channels - kBlock / 2; c += kBlock) {  // more than 16 channels left
      const std::int64_t left = channels - c;
      const __mmask32 mask =
          left >= kBlock ? ~__mmask32{0} : static_cast<__mmask32>((std::uint64_t{1} << left) - 1);
      __m512i acc_lo = _mm512_loadu_si512(plan.pair_bias + c);
      __m512i acc_hi = _mm512_loadu_si512(plan.pair_bias + c + kBlock / 2);
      const std::int16_t* w = plan.pair_weights + (c / kBlock) * pairs * 2 * kBlock;
#pragma GCC unroll 13
      for (int p = 0; p < pairs; ++p) {
        const __m512i x0 = widen<kSigned>(_mm256_maskz_loadu_epi8(mask, rows[2 * p] + c));
        const __m512i x1 = widen<kSigned>(_mm256_maskz_loadu_epi8(mask, rows[2 * p + 1] + c));
        acc_lo =
            _mm512_add_epi32(acc_lo, _mm512_madd_epi16(_mm512_unpacklo_epi16(x0, x1),
                                                       _mm512_loadu_si512(w + p * 2 * kBlock)));
        acc_hi = _mm512_add_epi32(
            acc_hi, _mm512_madd_epi16(_mm512_unpackhi_epi16(x0, x1),
                                      _mm512_loadu_si512(w + p * 2 * kBlock + kBlock)));
      }
      const __m512i q_lo =
          simd::requant16(acc_lo, _mm512_loadu_ps(plan.pair_multiplier + c), bounds16);
      const __m512i q_hi =
          simd::requant16(acc_hi, _mm512_loadu_ps(plan.pair_multiplier + c + kBlock / 2), bounds16);
      // Per 128-bit lane: [lo: channels 8k..8k+3, hi: 8k+4..8k+7] → natural order.
      const __m256i bytes = _mm512_cvtepi16_epi8(_mm512_packs_epi32(q_lo, q_hi));
      _mm256_mask_storeu_epi8(out + c, mask, bytes);
    }
    if (c < channels) {
      // At most 16 channels left: the first two 128-bit lanes of a 32-channel block are laid
      // out exactly like a 16-channel block (the first 8 lo / hi bias and multiplier entries,
      // the first 16 int16 of each weight half), so a 256-bit step does half the work.
      const __mmask16 mask = static_cast<__mmask16>((1u << (channels - c)) - 1);
      __m256i acc_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(plan.pair_bias + c));
      __m256i acc_hi =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(plan.pair_bias + c + kBlock / 2));
      const std::int16_t* w = plan.pair_weights + (c / kBlock) * pairs * 2 * kBlock;
      for (int p = 0; p < pairs; ++p) {
        const __m128i b0 = _mm_maskz_loadu_epi8(mask, rows[2 * p] + c);
        const __m128i b1 = _mm_maskz_loadu_epi8(mask, rows[2 * p + 1] + c);
        const __m256i x0 = kSigned ? _mm256_cvtepi8_epi16(b0) : _mm256_cvtepu8_epi16(b0);
        const __m256i x1 = kSigned ? _mm256_cvtepi8_epi16(b1) : _mm256_cvtepu8_epi16(b1);
        const auto* wp = reinterpret_cast<const __m256i*>(w + p * 2 * kBlock);
        const auto* wq = reinterpret_cast<const __m256i*>(w + p * 2 * kBlock + kBlock);
        acc_lo = _mm256_add_epi32(
            acc_lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, x1), _mm256_loadu_si256(wp)));
        acc_hi = _mm256_add_epi32(
            acc_hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, x1), _mm256_loadu_si256(wq)));
      }
      const simd::Bounds8 bounds8(plan.bounds);
      const __m256i q_lo =
          simd::requant8(acc_lo, _mm256_loadu_ps(plan.pair_multiplier + c), bounds8);
      const __m256i q_hi =
          simd::requant8(acc_hi, _mm256_loadu_ps(plan.pair_multiplier + c + kBlock / 2), bounds8);
      _mm_mask_storeu_epi8(out + c, mask, _mm256_cvtepi16_epi8(_mm256_packs_epi32(q_lo, q_hi)));
    }
  }
};

}  // namespace

DwConvKernels dwconv_kernels_avx512() {
  DwConvKernels k;
  k.block = kBlock;
  k.name_3x3 = "avx512_3x3";
  k.name_5x5 = "avx512_5x5";
  k.name_generic = "avx512_generic";
  k.conv3x3 = &dwconv_entry<Avx512Kernel, 3, 3>;
  k.conv5x5 = &dwconv_entry<Avx512Kernel, 5, 5>;
  k.generic = &dwconv_entry<Avx512Kernel, 0, 0>;
  return k;
}

}  // namespace quantkit::kernels::dwconv_detail
