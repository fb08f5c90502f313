// AVX2 table lookup: 32 bytes per step. vpshufb looks up 16-entry tables (by the index's low
// nibble, 0 where the index byte is negative), so the 256-entry table is 16 chunks broadcast to
// both 128-bit lanes, stored as differences of consecutive chunks and XOR-ed together while the
// index counts down by 16 (XNNPACK's x8-lut idea): 3 operations per chunk.
#include <immintrin.h>

#include "lut_internal.h"

namespace quantkit::kernels::lut_detail {
namespace {

void apply_avx2(const Lut256& table, const std::uint8_t* x, std::uint8_t* y, std::int64_t n) {
  // Telescoped chunks: d[0] = T[0], d[k] = T[k] ^ T[k − 1] within each half (k = 1..7 and
  // 9..15; d[8] = T[8]), so XOR-ing the lookups of chunks 0..k gives T[k].
  __m256i d[16];
  for (int k = 0; k < 16; ++k) {
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(table.data() + 16 * k));
    const __m128i prev =
        k % 8 == 0 ? _mm_setzero_si128()
                   : _mm_loadu_si128(reinterpret_cast<const __m128i*>(table.data() + 16 * (k - 1)));
    d[k] = _mm256_broadcastsi128_si256(_mm_xor_si128(t, prev));
  }
  const __m256i sixteen = _mm256_set1_epi8(16);
  const __m256i top_bit = _mm256_set1_epi8(static_cast<char>(0x80));
  std::int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i idx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
    // Indices 0..127: v = idx − 16k (saturating) is in [0, 16) … [0, 128) for chunks k ≤ idx/16
    // and negative after (vpshufb gives 0); indices ≥ 128 are negative throughout (saturation
    // keeps them there), so they add nothing. The second half does the same on idx ^ 0x80.
    __m256i lo = idx, hi = _mm256_xor_si256(idx, top_bit);
    __m256i result = _mm256_setzero_si256();
    for (int k = 0; k < 8; ++k) {
      result = _mm256_xor_si256(result, _mm256_shuffle_epi8(d[k], lo));
      result = _mm256_xor_si256(result, _mm256_shuffle_epi8(d[k + 8], hi));
      lo = _mm256_subs_epi8(lo, sixteen);
      hi = _mm256_subs_epi8(hi, sixteen);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), result);
  }
  lut_apply_reference(table, x + i, y + i, n - i);
}

}  // namespace

LutKernels lut_kernels_avx2() {
  LutKernels k;
  k.name = "avx2";
  k.apply = &apply_avx2;
  return k;
}

}  // namespace quantkit::kernels::lut_detail
