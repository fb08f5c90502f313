// grouped_linear (include/quantkit/kernels/grouped_linear.h): every kernel configuration is
// bit-identical to grouped_linear_reference for 4-bit weights (groups of 32, 64, 96, 256) and
// int8 weights (one group per channel, K with and without a vector tail), M = 1 (GEMV) and
// M > 1 (full and partial row tiles), with and without bias, at every channel split; the
// reference is checked against a hand-computed case; packing round-trips; bad arguments
// throw naming them.
#include "quantkit/kernels/grouped_linear.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "quantkit/core/error.h"
#include "support/isa_report.h"
#include "support/kernel_configs.h"

namespace quantkit::kernels {
namespace {

using testing::kernel_configs_reported;
using testing::ScopedKernel;

QUANTKIT_ISA_COVERAGE_TESTS(GroupedLinearIsaCoverage)

TEST(GroupedLinearKernelConfig, EveryConfigRunsTheKernelItNames) {
  for (const auto& c : kernel_configs_reported()) {
    ScopedKernel scoped(c);
    EXPECT_EQ(std::string(active_grouped_linear_kernel()), c.name);
  }
}

struct Problem {
  std::int64_t m, n, k, group_size;
  int bits;
  bool bias;
};

struct Data {
  std::vector<std::int8_t> w, x;
  std::vector<float> scales, x_scale, bias;
  std::vector<std::int32_t> x_zp;
  PerTokenInput input() const {
    return {x.data(), static_cast<std::int64_t>(x_scale.size()), x_scale, x_zp};
  }
};

Data random_data(const Problem& p, std::uint32_t seed) {
  std::mt19937 rng(seed);
  Data d;
  const int wlo = p.bits == 4 ? -8 : -128, whi = p.bits == 4 ? 7 : 127;
  std::uniform_int_distribution<int> wdist(wlo, whi), xdist(-128, 127), zdist(-128, 127);
  std::uniform_real_distribution<float> sdist(1e-3f, 2.0f), bdist(-5.0f, 5.0f);
  for (std::int64_t i = 0; i < p.n * p.k; ++i) d.w.push_back(static_cast<std::int8_t>(wdist(rng)));
  for (std::int64_t i = 0; i < p.m * p.k; ++i) d.x.push_back(static_cast<std::int8_t>(xdist(rng)));
  for (std::int64_t i = 0; i < p.n * (p.k / p.group_size); ++i) d.scales.push_back(sdist(rng));
  for (std::int64_t i = 0; i < p.m; ++i) {
    d.x_scale.push_back(sdist(rng));
    d.x_zp.push_back(zdist(rng));
  }
  if (p.bias) {
    for (std::int64_t i = 0; i < p.n; ++i) d.bias.push_back(bdist(rng));
  }
  return d;
}

std::string describe(const Problem& p) {
  return "m=" + std::to_string(p.m) + " n=" + std::to_string(p.n) + " k=" + std::to_string(p.k) +
         " G=" + std::to_string(p.group_size) + " bits=" + std::to_string(p.bits) +
         (p.bias ? " bias" : "");
}

void expect_kernels_match_reference(const Problem& p) {
  const Data d = random_data(p, static_cast<std::uint32_t>(p.m * 131 + p.k * 7 + p.bits));
  std::vector<float> expected(static_cast<std::size_t>(p.m * p.n));
  grouped_linear_reference(d.w, d.scales, p.n, p.k, p.group_size, d.input(), d.bias,
                           expected.data());
  const GroupedWeights packed = GroupedWeights::pack(d.w, d.scales, p.n, p.k, p.group_size, p.bits);
  for (const auto& c : kernel_configs_reported()) {
    ScopedKernel scoped(c);
    std::vector<float> y(expected.size(), -1.0f);
    grouped_linear(packed, d.input(), d.bias, y.data());
    EXPECT_EQ(std::memcmp(y.data(), expected.data(), y.size() * sizeof(float)), 0)
        << c.name << " " << describe(p);
    // Channel splits (what the runtime's threads do) give the same bits.
    std::vector<float> split(expected.size(), -1.0f);
    const std::int64_t cut = p.n / 3;
    grouped_linear(packed, d.input(), d.bias, split.data(), 0, cut);
    grouped_linear(packed, d.input(), d.bias, split.data(), cut, p.n);
    EXPECT_EQ(std::memcmp(split.data(), expected.data(), y.size() * sizeof(float)), 0)
        << c.name << " split " << describe(p);
  }
}

TEST(GroupedLinear, FourBitKernelsEqualTheReference) {
  for (std::int64_t m : {1, 3, 4, 9}) {
    for (std::int64_t g : {32, 64, 96, 256}) {
      expect_kernels_match_reference({m, 7, g * 2, g, 4, m % 2 == 1});
    }
  }
}

TEST(GroupedLinear, Int8PerChannelKernelsEqualTheReference) {
  for (std::int64_t m : {1, 5}) {
    for (std::int64_t k : {10, 32, 64, 100, 160}) expect_kernels_match_reference({m, 5, k, k, 8, true});
  }
}

TEST(GroupedLinear, ExtremeValuesAreExact) {
  // All-extreme codes: the int32 accumulators and vpmaddwd / vpdpbusd sums at their largest.
  const Problem p{4, 3, 256, 256, 4, false};
  Data d = random_data(p, 1);
  for (auto& v : d.w) v = -8;
  for (auto& v : d.x) v = 127;
  for (auto& z : d.x_zp) z = -128;
  std::vector<float> expected(12);
  grouped_linear_reference(d.w, d.scales, p.n, p.k, p.group_size, d.input(), d.bias,
                           expected.data());
  // acc = 255 · (−8) · 256 per group, times the group's scale times the row's scale.
  EXPECT_EQ(expected[0], (static_cast<float>(-522240) * d.scales[0]) * d.x_scale[0]);
  const GroupedWeights packed = GroupedWeights::pack(d.w, d.scales, p.n, p.k, p.group_size, 4);
  for (const auto& c : kernel_configs_reported()) {
    ScopedKernel scoped(c);
    std::vector<float> y(12);
    grouped_linear(packed, d.input(), d.bias, y.data());
    EXPECT_EQ(std::memcmp(y.data(), expected.data(), 12 * sizeof(float)), 0) << c.name;
  }
}

TEST(GroupedLinear, ReferenceMatchesHandComputedValues) {
  // One row, K = 4, two groups of 2, two channels.
  const std::vector<std::int8_t> w{1, -2, 3, 4, /**/ -1, 0, 2, -3};
  const std::vector<float> scales{0.5f, 0.25f, 2.0f, 1.0f};
  const std::vector<std::int8_t> x{10, 20, -5, 7};
  const std::vector<float> xs{0.125f};
  const std::vector<std::int32_t> zp{3};
  const std::vector<float> bias{1.0f, -1.0f};
  // x - zp = 7, 17, -8, 4. ch0: g0 = 7 - 34 = -27, g1 = -24 + 16 = -8:
  // (-27·0.5 + -8·0.25)·0.125 + 1 = (-13.5 - 2)·0.125 + 1 = -0.9375.
  // ch1: g0 = -7, g1 = -16 - 12 = -28: (-14 - 28)·0.125 - 1 = -6.25.
  std::vector<float> y(2);
  grouped_linear_reference(w, scales, 2, 4, 2, {x.data(), 1, xs, zp}, bias, y.data());
  EXPECT_EQ(y[0], -0.9375f);
  EXPECT_EQ(y[1], -6.25f);
}

TEST(GroupedLinear, PackingRoundTrips) {
  const Problem p{1, 3, 96, 32, 4, false};
  const Data d = random_data(p, 5);
  const GroupedWeights packed = GroupedWeights::pack(d.w, d.scales, p.n, p.k, p.group_size, 4);
  EXPECT_EQ(packed.row_bytes(), 48);
  for (std::int64_t c = 0; c < p.n; ++c) {
    for (std::int64_t g = 0; g < 3; ++g) {
      std::int32_t sum = 0;
      for (std::int64_t i = 0; i < 32; ++i) {
        const std::int64_t k = g * 32 + i;
        EXPECT_EQ(packed.at(c, k), d.w[static_cast<std::size_t>(c * p.k + k)]);
        sum += d.w[static_cast<std::size_t>(c * p.k + k)];
      }
      EXPECT_EQ(packed.group_sums(c)[g], sum);
    }
  }
}

TEST(GroupedLinear, RejectsBadArguments) {
  const std::vector<std::int8_t> w(64, 1);
  const std::vector<float> scales(2, 1.0f);
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] { GroupedWeights::pack(w, scales, 2, 32, 16, 4); }).find("group_size"),
            std::string::npos);
  EXPECT_NE(message([&] { GroupedWeights::pack(w, scales, 2, 32, 5, 8); }).find("group_size"),
            std::string::npos);
  std::vector<std::int8_t> big(64, 9);
  EXPECT_NE(message([&] { GroupedWeights::pack(big, scales, 2, 32, 32, 4); }).find("w[0]"),
            std::string::npos);
  const GroupedWeights packed = GroupedWeights::pack(w, scales, 2, 32, 32, 4);
  const std::vector<std::int8_t> x(32, 0);
  const std::vector<float> bad_scale{0.0f};
  const std::vector<std::int32_t> zp{0};
  std::vector<float> y(2);
  EXPECT_NE(message([&] { grouped_linear(packed, {x.data(), 1, bad_scale, zp}, {}, y.data()); })
                .find("in.scale[0]"),
            std::string::npos);
}

}  // namespace
}  // namespace quantkit::kernels
