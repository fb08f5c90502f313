// quantize_apot / dequantize_apot / quant_dequant_apot: every golden case bit for bit on
// every ISA, PyTorch's out-of-range records against our documented clamping, the tie rule
// probed at +-3 ulps around every midpoint of every golden level set against PyTorch's
// literal scan, the ported test_quantizer.py cases, and error handling.
#include "quantkit/apot/quantizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "apot/apot_golden.h"
#include "apot/apot_reference.h"
#include "quantkit/apot/observer.h"
#include "quantkit/core/error.h"
#include "quantkit/kernels/cpu_features.h"
#include "quantkit/quant/affine.h"
#include "quantkit/quant/observer.h"
#include "support/isa_report.h"

namespace quantkit::apot {
namespace {

using namespace quantkit::apot::testing;
using kernels::IsaLevel;
using quantkit::testing::bits_of;
using quantkit::testing::floats_bitwise_equal;
using quantkit::testing::ints_equal;

// Which ISA levels this binary covered (see support/isa_report.h).
QUANTKIT_ISA_COVERAGE_TESTS(ApotQuantizerIsaCoverage)

constexpr float kInf = std::numeric_limits<float>::infinity();

// Runs body once per ISA level this CPU has (each level forced), restoring dispatch after.
template <class F>
void for_each_isa(F&& body) {
  for (IsaLevel isa : {IsaLevel::Portable, IsaLevel::Avx2, IsaLevel::Avx512}) {
    if (static_cast<int>(isa) > static_cast<int>(kernels::detected_isa())) continue;
    kernels::set_isa_override(isa);
    SCOPED_TRACE(std::string(kernels::isa_name(isa)));
    body();
  }
  kernels::clear_isa_override();
}

std::vector<double> doubles_of(const Tensor& t) { return t.to_vector<double>(); }

TEST(ApotQuantizeGolden, EveryCaseBitExactOnEveryIsa) {
  const json& g = golden("apot_quantize.json");
  ASSERT_EQ(g.at("cases").size(), 131u);
  std::map<std::string, std::shared_ptr<const ApotQuantizer>> quantizers;
  for (const auto& s : g.at("qparam_sets")) {
    quantizers[s.at("id")] = std::make_shared<const ApotQuantizer>(qparams_of(s));
  }
  std::size_t elements = 0;
  for_each_isa([&] {
    for (const auto& c : g.at("cases")) {
      SCOPED_TRACE(c.at("id").get<std::string>());
      const auto& quantizer = quantizers.at(c.at("qparam_set"));
      const Tensor x = f32_tensor(c, "x");
      const Tensor x_before = x.clone();
      const ApotTensor q = quantize_apot(x, quantizer);
      EXPECT_TRUE(bitwise_equal(x, x_before)) << "input modified";
      EXPECT_EQ(q.codes.shape(), shape(c, "quantize_APoT"));
      EXPECT_TRUE(
          ints_equal(ints<std::int32_t>(c, "quantize_APoT"), q.codes.to_vector<std::int32_t>()));
      const Tensor dq = dequantize_apot(q);
      EXPECT_EQ(dq.dtype(), DType::Float64);
      EXPECT_EQ(dq.shape(), shape(c, "dequantize_APoT"));
      const std::vector<double> expected = f64(c, "dequantize_APoT"), got = doubles_of(dq);
      ASSERT_EQ(expected.size(), got.size());
      for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(bits_of(expected[i]), bits_of(got[i])) << "element " << i;
      }
      EXPECT_TRUE(floats_bitwise_equal(f32(c, "quant_dequant"),
                                       quantizer->quant_dequant(x).to_vector<float>()));
      EXPECT_TRUE(
          floats_bitwise_equal(f32(c, "quant_dequant"), dequantize_apot_f32(q).to_vector<float>()));
      elements += static_cast<std::size_t>(x.numel());
    }
  });
  EXPECT_GE(elements, 2931u);
}

// float64 inputs are rounded to float32 before the search (PyTorch compares in float32). The
// probes are the doubles one ulp either side of every golden exact midpoint whose float32
// distances tie: none is a float32, each rounds to the midpoint, so PyTorch's code is the
// midpoint's golden code (ties go to the lower level). A search on the unrounded double
// would put every probe above the midpoint on the upper level instead.
TEST(ApotQuantizeGolden, Float64InputIsRoundedToFloat32First) {
  const json& g = golden("apot_quantize.json");
  std::size_t probes = 0, unrounded_would_differ = 0;
  for (const auto& c : g.at("cases")) {
    if (c.at("category") != "midpoints") continue;
    SCOPED_TRACE(c.at("id").get<std::string>());
    const ApotQParams q = qparams_of(qparam_set(c.at("qparam_set")));
    const ApotQuantizer quantizer(q);
    const std::vector<float> x = f32(c, "x");
    const std::vector<std::int32_t> codes = ints<std::int32_t>(c, "quantize_APoT");
    const std::vector<float> levels = f32(c, "quant_dequant");
    std::vector<double> x64;
    std::vector<std::int32_t> expected_codes;
    std::vector<float> expected_levels;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!c.at("x_is_exact_midpoint")[i].get<bool>() ||
          !c.at("float32_distance_tie")[i].get<bool>()) {
        continue;
      }
      for (const double toward :
           {std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()}) {
        const double probe = std::nextafter(static_cast<double>(x[i]), toward);
        ASSERT_NE(static_cast<double>(static_cast<float>(probe)), probe) << "not a float32";
        ASSERT_EQ(static_cast<float>(probe), x[i]) << "rounds to the midpoint";
        if (std::abs(probe) > q.alpha) continue;  // beyond +-alpha the clamp decides
        // The level a double-precision search picks: the strictly nearest in double.
        double best = std::numeric_limits<double>::infinity();
        float nearest = 0.0f;
        for (const float level : q.levels) {
          const double d = std::abs(static_cast<double>(level) - probe);
          if (d < best) best = d, nearest = level;
        }
        if (nearest != levels[i]) ++unrounded_would_differ;
        x64.push_back(probe);
        expected_codes.push_back(codes[i]);
        expected_levels.push_back(levels[i]);
      }
    }
    if (x64.empty()) continue;
    const Tensor xt = Tensor::from_vector(x64);
    ASSERT_EQ(xt.dtype(), DType::Float64);
    for_each_isa([&] {
      EXPECT_TRUE(ints_equal(expected_codes, quantizer.quantize(xt).to_vector<std::int32_t>()));
      EXPECT_TRUE(
          floats_bitwise_equal(expected_levels, quantizer.quant_dequant(xt).to_vector<float>()));
    });
    probes += x64.size();
  }
  // 342 golden ties, one probe on each side; the 342 above them are the sensitive ones.
  EXPECT_EQ(probes, 684u);
  EXPECT_EQ(unrounded_would_differ, 342u);
}

// PyTorch's out-of-range behaviour is a defect (README item 12); ours is quantize(clamp(x)),
// which is what the generator's clipped_reference_* fields record.
TEST(ApotQuantizeGolden, OutOfRangeClampsToExtremeLevel) {
  const json& g = golden("apot_quantize.json");
  std::size_t checked = 0, nans = 0;
  for_each_isa([&] {
    std::map<std::string, std::unique_ptr<ApotQuantizer>> quantizers;
    for (const auto& r : g.at("pytorch_out_of_range")) {
      SCOPED_TRACE(r.at("id").get<std::string>());
      auto& slot = quantizers[r.at("qparam_set").get<std::string>()];
      if (!slot) slot = std::make_unique<ApotQuantizer>(qparams_of(qparam_set(r.at("qparam_set"))));
      const ApotQuantizer& quantizer = *slot;
      const float x = float_from_bits(r.at("x_bits").get<std::string>());
      const Tensor xt = Tensor::from_vector(std::vector<float>{x});
      const Tensor codes = quantizer.quantize(xt);
      const std::int32_t code = codes.data<std::int32_t>()[0];
      if (std::isnan(x)) {
        // NaN quantizes like 0 (documented); PyTorch's code 0 is the zero level only when
        // unsigned.
        const Tensor zero = Tensor::from_vector(std::vector<float>{0.0f});
        EXPECT_EQ(code, quantizer.quantize(zero).data<std::int32_t>()[0]);
        if (!quantizer.qparams().scheme.is_signed) {
          EXPECT_EQ(code, r.at("quantize_APoT").get<int>());
        }
        ++nans;
        continue;
      }
      EXPECT_EQ(code, r.at("clipped_reference_code").get<std::int32_t>());
      EXPECT_EQ(quantizer.dequantize(codes).data<double>()[0],
                number(r.at("clipped_reference_dequantize")));
      EXPECT_EQ(quantizer.quant_dequant(xt).data<float>()[0],
                static_cast<float>(number(r.at("clipped_reference_dequantize"))));
      ++checked;
    }
  });
  EXPECT_GT(checked, 0u);
  EXPECT_GT(nans, 0u);
}

// The threshold table must reproduce PyTorch's float32 scan exactly: probe every midpoint
// between adjacent distinct levels of every golden level set at -3..+3 ulps, the levels
// themselves and +-alpha, against the literal O(L) scan, on every ISA.
void probe_level_set(const ApotQParams& q, std::size_t max_pairs, std::size_t& probes) {
  const ApotQuantizer quantizer(q);
  std::vector<float> distinct;
  for (const float v : q.levels) {
    if (distinct.empty() || v != distinct.back()) distinct.push_back(v);
  }
  const std::size_t stride = std::max<std::size_t>(1, distinct.size() / max_pairs);
  std::vector<float> xs{q.alpha, -q.alpha, 0.0f, -0.0f};
  for (std::size_t j = 0; j + 1 < distinct.size(); j += stride) {
    const float m = static_cast<float>(0.5 * (static_cast<double>(distinct[j]) + distinct[j + 1]));
    float lo = m, hi = m;
    xs.push_back(m);
    for (int u = 0; u < 3; ++u) {
      lo = std::nextafter(lo, -kInf);
      hi = std::nextafter(hi, kInf);
      xs.push_back(lo);
      xs.push_back(hi);
    }
    xs.push_back(distinct[j]);
  }
  std::vector<float> in_range;
  for (const float x : xs) {
    if (x >= -q.alpha && x <= q.alpha) in_range.push_back(x);
  }
  std::vector<std::int32_t> expected;
  for (const float x : in_range)
    expected.push_back(static_cast<std::int32_t>(reference_code(q, x)));
  const Tensor xt = Tensor::from_vector(in_range);
  for_each_isa(
      [&] { EXPECT_TRUE(ints_equal(expected, quantizer.quantize(xt).to_vector<std::int32_t>())); });
  // The exact scalar search (used for sets that need it) agrees too.
  for (std::size_t i = 0; i < in_range.size(); ++i) {
    const std::int32_t pos = kernels::apot_exact_position(quantizer.table(), in_range[i]);
    ASSERT_EQ(quantizer.table().codes[static_cast<std::size_t>(pos)], expected[i])
        << "x=" << in_range[i];
  }
  probes += in_range.size();
}

TEST(ApotQuantizeTieRule, MidpointsPlusMinusThreeUlpsAllGoldenLevelSets) {
  std::size_t probes = 0, exact_sets = 0;
  const json& g = golden("apot_levels.json");
  for (const char* section : {"entries", "edge_entries"}) {
    for (const auto& e : g.at(section)) {
      SCOPED_TRACE(e.at("id").get<std::string>());
      ApotQParams q;
      q.scheme = ApotScheme{e.at("b").get<int>(), e.at("k").get<int>(), e.at("signed").get<bool>()};
      q.alpha = f32_scalar(e, "alpha");
      q.gamma = f32_scalar(e, "gamma");
      q.levels = f32(e, "quantization_levels");
      q.level_indices = ints<std::int64_t>(e, "level_indices");
      // Full sweep up to 729 levels; larger sets sample ~250 midpoints (the scan is O(L)).
      probe_level_set(q, q.levels.size() <= 729 ? q.levels.size() : 250, probes);
      exact_sets += ApotQuantizer(q).table().exact_scan_needed ? 1 : 0;
    }
  }
  EXPECT_GT(probes, 30000u);
  // No golden level set needs the scalar fallback: all run the vectorized threshold search.
  EXPECT_EQ(exact_sets, 0u);
}

TEST(ApotQuantizeTieRule, ExactTiesGoToLowerLevelAndFirstDuplicate) {
  // alpha = 1.5 gives gamma = 1 for b=4,k=2, so the levels are exact sums of powers of two
  // and exact float32 midpoints exist: 0.25 and 0.25 + 2^-5 are adjacent levels.
  const ApotQParams q = make_apot_qparams({4, 2, false}, 1.5f);
  EXPECT_EQ(q.gamma, 1.0f);
  const ApotQuantizer quantizer(q);
  const float lo = 0.25f, hi = 0.28125f;
  const Tensor x =
      Tensor::from_vector(std::vector<float>{0.265625f, std::nextafter(0.265625f, 1.0f)});
  const Tensor out = quantizer.quant_dequant(x);
  EXPECT_EQ(out.data<float>()[0], lo);  // tie -> lower level
  EXPECT_EQ(out.data<float>()[1], hi);
  // Signed: duplicates (e.g. +2^-1 + -2^-1 = 0 and 0 + 0) -> first in sorted order.
  const ApotQParams s = make_apot_qparams({4, 2, true}, 1.5f);
  const ApotQuantizer signed_quantizer(s);
  const std::size_t first_zero = static_cast<std::size_t>(
      std::find(s.levels.begin(), s.levels.end(), 0.0f) - s.levels.begin());
  const Tensor zero = Tensor::from_vector(std::vector<float>{0.0f, -0.0f});
  EXPECT_EQ(signed_quantizer.quantize(zero).data<std::int32_t>()[0], s.level_indices[first_zero]);
  EXPECT_EQ(signed_quantizer.quantize(zero).data<std::int32_t>()[1], s.level_indices[first_zero]);
}

// ---- PyTorch test_quantizer.py ----

TEST(ApotQuantizerPyTorch, QuantizeK2HandCalculated) {
  const Tensor x =
      Tensor::from_vector(std::vector<float>{0.0f, 0.0215f, 0.1692f, 0.385f, 1.0f, 0.0391f});
  ApotObserver observer(4, 2);
  observer.observe(x);
  const ApotTensor q = quantize_apot(x, observer.calculate_qparams(false));
  EXPECT_EQ(q.codes.to_vector<std::int32_t>(), (std::vector<std::int32_t>{0, 3, 8, 13, 5, 12}));
}

void dequantize_quantize_round_trip(int b, int k, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(0.0f, 1000.0f);
  for (int size = 1; size <= 20; ++size) {
    std::vector<float> v(static_cast<std::size_t>(size));
    for (auto& e : v) e = dist(gen);
    const Tensor x = Tensor::from_vector(v);
    ApotObserver observer(b, k);
    observer.observe(x);
    const auto quantizer = std::make_shared<const ApotQuantizer>(observer.calculate_qparams(false));
    const ApotTensor original = quantize_apot(x, quantizer);
    const Tensor back = dequantize_apot(original);  // float64, re-quantized like PyTorch
    const ApotTensor again = quantize_apot(back, quantizer);
    EXPECT_TRUE(bitwise_equal(original.codes, again.codes)) << "size " << size;
  }
}

TEST(ApotQuantizerPyTorch, DequantizeQuantizeRoundTripB4K2) {
  dequantize_quantize_round_trip(4, 2, 1);
}
TEST(ApotQuantizerPyTorch, DequantizeQuantizeRoundTripB12K4) {
  dequantize_quantize_round_trip(12, 4, 2);
}

TEST(ApotQuantizerPyTorch, DequantizeKeepsShape) {
  std::mt19937 gen(3);
  std::uniform_real_distribution<float> dist(0.0f, 1000.0f);
  const Shape shape{7, 3, 11};
  std::vector<float> v(7 * 3 * 11);
  for (auto& e : v) e = dist(gen);
  const Tensor x = Tensor::from_vector(v, shape);
  ApotObserver observer(4, 2);
  observer.observe(x);
  const ApotTensor q = quantize_apot(x, observer.calculate_qparams(false));
  EXPECT_EQ(q.codes.shape(), shape);
  EXPECT_EQ(dequantize_apot(q).shape(), shape);
}

// k = 1 reduces APoT to uniform quantization: b=8,k=1 codes equal quint8
// quantize_per_tensor codes with MinMaxObserver qparams on non-negative data (except at exact
// rounding ties, where APoT rounds down and quantize_per_tensor to even: none occur here).
TEST(ApotQuantizerPyTorch, K1EqualsUniformQuint8) {
  std::mt19937 gen(4);
  std::uniform_real_distribution<float> dist(0.0f, 1000.0f);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<float> v(static_cast<std::size_t>(1 + trial));
    for (auto& e : v) e = dist(gen);
    const Tensor x = Tensor::from_vector(v);
    ApotObserver apot_observer(8, 1);
    apot_observer.observe(x);
    const ApotTensor q = quantize_apot(x, apot_observer.calculate_qparams(false));
    auto minmax = make_observer("minmax", ObserverOptions{});
    minmax->observe(x);
    const QParams qp = minmax->calculate_qparams();
    const Tensor uniform =
        quantize_per_tensor(x, qp.scale[0], qp.zero_point[0], QuantRange::full(DType::UInt8));
    EXPECT_EQ(q.codes.to_vector<std::int32_t>(), uniform.to(DType::Int32).to_vector<std::int32_t>())
        << "trial " << trial;
  }
}

// ---- behaviour beyond the golden data ----

TEST(ApotQuantizer, AllIsasAgreeOnRandomDataIncludingSpecials) {
  std::mt19937 gen(5);
  std::normal_distribution<float> dist(0.0f, 1.5f);
  const std::vector<ApotScheme> schemes{{4, 2, false}, {4, 2, true}, {6, 3, false}, {8, 2, false},
                                        {8, 2, true},  {8, 4, true}, {2, 1, false}, {12, 4, false},
                                        {3, 1, true},  {6, 2, true}, {6, 1, true},  {7, 1, false},
                                        {16, 2, false}};
  for (const ApotScheme& s : schemes) {
    SCOPED_TRACE(s.label());
    const ApotQuantizer quantizer(make_apot_qparams(s, 2.0f));
    SCOPED_TRACE("padded table " + std::to_string(quantizer.table().padded_size));
    std::vector<float> v(1037);  // not a multiple of 16: exercises the tails
    for (auto& e : v) e = dist(gen);
    v[3] = std::nanf("");
    v[17] = kInf;
    v[18] = -kInf;
    v[40] = 1e30f;
    v[41] = -1e30f;
    v[42] = -0.0f;
    const Tensor x = Tensor::from_vector(v);
    kernels::set_isa_override(IsaLevel::Portable);
    const Tensor ref_codes = quantizer.quantize(x);
    const Tensor ref_values = quantizer.quant_dequant(x);
    kernels::clear_isa_override();
    for_each_isa([&] {
      EXPECT_TRUE(bitwise_equal(quantizer.quantize(x), ref_codes));
      EXPECT_TRUE(bitwise_equal(quantizer.quant_dequant(x), ref_values));
    });
    // Against the literal scan on the clamped value (NaN as 0); O(L) per element, so only
    // for the smaller sets.
    const auto& q = quantizer.qparams();
    if (q.levels.size() > 4096) continue;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const float c = std::isnan(v[i]) ? 0.0f : std::min(std::max(v[i], -q.alpha), q.alpha);
      ASSERT_EQ(ref_codes.data<std::int32_t>()[i], reference_code(q, c)) << "x=" << v[i];
    }
  }
}

TEST(ApotQuantizer, OutOfRangeSaturatesSigned) {
  const ApotQuantizer quantizer(make_apot_qparams({4, 2, true}, 0.8f));
  const Tensor x = Tensor::from_vector(std::vector<float>{5.0f, -5.0f, kInf, -kInf});
  const Tensor v = quantizer.quant_dequant(x);
  EXPECT_EQ(v.data<float>()[0], quantizer.qparams().levels.back());
  EXPECT_EQ(v.data<float>()[1], quantizer.qparams().levels.front());
  EXPECT_EQ(v.data<float>()[2], quantizer.qparams().levels.back());
  EXPECT_EQ(v.data<float>()[3], quantizer.qparams().levels.front());
}

TEST(ApotQuantizer, EmptyAndIntoVariants) {
  const ApotQuantizer quantizer(make_apot_qparams({4, 2, false}, 1.0f));
  const Tensor empty = Tensor::empty({0, 3}, DType::Float32);
  EXPECT_EQ(quantizer.quantize(empty).shape(), (Shape{0, 3}));
  EXPECT_EQ(quantizer.dequantize(quantizer.quantize(empty)).numel(), 0);
  const Tensor x = Tensor::from_vector(std::vector<float>{0.1f, 0.9f}, {2, 1});
  Tensor codes = Tensor::empty({2, 1}, DType::Int32);
  quantizer.quantize_into(x, codes);
  Tensor out32 = Tensor::empty({2, 1}, DType::Float32);
  quantizer.dequantize_into(codes, out32);
  EXPECT_TRUE(bitwise_equal(out32, quantizer.quant_dequant(x)));
  Tensor wrong = Tensor::empty({2}, DType::Int32);
  EXPECT_THROW(quantizer.quantize_into(x, wrong), Error);
  Tensor wrong_dtype = Tensor::empty({2, 1}, DType::Int64);
  EXPECT_THROW(quantizer.quantize_into(x, wrong_dtype), Error);
}

TEST(ApotQuantizer, Errors) {
  const ApotQParams good = make_apot_qparams({4, 2, false}, 1.0f);
  const ApotQuantizer quantizer(good);
  EXPECT_THROW(quantizer.quantize(Tensor::from_vector(std::vector<std::int32_t>{1})), Error);
  // Codes must be level indices (PyTorch: ValueError ... is not in list).
  try {
    quantizer.dequantize(Tensor::from_vector(std::vector<std::int32_t>{3, 16}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("codes[1]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(quantizer.dequantize(Tensor::from_vector(std::vector<std::int32_t>{-1})), Error);
  EXPECT_THROW(quantizer.dequantize(Tensor::from_vector(std::vector<float>{1.0f})), Error);
  EXPECT_THROW(quantizer.level_of_code(16), Error);
  EXPECT_EQ(quantizer.level_of_code(5), 1.0f);
  ApotQParams bad = good;
  bad.levels[3] = bad.levels[2] - 1.0f;
  EXPECT_THROW(ApotQuantizer{bad}, Error);
  bad = good;
  bad.level_indices[0] = bad.level_indices[1];
  EXPECT_THROW(ApotQuantizer{bad}, Error);
  bad = good;
  bad.level_indices.pop_back();
  EXPECT_THROW(ApotQuantizer{bad}, Error);
  bad = good;
  bad.alpha = std::nanf("");
  EXPECT_THROW(ApotQuantizer{bad}, Error);
  bad = good;
  bad.levels.clear();
  bad.level_indices.clear();
  EXPECT_THROW(ApotQuantizer{bad}, Error);
  EXPECT_THROW(quantize_apot(Tensor(), std::shared_ptr<const ApotQuantizer>()), Error);
}

TEST(ApotQuantizer, ExactScanFallbackMatchesScan) {
  // A hand-made level set where far from a level two close lower levels have the same
  // float32 distance: PyTorch's scan keeps the lower one. {0, 2^-30, 1}, alpha = 1:
  // for x = 0.25, fl(0.25 - 2^-30) == 0.25 == fl(0.25 - 0), so the scan answers level 0.
  ApotQParams q;
  q.scheme = {4, 2, false};
  q.alpha = 1.0f;
  q.gamma = 1.0f;
  q.levels = {0.0f, std::ldexp(1.0f, -30), 1.0f};
  q.level_indices = {0, 1, 2};
  const ApotQuantizer quantizer(q);
  EXPECT_TRUE(quantizer.table().exact_scan_needed);
  std::vector<float> xs{0.25f,
                        0.49f,
                        0.5f,
                        0.51f,
                        std::ldexp(1.0f, -30),
                        std::ldexp(1.0f, -29),
                        std::ldexp(1.0f, -31),
                        1e-9f,
                        1e-8f,
                        1e-7f,
                        0.0f,
                        1.0f};
  for (float x : xs) {
    const Tensor t = Tensor::from_vector(std::vector<float>{x});
    for_each_isa([&] {
      EXPECT_EQ(quantizer.quantize(t).data<std::int32_t>()[0], reference_code(q, x)) << "x=" << x;
    });
  }
  EXPECT_EQ(reference_code(q, 0.25f), 0);
}

}  // namespace
}  // namespace quantkit::apot
