// The APoT search-table kernels on arbitrary level sets (not only APoT ones): thresholds are
// exactly the float32 switch points of PyTorch's scan, and every ISA agrees with the scan.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "apot/apot_reference.h"
#include "quantkit/apot/quantizer.h"
#include "quantkit/kernels/apot_kernels.h"
#include "quantkit/kernels/cpu_features.h"
#include "support/isa_report.h"

namespace quantkit::apot {
namespace {

using kernels::IsaLevel;

// Which ISA levels this binary covered (see support/isa_report.h).
QUANTKIT_ISA_COVERAGE_TESTS(ApotKernelsIsaCoverage)
constexpr float kInf = std::numeric_limits<float>::infinity();

// Random ascending levels with duplicates, a spread of magnitudes and both signs.
ApotQParams random_level_set(std::mt19937& gen, int count, float alpha) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_int_distribution<int> e(-20, 0);
  std::vector<float> v;
  for (int i = 0; i < count; ++i) {
    float x = alpha * std::ldexp(u(gen), e(gen));
    if (i > 0 && i % 7 == 0) x = v.back();  // duplicates
    v.push_back(x);
  }
  std::sort(v.begin(), v.end());
  ApotQParams q;
  q.alpha = alpha;
  q.levels = v;
  q.level_indices.resize(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) q.level_indices[i] = static_cast<std::int64_t>(i);
  std::shuffle(q.level_indices.begin(), q.level_indices.end(), gen);
  return q;
}

TEST(ApotSearchTable, ThresholdsAreTheScansSwitchPoints) {
  std::mt19937 gen(11);
  for (int count : {2, 5, 16, 17, 40, 100, 300, 1000, 5000}) {
    const ApotQParams q = random_level_set(gen, count, 2.0f);
    const ApotQuantizer quantizer(q);
    const auto& t = quantizer.table();
    ASSERT_GE(t.padded_size, t.num_distinct);
    for (std::int32_t j = 0; j + 1 < t.num_distinct; ++j) {
      const float lo = t.distinct_levels[static_cast<std::size_t>(j)];
      const float hi = t.distinct_levels[static_cast<std::size_t>(j) + 1];
      const float th = t.thresholds[static_cast<std::size_t>(j)];
      ASSERT_GT(th, lo);
      ASSERT_LE(th, hi);
      EXPECT_TRUE((hi - th) < (th - lo)) << "upper level must win at the threshold";
      const float before = std::nextafter(th, -kInf);
      if (before > lo) {
        EXPECT_FALSE((hi - before) < (before - lo)) << "lower must win below it";
      }
    }
    for (std::int32_t j = t.num_distinct - 1; j < t.padded_size; ++j) {
      EXPECT_EQ(t.thresholds[static_cast<std::size_t>(j)], kInf);
    }
  }
}

TEST(ApotSearchTable, EveryIsaMatchesTheScanOnRandomSets) {
  std::mt19937 gen(12);
  std::uniform_real_distribution<float> u(-2.5f, 2.5f);
  for (int count : {1, 3, 16, 31, 33, 64, 200, 256, 257, 700, 3000}) {
    SCOPED_TRACE(count);
    const ApotQParams q = random_level_set(gen, count, 2.0f);
    const ApotQuantizer quantizer(q);
    std::vector<float> xs(523);
    for (auto& x : xs) x = u(gen);
    // Also every level and its neighbours.
    for (const float l : q.levels) {
      xs.push_back(l);
      xs.push_back(std::nextafter(l, kInf));
      xs.push_back(std::nextafter(l, -kInf));
    }
    const Tensor x = Tensor::from_vector(xs);
    std::vector<std::int32_t> expected;
    for (const float v : xs) {
      const float c = std::min(std::max(v, -q.alpha), q.alpha);
      expected.push_back(static_cast<std::int32_t>(testing::reference_code(q, c)));
    }
    for (IsaLevel isa : {IsaLevel::Portable, IsaLevel::Avx2, IsaLevel::Avx512}) {
      if (static_cast<int>(isa) > static_cast<int>(kernels::detected_isa())) continue;
      kernels::set_isa_override(isa);
      EXPECT_EQ(quantizer.quantize(x).to_vector<std::int32_t>(), expected)
          << kernels::isa_name(isa) << (quantizer.table().exact_scan_needed ? " (exact path)" : "");
    }
    kernels::clear_isa_override();
  }
}

TEST(ApotSearchTable, DequantizeKernelsReportTheFirstBadCode) {
  const float values[3] = {0.5f, 1.5f, -2.0f};
  const std::int32_t codes[4] = {2, 0, 3, 1};
  float out32[4];
  double out64[4];
  EXPECT_EQ(kernels::apot_dequantize_f32(values, 3, codes, 4, out32), 2);
  EXPECT_EQ(kernels::apot_dequantize_f64(values, 3, codes, 2, out64), -1);
  EXPECT_EQ(out64[0], -2.0);
  EXPECT_EQ(out64[1], 0.5);
}

}  // namespace
}  // namespace quantkit::apot
