#pragma once
// 256-entry lookup tables for unary int8 / uint8 operators (hardswish, sigmoid, hardsigmoid,
// tanh, SiLU, any float function): every output depends on one input byte, so the operator is
// a table built once from the quantization parameters and applied as a byte lookup.
//
// Table (make_lut): for each input value q in the input dtype,
//   x = float32(q − in_zp) · float32(in_scale)              (float32, as torch's dequantize)
//   y = f(x)                                                (evaluated in double)
//   table[q] = clamp(nearbyint(y / out_scale) + out_zp, qmin, qmax)   (double, half to even)
// The table is indexed by the stored byte (int8 −1 is index 255).
//
// Lookup (lut_apply): y[i] = table[x[i]]. Kernels: reference (scalar); AVX2 (32 bytes per
// step: 16 vpshufb over the table's 16-byte chunks stored as XOR differences, the index
// counting down by 16 with saturation), also used at the AVX-512 level without VBMI; AVX-512
// VBMI (64 bytes per step: two vpermi2b over the table's 64-byte quarters, blended on the
// index's top bit). Every kernel gives the same bytes.
#include <array>
#include <cstdint>
#include <functional>

#include "quantkit/core/dtype.h"

namespace quantkit::kernels {

using Lut256 = std::array<std::uint8_t, 256>;

struct LutQuantization {
  DType in_dtype = DType::Int8;  // Int8 or UInt8
  double in_scale = 1.0;
  std::int32_t in_zero_point = 0;
  DType out_dtype = DType::Int8;
  double out_scale = 1.0;
  std::int32_t out_zero_point = 0;
  std::int32_t qmin = -128, qmax = 127;  // inside out_dtype's range
};

enum class UnaryFunction { Hardswish, Hardsigmoid, Sigmoid, Tanh, SiLU, Relu, Identity };

// PyTorch's float definitions, in double:
//   hardswish(x) = x·min(max(x + 3, 0), 6)/6   hardsigmoid(x) = min(max(x + 3, 0), 6)/6
//   sigmoid(x) = 1/(1 + e^−x)   tanh   silu(x) = x·sigmoid(x)   relu(x) = max(x, 0)
double apply_unary(UnaryFunction f, double x);

// The table of the definition above. Throws Error for invalid quantization parameters.
Lut256 make_lut(const LutQuantization& q, const std::function<double(double)>& f);
Lut256 make_lut(const LutQuantization& q, UnaryFunction f);

// y[i] = table[x[i]] for i in [0, n) (x and y may be the same buffer).
void lut_apply(const Lut256& table, const std::uint8_t* x, std::uint8_t* y, std::int64_t n);
void lut_apply_reference(const Lut256& table, const std::uint8_t* x, std::uint8_t* y,
                         std::int64_t n);
// The kernel lut_apply runs now: "reference", "avx2" or "avx512_vbmi".
const char* lut_kernel_name();

}  // namespace quantkit::kernels
