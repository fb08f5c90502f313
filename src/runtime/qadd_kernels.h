#pragma once
// Elementwise quantized add for same-shape int8/uint8 inputs (the runtime's quantized_add):
//   r_a = R(float64(a - a_zp) * a_mult), r_b = R(float64(b - b_zp) * b_mult)
//   out = clamp(r_a + r_b + out_zp, quant_min, quant_max)
// R truncates toward zero or rounds half to even (graph op quantized_add, torchao's
// add_relu / add). Every kernel assumes 255 · max(a_mult, b_mult) <= 2^29 (qadd_supported),
// so the double → int32 conversions stay in range and the int32 sums cannot wrap; then every
// ISA gives the bits of the graph's reference kernel.
#include <cstdint>

#include "quantkit/core/dtype.h"

namespace quantkit::runtime::detail {

struct QAddParams {
  std::int32_t a_zero_point = 0, b_zero_point = 0, out_zero_point = 0;
  double a_multiplier = 1, b_multiplier = 1;
  std::int32_t quant_min = -128, quant_max = 127;
  bool half_even = false;
  DType dtype = DType::Int8;  // of a, b and out
};

bool qadd_supported(const QAddParams& p);

// a, b, out: n elements of p.dtype. Dispatches on kernels::active_isa().
void qadd(const void* a, const void* b, void* out, std::int64_t n, const QAddParams& p);

// Per-level kernels (elements [0, n)); the SIMD ones finish their tail with the reference.
void qadd_reference(const void* a, const void* b, void* out, std::int64_t n, const QAddParams& p);
void qadd_avx2(const void* a, const void* b, void* out, std::int64_t n, const QAddParams& p);
void qadd_avx512(const void* a, const void* b, void* out, std::int64_t n, const QAddParams& p);

}  // namespace quantkit::runtime::detail
