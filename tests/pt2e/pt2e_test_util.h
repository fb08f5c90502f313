#pragma once
// Helpers for the PT2E flow tests: seeded normal tensors, SQNR, small graphs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/graph.h"
#include "quantkit/graph/interpreter.h"

namespace quantkit::pt2e::testing {

// N(0, stddev^2) samples from a portable generator (Box-Muller over mt19937's 24-bit floats,
// so every standard library gives the same tensors).
inline Tensor randn(Shape shape, std::uint32_t seed, float stddev = 1.0f) {
  std::mt19937 engine(seed);
  auto uniform = [&engine] {
    return (static_cast<double>(engine() >> 8) + 0.5) * (1.0 / 16777216.0);
  };
  Tensor t = Tensor::empty(std::move(shape), DType::Float32);
  for (float& v : t.span<float>()) {
    const double r = std::sqrt(-2.0 * std::log(uniform()));
    v = static_cast<float>(stddev * r * std::cos(6.283185307179586 * uniform()));
  }
  return t;
}

// Signal-to-quantization-noise ratio of `approx` against `reference`, in dB.
inline double sqnr_db(const Tensor& reference, const Tensor& approx) {
  const float* r = reference.data<float>();
  const float* a = approx.data<float>();
  double signal = 0.0, noise = 0.0;
  for (std::int64_t i = 0; i < reference.numel(); ++i) {
    signal += static_cast<double>(r[i]) * r[i];
    noise += (static_cast<double>(r[i]) - a[i]) * (static_cast<double>(r[i]) - a[i]);
  }
  return 10.0 * std::log10(signal / noise);
}

// Two float32 outputs fake-quantized with step `step` that may differ by float rounding
// (a value on a rounding boundary lands one step away): every element within one step.
// Returns the fraction of elements that are equal.
inline double equal_fraction_within_one_step(const Tensor& got, const Tensor& expected,
                                             double step) {
  EXPECT_EQ(got.numel(), expected.numel());
  std::int64_t equal = 0;
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    const double d = std::fabs(static_cast<double>(got.data<float>()[i]) - expected.data<float>()[i]);
    EXPECT_LE(d, step * 1.001) << "element " << i;
    equal += d < step * 1e-3 ? 1 : 0;
  }
  return static_cast<double>(equal) / static_cast<double>(std::max<std::int64_t>(1, got.numel()));
}

inline Tensor run1(const graph::Graph& g, const std::vector<Tensor>& inputs) {
  return graph::run_graph(g, std::span<const Tensor>(inputs))[0];
}

}  // namespace quantkit::pt2e::testing
