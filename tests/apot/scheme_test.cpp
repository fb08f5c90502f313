// APoT scheme and level construction: every golden level set bit for bit (values and the
// order of duplicate levels), validation, the size limits, and the integer level view.
#include "quantkit/apot/scheme.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "apot/apot_golden.h"
#include "quantkit/apot/observer.h"
#include "quantkit/apot/qparams.h"
#include "quantkit/core/error.h"

namespace quantkit::apot {
namespace {

using namespace quantkit::apot::testing;
using quantkit::testing::floats_bitwise_equal;
using quantkit::testing::ints_equal;

void expect_entry(const json& e) {
  SCOPED_TRACE(e.at("id").get<std::string>());
  // Rebuild through the observer exactly as generated: forward each batch, then qparams.
  ApotObserver obs(e.at("b").get<int>(), e.at("k").get<int>());
  for (const auto& batch : e.at("observed_batches")) obs.observe(f32_tensor(batch, "x"));
  // Values must match; the sign of a zero min/max is torch.aminmax's reduction-order detail
  // (it reports -0 for both on [0, -0, 0]) and never reaches alpha, which is checked by bits.
  EXPECT_EQ(obs.min_val(), f32_scalar(e, "min_val"));
  EXPECT_EQ(obs.max_val(), f32_scalar(e, "max_val"));
  if (obs.min_val() != 0.0f) {
    EXPECT_EQ(quantkit::testing::bits_of(obs.min_val()),
              quantkit::testing::bits_of(f32_scalar(e, "min_val")));
  }
  if (obs.max_val() != 0.0f) {
    EXPECT_EQ(quantkit::testing::bits_of(obs.max_val()),
              quantkit::testing::bits_of(f32_scalar(e, "max_val")));
  }
  const ApotQParams q = obs.calculate_qparams(e.at("signed").get<bool>());
  EXPECT_EQ(quantkit::testing::bits_of(q.alpha),
            quantkit::testing::bits_of(f32_scalar(e, "alpha")));
  EXPECT_EQ(quantkit::testing::bits_of(q.gamma),
            quantkit::testing::bits_of(f32_scalar(e, "gamma")));
  EXPECT_EQ(static_cast<std::int64_t>(q.levels.size()), e.at("num_levels").get<std::int64_t>());
  EXPECT_EQ(q.scheme.num_levels(), e.at("num_levels").get<std::int64_t>());
  EXPECT_TRUE(floats_bitwise_equal(f32(e, "quantization_levels"), q.levels));
  EXPECT_TRUE(ints_equal(ints<std::int64_t>(e, "level_indices"), q.level_indices));
  // The generator counts distinct bit patterns (alpha = 0 signed: +0 and -0 levels).
  std::set<std::uint32_t> distinct;
  for (const float v : q.levels) distinct.insert(quantkit::testing::bits_of(v));
  EXPECT_EQ(static_cast<std::int64_t>(distinct.size()),
            e.at("num_distinct_levels").get<std::int64_t>());
}

TEST(ApotLevelsGolden, EveryEntryBitExact) {
  const json& g = golden("apot_levels.json");
  ASSERT_EQ(g.at("entries").size(), 66u);
  for (const auto& e : g.at("entries")) expect_entry(e);
}

TEST(ApotLevelsGolden, EdgeEntriesAlphaZero) {
  const json& g = golden("apot_levels.json");
  ASSERT_EQ(g.at("edge_entries").size(), 2u);
  for (const auto& e : g.at("edge_entries")) expect_entry(e);
}

TEST(ApotLevelsGolden, MakeQparamsMatchesObserverPath) {
  // make_apot_qparams(scheme, alpha) is the observer's computation without the min/max.
  for (const auto& e : golden("apot_levels.json").at("entries")) {
    const ApotScheme s{e.at("b").get<int>(), e.at("k").get<int>(), e.at("signed").get<bool>()};
    if (s.num_levels() > 4096) continue;  // the big ones are covered above
    const ApotQParams q = make_apot_qparams(s, f32_scalar(e, "alpha"));
    EXPECT_TRUE(floats_bitwise_equal(f32(e, "quantization_levels"), q.levels)) << e.at("id");
    EXPECT_TRUE(ints_equal(ints<std::int64_t>(e, "level_indices"), q.level_indices)) << e.at("id");
  }
}

TEST(ApotScheme, PaperExampleB4K2) {
  // PyTorch's test_quantize_APoT_k2 docstring: b=4, k=2, alpha=1.
  const ApotQParams q = make_apot_qparams({4, 2, false}, 1.0f);
  const std::vector<std::int64_t> expected_indices{0,  3, 12, 15, 2, 14, 8, 11,
                                                   10, 1, 13, 9,  4, 7,  6, 5};
  EXPECT_EQ(q.level_indices, expected_indices);
  EXPECT_FLOAT_EQ(q.gamma, 2.0f / 3.0f);
  EXPECT_EQ(q.levels.front(), 0.0f);
  EXPECT_EQ(q.levels.back(), 1.0f);
  EXPECT_NEAR(q.levels[1], 0.0208, 1e-4);
  EXPECT_NEAR(q.levels[12], 0.6667, 1e-4);
}

TEST(ApotScheme, TermListsInPyTorchOrder) {
  EXPECT_EQ(apot_term_list({4, 2, false}, 0), (std::vector<float>{0.0f, 1.0f, 0.25f, 0.0625f}));
  EXPECT_EQ(apot_term_list({4, 2, false}, 1), (std::vector<float>{0.0f, 0.5f, 0.125f, 0.03125f}));
  EXPECT_EQ(apot_term_list({4, 2, true}, 1),
            (std::vector<float>{0.5f, 0.125f, 0.03125f, 0.0f, -0.03125f, -0.125f, -0.5f}));
  EXPECT_EQ(ApotScheme({4, 2, true}).terms_per_list(), 7);
  EXPECT_EQ(ApotScheme({6, 3, true}).num_levels(), 225);
}

TEST(ApotScheme, LevelSumIsFloat32RunningSum) {
  // b=8,k=4 unsigned: 1 + 2^-29 rounds to 1 in float32 (README item 7).
  const ApotScheme s{8, 4, false};
  // digits (1, 15): t0[1] = 2^0, t1[15] = 2^-(1 + 14*2) = 2^-29.
  EXPECT_EQ(apot_level_sum(s, 1 * 16 + 15), 1.0f);
  EXPECT_THROW(apot_level_sum(s, 256), Error);
}

TEST(ApotScheme, ValidationErrors) {
  EXPECT_THROW(ApotScheme({0, 0, false}).validate(), Error);  // PyTorch: AssertionError
  EXPECT_THROW(ApotScheme({4, 0, false}).validate(), Error);
  EXPECT_THROW(ApotScheme({5, 2, false}).validate(), Error);
  EXPECT_THROW(ApotScheme({-4, 2, false}).validate(), Error);
  EXPECT_THROW(make_apot_qparams({4, 2, false}, -1.0f), Error);
  EXPECT_THROW(make_apot_qparams({4, 2, false}, std::nanf("")), Error);
  EXPECT_THROW(make_apot_qparams({4, 2, false}, INFINITY), Error);
  try {
    ApotScheme({7, 2, false}).validate("here");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("here: invalid argument 'b': got 7"), std::string::npos)
        << e.what();
  }
}

TEST(ApotScheme, SizeLimits) {
  // b = 16 with k = 1, 2, 4: unsigned always (65536 levels); signed up to 2^23 levels.
  for (int k : {1, 2, 4}) {
    EXPECT_NO_THROW(ApotScheme({16, k, false}).validate());
    EXPECT_EQ(ApotScheme({16, k, false}).num_levels(), 65536);
  }
  EXPECT_NO_THROW(ApotScheme({16, 2, true}).validate());
  EXPECT_EQ(ApotScheme({16, 2, true}).num_levels(), 5764801);
  EXPECT_EQ(ApotScheme({16, 4, true}).num_levels(), 923521);
  EXPECT_NO_THROW(ApotScheme({14, 1, true}).validate());  // 3^14 = 4,782,969
  try {
    ApotScheme({16, 1, true}).validate();  // 3^16 = 43,046,721
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("8388608"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ApotScheme({24, 1, false}).validate(), Error);
  EXPECT_NO_THROW(ApotScheme({23, 1, false}).validate());
  // Term exponents: b=16,k=8 would need 2^-509.
  EXPECT_THROW(ApotScheme({16, 8, false}).validate(), Error);
  EXPECT_THROW(ApotScheme({31, 31, false}).validate(), Error);
}

TEST(ApotScheme, LargeUnsignedSchemesBuild) {
  for (int k : {1, 2, 4}) {
    const ApotQParams q = make_apot_qparams({16, k, false}, 1.0f);
    ASSERT_EQ(q.levels.size(), 65536u);
    EXPECT_TRUE(std::is_sorted(q.levels.begin(), q.levels.end()));
    EXPECT_EQ(q.levels.front(), 0.0f);
    EXPECT_EQ(q.levels.back(), 1.0f);
  }
}

TEST(ApotScheme, LargeSignedSchemeBuilds) {
  const ApotQParams q = make_apot_qparams({16, 4, true}, 2.0f);
  ASSERT_EQ(q.levels.size(), 923521u);
  EXPECT_EQ(q.levels.front(), -2.0f);
  EXPECT_EQ(q.levels.back(), 2.0f);
  std::vector<std::int64_t> idx = q.level_indices;
  std::sort(idx.begin(), idx.end());
  for (std::size_t i = 0; i < idx.size(); ++i) ASSERT_EQ(idx[i], static_cast<std::int64_t>(i));
}

TEST(ApotScheme, LevelMultipliersAreExactIntegerViews) {
  // level(c) = gamma * M(c) * 2^-E, E = n(2^k-1)-1; check against the float32 levels where
  // the running sum is exact (b=4,k=2: E=5; sums have at most 6 significant bits).
  for (bool is_signed : {false, true}) {
    const ApotScheme s{4, 2, is_signed};
    const std::vector<std::int64_t> m = apot_level_multipliers(s);
    ASSERT_EQ(static_cast<std::int64_t>(m.size()), s.num_levels());
    const int e = s.smallest_term_exponent();
    EXPECT_EQ(e, 5);
    for (std::int64_t c = 0; c < s.num_levels(); ++c) {
      EXPECT_EQ(std::ldexp(static_cast<double>(m[static_cast<std::size_t>(c)]), -e),
                static_cast<double>(apot_level_sum(s, c)))
          << "c=" << c;
    }
  }
  // b=4,k=2 unsigned: multipliers 0..48 (fits int8), as the shift-and-add GEMM needs.
  const std::vector<std::int64_t> m = apot_level_multipliers({4, 2, false});
  EXPECT_EQ(*std::max_element(m.begin(), m.end()), 48);
  EXPECT_EQ(m[5], 48);  // digits (1,1): 2^0 + 2^-1 = 1.5 = 48 * 2^-5
  EXPECT_EQ(apot_level_multipliers({16, 4, false}).size(), 65536u);  // E = 59 fits int64
  EXPECT_THROW(apot_level_multipliers({12, 6, false}), Error);       // E = 125 does not
}

}  // namespace
}  // namespace quantkit::apot
