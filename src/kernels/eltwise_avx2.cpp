// AVX2 binary elementwise kernels: 8 elements per step in int32/float32 lanes; the tail runs
// the scalar definition (binary_reference), which gives the same bits.
#include <immintrin.h>

#include "eltwise_internal.h"
#include "requantize_simd.h"

namespace quantkit::kernels::eltwise_detail {
namespace {

template <bool kSigned>
inline __m256i load8(const std::uint8_t* p) {
  const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return kSigned ? _mm256_cvtepi8_epi32(bytes) : _mm256_cvtepu8_epi32(bytes);
}

template <bool kSigned, BinaryOp kOp>
void run_typed(const BinaryParams& p, const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* y,
               std::int64_t n, bool b_is_scalar) {
  if (n <= 0) return;
  const __m256i za = _mm256_set1_epi32(p.a_zero_point);
  const __m256i zb = _mm256_set1_epi32(p.b_zero_point);
  const __m256 ma = _mm256_set1_ps(p.a_multiplier);
  const __m256 mb = _mm256_set1_ps(p.b_multiplier);
  const simd::Bounds8 bounds(requant_bounds(p.out_zero_point, p.qmin, p.qmax));
  const std::int32_t b0 = kSigned ? static_cast<std::int8_t>(b[0]) : b[0];
  const __m256i db_scalar = _mm256_set1_epi32(b0 - p.b_zero_point);
  const __m256 b_term_scalar =
      _mm256_set1_ps(static_cast<float>(b0 - p.b_zero_point) * p.b_multiplier);

  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i da = _mm256_sub_epi32(load8<kSigned>(a + i), za);
    __m256 v;
    if constexpr (kOp == BinaryOp::Add) {
      const __m256 b_term =
          b_is_scalar
              ? b_term_scalar
              : _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(load8<kSigned>(b + i), zb)), mb);
      v = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(da), ma), b_term);
    } else {
      const __m256i db = b_is_scalar ? db_scalar : _mm256_sub_epi32(load8<kSigned>(b + i), zb);
      v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_mullo_epi32(da, db)), ma);
    }
    simd::store8<kSigned>(y + i, simd::round_clamp8(v, bounds));
  }
  if (i < n) binary_reference(p, a + i, b_is_scalar ? b : b + i, y + i, n - i, b_is_scalar);
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

BinaryKernels binary_kernels_avx2() { return {"avx2", &run}; }

}  // namespace quantkit::kernels::eltwise_detail
