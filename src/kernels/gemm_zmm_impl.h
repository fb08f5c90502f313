#pragma once
// Internal: 512-bit integer linear kernels, included by gemm_qlinear_avx512.cpp (AVX-512BW)
// and gemm_qlinear_vnni_avx512.cpp (AVX-512 VNNI). Only include from translation units
// compiled for AVX-512, and only call after the run-time check (gemm_qlinear.cpp).
//
// Each tile keeps MR rows × NB 16-channel blocks of int32 accumulators in registers for the
// whole K loop, then runs the epilogue on them (no int32 round trip through memory).
// Activations are read in place: 4 consecutive bytes of a row, broadcast to every lane.
//
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(), which -W(maybe-)uninitialized
// reports as a use of an uninitialized variable (GCC bug 105593). The warning points into
// immintrin.h, so it is silenced around that include: include this header first.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "gemm_internal.h"

// GCC 12 at -O3 keeps a memory copy of the accumulators of the 24-register VNNI tile and
// shuffles them between registers around every vpdpbusd (with -O3's early complete unrolling
// of the row/block loops; no single -fno-* flag avoids it). At -O2 the same source keeps all
// 24 in registers. Only the tile functions get -O2; -ffp-contract=off is unaffected.
#if defined(__GNUC__) && !defined(__clang__)
#define QUANTKIT_GEMM_TILE_ATTRIBUTES __attribute__((optimize("O2")))
#else
#define QUANTKIT_GEMM_TILE_ATTRIBUTES
#endif

namespace quantkit::kernels::gemm_detail {
namespace {

constexpr std::int64_t kBlock = PackedWeights::kBlockN;
constexpr std::int64_t kGroup = PackedWeights::kGroupK;

// The last, partial group of a row: `count` < 4 bytes, zero padded (the packed weights are
// zero there).
inline std::uint32_t load_partial_group(const std::uint8_t* x, std::int64_t count) {
  std::uint32_t v = 0;
  std::memcpy(&v, x, static_cast<std::size_t>(count));
  return v;
}

// Int32 / Float32 epilogue for columns [n0, n0 + 16) of row m; lanes outside `valid` are not
// stored. (The Quantized epilogue is store_tile_quantized, per tile.) acc already includes
// col_offset (see store_tile).
inline void store_block(const QGemmProblem& p, __m512i acc, std::int64_t m, std::int64_t n0,
                        __mmask16 valid) {
  if (p.w_zero_point) {
    acc = _mm512_sub_epi32(acc, _mm512_mullo_epi32(_mm512_loadu_si512(p.w_zero_point + n0),
                                                   _mm512_set1_epi32(p.row_sum[m])));
  }
  const std::int64_t index = m * p.ldy + n0;
  if (p.kind == OutputKind::Int32) {
    _mm512_mask_storeu_epi32(static_cast<std::int32_t*>(p.y) + index, valid, acc);
    return;
  }
  __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_loadu_ps(p.scale + n0));
  if (p.bias) v = _mm512_add_ps(v, _mm512_loadu_ps(p.bias + n0));
  _mm512_mask_storeu_ps(static_cast<float*>(p.y) + index, valid, v);
}

inline __mmask16 valid_lanes(const QGemmProblem& p, std::int64_t n0) {
  const std::int64_t left = p.n - n0;
  return left >= kBlock ? static_cast<__mmask16>(0xFFFF)
                        : static_cast<__mmask16>((1u << left) - 1u);
}

// Four blocks of requantized int32 lanes (each inside [-128, 255]) → their 64 low bytes in
// channel order. packs_epi32 keeps every value exactly (int16); the AND keeps the low byte,
// which packus_epi16 then passes unchanged, for int8 and uint8 outputs alike. The packs work
// per 128-bit lane, so dword j of the result comes from dword (j % 4)·4 + j / 4.
inline __m512i pack_low_bytes(__m512i q0, __m512i q1, __m512i q2, __m512i q3) {
  const __m512i low = _mm512_set1_epi16(0x00FF);
  const __m512i w01 = _mm512_and_si512(_mm512_packs_epi32(q0, q1), low);
  const __m512i w23 = _mm512_and_si512(_mm512_packs_epi32(q2, q3), low);
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_epi32(order, _mm512_packus_epi16(w01, w23));
}

// The requantization epilogue of a whole tile, its per-column vectors and constants loaded
// once per tile; a row's four full blocks leave as one 64-byte store.
template <int MR, int NB>
inline void store_tile_quantized(const QGemmProblem& p, const std::int32_t* sums, std::int64_t m0,
                                 std::int64_t b0) {
  const __m512 lo = _mm512_set1_ps(p.clamp_lo);
  const __m512 hi = _mm512_set1_ps(p.clamp_hi);
  const __m512i zp = _mm512_set1_epi32(p.out_zero_point);
  __m512i w_zp[NB];
  __m512 scale[NB];
  __mmask16 valid[NB];
  for (int b = 0; b < NB; ++b) {
    const std::int64_t n0 = (b0 + b) * kBlock;
    w_zp[b] = p.w_zero_point ? _mm512_loadu_si512(p.w_zero_point + n0) : _mm512_setzero_si512();
    scale[b] = _mm512_loadu_ps(p.scale + n0);
    valid[b] = valid_lanes(p, n0);
  }
  const bool full = valid[NB - 1] == static_cast<__mmask16>(0xFFFF);
  for (int r = 0; r < MR; ++r) {
    const std::int64_t m = m0 + r;
    __m512i q[NB];
    for (int b = 0; b < NB; ++b) {
      __m512i acc = _mm512_load_si512(sums + (r * NB + b) * kBlock);
      if (p.w_zero_point) {
        acc = _mm512_sub_epi32(acc, _mm512_mullo_epi32(w_zp[b], _mm512_set1_epi32(p.row_sum[m])));
      }
      __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), scale[b]);
      v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
      // In [qmin, qmax]: the low byte of each lane is the int8 / uint8 value.
      q[b] = _mm512_add_epi32(
          _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zp);
    }
    std::uint8_t* out = static_cast<std::uint8_t*>(p.y) + m * p.ldy + b0 * kBlock;
    if constexpr (NB == 4) {
      if (full) {
        _mm512_storeu_si512(out, pack_low_bytes(q[0], q[1], q[2], q[3]));
        continue;
      }
    }
    for (int b = 0; b < NB; ++b) _mm512_mask_cvtepi32_storeu_epi8(out + b * kBlock, valid[b], q[b]);
  }
}

// Epilogue of a whole tile from its int32 sums, stored row-major [MR][NB][16] in `sums`,
// which already include col_offset (the tile kernels start or finish their sums with it).
// The tile kernels hand their accumulators over through memory: passing the register array
// by reference would make GCC keep a memory copy of it during the whole K loop.
template <int MR, int NB>
inline void store_tile(const QGemmProblem& p, const std::int32_t* sums, std::int64_t m0,
                       std::int64_t b0) {
  if (p.kind == OutputKind::Quantized) {
    store_tile_quantized<MR, NB>(p, sums, m0, b0);
    return;
  }
  for (int b = 0; b < NB; ++b) {
    const std::int64_t n0 = (b0 + b) * kBlock;
    const __mmask16 valid = valid_lanes(p, n0);
    for (int r = 0; r < MR; ++r) {
      store_block(p, _mm512_load_si512(sums + (r * NB + b) * kBlock), m0 + r, n0, valid);
    }
  }
}

// Four activation bytes widened to four int16, broadcast to every 64-bit lane (vpmaddwd's
// operand against 4 consecutive k of one channel).
inline __m512i broadcast_x4_epi16(std::uint32_t x4) {
  return _mm512_broadcastq_epi64(_mm_cvtepu8_epi16(_mm_cvtsi32_si128(static_cast<int>(x4))));
}

// 8 channels × 4 k of weights as 32 int16.
inline __m512i load_w_epi16(const std::int8_t* w) {
  return _mm512_cvtepi8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(w)));
}
inline __m512i load_w_epi16(const std::int16_t* w) { return _mm512_load_si512(w); }

// vpmaddwd kernel (AVX-512BW): weights widened to int16, activations (uint8) widened to int16;
// each product ≤ 255 · 32768 and each pair sum < 2^31, so nothing saturates. With kDpwssd
// the multiply-add is VNNI's vpdpwssd (same arithmetic, one instruction).
// Registers: MR·NB·2 accumulators + NB·2 weights (4) + 1 activation broadcast, + 1 product
// without vpdpwssd: 6 rows (24 accumulators) with it, 4 without (6 spill there).
template <class W, bool kSignedX, bool kDpwssd>
struct MaddwdKernel {
  static constexpr int kMaxRows = kDpwssd ? 6 : 4;
  static constexpr int kMaxBlocks = 2;

  // acc += one group of 4 k (x4: each row's 4 activation bytes).
  template <int MR, int NB>
  QUANTKIT_GEMM_TILE_ATTRIBUTES [[gnu::always_inline]] static inline void accumulate(
      __m512i (&acc)[MR][NB][2], const W* wg, std::int64_t block_stride,
      const std::uint32_t (&x4)[MR], std::uint32_t flip) {
    __m512i wv[NB][2];
#pragma GCC unroll 16
    for (int b = 0; b < NB; ++b) {
      wv[b][0] = load_w_epi16(wg + b * block_stride);
      wv[b][1] = load_w_epi16(wg + b * block_stride + 32);
    }
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512i xv = broadcast_x4_epi16(x4[r] ^ flip);
#pragma GCC unroll 16
      for (int i = 0; i < NB * 2; ++i) {
        __m512i& a = acc[r][i / 2][i % 2];
        if constexpr (kDpwssd) {
          a = _mm512_dpwssd_epi32(a, xv, wv[i / 2][i % 2]);
        } else {
          a = _mm512_add_epi32(a, _mm512_madd_epi16(xv, wv[i / 2][i % 2]));
        }
      }
    }
  }

  template <int MR, int NB>
  QUANTKIT_GEMM_TILE_ATTRIBUTES static void tile(const QGemmProblem& p, std::int64_t m0,
                                                 std::int64_t b0) {
    const std::int64_t kp = p.w->k_padded();
    const W* wbase = static_cast<const W*>(p.w->data()) + (p.w_block + b0) * kp * kBlock;
    const std::uint32_t flip = kSignedX ? 0x80808080u : 0u;
    const std::uint8_t* rows[MR];
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) rows[r] = p.x + (m0 + r) * p.ldx;
    __m512i acc[MR][NB][2];
#pragma GCC unroll 32
    for (int i = 0; i < MR * NB * 2; ++i)
      acc[i / (NB * 2)][i / 2 % NB][i % 2] = _mm512_setzero_si512();

    const std::int64_t full = p.k / kGroup;
    std::uint32_t x4[MR];
    for (std::int64_t g = 0; g < full; ++g) {
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) std::memcpy(&x4[r], rows[r] + g * kGroup, 4);
      accumulate<MR, NB>(acc, wbase + g * kBlock * kGroup, kp * kBlock, x4, flip);
    }
    if (full * kGroup < p.k) {
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r)
        x4[r] = load_partial_group(rows[r] + full * kGroup, p.k - full * kGroup);
      accumulate<MR, NB>(acc, wbase + full * kBlock * kGroup, kp * kBlock, x4, flip);
    }

    // Each 64-bit lane holds one channel's two partial sums (k0+k1, k2+k3): add them and keep
    // the low 32 bits, channels in order.
    alignas(64) std::int32_t sums[MR * NB * kBlock];
#pragma GCC unroll 32
    for (int i = 0; i < MR * NB; ++i) {
      const int r = i / NB, b = i % NB;
      const __m512i s0 = _mm512_add_epi32(acc[r][b][0], _mm512_srli_epi64(acc[r][b][0], 32));
      const __m512i s1 = _mm512_add_epi32(acc[r][b][1], _mm512_srli_epi64(acc[r][b][1], 32));
      const __m512i sum = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(s0)),
                                             _mm512_cvtepi64_epi32(s1), 1);
      _mm512_store_si512(
          sums + i * kBlock,
          _mm512_add_epi32(sum, _mm512_loadu_si512(p.col_offset + (b0 + b) * kBlock)));
    }
    store_tile<MR, NB>(p, sums, m0, b0);
  }
};

// VNNI kernel for int8 weights: vpdpbusd multiplies uint8 activations by int8 weights, 4 k
// per lane, into int32 (no saturation: that is vpdpbusds). Int8 activations arrive with the
// sign bit flipped (x + 128 as uint8); the driver's column offsets correct for it.
// Registers: MR·NB accumulators (24) + NB weights (4) + 1 activation broadcast.
template <bool kSignedX>
struct DpbusdKernel {
  static constexpr int kMaxRows = 6;
  static constexpr int kMaxBlocks = 4;

  // acc += one group of 4 k (x4: each row's 4 activation bytes).
  template <int MR, int NB>
  QUANTKIT_GEMM_TILE_ATTRIBUTES [[gnu::always_inline]] static inline void accumulate(
      __m512i (&acc)[MR][NB], const std::int8_t* wg, std::int64_t block_stride,
      const std::uint32_t (&x4)[MR], std::uint32_t flip) {
    __m512i wv[NB];
#pragma GCC unroll 16
    for (int b = 0; b < NB; ++b) wv[b] = _mm512_load_si512(wg + b * block_stride);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512i xv = _mm512_set1_epi32(static_cast<int>(x4[r] ^ flip));
#pragma GCC unroll 16
      for (int b = 0; b < NB; ++b) acc[r][b] = _mm512_dpbusd_epi32(acc[r][b], xv, wv[b]);
    }
  }

  template <int MR, int NB>
  QUANTKIT_GEMM_TILE_ATTRIBUTES static void tile(const QGemmProblem& p, std::int64_t m0,
                                                 std::int64_t b0) {
    const std::int64_t kp = p.w->k_padded();
    const std::int8_t* wbase =
        static_cast<const std::int8_t*>(p.w->data()) + (p.w_block + b0) * kp * kBlock;
    const std::uint32_t flip = kSignedX ? 0x80808080u : 0u;
    const std::uint8_t* rows[MR];
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) rows[r] = p.x + (m0 + r) * p.ldx;
    // The accumulators start at the column offsets (the sum is modulo 2^32 in any order),
    // which saves the epilogue an add per block.
    __m512i acc[MR][NB];
#pragma GCC unroll 32
    for (int i = 0; i < MR * NB; ++i) {
      acc[i / NB][i % NB] = _mm512_loadu_si512(p.col_offset + (b0 + i % NB) * kBlock);
    }

    const std::int64_t full = p.k / kGroup;
    std::uint32_t x4[MR];
    for (std::int64_t g = 0; g < full; ++g) {
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) std::memcpy(&x4[r], rows[r] + g * kGroup, 4);
      accumulate<MR, NB>(acc, wbase + g * kBlock * kGroup, kp * kBlock, x4, flip);
    }
    if (full * kGroup < p.k) {
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r)
        x4[r] = load_partial_group(rows[r] + full * kGroup, p.k - full * kGroup);
      accumulate<MR, NB>(acc, wbase + full * kBlock * kGroup, kp * kBlock, x4, flip);
    }

    alignas(64) std::int32_t sums[MR * NB * kBlock];
#pragma GCC unroll 32
    for (int i = 0; i < MR * NB; ++i) _mm512_store_si512(sums + i * kBlock, acc[i / NB][i % NB]);
    store_tile<MR, NB>(p, sums, m0, b0);
  }
};

}  // namespace
}  // namespace quantkit::kernels::gemm_detail

#pragma GCC diagnostic pop
