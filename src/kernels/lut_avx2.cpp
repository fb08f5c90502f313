// AVX2 table lookup: 32 bytes per step. vpshufb looks up 16-entry tables, so the 256-entry
// table is 16 chunks (each broadcast to both 128-bit lanes); every chunk is looked up with the
// index's low nibble and kept where the high nibble selects it.
#include <immintrin.h>

#include "lut_internal.h"

namespace quantkit::kernels::lut_detail {
namespace {

void apply_avx2(const Lut256& table, const std::uint8_t* x, std::uint8_t* y, std::int64_t n) {
  __m256i chunks[16];
  for (int k = 0; k < 16; ++k) {
    chunks[k] = _mm256_broadcastsi128_si256(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(table.data() + 16 * k)));
  }
  const __m256i low_nibble = _mm256_set1_epi8(0x0F);
  std::int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i idx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
    const __m256i lo = _mm256_and_si256(idx, low_nibble);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(idx, 4), low_nibble);
    __m256i result = _mm256_setzero_si256();
    for (int k = 0; k < 16; ++k) {
      const __m256i selected = _mm256_cmpeq_epi8(hi, _mm256_set1_epi8(static_cast<char>(k)));
      result =
          _mm256_or_si256(result, _mm256_and_si256(selected, _mm256_shuffle_epi8(chunks[k], lo)));
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
