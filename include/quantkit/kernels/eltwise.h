#pragma once
// Quantized binary elementwise ops on int8 / uint8 NHWC tensors with broadcasting: add,
// add + relu (a clamp), mul. Each input has its own scale and zero point.
//
// Definition (float32, every operation rounded to float32, no FMA; requantize_float and the
// clamp/rounding of kernels/requantize.h):
//   add: v = float(a − a_zp)·ma + float(b − b_zp)·mb,  ma = float32(a_scale / out_scale),
//                                                       mb = float32(b_scale / out_scale)
//   mul: v = float((a − a_zp)·(b − b_zp))·m,            m = float32(a_scale·b_scale / out_scale)
//   y = clamp(nearbyint(v) + out_zp, qmin, qmax)         (computed as clamp-then-round)
// (multipliers computed in double and rounded once). float(a − a_zp) and the integer product
// are exact in float32, so the only roundings are the products, the add and the final
// rounding: within one output step of dequantize → float op → quantize. This is the fp32
// form of XNNPACK's qs8-vadd/vmul "fp32" requantization; add + relu is qmin = out_zp.
// The sum of two rounded products is commutative, so a ↔ b gives the same bits.
//
// Broadcasting (BinaryElementwise): NHWC shapes [N, H, W, C] of a and b where each dimension is
// equal to the output's or 1 (numpy rules on 4-d shapes; pad lower-rank shapes with 1s in
// front). The squeeze-excitation case [N,1,1,C] × [N,H,W,C] and a scalar [1,1,1,1] run the
// vector-by-vector and vector-by-scalar kernels on contiguous channel runs.
//
// Kernels: reference (scalar), AVX2 (8 lanes) and AVX-512 (16 lanes, masked tails), one
// dispatch table per ISA level filled once. Every level gives the same bits.
#include <array>
#include <cstdint>

#include "quantkit/core/dtype.h"

namespace quantkit::kernels {

enum class BinaryOp { Add, Mul };

struct BinaryParams {
  BinaryOp op = BinaryOp::Add;
  DType dtype = DType::Int8;  // a, b and y: Int8 or UInt8
  std::int32_t a_zero_point = 0, b_zero_point = 0, out_zero_point = 0;
  float a_multiplier = 1.0f;  // add: a_scale/out_scale; mul: a_scale·b_scale/out_scale
  float b_multiplier = 1.0f;  // add: b_scale/out_scale; mul: unused
  std::int32_t qmin = -128, qmax = 127;
};

// Parameters from quantization scales (validated; throws Error naming the argument).
// relu = true clamps at out_zp (add + relu).
BinaryParams make_binary_params(BinaryOp op, DType dtype, double a_scale, std::int32_t a_zero_point,
                                double b_scale, std::int32_t b_zero_point, double out_scale,
                                std::int32_t out_zero_point, bool relu = false);

// y[i] = op(a[i], b[i]) for i in [0, n); with b_is_scalar, b[0] for every i.
void binary_reference(const BinaryParams& p, const void* a, const void* b, void* y, std::int64_t n,
                      bool b_is_scalar);
// The same through the kernel of active_isa().
void binary(const BinaryParams& p, const void* a, const void* b, void* y, std::int64_t n,
            bool b_is_scalar);
const char* binary_kernel_name();

// The broadcasting operator: setup once per pair of shapes, run over output pixels
// (n, h, w) in [begin, end); no allocation in run.
class BinaryElementwise {
 public:
  using Shape4 = std::array<std::int64_t, 4>;  // N, H, W, C

  explicit BinaryElementwise(const BinaryParams& params);
  // Returns the output shape; throws Error unless every dimension broadcasts.
  const Shape4& setup(const Shape4& a_shape, const Shape4& b_shape);
  std::int64_t output_pixels() const { return out_[0] * out_[1] * out_[2]; }
  const Shape4& output_shape() const { return out_; }

  void run(const void* a, const void* b, void* y, std::int64_t begin, std::int64_t end) const;
  void run_reference(const void* a, const void* b, void* y, std::int64_t begin,
                     std::int64_t end) const;

 private:
  template <class Fn>
  void for_each_run(const void* a, const void* b, void* y, std::int64_t begin, std::int64_t end,
                    Fn&& fn) const;

  BinaryParams params_;
  BinaryParams swapped_;  // a ↔ b, for runs where a is the scalar
  Shape4 a_{}, b_{}, out_{};
};

}  // namespace quantkit::kernels
