// AVX-512 APoT lookup: 16 lanes. Tables of up to 16 / 32 entries are searched entirely with
// in-register permutes; larger tables search their top 4 levels in a 16-entry coarse table
// held in a register, then gather for the rest.
// GCC 12's avx512fintrin.h builds some intrinsics from _mm512_undefined_*(), which
// -Wmaybe-uninitialized reports as a use of an uninitialized variable (GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

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

void lookup_16(const ApotSearchTable& table, const float* x, std::int64_t n,
               const std::int32_t* payload, std::int32_t* out) {
  const __m512 t = _mm512_loadu_ps(table.thresholds.data());
  const __m512i pay = _mm512_loadu_si512(payload);
  const __m512 lower = _mm512_set1_ps(table.lower), upper = _mm512_set1_ps(table.upper);
  const __m512i s8 = _mm512_set1_epi32(7), s4 = _mm512_set1_epi32(3), s2 = _mm512_set1_epi32(1);
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = clamp16(_mm512_loadu_ps(x + i), lower, upper);
    __m512i idx = _mm512_setzero_si512();
    idx = step(idx, _mm512_permutexvar_ps(s8, t), v, 8);
    idx = step(idx, _mm512_permutexvar_ps(_mm512_add_epi32(idx, s4), t), v, 4);
    idx = step(idx, _mm512_permutexvar_ps(_mm512_add_epi32(idx, s2), t), v, 2);
    idx = step(idx, _mm512_permutexvar_ps(idx, t), v, 1);
    _mm512_storeu_si512(out + i, _mm512_permutexvar_epi32(idx, pay));
  }
  for (; i < n; ++i) out[i] = payload[apot_search_position(table, apot_clamp_input(table, x[i]))];
}

void lookup_32(const ApotSearchTable& table, const float* x, std::int64_t n,
               const std::int32_t* payload, std::int32_t* out) {
  const __m512 t0 = _mm512_loadu_ps(table.thresholds.data());
  const __m512 t1 = _mm512_loadu_ps(table.thresholds.data() + 16);
  const __m512i p0 = _mm512_loadu_si512(payload), p1 = _mm512_loadu_si512(payload + 16);
  const __m512 lower = _mm512_set1_ps(table.lower), upper = _mm512_set1_ps(table.upper);
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = clamp16(_mm512_loadu_ps(x + i), lower, upper);
    __m512i idx = _mm512_setzero_si512();
    for (int s = 16; s > 0; s >>= 1) {
      const __m512i pos = _mm512_add_epi32(idx, _mm512_set1_epi32(s - 1));
      idx = step(idx, _mm512_permutex2var_ps(t0, pos, t1), v, s);
    }
    _mm512_storeu_si512(out + i, _mm512_permutex2var_epi32(p0, idx, p1));
  }
  for (; i < n; ++i) out[i] = payload[apot_search_position(table, apot_clamp_input(table, x[i]))];
}

void lookup_large(const ApotSearchTable& table, const float* x, std::int64_t n,
                  const std::int32_t* payload, std::int32_t* out) {
  const std::int32_t padded = table.padded_size;
  const float* t = table.thresholds.data();
  // Coarse table: the thresholds the first four search steps can touch, T[(c+1)*S - 1].
  const std::int32_t stride = padded / 16;
  int stride_log2 = 0;
  while ((1 << stride_log2) < stride) ++stride_log2;
  alignas(64) float coarse_values[16];
  for (int c = 0; c < 16; ++c) coarse_values[c] = t[(c + 1) * stride - 1];
  const __m512 coarse = _mm512_load_ps(coarse_values);
  const __m512 lower = _mm512_set1_ps(table.lower), upper = _mm512_set1_ps(table.upper);
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = clamp16(_mm512_loadu_ps(x + i), lower, upper);
    // Coarse search over the block number (the index in units of S).
    __m512i block = _mm512_setzero_si512();
    for (int s = 8; s > 0; s >>= 1) {
      const __m512i pos = _mm512_add_epi32(block, _mm512_set1_epi32(s - 1));
      block = step(block, _mm512_permutexvar_ps(pos, coarse), v, s);
    }
    __m512i idx = _mm512_slli_epi32(block, stride_log2);
    for (std::int32_t s = stride >> 1; s > 0; s >>= 1) {
      const __m512i pos = _mm512_add_epi32(idx, _mm512_set1_epi32(s - 1));
      idx = step(idx, _mm512_i32gather_ps(pos, t, 4), v, s);
    }
    _mm512_storeu_si512(out + i, _mm512_i32gather_epi32(idx, payload, 4));
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
  } else {
    lookup_large(table, x, n, payload, out);
  }
}

}  // namespace quantkit::kernels::detail

#pragma GCC diagnostic pop
