// AVX-512 APoT lookup: 16 lanes. Tables of up to 16 / 32 entries are searched entirely with
// in-register permutes; up to 256 entries with a register coarse table plus register
// "column" tables (no gathers: microcode mitigations make vgatherdps slow on recent Intel
// CPUs, slower than scalar loads here); larger tables add a scalar finish per lane.
// GCC 12's avx512fintrin.h builds some intrinsics from _mm512_undefined_*(), which
// -Wmaybe-uninitialized reports as a use of an uninitialized variable (GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "quantkit/kernels/apot_kernels.h"

namespace quantkit::kernels::detail {
namespace {

inline __m512 clamp16(__m512 x, __m512 lower, __m512 upper) {
  // NaN -> 0 (ordered-compare mask zeroes it), then clamp to [-alpha, alpha].
  x = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, x, _CMP_ORD_Q), x);
  return _mm512_min_ps(_mm512_max_ps(x, lower), upper);
}

// idx += s where T[idx + s - 1] <= x, with T[...] already looked up in `t`.
inline __m512i step(__m512i idx, __m512 t, __m512 x, int s) {
  const __mmask16 le = _mm512_cmp_ps_mask(t, x, _CMP_LE_OQ);
  return _mm512_mask_add_epi32(idx, le, idx, _mm512_set1_epi32(s));
}

// Large outputs are written with non-temporal stores: the result is not read back soon, and
// skipping the read-for-ownership of each output line cuts memory traffic by a third (the
// large-tensor case is bandwidth-bound for small tables).
inline bool use_streaming_stores(const std::int32_t* out, std::int64_t n) {
  return n >= (std::int64_t{1} << 20) && (reinterpret_cast<std::uintptr_t>(out) & 63) == 0;
}

inline void store16(std::int32_t* out, __m512i v, bool stream) {
  if (stream) {
    _mm512_stream_si512(reinterpret_cast<__m512i*>(out), v);
  } else {
    _mm512_storeu_si512(out, v);
  }
}

void lookup_16(const ApotSearchTable& table, const float* x, std::int64_t n,
               const std::int32_t* payload, std::int32_t* out) {
  const __m512 t = _mm512_loadu_ps(table.thresholds.data());
  const __m512i pay = _mm512_loadu_si512(payload);
  const __m512 lower = _mm512_set1_ps(table.lower), upper = _mm512_set1_ps(table.upper);
  const __m512i s8 = _mm512_set1_epi32(7), s4 = _mm512_set1_epi32(3), s2 = _mm512_set1_epi32(1);
  const bool stream = use_streaming_stores(out, n);
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = clamp16(_mm512_loadu_ps(x + i), lower, upper);
    __m512i idx = _mm512_setzero_si512();
    idx = step(idx, _mm512_permutexvar_ps(s8, t), v, 8);
    idx = step(idx, _mm512_permutexvar_ps(_mm512_add_epi32(idx, s4), t), v, 4);
    idx = step(idx, _mm512_permutexvar_ps(_mm512_add_epi32(idx, s2), t), v, 2);
    idx = step(idx, _mm512_permutexvar_ps(idx, t), v, 1);
    store16(out + i, _mm512_permutexvar_epi32(idx, pay), stream);
  }
  if (stream) _mm_sfence();
  for (; i < n; ++i) out[i] = payload[apot_search_position(table, apot_clamp_input(table, x[i]))];
}

void lookup_32(const ApotSearchTable& table, const float* x, std::int64_t n,
               const std::int32_t* payload, std::int32_t* out) {
  const __m512 t0 = _mm512_loadu_ps(table.thresholds.data());
  const __m512 t1 = _mm512_loadu_ps(table.thresholds.data() + 16);
  const __m512i p0 = _mm512_loadu_si512(payload), p1 = _mm512_loadu_si512(payload + 16);
  const __m512 lower = _mm512_set1_ps(table.lower), upper = _mm512_set1_ps(table.upper);
  const bool stream = use_streaming_stores(out, n);
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = clamp16(_mm512_loadu_ps(x + i), lower, upper);
    __m512i idx = _mm512_setzero_si512();
    for (int s = 16; s > 0; s >>= 1) {
      const __m512i pos = _mm512_add_epi32(idx, _mm512_set1_epi32(s - 1));
      idx = step(idx, _mm512_permutex2var_ps(t0, pos, t1), v, s);
    }
    store16(out + i, _mm512_permutex2var_epi32(p0, idx, p1), stream);
  }
  if (stream) _mm_sfence();
  for (; i < n; ++i) out[i] = payload[apot_search_position(table, apot_clamp_input(table, x[i]))];
}

// Coarse level shared by the larger tables: the first four binary-search steps over the
// 16 thresholds T[(c+1)*S - 1] held in one register give the block c of S thresholds that
// holds x's position (T[c*S - 1] <= x < T[(c+1)*S - 1]).
inline __m512i coarse_block(__m512 coarse, __m512 v) {
  __m512i block = _mm512_setzero_si512();
  for (int s = 8; s > 0; s >>= 1) {
    const __m512i pos = _mm512_add_epi32(block, _mm512_set1_epi32(s - 1));
    block = step(block, _mm512_permutexvar_ps(pos, coarse), v, s);
  }
  return block;
}

// Column tables: column[i][c] = T[c*S + i*step + step - 1] for block c, so that a register
// permute by the block number fetches, for every lane at once, the i-th threshold of that
// lane's block. Counting the columns <= x (they ascend) finishes the search in the block
// without gathers (which microcode mitigations make very slow on recent Intel parts).
struct Columns {
  int count = 0;
  alignas(64) float values[15][16];
};

Columns make_columns(const float* t, std::int32_t block_size, std::int32_t step_size) {
  Columns cols;
  cols.count = block_size / step_size - 1;
  for (int i = 0; i < cols.count; ++i) {
    for (int c = 0; c < 16; ++c) {
      cols.values[i][c] = t[c * block_size + (i + 1) * step_size - 1];
    }
  }
  return cols;
}

inline __m512i count_columns(const Columns& cols, __m512i block, __m512 v) {
  __m512i local = _mm512_setzero_si512();
  const __m512i one = _mm512_set1_epi32(1);
  for (int i = 0; i < cols.count; ++i) {
    const __m512 t = _mm512_permutexvar_ps(block, _mm512_load_ps(cols.values[i]));
    local = _mm512_mask_add_epi32(local, _mm512_cmp_ps_mask(t, v, _CMP_LE_OQ), local, one);
  }
  return local;
}

// payload[idx] for idx < 256 from 32-entry register chunks: one two-source permute per chunk,
// kept where idx / 32 selects that chunk.
inline __m512i payload_256(const std::int32_t* payload, std::int32_t padded, __m512i idx) {
  __m512i result = _mm512_setzero_si512();
  const __m512i chunk_of = _mm512_srli_epi32(idx, 5);
  for (std::int32_t c = 0; c * 32 < padded; ++c) {
    const __m512i lo = _mm512_loadu_si512(payload + c * 32);
    const __m512i hi = _mm512_loadu_si512(payload + c * 32 + 16);
    const __mmask16 mine = _mm512_cmpeq_epi32_mask(chunk_of, _mm512_set1_epi32(c));
    result = _mm512_mask_mov_epi32(result, mine, _mm512_permutex2var_epi32(lo, idx, hi));
  }
  return result;
}

// 64 <= P <= 256: coarse block in a register, then column counting inside the block.
void lookup_medium(const ApotSearchTable& table, const float* x, std::int64_t n,
                   const std::int32_t* payload, std::int32_t* out) {
  const std::int32_t padded = table.padded_size;
  const float* t = table.thresholds.data();
  const std::int32_t block_size = padded / 16;
  int block_log2 = 0;
  while ((1 << block_log2) < block_size) ++block_log2;
  alignas(64) float coarse_values[16];
  for (int c = 0; c < 16; ++c) coarse_values[c] = t[(c + 1) * block_size - 1];
  const __m512 coarse = _mm512_load_ps(coarse_values);
  const Columns cols = make_columns(t, block_size, 1);
  const __m512 lower = _mm512_set1_ps(table.lower), upper = _mm512_set1_ps(table.upper);
  const bool stream = use_streaming_stores(out, n);
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = clamp16(_mm512_loadu_ps(x + i), lower, upper);
    const __m512i block = coarse_block(coarse, v);
    const __m512i idx =
        _mm512_add_epi32(_mm512_slli_epi32(block, block_log2), count_columns(cols, block, v));
    store16(out + i, payload_256(payload, padded, idx), stream);
  }
  if (stream) _mm_sfence();
  for (; i < n; ++i) out[i] = payload[apot_search_position(table, apot_clamp_input(table, x[i]))];
}

// P > 256: two register levels (16 x 16 blocks), then a short scalar binary search inside
// the final block of P / 256 thresholds and a scalar payload load per lane.
void lookup_large(const ApotSearchTable& table, const float* x, std::int64_t n,
                  const std::int32_t* payload, std::int32_t* out) {
  const std::int32_t padded = table.padded_size;
  const float* t = table.thresholds.data();
  const std::int32_t block1 = padded / 16, block2 = padded / 256;
  alignas(64) float coarse_values[16];
  for (int c = 0; c < 16; ++c) coarse_values[c] = t[(c + 1) * block1 - 1];
  const __m512 coarse = _mm512_load_ps(coarse_values);
  const Columns cols = make_columns(t, block1, block2);
  const __m512 lower = _mm512_set1_ps(table.lower), upper = _mm512_set1_ps(table.upper);
  alignas(64) std::int32_t base[16];
  alignas(64) float xs[16];
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = clamp16(_mm512_loadu_ps(x + i), lower, upper);
    const __m512i b1 = coarse_block(coarse, v);
    const __m512i b2 = count_columns(cols, b1, v);
    // First threshold index of the final block: b1 * block1 + b2 * block2.
    const __m512i start = _mm512_add_epi32(_mm512_mullo_epi32(b1, _mm512_set1_epi32(block1)),
                                           _mm512_mullo_epi32(b2, _mm512_set1_epi32(block2)));
    _mm512_store_si512(base, start);
    _mm512_store_ps(xs, v);
    for (int lane = 0; lane < 16; ++lane) {
      std::int32_t idx = base[lane];
      for (std::int32_t s = block2 >> 1; s > 0; s >>= 1)
        idx += (t[idx + s - 1] <= xs[lane]) ? s : 0;
      out[i + lane] = payload[idx];
    }
  }
  for (; i < n; ++i) out[i] = payload[apot_search_position(table, apot_clamp_input(table, x[i]))];
}

}  // namespace

void apot_lookup_avx512(const ApotSearchTable& table, const float* x, std::int64_t n,
                        const std::int32_t* payload, std::int32_t* out) {
  if (table.padded_size == 16) {
    lookup_16(table, x, n, payload, out);
  } else if (table.padded_size == 32) {
    lookup_32(table, x, n, payload, out);
  } else if (table.padded_size <= 256) {
    lookup_medium(table, x, n, payload, out);
  } else {
    lookup_large(table, x, n, payload, out);
  }
}

}  // namespace quantkit::kernels::detail

#pragma GCC diagnostic pop
