#pragma once
// Shared by the QatModule suites: tensor copies between quantkit and LibTorch, a seeded
// uniform source, and the closeness measure the suites assert with.
#include <ATen/ATen.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/builder.h"

namespace quantkit::torch_test {

inline Tensor to_quantkit(const at::Tensor& t) {
  const at::Tensor dense = t.detach().to(at::kFloat).contiguous();
  Tensor out = Tensor::empty(Shape(dense.sizes().begin(), dense.sizes().end()), DType::Float32);
  if (out.nbytes() > 0) std::memcpy(out.raw_data(), dense.data_ptr(), out.nbytes());
  return out;
}

inline at::Tensor from_quantkit(const Tensor& t) {
  at::Tensor out = at::empty(at::IntArrayRef(t.shape()), at::kFloat);
  if (t.nbytes() > 0) std::memcpy(out.data_ptr(), t.raw_data(), t.nbytes());
  return out;
}

// U(lo, hi) float32 from a portable std::mt19937 stream (independent of LibTorch's generator).
inline Tensor uniform(Shape shape, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  Tensor t = Tensor::empty(std::move(shape), DType::Float32);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = dist(gen);
  return t;
}

// The largest |a - b| in units of max(|b|_inf, 1e-30): "equal within r relative" means this
// is <= r (an element-wise relative bound would fail on values that cancel to ~0).
inline double max_relative_difference(const at::Tensor& a, const at::Tensor& b) {
  const double scale = std::max(b.abs().max().item<double>(), 1e-30);
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>() / scale;
}

// A small Fashion-MNIST CNN with a dynamic batch: x [N, 1, 28, 28] -> conv(8, 3x3, stride 2,
// pad 1) -> relu -> conv(16, 3x3, stride 2, pad 1) -> relu -> max_pool 2 -> flatten ->
// linear(10). torch's default init bounds (1 / sqrt(fan_in)), drawn from `seed`.
inline graph::Graph small_cnn(std::uint32_t seed) {
  graph::GraphBuilder b;
  auto param = [&](const std::string& name, Shape shape, std::int64_t fan_in) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
    return b.parameter(name, uniform(std::move(shape), seed++, -bound, bound));
  };
  graph::Value* x = b.input("x", DType::Float32, {1, 1, 28, 28}, {"N", "", "", ""});
  const graph::Conv2dOptions s2({2, 2}, {1, 1});
  x = b.relu(b.conv2d(x, param("conv1.weight", {8, 1, 3, 3}, 9), param("conv1.bias", {8}, 9), s2));
  x = b.relu(
      b.conv2d(x, param("conv2.weight", {16, 8, 3, 3}, 72), param("conv2.bias", {16}, 72), s2));
  x = b.flatten(b.max_pool2d(x, graph::MaxPool2dOptions({2, 2})), 1);
  b.output(b.linear(x, param("fc.weight", {10, 144}, 144), param("fc.bias", {10}, 144)));
  return std::move(b).build();
}

}  // namespace quantkit::torch_test
