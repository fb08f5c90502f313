#pragma once
// The tensor-level reference kernels behind the interpreter (internal to src/graph; the
// per-op entry points that read a node's attributes are in entry_points.h). They take
// validated tensors (the verifier has checked dtypes and shapes against the schema) and
// return freshly allocated results; none writes to its inputs. fp32 linear/conv go through
// BLAS (cblas_sgemm); everything else is a plain, obviously-correct loop.
#include <cstdint>
#include <optional>
#include <span>

#include "quantkit/core/tensor.h"
#include "quantkit/kernels/concat.h"
#include "quantkit/kernels/eltwise.h"
#include "quantkit/kernels/pool.h"
#include "quantkit/quant/qparams.h"

namespace quantkit::graph::ref {

struct ConvParams {
  std::int64_t stride[2] = {1, 1};
  std::int64_t padding[2] = {0, 0};
  std::int64_t dilation[2] = {1, 1};
  std::int64_t groups = 1;
};

struct PoolParams {
  std::int64_t kernel[2] = {1, 1};
  std::int64_t stride[2] = {1, 1};
  std::int64_t padding[2] = {0, 0};
  std::int64_t dilation[2] = {1, 1};
  bool ceil_mode = false;
};

// ---- linear / conv ----
Tensor linear_f32(const Tensor& x, const Tensor& weight, const Tensor* bias);
Tensor conv2d_f32(const Tensor& x, const Tensor& weight, const Tensor* bias, const ConvParams& p);
// Integer operands of any of i8/u8/i16/i32, int32 accumulation (wrapping like torch's int32).
Tensor integer_linear(const Tensor& x, const Tensor& weight, const Tensor* bias);
Tensor integer_conv2d(const Tensor& x, const Tensor& weight, const Tensor* bias,
                      const ConvParams& p);
// out[..., n, g] = Σ_{k in group g} x[..., k]·w[n, k] modulo 2^32.
Tensor integer_linear_grouped(const Tensor& x, const Tensor& weight, std::int64_t group_size);
// Float x summed over `dim` (in [0, rank)) in index order from 0, in x's dtype.
Tensor sum(const Tensor& x, std::int64_t dim);

// ---- elementwise ----
enum class BinaryOp { Add, Sub, Mul, Div, Pow };
// a and b have the same dtype and broadcast; Div and Pow are defined for floating dtypes only.
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
Tensor relu(const Tensor& x);
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);
// Float -> integer truncates toward zero and saturates at the target's limits, NaN -> 0;
// integer -> narrower integer wraps (two's complement); anything -> float rounds to nearest.
Tensor cast(const Tensor& x, DType dtype);
Tensor round_half_even(const Tensor& x);

// ---- pooling / normalization ----
Tensor max_pool2d(const Tensor& x, const PoolParams& p);
Tensor avg_pool2d(const Tensor& x, const PoolParams& p, bool count_include_pad,
                  std::optional<std::int64_t> divisor_override);
Tensor adaptive_avg_pool2d(const Tensor& x, std::int64_t out_h, std::int64_t out_w);
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                  const Tensor& var, double eps);
Tensor softmax(const Tensor& x, std::int64_t dim);
// ---- reductions and normalization for transformers (reduce.cpp) ----
// The mean of floating x over `dims` (validated, may be negative), in out_shape (x's shape
// with the reduced dims 1 or removed): summed in double, rounded once; NaN over no elements.
Tensor mean(const Tensor& x, std::span<const std::int64_t> dims, const Shape& out_shape);
// f32 x normalized over its dims from `axis` on (may be negative), per row in float32.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor* bias, std::int64_t axis,
                  double eps);

// ---- more float ops (ONNX) ----
enum class Activation { Sigmoid, Tanh, HardSigmoid, HardSwish, LeakyRelu, Erf, Exp, Neg, Sqrt };
// HardSigmoid reads alpha and beta, LeakyRelu alpha (the negative slope); x is floating.
Tensor unary_activation(Activation op, const Tensor& x, double alpha = 0, double beta = 0);
// numpy matmul of f32 operands; out_shape from type inference.
Tensor matmul_f32(const Tensor& a, const Tensor& b, const Shape& out_shape);
// pads = {top, left, bottom, right} on the last two dims, filled with `value`.
Tensor pad2d(const Tensor& x, std::span<const std::int64_t> pads, double value);

// ---- resampling (resample.cpp) ----
struct ConvTransposeParams {
  std::int64_t stride[2] = {1, 1};
  std::int64_t pads[4] = {0, 0, 0, 0};  // top, left, bottom, right: cropped from the full output
  std::int64_t output_padding[2] = {0, 0};
  std::int64_t dilation[2] = {1, 1};
  std::int64_t groups = 1;
};
// ONNX ConvTranspose, weight [C, O/groups, kH, kW]; each output summed in double, rounded once.
Tensor conv_transpose2d_f32(const Tensor& x, const Tensor& weight, const Tensor* bias,
                            const ConvTransposeParams& p);

enum class ResizeMode : std::uint8_t { Nearest, Linear };
enum class CoordinateTransform : std::uint8_t { HalfPixel, AlignCorners, Asymmetric, PytorchHalfPixel };
enum class NearestRounding : std::uint8_t { RoundPreferFloor, RoundPreferCeil, Floor, Ceil };
struct ResizeParams {
  ResizeMode mode = ResizeMode::Nearest;
  CoordinateTransform transform = CoordinateTransform::HalfPixel;
  NearestRounding rounding = NearestRounding::RoundPreferFloor;
  float scales[2] = {1.0f, 1.0f};  // H, W: the coordinate transform's factors
  std::int64_t output_size[2] = {1, 1};
};
// ONNX Resize of the last two dims with ONNX Runtime's float32 coordinate arithmetic
// (nearest: any dtype; linear: floating).
Tensor resize(const Tensor& x, const ResizeParams& p);

// ---- fused integer ops (quantized_ops.cpp) ----
struct QuantizedParams {
  std::int64_t x_zero_point = 0;
  std::int64_t out_zero_point = 0;
  std::int64_t quant_min = -128;
  std::int64_t quant_max = 127;
  DType dtype = DType::Int8;
};
struct QuantizedAddParams {
  std::int64_t a_zero_point = 0;
  double a_multiplier = 1;
  std::int64_t b_zero_point = 0;
  double b_multiplier = 1;
  QuantizedParams out;  // x_zero_point unused
};
Tensor quantized_linear(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        const Tensor& multipliers, const QuantizedParams& p);
Tensor quantized_conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        const Tensor& multipliers, const ConvParams& conv,
                        const QuantizedParams& p);
Tensor quantized_add(const Tensor& a, const Tensor& b, const QuantizedAddParams& p);
Tensor dynamic_quantized_linear(const Tensor& x, const Tensor& weight, const Tensor& weight_scales,
                                const Tensor* bias, std::int64_t quant_min,
                                std::int64_t quant_max, double eps);
// x quantized per row (quant/per_token.h), then kernels::grouped_linear_reference.
Tensor dynamic_quantized_linear_per_token(const Tensor& x, const Tensor& weight,
                                          const Tensor& weight_scales, const Tensor* bias,
                                          std::int64_t group_size, const QuantRange& range,
                                          float eps);

// Fused ops whose reference is the portable reference of their kernel (kernel_backed_ops.cpp;
// kernels/eltwise.h, lut.h, concat.h, pool.h), on the graph's layout (NCHW images).
// quantized_binary: ranks <= 4, numpy broadcasting. quantized_pool2d: [N, C, H, W] or [C, H, W].
Tensor quantized_binary(const Tensor& a, const Tensor& b, const kernels::BinaryParams& p);
Tensor quantized_lut(const Tensor& x, const Tensor& table, DType dtype);
Tensor quantized_concat(std::span<const Tensor> xs, std::int64_t dim,
                        const kernels::ConcatParams& p);
Tensor quantized_pool2d(const Tensor& x, const kernels::PoolParams& p);

// ---- data movement ----
Tensor cat(std::span<const Tensor> xs, std::int64_t dim);
Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1);
// indexing.cpp: slice (ONNX Slice semantics, infer::slice_range), gather of constant
// indices along one dim (negative from the end), expand (numpy broadcast to out_shape).
Tensor slice(const Tensor& x, std::span<const std::int64_t> dims,
             std::span<const std::int64_t> starts, std::span<const std::int64_t> ends,
             std::span<const std::int64_t> steps);
Tensor gather(const Tensor& x, std::int64_t dim, std::span<const std::int64_t> indices);
Tensor expand(const Tensor& x, const Shape& out_shape);

}  // namespace quantkit::graph::ref
