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

}  // namespace quantkit::torch_test
