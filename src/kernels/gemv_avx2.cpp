// AVX2 GEMV kernels: weights widened to int16 and multiplied with vpmaddwd
// (exact: |x'·w| ≤ 255·128, pair sums < 2^31). A 64-channel block runs as two
// passes of 32 channels (eight accumulators each: AVX2 has 16 registers), the
// second pass reading the other half of every 256-byte group.
#include <immintrin.h>

#include <cstdint>

#include "gemv_internal.h"
#include "requantize_simd.h"

namespace quantkit::kernels::gemv_detail {
namespace {

// x'[0..3] as four int16 repeated in every 64-bit lane (vpmaddwd's activation
// operand).
inline __m256i x_pattern(const std::uint8_t* x4, std::uint8_t flip) {
  std::uint64_t v = 0;
  for (int t = 0; t < 4; ++t) v |= static_cast<std::uint64_t>(x4[t] ^ flip) << (16 * t);
  return _mm256_set1_epi64x(static_cast<long long>(v));
}

// 32 channels (two 64-byte chunks) of one K group; accumulator q, lane l holds
// a partial sum of channel 4q + l / 2 of the pass.
template <int kBits>
inline void half_group_step(const std::uint8_t* w, const std::uint8_t* xs, std::uint8_t flip,
                            __m256i* acc) {
  if constexpr (kBits == 8) {
    const __m256i xp = x_pattern(xs, flip);
    for (int q = 0; q < 8; ++q) {
      const __m128i v = _mm_load_si128(reinterpret_cast<const __m128i*>(w + 16 * q));
      acc[q] = _mm256_add_epi32(acc[q], _mm256_madd_epi16(_mm256_cvtepi8_epi16(v), xp));
    }
  } else {
    const __m256i xlo = x_pattern(xs, flip), xhi = x_pattern(xs + 4, flip);
    const __m128i low4 = _mm_set1_epi8(0x0F);
    for (int q = 0; q < 8; ++q) {
      const __m128i v = _mm_load_si128(reinterpret_cast<const __m128i*>(w + 16 * q));
      const __m128i lo = _mm_and_si128(v, low4);
      const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), low4);
      acc[q] = _mm256_add_epi32(acc[q], _mm256_madd_epi16(_mm256_cvtepu8_epi16(lo), xlo));
      acc[q] = _mm256_add_epi32(acc[q], _mm256_madd_epi16(_mm256_cvtepu8_epi16(hi), xhi));
    }
  }
}

// The epilogue of 8 channels c .. c + 7 (all below N).
inline void epilogue8(const GemvProblem& p, std::int64_t c, const std::int32_t* sums, __m256i acc) {
  acc = _mm256_add_epi32(acc, _mm256_set1_epi32(p.row_offset));
  acc = _mm256_add_epi32(
      acc, _mm256_mullo_epi32(_mm256_set1_epi32(-p.x_zp_shifted),
                              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums))));
  if (p.bias != nullptr) {
    acc = _mm256_add_epi32(acc, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.bias + c)));
  }
  if (p.requant) {
    const __m256 m = p.multiplier_per_channel ? _mm256_loadu_ps(p.multiplier + c)
                                              : _mm256_set1_ps(p.multiplier[0]);
    const __m256i q = simd::requant8(acc, m, simd::Bounds8(p.bounds));
    auto* out = static_cast<std::uint8_t*>(p.y) + c;
    p.out_signed ? simd::store8<true>(out, q) : simd::store8<false>(out, q);
  } else {
    const __m256 s =
        p.scale_per_channel ? _mm256_loadu_ps(p.scale + c) : _mm256_set1_ps(p.scale[0]);
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), s);
    if (p.float_bias != nullptr) v = _mm256_add_ps(v, _mm256_loadu_ps(p.float_bias + c));
    _mm256_storeu_ps(static_cast<float*>(p.y) + c, v);
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
    alignas(32) std::int32_t dot[GemvWeights::kBlockN];
    for (int pass = 0; pass < 2; ++pass) {
      const std::uint8_t* w = p.w->data() + b * p.w->block_bytes() + 128 * pass;
      __m256i acc[8];
      for (auto& a : acc) a = _mm256_setzero_si256();
      for (std::int64_t g = 0; g < full; ++g, w += 256) {
        half_group_step<kBits>(w, p.x + g * kGroupK, flip, acc);
      }
      if (tail) half_group_step<kBits>(w, xtail, flip, acc);
      alignas(32) std::int32_t pairs[64];
      for (int q = 0; q < 8; ++q) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(pairs + 8 * q), acc[q]);
      }
      for (int c = 0; c < 32; ++c)
        dot[32 * pass + c] = wrapping_add(pairs[2 * c], pairs[2 * c + 1]);
    }
    const std::int64_t first = b * GemvWeights::kBlockN;
    if (first + GemvWeights::kBlockN > p.w->n()) {
      epilogue_scalar(p, b, dot);
      continue;
    }
    for (int i = 0; i < 8; ++i) {
      const __m256i acc = _mm256_load_si256(reinterpret_cast<const __m256i*>(dot + 8 * i));
      epilogue8(p, first + 8 * i, p.w->column_sums() + first + 8 * i, acc);
    }
  }
}

}  // namespace

GemvKernels gemv_kernels_avx2() { return {"avx2", maddwd_blocks<8>, maddwd_blocks<4>}; }

}  // namespace quantkit::kernels::gemv_detail
