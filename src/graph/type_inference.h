#pragma once
// Type-inference functions of the ops (internal to src/graph; the registry in
// op_registry.cpp attaches them to the schemas). Each validates the input types and
// attributes that determine output types and throws Error naming the node otherwise.
#include <cstdint>
#include <vector>

#include "quantkit/graph/op.h"

namespace quantkit::graph::infer {

using Types = std::vector<TensorType>;

Types linear(const InferContext& ctx);
Types conv2d(const InferContext& ctx);
Types binary_elementwise(const InferContext& ctx);
Types binary_floating(const InferContext& ctx);
Types unary_same(const InferContext& ctx);
Types unary_floating(const InferContext& ctx);
Types clamp(const InferContext& ctx);
Types max_pool2d(const InferContext& ctx);
Types avg_pool2d(const InferContext& ctx);
Types adaptive_avg_pool2d(const InferContext& ctx);
Types batch_norm(const InferContext& ctx);
Types flatten(const InferContext& ctx);
Types reshape(const InferContext& ctx);
Types transpose(const InferContext& ctx);
Types cat(const InferContext& ctx);
Types softmax(const InferContext& ctx);
Types mean(const InferContext& ctx);
Types layer_norm(const InferContext& ctx);
// Data movement for transformers (type_inference_indexing.cpp).
Types slice(const InferContext& ctx);
Types gather(const InferContext& ctx);
Types expand(const InferContext& ctx);
Types quantize_per_tensor(const InferContext& ctx);
Types dequantize_per_tensor(const InferContext& ctx);
Types quantize_per_channel(const InferContext& ctx);
Types dequantize_per_channel(const InferContext& ctx);
Types choose_qparams(const InferContext& ctx);
Types choose_qparams_per_token(const InferContext& ctx);
Types quantize_per_group(const InferContext& ctx);
Types dequantize_per_group(const InferContext& ctx);
Types cast(const InferContext& ctx);
Types integer_linear(const InferContext& ctx);
Types integer_conv2d(const InferContext& ctx);
Types integer_linear_grouped(const InferContext& ctx);
Types sum(const InferContext& ctx);
Types matmul(const InferContext& ctx);
Types pad2d(const InferContext& ctx);
// Resampling (type_inference_resample.cpp).
Types conv_transpose2d(const InferContext& ctx);
Types resize(const InferContext& ctx);
Types observe(const InferContext& ctx);
Types apot_dequantize(const InferContext& ctx);
Types quantized_linear(const InferContext& ctx);
Types quantized_conv2d(const InferContext& ctx);
Types quantized_add(const InferContext& ctx);
Types quantized_mul(const InferContext& ctx);
Types quantized_lut(const InferContext& ctx);
Types quantized_concat(const InferContext& ctx);
Types quantized_avg_pool2d(const InferContext& ctx);
Types quantized_adaptive_avg_pool2d(const InferContext& ctx);
Types dynamic_quantized_linear(const InferContext& ctx);
Types dynamic_quantized_linear_per_token(const InferContext& ctx);

// Shared with the kernels so both use the same window arithmetic as torch.
// Output length of a pooling window sweep (torch's pooling_output_shape).
std::int64_t pooling_output_size(std::int64_t in, std::int64_t kernel, std::int64_t pad,
                                 std::int64_t stride, std::int64_t dilation, bool ceil_mode);
// Output length of a convolution.
std::int64_t conv_output_size(std::int64_t in, std::int64_t kernel, std::int64_t pad,
                              std::int64_t stride, std::int64_t dilation);
// One dim of a slice: output index i reads input index first + i * step, for i < count.
struct SliceRange {
  std::int64_t first = 0;
  std::int64_t step = 1;
  std::int64_t count = 0;
};
// ONNX Slice's (and Python's) range of a dim of `size` for start:end:step (step != 0 and
// > INT64_MIN): negative start / end count from the end, then both are clamped — to
// [0, size] for a positive step, start to [0, size - 1] and end to [-1, size - 1] for a
// negative one. Never overflows, for any int64 start and end.
SliceRange slice_range(std::int64_t size, std::int64_t start, std::int64_t end, std::int64_t step);
// Numpy broadcast of two shapes; nullopt-like failure reported through ctx.
Shape broadcast_shapes(const InferContext& ctx, const Shape& a, const Shape& b);
// Normalizes a possibly negative dim for a tensor of rank `rank`; fails through ctx.
std::int64_t normalize_dim(const InferContext& ctx, std::int64_t dim, std::int64_t rank,
                           std::string_view attr);

}  // namespace quantkit::graph::infer
