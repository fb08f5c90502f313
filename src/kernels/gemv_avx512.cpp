// AVX-512BW GEMV kernels (no VNNI): weights widened to int16 and multiplied
// with vpmaddwd (exact: |x'·w| ≤ 255·128, pair sums < 2^31), and the AVX-512
// epilogue the VNNI kernels share.
// GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsics (GCC
// bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "gemv_internal.h"
#include "requantize_simd.h"

namespace quantkit::kernels::gemv_detail {
namespace {

// x'[0..3] as four int16 repeated in every 64-bit lane: vpmaddwd's other
// operand for a weight vector holding (channel, k0..k3) runs.
inline __m512i x_pattern(const std::uint8_t* x4, std::uint8_t flip) {
  std::uint64_t v = 0;
  for (int t = 0; t < 4; ++t) v |= static_cast<std::uint64_t>(x4[t] ^ flip) << (16 * t);
  return _mm512_set1_epi64(static_cast<long long>(v));
}

// One K group of a 64-channel block into 8 accumulators; accumulator h, lane l
// holds a partial sum of channel 8h + l / 2 (lanes 2i and 2i+1 are the k pairs
// of one channel).
template <int kBits>
inline void group_step(const std::uint8_t* w, const std::uint8_t* xs, std::uint8_t flip,
                       __m512i* acc) {
  if constexpr (kBits == 8) {
    const __m512i xp = x_pattern(xs, flip);
    for (int h = 0; h < 8; ++h) {
      const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + 32 * h));
      acc[h] = _mm512_add_epi32(acc[h], _mm512_madd_epi16(_mm512_cvtepi8_epi16(v), xp));
    }
  } else {
    const __m512i xlo = x_pattern(xs, flip), xhi = x_pattern(xs + 4, flip);
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (int h = 0; h < 8; ++h) {
      const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + 32 * h));
      const __m256i lo = _mm256_and_si256(v, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
      acc[h] = _mm512_add_epi32(acc[h], _mm512_madd_epi16(_mm512_cvtepu8_epi16(lo), xlo));
      acc[h] = _mm512_add_epi32(acc[h], _mm512_madd_epi16(_mm512_cvtepu8_epi16(hi), xhi));
    }
  }
}

template <int kBits>
void maddwd_blocks(const GemvProblem& p, std::int64_t block_begin, std::int64_t block_end) {
  constexpr std::int64_t kGroupK = kBits == 8 ? 4 : 8;
  const std::int64_t full = p.w->k() / kGroupK;
  const bool tail = p.w->k_padded() / kGroupK > full;
  const std::uint8_t flip = p.x_signed ? 0x80 : 0x00;
  std::uint8_t xtail[kGroupK];
  tail_group(p, kGroupK, xtail);
  for (std::int64_t b = block_begin; b < block_end; ++b) {
    const std::uint8_t* w = p.w->data() + b * p.w->block_bytes();
    __m512i acc[8];
    for (auto& a : acc) a = _mm512_setzero_si512();
    for (std::int64_t g = 0; g < full; ++g, w += 256) {
      group_step<kBits>(w, p.x + g * kGroupK, flip, acc);
    }
    if (tail) group_step<kBits>(w, xtail, flip, acc);
    alignas(64) std::int32_t pairs[128];
    for (int h = 0; h < 8; ++h) _mm512_store_si512(pairs + 16 * h, acc[h]);
    alignas(64) std::int32_t dot[GemvWeights::kBlockN];
    for (int c = 0; c < 64; ++c) dot[c] = wrapping_add(pairs[2 * c], pairs[2 * c + 1]);
    epilogue_avx512(p, b, dot);
  }
}

}  // namespace

void epilogue_avx512(const GemvProblem& p, std::int64_t block, const std::int32_t* dot) {
  const std::int64_t first = block * GemvWeights::kBlockN;
  if (first + GemvWeights::kBlockN > p.w->n()) return epilogue_scalar(p, block, dot);
  const __m512i row = _mm512_set1_epi32(p.row_offset);
  const __m512i neg_zp = _mm512_set1_epi32(-p.x_zp_shifted);
  const std::int32_t* sums = p.w->column_sums() + first;
  const simd::Bounds16 bounds(p.bounds);
  for (int j = 0; j < 4; ++j) {
    const std::int64_t c = first + 16 * j;
    __m512i acc = _mm512_add_epi32(_mm512_loadu_si512(dot + 16 * j), row);
    acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(neg_zp, _mm512_loadu_si512(sums + 16 * j)));
    if (p.bias != nullptr) acc = _mm512_add_epi32(acc, _mm512_loadu_si512(p.bias + c));
    if (p.requant) {
      const __m512 m = p.multiplier_per_channel ? _mm512_loadu_ps(p.multiplier + c)
                                                : _mm512_set1_ps(p.multiplier[0]);
      const __m512i q = simd::requant16(acc, m, bounds);
      // q is inside the output dtype's range, so the saturating narrowings are
      // exact.
      const __m128i bytes = p.out_signed ? _mm512_cvtsepi32_epi8(q) : _mm512_cvtusepi32_epi8(q);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<std::uint8_t*>(p.y) + c), bytes);
    } else {
      const __m512 s =
          p.scale_per_channel ? _mm512_loadu_ps(p.scale + c) : _mm512_set1_ps(p.scale[0]);
      __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), s);
      if (p.float_bias != nullptr) v = _mm512_add_ps(v, _mm512_loadu_ps(p.float_bias + c));
      _mm512_storeu_ps(static_cast<float*>(p.y) + c, v);
    }
  }
}

GemvKernels gemv_kernels_avx512() { return {"avx512", maddwd_blocks<8>, maddwd_blocks<4>}; }

}  // namespace quantkit::kernels::gemv_detail
