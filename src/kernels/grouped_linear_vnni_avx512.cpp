// AVX-512 VNNI grouped_linear: vpdpbusd on x' = x ^ 0x80 (x + 128, unsigned) against the
// signed weights, 64 k per step (a group's last 32 k with the 256-bit form); the driver
// subtracts (x_zp + 128)·Σw per group. 4-bit weights: nibbles unpacked to bytes and shifted
// by −8 in registers. Compiled with the AVX-512 flags plus avx512vnni (the pragma below);
// only called when cpu_has_avx512_vnni().
// GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsics (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include "grouped_linear_internal.h"
#include "grouped_linear_simd.h"

// After the shared headers, so that only this file's kernels are compiled for VNNI.
#pragma GCC target("avx512vnni")

namespace quantkit::kernels::grouped_detail {
namespace {

struct VnniDots {
  static constexpr std::int32_t kXOffset = 128;
  template <int Rows>
  static void add_groups(float* sum, const std::int32_t* dot, const std::int32_t* zp,
                         std::int32_t wsum, float scale) {
    add_groups_simd<Rows>(sum, dot, zp, wsum, scale);
  }

  // The signed weights of the 64 k at k as bytes, in k order.
  template <int Bits>
  static __m512i weights64(const std::uint8_t* row, std::int64_t k) {
    if constexpr (Bits == 8) {
      return _mm512_loadu_si512(row + k);
    } else {
      const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + k / 2));
      const __m256i mask = _mm256_set1_epi8(0x0F);
      const __m256i lo = _mm256_and_si256(b, mask);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), mask);
      const __m512i nibbles =
          _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_permute2x128_si256(lo, hi, 0x20)),
                             _mm256_permute2x128_si256(lo, hi, 0x31), 1);
      return _mm512_sub_epi8(nibbles, _mm512_set1_epi8(8));
    }
  }
  // The signed weights of the 32 k at k as bytes, in k order.
  template <int Bits>
  static __m256i weights32(const std::uint8_t* row, std::int64_t k) {
    if constexpr (Bits == 8) {
      return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + k));
    } else {
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k / 2));
      const __m128i mask = _mm_set1_epi8(0x0F);
      const __m256i nibbles =
          _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), mask), _mm_and_si128(b, mask));
      return _mm256_sub_epi8(nibbles, _mm256_set1_epi8(8));
    }
  }

  template <int Bits, int Rows>
  static void group_dots(const std::int8_t* const* x, const std::uint8_t* row,
                         std::int64_t k_begin, std::int64_t k_end, std::int32_t* dot) {
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    __m512i acc[Rows];
    for (int r = 0; r < Rows; ++r) acc[r] = _mm512_setzero_si512();
    std::int64_t k = k_begin;
    for (; k + 64 <= k_end; k += 64) {
      const __m512i w = weights64<Bits>(row, k);
      for (int r = 0; r < Rows; ++r) {
        const __m512i xu = _mm512_xor_si512(_mm512_loadu_si512(x[r] + k), flip);
        acc[r] = _mm512_dpbusd_epi32(acc[r], xu, w);
      }
    }
    if (k + 32 <= k_end) {
      const __m256i w = weights32<Bits>(row, k);
      for (int r = 0; r < Rows; ++r) {
        const __m256i xu = _mm256_xor_si256(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[r] + k)),
            _mm512_castsi512_si256(flip));
        const __m256i prod = _mm256_dpbusd_epi32(_mm256_setzero_si256(), xu, w);
        acc[r] = _mm512_add_epi32(acc[r], _mm512_zextsi256_si512(prod));
      }
      k += 32;
    }
    // Halves added first: the sums of Rows 256-bit vectors.
    __m256i half[Rows];
    for (int r = 0; r < Rows; ++r) {
      half[r] = _mm256_add_epi32(_mm512_castsi512_si256(acc[r]), _mm512_extracti64x4_epi64(acc[r], 1));
    }
    reduce_rows<Rows>(half, dot);
    add_scalar_tail<Rows>(x, row, k, k_end, kXOffset, dot);
  }
};

}  // namespace

GroupedKernels grouped_kernels_avx512_vnni() { return {"avx512_vnni", run_simd<VnniDots>}; }

}  // namespace quantkit::kernels::grouped_detail
