#pragma once
// Q/DQ graphs of the shape convert_pt2e produces (int8 weights folded as constants with
// their dequantize, activations through quantize → dequantize pairs), built by hand for the
// lowering and runtime tests.
#include <cstdint>
#include <string>
#include <vector>

#include "../graph/graph_test_util.h"
#include "quantkit/graph/builder.h"

namespace quantkit::testing {

using graph::GraphBuilder;
using graph::QuantizeAttrs;
using graph::Value;

struct LayerSpec {
  DType dtype = DType::Int8;  // activations (x and out)
  double x_scale = 0.05, out_scale = 0.1;
  std::int64_t x_zero_point = 3, out_zero_point = -5;
  bool per_channel = false;
  bool bias = true;
  bool relu = false;
};

inline QuantizeAttrs act(DType dtype, double scale, std::int64_t zp) {
  return dtype == DType::Int8 ? QuantizeAttrs{scale, zp, -128, 127, DType::Int8}
                              : QuantizeAttrs{scale, zp + 128, 0, 255, DType::UInt8};
}

// dequantize(w_i8) with symmetric per-tensor or per-channel (axis 0) scales.
inline Value* int8_weight(GraphBuilder& b, Shape shape, bool per_channel, std::uint32_t seed) {
  const Tensor w = graph::testing::random_ints<std::int8_t>(shape, seed, -127, 127);
  Value* wq = b.constant(w, "w_i8");
  const std::int64_t out = shape[0];
  // Observers give float32 scales (convert stores them as Python floats): 0.02f.
  if (!per_channel) {
    return b.dequantize_per_tensor(wq, {static_cast<double>(0.02f), 0, -127, 127, DType::Int8});
  }
  std::vector<float> scales;
  for (std::int64_t c = 0; c < out; ++c) scales.push_back(0.01f + 0.003f * static_cast<float>(c));
  Value* s = b.constant(Tensor::from_vector(scales), "w_scales");
  Value* z =
      b.constant(Tensor::from_vector(std::vector<std::int64_t>(static_cast<std::size_t>(out), 0)),
                 "w_zero_points");
  return b.dequantize_per_channel(wq, s, z, 0, -127, 127, DType::Int8);
}

inline Value* float_bias(GraphBuilder& b, std::int64_t n, std::uint32_t seed) {
  return b.parameter("bias_" + std::to_string(seed),
                     graph::testing::random_tensor({n}, seed, -0.5f, 0.5f));
}

// Quantized input [m, k] → dequantize → linear → (relu) → quantize: quantized output.
inline graph::Graph static_linear(const LayerSpec& s, std::int64_t m, std::int64_t k,
                                  std::int64_t n, std::uint32_t seed = 1) {
  GraphBuilder b;
  const QuantizeAttrs xq = act(s.dtype, s.x_scale, s.x_zero_point);
  Value* x = b.dequantize_per_tensor(b.input("x", s.dtype, {m, k}), xq);
  Value* y = b.linear(x, int8_weight(b, {n, k}, s.per_channel, seed),
                      s.bias ? float_bias(b, n, seed + 1) : nullptr);
  if (s.relu) y = b.relu(y);
  b.output(b.quantize_per_tensor(y, act(s.dtype, s.out_scale, s.out_zero_point)));
  return std::move(b).build();
}

inline graph::Graph static_conv(const LayerSpec& s, Shape x_shape, std::int64_t out_channels,
                                std::int64_t kernel, const graph::Conv2dOptions& options,
                                std::uint32_t seed = 1) {
  GraphBuilder b;
  const QuantizeAttrs xq = act(s.dtype, s.x_scale, s.x_zero_point);
  Value* x = b.dequantize_per_tensor(b.input("x", s.dtype, x_shape), xq);
  Value* w = int8_weight(b, {out_channels, x_shape[1] / options.groups, kernel, kernel},
                         s.per_channel, seed);
  Value* y = b.conv2d(x, w, s.bias ? float_bias(b, out_channels, seed + 1) : nullptr, options);
  if (s.relu) y = b.relu(y);
  b.output(b.quantize_per_tensor(y, act(s.dtype, s.out_scale, s.out_zero_point)));
  return std::move(b).build();
}

inline graph::Graph static_add(DType dtype, Shape shape, bool relu) {
  GraphBuilder b;
  Value* a = b.dequantize_per_tensor(b.input("a", dtype, shape), act(dtype, 0.07, 4));
  Value* c = b.dequantize_per_tensor(b.input("b", dtype, shape), act(dtype, 0.03, -9));
  Value* y = b.add(a, c);
  if (relu) y = b.relu(y);
  b.output(b.quantize_per_tensor(y, act(dtype, 0.09, -2)));
  return std::move(b).build();
}

// f32 x → choose_qparams → quantize → dequantize → linear (dynamic quantization).
inline graph::Graph dynamic_linear(std::int64_t m, std::int64_t k, std::int64_t n, bool per_channel,
                                   bool bias, std::uint32_t seed = 1) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {m, k});
  auto [scale, zp] = b.choose_qparams(x, -128, 127, 1.1920928955078125e-07, DType::Int8);
  Value* dq = b.dequantize_per_tensor(b.quantize_per_tensor(x, scale, zp, -128, 127, DType::Int8),
                                      scale, zp, -128, 127, DType::Int8);
  b.output(b.linear(dq, int8_weight(b, {n, k}, per_channel, seed),
                    bias ? float_bias(b, n, seed + 1) : nullptr));
  return std::move(b).build();
}

// The small CNN in Q/DQ form: f32 [1, 1, 28, 28] → conv 32 (3×3, pad 1) → relu →
// conv 64 (3×3, pad 1) → relu → max_pool 2 → flatten → linear 128 → relu → linear 10 → f32.
inline graph::Graph small_cnn(bool per_channel, std::int64_t image = 28) {
  GraphBuilder b;
  auto qdq = [&](Value* v, double scale, std::int64_t zp) {
    const QuantizeAttrs q{scale, zp, -128, 127, DType::Int8};
    return b.dequantize_per_tensor(b.quantize_per_tensor(v, q), q);
  };
  Value* x = qdq(b.input("x", DType::Float32, {1, 1, image, image}), 1.0 / 255, -128);
  const graph::Conv2dOptions same({1, 1}, {1, 1});
  x = qdq(b.relu(b.conv2d(x, int8_weight(b, {32, 1, 3, 3}, per_channel, 11), float_bias(b, 32, 12),
                          same)),
          0.02, -128);
  x = qdq(b.relu(b.conv2d(x, int8_weight(b, {64, 32, 3, 3}, per_channel, 13), float_bias(b, 64, 14),
                          same)),
          0.05, -128);
  x = qdq(b.max_pool2d(x, graph::MaxPool2dOptions({2, 2})), 0.05, -128);
  x = qdq(b.flatten(x, 1), 0.05, -128);
  const std::int64_t features = 64 * (image / 2) * (image / 2);
  x = qdq(
      b.relu(b.linear(x, int8_weight(b, {128, features}, per_channel, 15), float_bias(b, 128, 16))),
      0.1, -128);
  x = qdq(b.linear(x, int8_weight(b, {10, 128}, per_channel, 17), float_bias(b, 10, 18)), 0.2, 3);
  b.output(x);
  return std::move(b).build();
}

}  // namespace quantkit::testing
