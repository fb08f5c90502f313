// AVX-512 binary elementwise kernels: 16 elements per step in int32/float32 lanes, masked
// loads and stores for the tail. The arithmetic is eltwise.h's definition lane by lane.
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*() (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "eltwise_internal.h"
#include "quantkit/kernels/requantize.h"
#include "requantize_simd.h"

namespace quantkit::kernels::eltwise_detail {
namespace {

template <bool kSigned>
inline __m512i widen(__m128i bytes) {
  return kSigned ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes);
}

template <bool kSigned, BinaryOp kOp>
void run_typed(const BinaryParams& p, const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* y,
               std::int64_t n, bool b_is_scalar) {
  if (n <= 0) return;
  const __m512i za = _mm512_set1_epi32(p.a_zero_point);
  const __m512i zb = _mm512_set1_epi32(p.b_zero_point);
  const __m512 ma = _mm512_set1_ps(p.a_multiplier);
  const __m512 mb = _mm512_set1_ps(p.b_multiplier);
  const simd::Bounds16 bounds(requant_bounds(p.out_zero_point, p.qmin, p.qmax));
  // The scalar operand's term, computed once exactly as the lanes would compute it.
  const std::int32_t b0 = kSigned ? static_cast<std::int8_t>(b[0]) : b[0];
  const __m512i db_scalar = _mm512_set1_epi32(b0 - p.b_zero_point);
  const __m512 b_term_scalar =
      _mm512_set1_ps(static_cast<float>(b0 - p.b_zero_point) * p.b_multiplier);

  const auto step = [&](__m128i a_bytes, __m128i b_bytes) {
    const __m512i da = _mm512_sub_epi32(widen<kSigned>(a_bytes), za);
    __m512 v;
    if constexpr (kOp == BinaryOp::Add) {
      const __m512 b_term =
          b_is_scalar ? b_term_scalar
                      : _mm512_mul_ps(
                            _mm512_cvtepi32_ps(_mm512_sub_epi32(widen<kSigned>(b_bytes), zb)), mb);
      v = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(da), ma), b_term);
    } else {
      const __m512i db = b_is_scalar ? db_scalar : _mm512_sub_epi32(widen<kSigned>(b_bytes), zb);
      v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_mullo_epi32(da, db)), ma);
    }
    return _mm512_cvtepi32_epi8(simd::round_clamp16(v, bounds));
  };

  std::int64_t i = 0;
  const __m128i none = _mm_setzero_si128();
  for (; i + 16 <= n; i += 16) {
    const __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i));
    const __m128i vb =
        b_is_scalar ? none : _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), step(va, vb));
  }
  if (i < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m128i va = _mm_maskz_loadu_epi8(mask, a + i);
    const __m128i vb = b_is_scalar ? none : _mm_maskz_loadu_epi8(mask, b + i);
    _mm_mask_storeu_epi8(y + i, mask, step(va, vb));
  }
}

void run(const BinaryParams& p, const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* y,
         std::int64_t n, bool b_is_scalar) {
  const bool s = p.dtype == DType::Int8;
  if (p.op == BinaryOp::Add) {
    s ? run_typed<true, BinaryOp::Add>(p, a, b, y, n, b_is_scalar)
      : run_typed<false, BinaryOp::Add>(p, a, b, y, n, b_is_scalar);
  } else {
    s ? run_typed<true, BinaryOp::Mul>(p, a, b, y, n, b_is_scalar)
      : run_typed<false, BinaryOp::Mul>(p, a, b, y, n, b_is_scalar);
  }
}

}  // namespace

BinaryKernels binary_kernels_avx512() { return {"avx512", &run}; }

}  // namespace quantkit::kernels::eltwise_detail
