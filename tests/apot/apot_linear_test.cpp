// The real APoT linear (include/quantkit/apot/apot_linear.h): integer multipliers against the
// float32 levels, the GEMM kernels against the shift-and-add reference bit for bit on every
// kernel family, and the float result against fp32 linear of the dequantized operands.
#include "quantkit/apot/apot_linear.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/kernels/cpu_features.h"
#include "quantkit/kernels/gemm.h"
#include "support/isa_report.h"
#include "support/kernel_configs.h"

namespace quantkit::apot {
namespace {

using kernels::IsaLevel;

// Which ISA levels this binary covered (see support/isa_report.h).
QUANTKIT_ISA_COVERAGE_TESTS(ApotLinearIsaCoverage)

using quantkit::testing::kernel_configs;
using quantkit::testing::ScopedKernel;

Tensor random_floats(std::mt19937& rng, Shape shape, float lo, float hi) {
  Tensor t = Tensor::empty(std::move(shape), DType::Float32);
  std::uniform_real_distribution<float> d(lo, hi);
  for (float& v : t.span<float>()) v = d(rng);
  return t;
}

Tensor random_activations(std::mt19937& rng, Shape shape, DType dtype) {
  Tensor t = Tensor::empty(std::move(shape), dtype);
  std::uniform_int_distribution<int> d(static_cast<int>(dtype_min(dtype)),
                                       static_cast<int>(dtype_max(dtype)));
  auto* p = static_cast<std::uint8_t*>(t.raw_data());
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    // The extremes of the range now and then.
    const int v = i % 11 == 0   ? static_cast<int>(dtype_min(dtype))
                  : i % 13 == 0 ? static_cast<int>(dtype_max(dtype))
                                : d(rng);
    p[i] = static_cast<std::uint8_t>(v);
  }
  return t;
}

std::string label(const ApotScheme& s) { return s.label(); }

// ---------------------------------------------------------------------------------------
// Integer multipliers
// ---------------------------------------------------------------------------------------

// level(code) = float32(gamma · M(code) · 2^-E) exactly whenever the float32 running sum of
// the terms is exact (E <= 23): the multipliers are the levels, scaled.
TEST(ApotLinearMultipliers, ReproduceTheFloat32Levels) {
  for (const ApotScheme s :
       {ApotScheme{4, 2, false}, ApotScheme{4, 2, true}, ApotScheme{6, 2, false},
        ApotScheme{8, 2, true}, ApotScheme{4, 1, false}, ApotScheme{8, 1, false},
        ApotScheme{6, 3, true}, ApotScheme{9, 3, false}}) {
    ASSERT_LE(s.smallest_term_exponent(), 23) << label(s);
    const ApotQParams qp = make_apot_qparams(s, 0.8125f);
    const std::vector<std::int64_t> m = apot_level_multipliers(s);
    for (std::size_t p = 0; p < qp.levels.size(); ++p) {
      const std::int64_t code = qp.level_indices[p];
      const double scaled = std::ldexp(
          static_cast<double>(qp.gamma) * static_cast<double>(m[static_cast<std::size_t>(code)]),
          -s.smallest_term_exponent());
      EXPECT_EQ(qp.levels[p], static_cast<float>(scaled)) << label(s) << " code " << code;
    }
  }
}

TEST(ApotLinearMultipliers, StorageFollowsTheLargestMultiplier) {
  std::mt19937 rng(1);
  // Non-negative: alpha = max(w), which quantizes to the top level in every scheme.
  const Tensor w = random_floats(rng, {5, 7}, 0.0f, 1.0f);
  const struct {
    ApotScheme scheme;
    std::int64_t max_m;
    ApotLinear::WeightStorage storage;
  } cases[] = {
      {{4, 2, false}, 48, ApotLinear::WeightStorage::Int8},  // 2^5 + 2^4
      {{4, 2, true}, 48, ApotLinear::WeightStorage::Int8},
      {{4, 1, true}, 15, ApotLinear::WeightStorage::Int8},     // 8 + 4 + 2 + 1
      {{8, 2, true}, 3840, ApotLinear::WeightStorage::Int16},  // 2^11 + 2^10 + 2^9 + 2^8
      {{8, 1, false}, 255, ApotLinear::WeightStorage::Int16},
      {{16, 1, false}, 65535, ApotLinear::WeightStorage::Int64},
  };
  for (const auto& c : cases) {
    const ApotLinear layer = ApotLinear::from_float(w, c.scheme);
    // alpha = max|w| quantizes to the top level, so the largest multiplier is used.
    EXPECT_EQ(layer.max_abs_multiplier(), c.max_m) << label(c.scheme);
    EXPECT_EQ(layer.weight_storage(), c.storage) << label(c.scheme);
  }
}

// With E > 23 the float32 running sum rounds: the levels then equal the scaled multipliers
// within n + 1 float32 roundings.
TEST(ApotLinearMultipliers, MatchTheLevelsWithinRoundingForWideSchemes) {
  for (const ApotScheme s : {ApotScheme{8, 4, false}, ApotScheme{12, 4, true}}) {
    ASSERT_GT(s.smallest_term_exponent(), 23) << label(s);
    const ApotQParams qp = make_apot_qparams(s, 0.8125f);
    const std::vector<std::int64_t> m = apot_level_multipliers(s);
    for (std::size_t p = 0; p < qp.levels.size(); ++p) {
      const double scaled =
          std::ldexp(static_cast<double>(qp.gamma) *
                         static_cast<double>(m[static_cast<std::size_t>(qp.level_indices[p])]),
                     -s.smallest_term_exponent());
      EXPECT_NEAR(qp.levels[p], scaled, (s.n() + 1) * std::ldexp(std::fabs(scaled), -24))
          << label(s) << " position " << p;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Hand-computed
// ---------------------------------------------------------------------------------------

// b=4, k=2, alpha = 1.5: gamma = 1.5 / (2 - 2^-1) = 1, E = 5; 1.5 = 2^0 + 2^-1 (M = 48),
// 0.75 = 2^-2 + 2^-1 (M = 24).
TEST(ApotLinear, HandComputedSmallCase) {
  const Tensor w = Tensor::from_vector<float>({1.5f, 0.75f, 0.75f, 0.0f}, {2, 2});
  const ApotLinear layer = ApotLinear::from_float(w, ApotScheme{4, 2, false},
                                                  Tensor::from_vector<float>({0.25f, -1.0f}));
  EXPECT_EQ(layer.qparams().gamma, 1.0f);
  EXPECT_EQ(layer.exponent(), 5);
  EXPECT_EQ(layer.integer_weights().to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{48, 24, 24, 0}));
  // x - zp = [2, -1]: acc = [2·48 − 24, 2·24] = [72, 48]; s = 0.5 · 1 · 2^-5.
  const Tensor x = Tensor::from_vector<std::uint8_t>({3, 0}, {1, 2});
  const std::vector<float> expected{72 * (0.5f / 32) + 0.25f, 48 * (0.5f / 32) - 1.0f};
  EXPECT_EQ(layer.forward(x, 0.5, 1).to_vector<float>(), expected);
  EXPECT_EQ(layer.forward_reference(x, 0.5, 1).to_vector<float>(), expected);
}

// ---------------------------------------------------------------------------------------
// forward == forward_reference on every kernel
// ---------------------------------------------------------------------------------------

void expect_kernels_match_reference(const ApotLinear& layer, const Tensor& x, double x_scale,
                                    std::int32_t x_zp, const std::string& what) {
  const Tensor expected = layer.forward_reference(x, x_scale, x_zp);
  for (const auto& config : kernel_configs()) {
    ScopedKernel scoped(config);
    const Tensor got = layer.forward(x, x_scale, x_zp);
    ASSERT_EQ(got.shape(), expected.shape()) << what;
    ASSERT_TRUE(bitwise_equal(got, expected)) << what << " on kernel " << config.name;
  }
}

TEST(ApotLinear, KernelsMatchShiftAndAddBitForBit) {
  std::mt19937 rng(2024);
  const std::vector<ApotScheme> schemes{{4, 2, false}, {4, 2, true}, {6, 2, true},  {8, 2, false},
                                        {8, 2, true},  {4, 1, true}, {8, 1, false}, {16, 1, false}};
  const std::vector<std::array<std::int64_t, 3>> shapes{
      {1, 1, 1}, {3, 17, 5}, {7, 33, 64}, {13, 70, 31}};
  int index = 0;
  for (const ApotScheme& s : schemes) {
    for (const auto& [m, n, k] : shapes) {
      const Tensor w = random_floats(rng, {n, k}, -0.7f, 0.9f);
      std::optional<Tensor> bias;
      if (index % 2 == 0) bias = random_floats(rng, {n}, -2.0f, 2.0f);
      const ApotLinear layer = ApotLinear::from_float(w, s, bias);
      const DType xd = index % 3 == 0 ? DType::Int8 : DType::UInt8;
      const Tensor x = random_activations(rng, {m, k}, xd);
      const std::int32_t zp = xd == DType::UInt8 ? 200 : -100;
      expect_kernels_match_reference(
          layer, x, 0.037, zp,
          label(s) + " " + std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k));
      ++index;
    }
  }
}

// b=8, k=2 has multipliers up to 3840: K = 2500 exceeds one int32 chunk (2193) and runs as
// two int32 GEMMs summed in int64 — still identical to the reference.
TEST(ApotLinear, LongInt16RowsAreSplitIntoExactChunks) {
  std::mt19937 rng(5);
  const Tensor w = random_floats(rng, {9, 2500}, -1.0f, 1.0f);
  const ApotLinear layer = ApotLinear::from_float(w, ApotScheme{8, 2, true});
  ASSERT_EQ(layer.weight_storage(), ApotLinear::WeightStorage::Int16);
  ASSERT_EQ(layer.max_abs_multiplier(), 3840);
  // Worst-case activations: every |x - zp| = 255, so a single int32 sum could overflow.
  Tensor x = Tensor::empty({4, 2500}, DType::UInt8);
  for (std::uint8_t& v : x.span<std::uint8_t>()) v = 255;
  expect_kernels_match_reference(layer, x, 0.01, 0, "chunked b8 k2");
  expect_kernels_match_reference(layer, random_activations(rng, {4, 2500}, DType::Int8), 0.01, 3,
                                 "chunked b8 k2, random");
}

TEST(ApotLinear, BatchedInputKeepsLeadingDimensions) {
  std::mt19937 rng(6);
  const ApotLinear layer =
      ApotLinear::from_float(random_floats(rng, {6, 10}, -1, 1), ApotScheme{4, 2, true});
  const Tensor x = random_activations(rng, {2, 3, 10}, DType::UInt8);
  const Tensor y = layer.forward(x, 0.1, 128);
  EXPECT_EQ(y.shape(), (Shape{2, 3, 6}));
  expect_kernels_match_reference(layer, x, 0.1, 128, "batched");
}

// ---------------------------------------------------------------------------------------
// Against fp32 linear of the dequantized operands
// ---------------------------------------------------------------------------------------

// y is exact up to float32 roundings: the level values (|level − gamma·M·2^-E| <= 2^-24
// |level| at most, 0 when E <= 23), the dequantized activations (one rounding each), fp32
// linear's K products and sums, and our 3 final roundings. Stated tolerance:
//   |y − linear_f32(x̂, ŵ, b)| <= (K + 8) · 2^-24 · (Σ_k |x̂_k ŵ_k| + |b|).
TEST(ApotLinear, EqualsFp32LinearOfDequantizedOperandsWithinRounding) {
  std::mt19937 rng(7);
  for (const ApotScheme s : {ApotScheme{4, 2, false}, ApotScheme{4, 2, true},
                             ApotScheme{8, 2, true}, ApotScheme{8, 1, false}}) {
    const std::int64_t m = 5, n = 19, k = 300;
    const Tensor w = random_floats(rng, {n, k}, -0.5f, 0.5f);
    const Tensor bias = random_floats(rng, {n}, -1.0f, 1.0f);
    const ApotLinear layer = ApotLinear::from_float(w, s, bias);
    const Tensor x = random_activations(rng, {m, k}, DType::UInt8);
    const double x_scale = 0.0123;
    const std::int32_t zp = 131;
    const Tensor y = layer.forward(x, x_scale, zp);

    Tensor x_hat = Tensor::empty({m, k}, DType::Float32);
    for (std::int64_t i = 0; i < m * k; ++i) {
      x_hat.data<float>()[i] =
          static_cast<float>(x.data<std::uint8_t>()[i] - zp) * static_cast<float>(x_scale);
    }
    // The weight as PyTorch's APoT quantizes it, found here without the layer: alpha =
    // max(-min(w), max(w)), the scheme's levels for that alpha, and for each weight the first
    // level at the least float32 distance (ties to the lower level).
    const std::vector<float> wv = w.to_vector<float>();
    const float alpha =
        std::max(-*std::min_element(wv.begin(), wv.end()), *std::max_element(wv.begin(), wv.end()));
    const std::vector<float> levels = make_apot_qparams(s, alpha).levels;
    Tensor w_hat = Tensor::empty({n, k}, DType::Float32);
    for (std::size_t i = 0; i < wv.size(); ++i) {
      float best = levels[0];
      for (const float level : levels) {
        if (std::fabs(level - wv[i]) < std::fabs(best - wv[i])) best = level;
      }
      w_hat.data<float>()[i] = best;
    }
    EXPECT_TRUE(bitwise_equal(layer.dequantized_weights(), w_hat)) << label(s);
    const Tensor y32 = kernels::linear_f32(x_hat, w_hat, bias);
    for (std::int64_t r = 0; r < m; ++r) {
      for (std::int64_t c = 0; c < n; ++c) {
        double magnitude = std::fabs(bias.data<float>()[c]);
        for (std::int64_t i = 0; i < k; ++i) {
          magnitude +=
              std::fabs(double{x_hat.data<float>()[r * k + i]} * w_hat.data<float>()[c * k + i]);
        }
        const double tolerance = (k + 8) * std::ldexp(1.0, -24) * magnitude;
        EXPECT_NEAR(y.data<float>()[r * n + c], y32.data<float>()[r * n + c], tolerance)
            << label(s) << " at (" << r << ", " << c << ")";
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Limits and bad input
// ---------------------------------------------------------------------------------------

// b=16, k=4: E = 59, multipliers up to ~2^60: no int64 accumulation is exact.
TEST(ApotLinear, RejectsSchemesBeyondInt64Accumulation) {
  const Tensor w = Tensor::from_vector<float>({1.0f, -0.5f}, {1, 2});
  const ApotLinear layer = ApotLinear::from_float(w, ApotScheme{16, 4, false});
  EXPECT_EQ(layer.weight_storage(), ApotLinear::WeightStorage::Int64);
  const Tensor x = Tensor::zeros({1, 2}, DType::UInt8);
  EXPECT_THROW(layer.forward(x, 1.0, 0), Error);
  EXPECT_THROW(layer.forward_reference(x, 1.0, 0), Error);
}

TEST(ApotLinear, RejectsBadArguments) {
  std::mt19937 rng(8);
  const Tensor w = random_floats(rng, {4, 3}, -1, 1);
  const ApotLinear layer = ApotLinear::from_float(w, ApotScheme{4, 2, false});
  const Tensor x = Tensor::zeros({2, 3}, DType::UInt8);
  EXPECT_NO_THROW(layer.forward(x, 1.0, 0));
  EXPECT_THROW(layer.forward(Tensor::zeros({2, 3}, DType::Float32), 1.0, 0), Error);
  EXPECT_THROW(layer.forward(Tensor::zeros({2, 4}, DType::UInt8), 1.0, 0), Error);
  EXPECT_THROW(layer.forward(x, 1.0, 256), Error);
  EXPECT_THROW(layer.forward(Tensor::zeros({2, 3}, DType::Int8), 1.0, -129), Error);
  EXPECT_THROW(layer.forward(x, 0.0, 0), Error);
  EXPECT_THROW(layer.forward(x, NAN, 0), Error);
  EXPECT_THROW(layer.forward_reference(x, -1.0, 0), Error);
  // Construction.
  EXPECT_THROW(ApotLinear::from_float(w, ApotScheme{4, 3, false}), Error);  // b % k != 0
  EXPECT_THROW(
      ApotLinear::from_float(Tensor::zeros({4, 3}, DType::Float64), ApotScheme{4, 2, false}),
      Error);
  EXPECT_THROW(
      ApotLinear::from_float(w, ApotScheme{4, 2, false}, Tensor::zeros({3}, DType::Float32)),
      Error);
  EXPECT_THROW(ApotLinear::from_float(w, ApotScheme{4, 2, false}, Tensor::zeros({4}, DType::Int32)),
               Error);
  ApotTensor bad{layer.codes().clone(), nullptr};
  EXPECT_THROW(ApotLinear{bad}, Error);  // no quantizer
  auto quantizer = std::make_shared<const ApotQuantizer>(layer.qparams());
  bad.quantizer = quantizer;
  bad.codes.data<std::int32_t>()[5] = 16;  // b=4, k=2 has codes 0 … 15
  EXPECT_THROW(ApotLinear{bad}, Error);
  EXPECT_THROW((ApotLinear{ApotTensor{Tensor::zeros({12}, DType::Int32), quantizer}}), Error);
  EXPECT_THROW((ApotLinear{ApotTensor{Tensor::zeros({4, 3}, DType::Int64), quantizer}}), Error);
}

TEST(ApotLinear, DoesNotModifyItsInputs) {
  std::mt19937 rng(9);
  const Tensor w = random_floats(rng, {4, 3}, -1, 1);
  const Tensor w_copy = w.clone();
  const ApotLinear layer = ApotLinear::from_float(w, ApotScheme{4, 2, true});
  EXPECT_TRUE(bitwise_equal(w, w_copy));
  const Tensor x = random_activations(rng, {2, 3}, DType::Int8);
  const Tensor x_copy = x.clone();
  (void)layer.forward(x, 0.5, 0);
  (void)layer.forward_reference(x, 0.5, 0);
  EXPECT_TRUE(bitwise_equal(x, x_copy));
}

}  // namespace
}  // namespace quantkit::apot
