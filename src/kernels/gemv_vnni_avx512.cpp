// AVX-512 VNNI GEMV kernels: one aligned 64-byte weight load per vpdpbusd
// (int8: 16 channels × 4 k; int4: the load's low and high nibbles, masked, feed
// two vpdpbusd with the group's two activation quads). Compiled with the
// AVX-512 flags plus avx512vnni (the pragma below); only called when
// cpu_has_avx512_vnni().
// GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsics (GCC
// bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "gemv_internal.h"

// After the shared headers, so that only this file's kernels are compiled for
// VNNI.
#pragma GCC target("avx512vnni")

namespace quantkit::kernels::gemv_detail {
namespace {

// x'[0..3] broadcast to every 32-bit lane.
inline __m512i x_quad(const std::uint8_t* x4, __m512i flip) {
  std::int32_t v;
  std::memcpy(&v, x4, 4);
  return _mm512_xor_si512(_mm512_set1_epi32(v), flip);
}

// One K group of a 64-channel block. Two accumulator sets (a, b) halve the
// vpdpbusd dependency chains: int8 alternates groups between them, int4 puts
// the high nibbles in b.
template <int kBits>
inline void group_step(const std::uint8_t* w, const std::uint8_t* xs, __m512i flip, __m512i* a,
                       __m512i* b) {
  if constexpr (kBits == 8) {
    const __m512i xq = x_quad(xs, flip);
    for (int j = 0; j < 4; ++j) a[j] = _mm512_dpbusd_epi32(a[j], xq, _mm512_load_si512(w + 64 * j));
    (void)b;
  } else {
    const __m512i xlo = x_quad(xs, flip), xhi = x_quad(xs + 4, flip);
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    for (int j = 0; j < 4; ++j) {
      const __m512i v = _mm512_load_si512(w + 64 * j);
      a[j] = _mm512_dpbusd_epi32(a[j], xlo, _mm512_and_si512(v, low4));
      b[j] = _mm512_dpbusd_epi32(b[j], xhi, _mm512_and_si512(_mm512_srli_epi16(v, 4), low4));
    }
  }
}

// Weights larger than this (beyond L2) come from L3 or memory: the kernels then prefetch each
// line kPrefetchDistance bytes ahead (8 K groups). Measured on the shared Xeon with weights
// cycled through 1 GiB: 10-15% faster for both widths; on L2-resident weights the four extra
// instructions per group cost up to ~15% (int8), so small weights run without them.
constexpr std::int64_t kPrefetchMinBytes = std::int64_t{4} << 20;
constexpr std::uintptr_t kPrefetchDistance = 2048;

// Integer arithmetic: the address may lie past the weights (a prefetch never faults).
inline void prefetch_group(const std::uint8_t* w) {
  const std::uintptr_t ahead = reinterpret_cast<std::uintptr_t>(w) + kPrefetchDistance;
  for (std::uintptr_t line = 0; line < 256; line += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(ahead + line), _MM_HINT_T0);
  }
}

// Blocks [blk, blk + kRows) at once: kRows sequential weight streams, 4·kRows accumulator
// chains (int4: a second set for the high nibbles, 16 registers at kRows = 2).
template <int kBits, bool kPrefetch, int kRows>
inline void dpbusd_rows(const GemvProblem& p, std::int64_t blk, const std::uint8_t* xtail,
                        __m512i flip) {
  constexpr std::int64_t kGroupK = kBits == 8 ? 4 : 8;
  const std::int64_t full = p.w->k() / kGroupK;
  const bool tail = p.w->k_padded() / kGroupK > full;
  const std::uint8_t* w[kRows];
  __m512i a[kRows][4], b[kRows][4];
  for (int r = 0; r < kRows; ++r) {
    w[r] = p.w->data() + (blk + r) * p.w->block_bytes();
    for (int j = 0; j < 4; ++j) a[r][j] = b[r][j] = _mm512_setzero_si512();
  }
  for (std::int64_t g = 0; g < full; ++g) {
    for (int r = 0; r < kRows; ++r) {
      if constexpr (kPrefetch) prefetch_group(w[r]);
      group_step<kBits>(w[r], p.x + g * kGroupK, flip, a[r], b[r]);
      w[r] += 256;
    }
  }
  for (int r = 0; r < kRows; ++r) {
    if (tail) group_step<kBits>(w[r], xtail, flip, a[r], b[r]);
    alignas(64) std::int32_t dot[GemvWeights::kBlockN];
    for (int j = 0; j < 4; ++j) {
      _mm512_store_si512(dot + 16 * j, _mm512_add_epi32(a[r][j], b[r][j]));
    }
    epilogue_avx512(p, blk + r, dot);
  }
}

template <int kBits, bool kPrefetch>
void dpbusd_blocks(const GemvProblem& p, std::int64_t block_begin, std::int64_t block_end) {
  constexpr std::int64_t kGroupK = kBits == 8 ? 4 : 8;
  const __m512i flip = _mm512_set1_epi32(p.x_signed ? static_cast<std::int32_t>(0x80808080) : 0);
  std::uint8_t xtail[kGroupK];
  tail_group(p, kGroupK, xtail);
  // Two blocks at a time: two weight streams in flight measured ~10% faster than one on the
  // 45 MB MLP shape (int8 and int4; four streams were no faster).
  std::int64_t blk = block_begin;
  for (; blk + 2 <= block_end; blk += 2) dpbusd_rows<kBits, kPrefetch, 2>(p, blk, xtail, flip);
  for (; blk < block_end; ++blk) dpbusd_rows<kBits, kPrefetch, 1>(p, blk, xtail, flip);
}

template <int kBits>
void dpbusd_entry(const GemvProblem& p, std::int64_t block_begin, std::int64_t block_end) {
  p.w->packed_bytes() > kPrefetchMinBytes ? dpbusd_blocks<kBits, true>(p, block_begin, block_end)
                                          : dpbusd_blocks<kBits, false>(p, block_begin, block_end);
}

}  // namespace

GemvKernels gemv_kernels_avx512_vnni() { return {"avx512_vnni", dpbusd_entry<8>, dpbusd_entry<4>}; }

}  // namespace quantkit::kernels::gemv_detail
