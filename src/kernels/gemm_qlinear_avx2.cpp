// AVX2 integer linear: weights (int8 or int16) and uint8 activations widened to int16 and
// multiplied with vpmaddwd — exact (each product ≤ 255 · 32768, each pair sum < 2^31), unlike
// vpmaddubsw, whose int16 pair sums saturate. Compiled with -mavx2 -mfma; only called after
// kernels::active_isa() reported AVX2.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "gemm_internal.h"

namespace quantkit::kernels::gemm_detail {
namespace {

constexpr std::int64_t kBlock = PackedWeights::kBlockN;
constexpr std::int64_t kGroup = PackedWeights::kGroupK;

// See gemm_zmm_impl.h: the same -O2 workaround for GCC 12's accumulator copies.
#if defined(__GNUC__) && !defined(__clang__)
#define QUANTKIT_GEMM_TILE_ATTRIBUTES __attribute__((optimize("O2")))
#else
#define QUANTKIT_GEMM_TILE_ATTRIBUTES
#endif

// The last, partial group of a row: `count` < 4 bytes, zero padded (the packed weights are
// zero there).
inline std::uint32_t load_partial_group(const std::uint8_t* x, std::int64_t count) {
  std::uint32_t v = 0;
  std::memcpy(&v, x, static_cast<std::size_t>(count));
  return v;
}

// Lane mask for the first `count` (0..8) of 8 int32 lanes.
inline __m256i first_lanes(std::int64_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Epilogue for columns [n0, n0 + count) of row m, count <= 8.
inline void store_8(const QGemmProblem& p, __m256i acc, std::int64_t m, std::int64_t n0,
                    std::int64_t count) {
  acc = _mm256_add_epi32(acc,
                         _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.col_offset + n0)));
  if (p.w_zero_point) {
    const __m256i zp = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.w_zero_point + n0));
    acc = _mm256_sub_epi32(acc, _mm256_mullo_epi32(zp, _mm256_set1_epi32(p.row_sum[m])));
  }
  const std::int64_t index = m * p.ldy + n0;
  switch (p.kind) {
    case OutputKind::Int32: {
      auto* out = static_cast<std::int32_t*>(p.y) + index;
      if (count == 8) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), acc);
      } else {
        _mm256_maskstore_epi32(reinterpret_cast<int*>(out), first_lanes(count), acc);
      }
      return;
    }
    case OutputKind::Float32: {
      __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_loadu_ps(p.scale + n0));
      if (p.bias) v = _mm256_add_ps(v, _mm256_loadu_ps(p.bias + n0));
      float* out = static_cast<float*>(p.y) + index;
      if (count == 8) {
        _mm256_storeu_ps(out, v);
      } else {
        _mm256_maskstore_ps(out, first_lanes(count), v);
      }
      return;
    }
    case OutputKind::Quantized: {
      __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_loadu_ps(p.scale + n0));
      v = _mm256_max_ps(v, _mm256_set1_ps(p.clamp_lo));
      v = _mm256_min_ps(v, _mm256_set1_ps(p.clamp_hi));
      const __m256i q =
          _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
      const __m256i r = _mm256_add_epi32(q, _mm256_set1_epi32(p.out_zero_point));
      // In [qmin, qmax]: the low byte of each lane is the int8 / uint8 value. Gather the low
      // bytes of each 128-bit half, then the two halves' dwords side by side.
      const __m256i bytes = _mm256_shuffle_epi8(
          r, _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8,
                              12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
      const __m256i packed =
          _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1));
      const long long eight = _mm_cvtsi128_si64(_mm256_castsi256_si128(packed));
      std::memcpy(static_cast<std::uint8_t*>(p.y) + index, &eight, static_cast<std::size_t>(count));
      return;
    }
  }
}

inline __m256i broadcast_x4_epi16(std::uint32_t x4) {
  return _mm256_broadcastq_epi64(_mm_cvtepu8_epi16(_mm_cvtsi32_si128(static_cast<int>(x4))));
}

// 4 channels × 4 k of weights as 16 int16.
inline __m256i load_w_epi16(const std::int8_t* w) {
  return _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(w)));
}
inline __m256i load_w_epi16(const std::int16_t* w) {
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(w));
}

// Per 16-channel block, 4 accumulators of 4 channels × (k0+k1, k2+k3) partial sums.
// MR = 2 rows: 8 accumulators + 2 broadcast activations + 1 weight + 1 product fit the 16
// ymm registers (3 rows spill).
template <class W, bool kSignedX>
struct MaddwdKernel {
  static constexpr int kMaxRows = 2;
  static constexpr int kMaxBlocks = 1;

  // acc += one group of 4 k (x4: each row's 4 activation bytes).
  template <int MR>
  QUANTKIT_GEMM_TILE_ATTRIBUTES [[gnu::always_inline]] static inline void accumulate(
      __m256i (&acc)[MR][4], const W* wg, const std::uint32_t (&x4)[MR], std::uint32_t flip) {
    __m256i xv[MR];
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) xv[r] = broadcast_x4_epi16(x4[r] ^ flip);
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) {
      const __m256i wv = load_w_epi16(wg + c * 16);
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
        acc[r][c] = _mm256_add_epi32(acc[r][c], _mm256_madd_epi16(xv[r], wv));
      }
    }
  }

  template <int MR, int NB>
  QUANTKIT_GEMM_TILE_ATTRIBUTES static void tile(const QGemmProblem& p, std::int64_t m0,
                                                 std::int64_t b0) {
    static_assert(NB == 1);
    const std::int64_t kp = p.w->k_padded();
    const W* wbase = static_cast<const W*>(p.w->data()) + (p.w_block + b0) * kp * kBlock;
    const std::uint32_t flip = kSignedX ? 0x80808080u : 0u;
    const std::uint8_t* rows[MR];
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) rows[r] = p.x + (m0 + r) * p.ldx;
    __m256i acc[MR][4];
#pragma GCC unroll 16
    for (int i = 0; i < MR * 4; ++i) acc[i / 4][i % 4] = _mm256_setzero_si256();

    const std::int64_t full = p.k / kGroup;
    std::uint32_t x4[MR];
    for (std::int64_t g = 0; g < full; ++g) {
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) std::memcpy(&x4[r], rows[r] + g * kGroup, 4);
      accumulate<MR>(acc, wbase + g * kBlock * kGroup, x4, flip);
    }
    if (full * kGroup < p.k) {
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
        x4[r] = load_partial_group(rows[r] + full * kGroup, p.k - full * kGroup);
      }
      accumulate<MR>(acc, wbase + full * kBlock * kGroup, x4, flip);
    }

    // 64-bit lane j of accumulator c holds channel 4c + j's two partial sums: add them, then
    // gather the even dwords of two accumulators (channels 0-3, 4-7) in channel order. The
    // sums go through memory (see gemm_zmm_impl.h's store_tile).
    alignas(32) std::int32_t sums[MR][kBlock];
#pragma GCC unroll 16
    for (int i = 0; i < MR * 2; ++i) {
      const int r = i / 2, half = i % 2;
      const __m256i s0 =
          _mm256_add_epi32(acc[r][2 * half], _mm256_srli_epi64(acc[r][2 * half], 32));
      const __m256i s1 =
          _mm256_add_epi32(acc[r][2 * half + 1], _mm256_srli_epi64(acc[r][2 * half + 1], 32));
      const __m256 even = _mm256_shuffle_ps(_mm256_castsi256_ps(s0), _mm256_castsi256_ps(s1),
                                            _MM_SHUFFLE(2, 0, 2, 0));
      _mm256_store_si256(
          reinterpret_cast<__m256i*>(sums[r] + half * 8),
          _mm256_permute4x64_epi64(_mm256_castps_si256(even), _MM_SHUFFLE(3, 1, 2, 0)));
    }
    const std::int64_t n0 = b0 * kBlock;
    for (int r = 0; r < MR; ++r) {
      for (int half = 0; half < 2; ++half) {
        const std::int64_t c0 = n0 + half * 8;
        const std::int64_t left = p.n - c0;
        if (left <= 0) break;
        store_8(p, _mm256_load_si256(reinterpret_cast<const __m256i*>(sums[r] + half * 8)), m0 + r,
                c0, left < 8 ? left : 8);
      }
    }
  }
};

}  // namespace

void qgemm_avx2(const QGemmProblem& p) {
  const bool s = p.x_signed;
  if (p.w->dtype() == DType::Int8) {
    s ? run_tiles<MaddwdKernel<std::int8_t, true>>(p)
      : run_tiles<MaddwdKernel<std::int8_t, false>>(p);
  } else {
    s ? run_tiles<MaddwdKernel<std::int16_t, true>>(p)
      : run_tiles<MaddwdKernel<std::int16_t, false>>(p);
  }
}

}  // namespace quantkit::kernels::gemm_detail
