#pragma once
// Helpers for the graph tests: seeded random tensors and element-wise comparisons.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "quantkit/core/tensor.h"

namespace quantkit::graph::testing {

inline Tensor random_tensor(Shape shape, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 engine(seed);
  Tensor t = Tensor::empty(std::move(shape), DType::Float32);
  for (float& v : t.span<float>()) {
    v = lo + (hi - lo) * static_cast<float>(engine() >> 8) * (1.0f / 16777216.0f);
  }
  return t;
}

template <class T>
Tensor random_ints(Shape shape, std::uint32_t seed, std::int64_t lo, std::int64_t hi) {
  std::mt19937 engine(seed);
  Tensor t = Tensor::empty(std::move(shape), dtype_of_v<T>);
  const auto span = static_cast<std::uint64_t>(hi - lo + 1);
  for (T& v : t.span<T>()) v = static_cast<T>(lo + static_cast<std::int64_t>(engine() % span));
  return t;
}

// Float comparison with a tolerance relative to the magnitude: |a - b| <= atol + rtol * |b|.
inline ::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected,
                                            float atol = 1e-5f, float rtol = 1e-5f) {
  if (actual.dtype() != expected.dtype() || actual.shape() != expected.shape()) {
    return ::testing::AssertionFailure()
           << "type mismatch: " << dtype_name(actual.dtype()) << shape_to_string(actual.shape())
           << " vs " << dtype_name(expected.dtype()) << shape_to_string(expected.shape());
  }
  const float* a = actual.data<float>();
  const float* e = expected.data<float>();
  for (std::int64_t i = 0; i < actual.numel(); ++i) {
    const bool both_nan = std::isnan(a[i]) && std::isnan(e[i]);
    if (!both_nan && !(std::fabs(a[i] - e[i]) <= atol + rtol * std::fabs(e[i]))) {
      return ::testing::AssertionFailure()
             << "element " << i << ": got " << a[i] << ", expected " << e[i];
    }
  }
  return ::testing::AssertionSuccess();
}

// Exact comparison for any dtype, with the first differing element in the message.
inline ::testing::AssertionResult identical(const Tensor& actual, const Tensor& expected) {
  if (bitwise_equal(actual, expected)) return ::testing::AssertionSuccess();
  if (actual.dtype() != expected.dtype() || actual.shape() != expected.shape()) {
    return ::testing::AssertionFailure()
           << "type mismatch: " << dtype_name(actual.dtype()) << shape_to_string(actual.shape())
           << " vs " << dtype_name(expected.dtype()) << shape_to_string(expected.shape());
  }
  Tensor a = actual.to(DType::Float64);
  Tensor e = expected.to(DType::Float64);
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    if (a.data<double>()[i] != e.data<double>()[i]) {
      return ::testing::AssertionFailure() << "element " << i << ": got " << a.data<double>()[i]
                                           << ", expected " << e.data<double>()[i];
    }
  }
  return ::testing::AssertionFailure() << "bytes differ (NaN payloads?)";
}

}  // namespace quantkit::graph::testing
