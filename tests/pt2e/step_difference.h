#pragma once
// Integer outputs compared in quantization steps: the largest |difference|, how many are
// equal and the mean difference (a bias shows as a mean away from 0). The lowering tests'
// measure of "within one step of the Q/DQ graph, without bias".
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "quantkit/core/tensor.h"

namespace quantkit::testing {

struct StepStats {
  std::int64_t max_abs = 0, equal = 0, count = 0;
  double mean = 0;
};

inline StepStats step_difference(const Tensor& got, const Tensor& expected) {
  StepStats st;
  st.count = got.numel();
  double sum = 0;
  for (std::int64_t i = 0; i < st.count; ++i) {
    const auto value = [i](const Tensor& t) -> std::int64_t {
      return t.dtype() == DType::Int8 ? t.data<std::int8_t>()[i] : t.data<std::uint8_t>()[i];
    };
    const std::int64_t d = value(got) - value(expected);
    st.max_abs = std::max<std::int64_t>(st.max_abs, std::abs(d));
    st.equal += d == 0 ? 1 : 0;
    sum += static_cast<double>(d);
  }
  st.mean = sum / static_cast<double>(std::max<std::int64_t>(1, st.count));
  return st;
}

}  // namespace quantkit::testing
