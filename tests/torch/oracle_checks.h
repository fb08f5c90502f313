#pragma once
// Shared by the tests/torch suites: bit-for-bit comparison of float32 tensors and input
// sets that exercise every branch of the fake-quantize kernels.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace quantkit::torch_test {

// Same shape and the same bits in every element (so -0.0 != 0.0 and NaN == NaN with the
// same payload): "equal" here means bit-exact, not close.
inline ::testing::AssertionResult bitwise_equal(const at::Tensor& actual,
                                                const at::Tensor& expected) {
  if (actual.sizes() != expected.sizes()) {
    return ::testing::AssertionFailure()
           << "shape " << actual.sizes() << " vs " << expected.sizes();
  }
  if (actual.scalar_type() != at::kFloat || expected.scalar_type() != at::kFloat) {
    return ::testing::AssertionFailure() << "dtypes " << actual.scalar_type() << " and "
                                         << expected.scalar_type() << ", expected Float";
  }
  const at::Tensor a = actual.detach().contiguous().view(at::kInt).flatten();
  const at::Tensor e = expected.detach().contiguous().view(at::kInt).flatten();
  const at::Tensor differ = a.ne(e).nonzero();
  if (differ.numel() == 0) return ::testing::AssertionSuccess();
  const std::int64_t i = differ[0][0].item<std::int64_t>();
  const at::Tensor af = actual.detach().contiguous().flatten();
  const at::Tensor ef = expected.detach().contiguous().flatten();
  return ::testing::AssertionFailure()
         << differ.size(0) << " of " << a.numel() << " elements differ; first at flat index " << i
         << ": " << af[i].item<float>() << " vs " << ef[i].item<float>();
}

// n float32 values for a range with this scale and zero point: a wide normal spread (many
// values beyond both ends of the range), exact ties q + 0.5 (exact when scale is a power of
// two), the range's edges, one step beyond them, and +-0. Deterministic for a seed.
inline at::Tensor fake_quant_inputs(std::int64_t n, double scale, std::int64_t zero_point,
                                    std::int64_t quant_min, std::int64_t quant_max,
                                    std::uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const double half_width = (quant_max - quant_min) * scale * 0.75;
  const double center = (0.5 * (quant_min + quant_max) - zero_point) * scale;
  at::Tensor x = at::randn({n}, gen, at::kFloat) * half_width + center;
  const at::Tensor codes = at::randint(quant_min - 4, quant_max + 4, {n / 4}, gen, at::kFloat);
  x.slice(0, 0, n / 4).copy_((codes - static_cast<double>(zero_point) + 0.5) * scale);
  const float edges[] = {static_cast<float>((quant_min - zero_point) * scale),
                         static_cast<float>((quant_max - zero_point) * scale),
                         static_cast<float>((quant_min - 1 - zero_point) * scale),
                         static_cast<float>((quant_max + 1 - zero_point) * scale),
                         static_cast<float>((quant_min - zero_point - 0.5) * scale),
                         static_cast<float>((quant_max - zero_point + 0.5) * scale),
                         0.0f,
                         -0.0f};
  for (std::size_t k = 0; k < std::size(edges); ++k) {
    x[n / 4 + static_cast<std::int64_t>(k)] = edges[k];
  }
  return x;
}

// Upstream gradients with both signs (masked positions then give -0.0 for negative ones).
inline at::Tensor grad_outputs_like(const at::Tensor& x, std::uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  return at::randn(x.sizes(), gen, at::kFloat);
}

}  // namespace quantkit::torch_test
