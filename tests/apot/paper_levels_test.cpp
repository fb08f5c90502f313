// The APoT paper's signed N-bit weight level sets (apot/paper_levels.h): the magnitudes bit
// for bit as the authors' build_power_value computes them under torch, the signed sets and
// their code counts, qparams, quantize / dequantize, the observer, the fake quantize and the
// integer view the int8 kernels use.
#include "quantkit/apot/paper_levels.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "apot/apot_reference.h"
#include "quantkit/apot/fake_quantize.h"
#include "quantkit/apot/integer_levels.h"
#include "quantkit/apot/observer.h"
#include "quantkit/apot/quantizer.h"
#include "quantkit/apot/scheme.h"
#include "quantkit/core/error.h"
#include "support/golden.h"

namespace quantkit::apot {
namespace {

using quantkit::testing::floats_bitwise_equal;

std::vector<float> from_bits(const std::vector<std::uint32_t>& bits) {
  std::vector<float> out;
  for (std::uint32_t b : bits) out.push_back(std::bit_cast<float>(b));
  return out;
}

// build_power_value(B, additive=True) from github.com/yhhhli/APoT_Quantization
// (ImageNet/models/quant_layer.py @ 5d38b38c), run under torch 1.13 and sorted: the float32
// bits of every normalized magnitude.
const std::vector<std::vector<std::uint32_t>>& torch_magnitude_bits() {
  static const std::vector<std::vector<std::uint32_t>> bits{
      {},  // B = 1 has no additive set in the authors' code (2-bit weights are uniform ternary)
      {0x00000000, 0x3e800000, 0x3f000000, 0x3f800000},
      {0x00000000, 0x3dcccccd, 0x3e4ccccd, 0x3e99999a, 0x3ecccccd, 0x3f19999a, 0x3f4ccccd,
       0x3f800000},
      {0x00000000, 0x3caaaaab, 0x3d2aaaab, 0x3d800000, 0x3daaaaab, 0x3e000000, 0x3e2aaaab,
       0x3e400000, 0x3e800000, 0x3eaaaaab, 0x3ec00000, 0x3f000000, 0x3f2aaaab, 0x3f300000,
       0x3f400000, 0x3f800000},
      {0x00000000, 0x3c23d70a, 0x3ca3d70a, 0x3cf5c28f, 0x3d23d70a, 0x3d4ccccc, 0x3d75c28f,
       0x3d8f5c29, 0x3da3d70a, 0x3dcccccc, 0x3df5c28f, 0x3e0f5c29, 0x3e23d70a, 0x3e2e147b,
       0x3e4ccccc, 0x3e570a3d, 0x3e75c28f, 0x3e8f5c29, 0x3ea3d70a, 0x3eae147b, 0x3eb851eb,
       0x3ec28f5c, 0x3ef5c28f, 0x3f051eb8, 0x3f23d70a, 0x3f266666, 0x3f2e147b, 0x3f30a3d7,
       0x3f3851eb, 0x3f428f5c, 0x3f75c28f, 0x3f800000},
      {0x00000000, 0x3b124925, 0x3b924925, 0x3bdb6db8, 0x3c124925, 0x3c36db6e, 0x3c5b6db8,
       0x3c800000, 0x3c924925, 0x3cb6db6e, 0x3cdb6db8, 0x3d000000, 0x3d124925, 0x3d1b6db7,
       0x3d36db6e, 0x3d400001, 0x3d5b6db8, 0x3d800000, 0x3d924925, 0x3d96db6e, 0x3d9b6db7,
       0x3da00000, 0x3db6db6e, 0x3dc00001, 0x3ddb6db8, 0x3de00001, 0x3e000000, 0x3e124925,
       0x3e16db6e, 0x3e1b6db7, 0x3e200000, 0x3e36db6e, 0x3e400001, 0x3e5b6db8, 0x3e600001,
       0x3e800000, 0x3e924925, 0x3e936db7, 0x3e96db6e, 0x3e980000, 0x3e9b6db7, 0x3ea00000,
       0x3eb6db6e, 0x3eb80001, 0x3ec00001, 0x3edb6db8, 0x3ee00001, 0x3f000000, 0x3f124925,
       0x3f12db6e, 0x3f136db7, 0x3f140000, 0x3f16db6e, 0x3f180000, 0x3f1b6db7, 0x3f1c0000,
       0x3f200000, 0x3f36db6e, 0x3f380001, 0x3f400001, 0x3f5b6db8, 0x3f5c0001, 0x3f600001,
       0x3f800000},
  };
  return bits;
}

TEST(ApotPaperLevels, MagnitudesAreTheAuthorsBuildPowerValueBitForBit) {
  for (int b = 2; b <= 6; ++b) {
    SCOPED_TRACE("B = " + std::to_string(b));
    EXPECT_TRUE(floats_bitwise_equal(
        from_bits(torch_magnitude_bits()[static_cast<std::size_t>(b - 1)]),
        apot_paper_magnitudes(b)));
  }
  // 2-bit weights: the ImageNet code's uniform ternary branch.
  EXPECT_EQ(apot_paper_magnitudes(1), (std::vector<float>{0.0f, 1.0f}));
}

// The same sets as exact fractions of the largest magnitude (each float32 is within half an
// ulp-ish of its fraction; torch's reciprocal-then-multiply may be an ulp off, see B = 5).
TEST(ApotPaperLevels, MagnitudesAreTheseFractionsOfAlpha) {
  struct Set {
    int b;
    int denominator;
    std::vector<int> numerators;
  };
  const std::vector<Set> sets{
      {1, 1, {0, 1}},
      {2, 4, {0, 1, 2, 4}},  // {0, 1/8, 1/4, 1/2} / (1/2)
      // {0, 1/16, 1/8, 3/16, 1/4, 3/8, 1/2, 5/8} / (5/8): the 4-bit weights' magnitudes
      {3, 10, {0, 1, 2, 3, 4, 6, 8, 10}},
      {4, 48, {0, 1, 2, 3, 4, 6, 8, 9, 12, 16, 18, 24, 32, 33, 36, 48}},
      {5, 100, {0,  1,  2,  3,  4,  5,  6,  7,  8,  10, 12, 14, 16, 17, 20, 21,
                24, 28, 32, 34, 36, 38, 48, 52, 64, 65, 68, 69, 72, 76, 96, 100}},
  };
  for (const Set& s : sets) {
    SCOPED_TRACE("B = " + std::to_string(s.b));
    const std::vector<float> got = apot_paper_magnitudes(s.b);
    ASSERT_EQ(got.size(), s.numerators.size());
    ASSERT_EQ(got.size(), std::size_t{1} << s.b);  // 2^B distinct magnitudes
    for (std::size_t i = 0; i < got.size(); ++i) {
      const double want = static_cast<double>(s.numerators[i]) / s.denominator;
      EXPECT_NEAR(got[i], want, 1.2e-7 * want) << i;
    }
  }
  EXPECT_EQ(apot_paper_magnitudes(6).size(), 64u);
  // torch's float32(1/0.78125) * 0.05 is one ulp below float32(1/20).
  EXPECT_EQ(std::bit_cast<std::uint32_t>(apot_paper_magnitudes(5)[5]), 0x3d4ccccc);
  EXPECT_EQ(std::bit_cast<std::uint32_t>(0.05f), 0x3d4ccccdU);
}

TEST(ApotPaperLevels, SignedSetsUseAtMostTwoToTheNCodes) {
  EXPECT_EQ(apot_paper_signed_values(2), (std::vector<float>{-1.0f, 0.0f, 1.0f}));  // ternary
  EXPECT_EQ(apot_paper_signed_values(3),
            (std::vector<float>{-1.0f, -0.5f, -0.25f, 0.0f, 0.25f, 0.5f, 1.0f}));
  for (int bits = 2; bits <= 7; ++bits) {
    SCOPED_TRACE("N = " + std::to_string(bits));
    const std::vector<float> v = apot_paper_signed_values(bits);
    const std::vector<float> m = apot_paper_magnitudes(bits - 1);
    ASSERT_EQ(v.size(), (std::size_t{1} << bits) - 1);
    ASSERT_EQ(apot_paper_scheme(bits).num_levels(), static_cast<std::int64_t>(v.size()));
    EXPECT_LE(v.size(), std::size_t{1} << bits);
    const std::size_t zero = m.size() - 1;
    for (std::size_t i = 0; i < m.size(); ++i) {
      EXPECT_EQ(v[zero + i], m[i]);
      EXPECT_EQ(v[zero - i], -m[i]);
    }
    for (std::size_t i = 1; i < v.size(); ++i) EXPECT_LT(v[i - 1], v[i]);
  }
}

TEST(ApotPaperLevels, FourBitSetIsFifteenTenthsOfAlpha) {
  const std::vector<float> w4 = apot_paper_signed_values(4);
  const std::vector<int> tenths{-10, -8, -6, -4, -3, -2, -1, 0, 1, 2, 3, 4, 6, 8, 10};
  ASSERT_EQ(w4.size(), tenths.size());
  for (std::size_t i = 0; i < w4.size(); ++i) {
    EXPECT_NEAR(w4[i], tenths[i] / 10.0, 1e-7) << i;
  }
}

TEST(ApotPaperLevels, QParamsScaleTheSetByAlpha) {
  const ApotScheme scheme = apot_paper_scheme(4);
  EXPECT_EQ(scheme.label(), "paper_w4");
  const float alpha = 0.37f;
  const ApotQParams q = make_apot_qparams(scheme, alpha);
  EXPECT_EQ(q.scheme.level_set, ApotLevelSet::PaperSigned);
  EXPECT_EQ(q.alpha, alpha);
  EXPECT_EQ(q.gamma, alpha);
  const std::vector<float> v = apot_paper_signed_values(4);
  ASSERT_EQ(q.levels.size(), v.size());
  for (std::size_t p = 0; p < v.size(); ++p) {
    EXPECT_EQ(q.levels[p], v[p] * alpha);
    EXPECT_EQ(q.level_indices[p], static_cast<std::int64_t>(p));  // code = sorted position
  }
  EXPECT_EQ(q.levels.back(), alpha);
  EXPECT_NO_THROW(validate_apot_qparams(q, "test"));
}

TEST(ApotPaperLevels, RejectsBadArguments) {
  EXPECT_THROW(apot_paper_scheme(1), Error);
  EXPECT_THROW(apot_paper_scheme(8), Error);
  EXPECT_THROW(apot_paper_magnitudes(0), Error);
  EXPECT_THROW(apot_paper_magnitudes(7), Error);
  EXPECT_THROW(apot_paper_signed_values(1), Error);
  // k is not a parameter, and the set is signed.
  EXPECT_THROW((ApotScheme{4, 2, true, ApotLevelSet::PaperSigned}.validate()), Error);
  EXPECT_THROW((ApotScheme{4, 1, false, ApotLevelSet::PaperSigned}.validate()), Error);
  EXPECT_THROW(make_apot_qparams(apot_paper_scheme(4), -1.0f), Error);
  EXPECT_THROW(make_apot_paper_qparams(ApotScheme{4, 2, true}, 1.0f), Error);
  // PyTorch's cartesian-term functions do not describe the paper's set.
  try {
    (void)apot_gamma(apot_paper_scheme(3), 1.0f);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("apot_gamma"), std::string::npos) << what;
    EXPECT_NE(what.find("paper_w3"), std::string::npos) << what;
  }
  EXPECT_THROW(apot_term_list(apot_paper_scheme(3), 0), Error);
  EXPECT_THROW(apot_level_multipliers(apot_paper_scheme(3)), Error);
}

TEST(ApotPaperLevels, QuantizeDequantizeRoundTrips) {
  for (int bits = 2; bits <= 7; ++bits) {
    SCOPED_TRACE("N = " + std::to_string(bits));
    const ApotQParams q = make_apot_qparams(apot_paper_scheme(bits), 1.5f);
    const ApotQuantizer quantizer(q);
    // Every level maps to its own code and back.
    const Tensor levels = Tensor::from_vector(q.levels);
    const Tensor codes = quantizer.quantize(levels);
    for (std::int64_t p = 0; p < codes.numel(); ++p) {
      EXPECT_EQ(codes.data<std::int32_t>()[p], p);
    }
    EXPECT_EQ(quantizer.dequantize_f32(codes).to_vector<float>(), q.levels);
    // Any x: the nearest level (PyTorch's scan rule, ties to the lower), clipped at alpha.
    std::mt19937 rng(static_cast<std::uint32_t>(bits));
    std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
    std::vector<float> xs(500);
    for (float& x : xs) x = dist(rng);
    const Tensor x = Tensor::from_vector(xs);
    const std::vector<float> got = quantizer.quant_dequant(x).to_vector<float>();
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const float clipped = std::fmax(-1.5f, std::fmin(1.5f, xs[i]));
      const auto p = testing::reference_scan_position(q, clipped);
      EXPECT_EQ(got[i], q.levels[static_cast<std::size_t>(p)]) << xs[i];
    }
  }
}

TEST(ApotPaperLevels, ObserverGivesTheSignedSetAndSavesItsKind) {
  ApotObserver obs(4, 1, ApotLevelSet::PaperSigned);
  EXPECT_EQ(obs.level_set(), ApotLevelSet::PaperSigned);
  obs.observe(Tensor::from_vector(std::vector<float>{-0.8f, 0.25f, 0.5f}));
  const ApotQParams q = obs.calculate_qparams(true);
  EXPECT_EQ(q.alpha, 0.8f);
  EXPECT_EQ(q.levels, make_apot_qparams(apot_paper_scheme(4), 0.8f).levels);
  EXPECT_THROW(obs.calculate_qparams(false), Error);
  const ApotObserver loaded = ApotObserver::load(obs.save());
  EXPECT_EQ(loaded.level_set(), ApotLevelSet::PaperSigned);
  EXPECT_EQ(loaded.calculate_qparams(true).levels, q.levels);
  // A PyTorch observer's JSON has no level_set key and loads as before.
  EXPECT_EQ(ApotObserver::load(ApotObserver(4, 2).save()).level_set(), ApotLevelSet::PyTorch);
  ApotObserver pytorch(4, 1);
  EXPECT_THROW(pytorch.merge(obs), Error);
  EXPECT_THROW(ApotObserver(4, 2, ApotLevelSet::PaperSigned), Error);
  EXPECT_THROW(ApotObserver(9, 1, ApotLevelSet::PaperSigned), Error);
}

TEST(ApotPaperLevels, FakeQuantizeUsesTheSignedSet) {
  ApotFakeQuantize fake(apot_paper_scheme(3));
  const Tensor x = Tensor::from_vector(std::vector<float>{-2.0f, -0.9f, -0.3f, 0.1f, 0.6f, 1.0f});
  const std::vector<float> y = fake.forward_f32(x).to_vector<float>();
  // alpha = 2: levels {-2, -1, -0.5, 0, 0.5, 1, 2}.
  EXPECT_EQ(y, (std::vector<float>{-2.0f, -1.0f, -0.5f, 0.0f, 0.5f, 1.0f}));
  EXPECT_EQ(fake.qparams().levels.size(), 7u);
  EXPECT_EQ(fake.calculate_qparams().levels, fake.qparams().levels);
  // The straight-through gradient passes inside [-alpha, alpha].
  const Tensor dy = Tensor::from_vector(std::vector<float>(6, 1.0f));
  EXPECT_EQ(fake.backward(dy, x).to_vector<float>(), std::vector<float>(6, 1.0f));
  // PyTorch's (b, k) module stays unsigned.
  ApotFakeQuantize pytorch(4, 2);
  (void)pytorch.forward_f32(x);
  EXPECT_GE(pytorch.qparams().levels.front(), 0.0f);
}

TEST(ApotPaperLevels, LevelsAreSmallIntegersTimesOneStep) {
  const std::vector<std::vector<int>> integers{
      {-1, 0, 1},
      {-4, -2, -1, 0, 1, 2, 4},
      {-10, -8, -6, -4, -3, -2, -1, 0, 1, 2, 3, 4, 6, 8, 10},
  };
  for (int bits = 2; bits <= 4; ++bits) {
    SCOPED_TRACE("N = " + std::to_string(bits));
    const ApotQParams q = make_apot_qparams(apot_paper_scheme(bits), 0.75f);
    const std::vector<double> levels(q.levels.begin(), q.levels.end());
    const auto view = integer_levels(levels);
    ASSERT_TRUE(view.has_value());
    const std::vector<int> want = integers[static_cast<std::size_t>(bits - 2)];
    ASSERT_EQ(view->integers.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(view->integers[i], want[i]);
      EXPECT_NEAR(view->integers[i] * view->scale, levels[i], 1e-6);
    }
  }
  // 5 and 6 bits still fit int8 (steps of 1/48 and 1/100 of alpha); 7 bits (1/448) do not.
  for (int bits : {5, 6}) {
    const ApotQParams q = make_apot_qparams(apot_paper_scheme(bits), 1.0f);
    EXPECT_TRUE(integer_levels(std::vector<double>(q.levels.begin(), q.levels.end())).has_value());
  }
  const ApotQParams w7 = make_apot_qparams(apot_paper_scheme(7), 1.0f);
  EXPECT_FALSE(integer_levels(std::vector<double>(w7.levels.begin(), w7.levels.end())).has_value());
}

}  // namespace
}  // namespace quantkit::apot
