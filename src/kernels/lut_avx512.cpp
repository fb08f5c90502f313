// AVX-512 VBMI table lookup: the 256-byte table lives in four zmm registers; vpermi2b looks
// up 64 indices in two of them at a time (index bits 0..6), and the index's top bit picks the
// half. Only called when the CPU has VBMI (cpu_has_avx512_vbmi).
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*() (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "lut_internal.h"

namespace quantkit::kernels::lut_detail {
namespace {

__attribute__((target("avx512vbmi"))) inline __m512i lookup64(__m512i t0, __m512i t1, __m512i t2,
                                                              __m512i t3, __m512i idx) {
  const __m512i low = _mm512_permutex2var_epi8(t0, idx, t1);   // table[0..127]
  const __m512i high = _mm512_permutex2var_epi8(t2, idx, t3);  // table[128..255]
  return _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), low, high);
}

__attribute__((target("avx512vbmi"))) void apply_vbmi(const Lut256& table, const std::uint8_t* x,
                                                      std::uint8_t* y, std::int64_t n) {
  const __m512i t0 = _mm512_loadu_si512(table.data());
  const __m512i t1 = _mm512_loadu_si512(table.data() + 64);
  const __m512i t2 = _mm512_loadu_si512(table.data() + 128);
  const __m512i t3 = _mm512_loadu_si512(table.data() + 192);
  std::int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    _mm512_storeu_si512(y + i, lookup64(t0, t1, t2, t3, _mm512_loadu_si512(x + i)));
  }
  if (i < n) {
    const __mmask64 mask = (std::uint64_t{1} << (n - i)) - 1;  // n − i in 1..63
    const __m512i idx = _mm512_maskz_loadu_epi8(mask, x + i);
    _mm512_mask_storeu_epi8(y + i, mask, lookup64(t0, t1, t2, t3, idx));
  }
}

}  // namespace

LutKernels lut_kernels_avx512() {
  LutKernels k;
  k.name = "avx512_vbmi";
  k.apply = &apply_vbmi;
  return k;
}

}  // namespace quantkit::kernels::lut_detail
