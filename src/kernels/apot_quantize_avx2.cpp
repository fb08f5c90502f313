// AVX2 APoT lookup: 8 lanes. 16-entry tables are searched with two in-register permutes and
// a blend per step; larger tables search their top 3 levels in an 8-entry coarse table held
// in a register, then gather for the rest.
#include <immintrin.h>

#include "quantkit/kernels/apot_kernels.h"

namespace quantkit::kernels::detail {
namespace {

inline __m256 clamp8(__m256 x, __m256 lower, __m256 upper) {
  x = _mm256_and_ps(x, _mm256_cmp_ps(x, x, _CMP_ORD_Q));  // NaN -> +0
  return _mm256_min_ps(_mm256_max_ps(x, lower), upper);
}

inline __m256i step(__m256i idx, __m256 t, __m256 x, int s) {
  const __m256i le = _mm256_castps_si256(_mm256_cmp_ps(t, x, _CMP_LE_OQ));
  return _mm256_add_epi32(idx, _mm256_and_si256(le, _mm256_set1_epi32(s)));
}

// 16-entry table lookup: entries 0-7 from lo, 8-15 from hi (bit 3 of pos selects).
inline __m256i fetch16(__m256i lo, __m256i hi, __m256i pos) {
  const __m256i a = _mm256_permutevar8x32_epi32(lo, pos);
  const __m256i b = _mm256_permutevar8x32_epi32(hi, pos);
  const __m256i sel = _mm256_slli_epi32(pos, 28);  // bit 3 -> sign bit
  return _mm256_castps_si256(
      _mm256_blendv_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b), _mm256_castsi256_ps(sel)));
}

void lookup_16(const ApotSearchTable& table, const float* x, std::int64_t n,
               const std::int32_t* payload, std::int32_t* out) {
  const float* t = table.thresholds.data();
  const __m256i t_lo = _mm256_castps_si256(_mm256_loadu_ps(t));
  const __m256i t_hi = _mm256_castps_si256(_mm256_loadu_ps(t + 8));
  const __m256i p_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(payload));
  const __m256i p_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(payload + 8));
  const __m256 lower = _mm256_set1_ps(table.lower), upper = _mm256_set1_ps(table.upper);
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = clamp8(_mm256_loadu_ps(x + i), lower, upper);
    __m256i idx = _mm256_setzero_si256();
    for (int s = 8; s > 0; s >>= 1) {
      const __m256i pos = _mm256_add_epi32(idx, _mm256_set1_epi32(s - 1));
      idx = step(idx, _mm256_castsi256_ps(fetch16(t_lo, t_hi, pos)), v, s);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), fetch16(p_lo, p_hi, idx));
  }
  for (; i < n; ++i) out[i] = payload[apot_search_position(table, apot_clamp_input(table, x[i]))];
}

void lookup_large(const ApotSearchTable& table, const float* x, std::int64_t n,
                  const std::int32_t* payload, std::int32_t* out) {
  const std::int32_t padded = table.padded_size;
  const float* t = table.thresholds.data();
  const std::int32_t stride = padded / 8;
  int stride_log2 = 0;
  while ((1 << stride_log2) < stride) ++stride_log2;
  alignas(32) float coarse_values[8];
  for (int c = 0; c < 8; ++c) coarse_values[c] = t[(c + 1) * stride - 1];
  const __m256 coarse = _mm256_load_ps(coarse_values);
  const __m256 lower = _mm256_set1_ps(table.lower), upper = _mm256_set1_ps(table.upper);
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = clamp8(_mm256_loadu_ps(x + i), lower, upper);
    __m256i block = _mm256_setzero_si256();
    for (int s = 4; s > 0; s >>= 1) {
      const __m256i pos = _mm256_add_epi32(block, _mm256_set1_epi32(s - 1));
      block = step(block, _mm256_permutevar8x32_ps(coarse, pos), v, s);
    }
    // Finish each lane with scalar loads inside its block of S thresholds: gathers are
    // microcoded and slower than scalar loads on CPUs with the gather-sampling mitigation.
    alignas(32) std::int32_t base[8];
    alignas(32) float xs[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(base), _mm256_slli_epi32(block, stride_log2));
    _mm256_store_ps(xs, v);
    for (int lane = 0; lane < 8; ++lane) {
      std::int32_t idx = base[lane];
      for (std::int32_t s = stride >> 1; s > 0; s >>= 1)
        idx += (t[idx + s - 1] <= xs[lane]) ? s : 0;
      out[i + lane] = payload[idx];
    }
  }
  for (; i < n; ++i) out[i] = payload[apot_search_position(table, apot_clamp_input(table, x[i]))];
}

}  // namespace

void apot_lookup_avx2(const ApotSearchTable& table, const float* x, std::int64_t n,
                      const std::int32_t* payload, std::int32_t* out) {
  if (table.padded_size == 16) {
    lookup_16(table, x, n, payload, out);
  } else {
    lookup_large(table, x, n, payload, out);
  }
}

}  // namespace quantkit::kernels::detail
