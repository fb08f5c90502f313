// Observer behaviour beyond the golden data: save/load, merge, reset, clone, validation,
// empty and non-finite input.
#include "quantkit/quant/observer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/quant/observers.h"

namespace quantkit {
namespace {

using ::testing::HasSubstr;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::uint32_t bits(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

// Deterministic batches: normal values scaled and shifted per batch so ranges move.
Tensor random_batch(std::uint32_t seed, Shape shape, float scale = 1.0f, float shift = 0.0f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)));
  for (float& f : v) f = dist(gen) * scale + shift;
  return Tensor::from_vector(v, std::move(shape));
}

std::vector<Tensor> stream(std::uint32_t seed, int batches, Shape shape) {
  std::vector<Tensor> out;
  for (int i = 0; i < batches; ++i) {
    out.push_back(random_batch(seed + static_cast<std::uint32_t>(i), shape, 1.0f + 0.5f * i,
                               0.3f * static_cast<float>(i % 3) - 0.2f));
  }
  return out;
}

struct KindCase {
  std::string kind;
  ObserverOptions options;
};

ObserverOptions per_channel_options() {
  ObserverOptions o;
  o.dtype = DType::Int8;
  o.qscheme = QScheme::PerChannelSymmetric;
  o.ch_axis = 1;
  return o;
}

std::vector<KindCase> every_kind() {
  ObserverOptions minmax;
  minmax.dtype = DType::Int8;
  minmax.qscheme = QScheme::PerTensorAffine;
  minmax.quant_min = -8;
  minmax.quant_max = 7;
  minmax.eps = 0x1p-12f;
  ObserverOptions moving;
  moving.averaging_constant = 0.25f;
  moving.reduce_range = true;
  ObserverOptions moving_pc = per_channel_options();
  moving_pc.qscheme = QScheme::PerChannelAffine;
  moving_pc.dtype = DType::UInt8;
  moving_pc.averaging_constant = 0.1f;
  moving_pc.ch_axis = -1;
  ObserverOptions histogram;
  histogram.bins = 256;
  histogram.dtype = DType::Int8;
  histogram.qscheme = QScheme::PerTensorSymmetric;
  ObserverOptions fixed;
  fixed.fixed_scale = 1.0 / 256;
  fixed.fixed_zero_point = 3;
  return {{"minmax", minmax},
          {"moving-average-minmax", moving},
          {"per-channel-minmax", per_channel_options()},
          {"moving-average-per-channel-minmax", moving_pc},
          {"histogram", histogram},
          {"placeholder", ObserverOptions{}},
          {"fixed-qparams", fixed}};
}

bool has_qparams(const std::string& kind) { return kind != "placeholder"; }

void expect_same_qparams(const QParams& a, const QParams& b) {
  EXPECT_EQ(a.qscheme, b.qscheme);
  EXPECT_EQ(a.axis, b.axis);
  ASSERT_EQ(a.scale.size(), b.scale.size());
  for (std::size_t i = 0; i < a.scale.size(); ++i) {
    EXPECT_EQ(std::memcmp(&a.scale[i], &b.scale[i], sizeof(double)), 0) << i;
  }
  EXPECT_EQ(a.zero_point, b.zero_point);
  ASSERT_EQ(a.float_zero_point.size(), b.float_zero_point.size());
  for (std::size_t i = 0; i < a.float_zero_point.size(); ++i) {
    EXPECT_EQ(bits(a.float_zero_point[i]), bits(b.float_zero_point[i]));
  }
}

// ---- save / load ----

TEST(ObserverSaveLoad, RoundTripIsExactForEveryKind) {
  for (const KindCase& k : every_kind()) {
    SCOPED_TRACE(k.kind);
    auto obs = make_observer(k.kind, k.options);
    // Uninitialized state round-trips too.
    EXPECT_EQ(load_observer(obs->save())->save(), obs->save());
    for (const Tensor& x : stream(11, 3, {4, 6, 5})) obs->observe(x);
    const std::string saved = obs->save();
    const auto loaded = load_observer(saved);
    EXPECT_EQ(loaded->kind(), k.kind);
    EXPECT_EQ(loaded->save(), saved);
    EXPECT_EQ(loaded->quant_range().quant_min, obs->quant_range().quant_min);
    EXPECT_EQ(loaded->quant_range().quant_max, obs->quant_range().quant_max);
    if (has_qparams(k.kind))
      expect_same_qparams(obs->calculate_qparams(), loaded->calculate_qparams());
    // Both continue identically.
    const Tensor more = random_batch(99, {4, 6, 5}, 4.0f, 1.0f);
    obs->observe(more);
    loaded->observe(more);
    EXPECT_EQ(loaded->save(), obs->save());
  }
}

TEST(ObserverSaveLoad, FloatsAreStoredAsBitPatterns) {
  ObserverOptions o;
  o.eps = 0x1.8p-20f;
  MinMaxObserver obs(o, MinMaxState{-0.1f, 0x1.fffffep+20f});
  const std::string saved = obs.save();
  EXPECT_THAT(saved, HasSubstr("\"eps\":\"0x35c00000\""));
  EXPECT_THAT(saved, HasSubstr("\"max_val\":\"0x49ffffff\""));
  const auto loaded = load_observer(saved);
  const auto& state = dynamic_cast<const MinMaxObserver&>(*loaded).state();
  EXPECT_EQ(bits(state.min_val), bits(-0.1f));
  EXPECT_EQ(bits(state.max_val), bits(0x1.fffffep+20f));
  EXPECT_EQ(bits(loaded->options().eps), bits(0x1.8p-20f));
}

TEST(ObserverSaveLoad, MalformedDocumentsAreRejected) {
  const std::string good = MinMaxObserver(ObserverOptions{}, MinMaxState{-1.0f, 2.0f}).save();
  const auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const auto at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  const std::vector<std::string> bad = {
      "",
      "not json",
      "[]",
      good.substr(0, good.size() / 2),
      replace("\"quantkit.observer\"", "\"other\""),
      replace("\"version\":1", "\"version\":2"),
      replace("\"kind\":\"minmax\"", "\"kind\":\"median\""),
      replace("\"kind\":\"minmax\"", "\"kind\":7"),
      replace("\"kind\":\"minmax\",", ""),
      replace("\"dtype\":\"uint8\"", "\"dtype\":\"float32\""),
      replace("\"dtype\":\"uint8\"", "\"dtype\":\"uint9\""),
      replace("\"qscheme\":\"per_tensor_affine\"", "\"qscheme\":\"per_channel_affine\""),
      replace("\"eps\":\"0x34000000\"", "\"eps\":\"0x3400000\""),
      replace("\"eps\":\"0x34000000\"", "\"eps\":\"0x3400000g\""),
      replace("\"eps\":\"0x34000000\"", "\"eps\":1.0"),
      replace("\"eps\":\"0x34000000\"", "\"eps\":\"0x80000000\""),  // eps -0.0
      replace("\"bins\":2048", "\"bins\":\"2048\""),
      replace("\"quant_min\":null", "\"quant_min\":0"),  // quant_max still null
      replace("\"reduce_range\":false", "\"reduce_range\":0"),
      replace("\"min_val\":\"0xbf800000\"", "\"min_val\":\"0x40800000\""),  // min 4 > max 2
      replace("\"min_val\":\"0xbf800000\"", "\"min_val\":\"0x7fc00000\""),  // NaN
      replace(",\"min_val\":\"0xbf800000\"", ""),
      replace("\"state\":{", "\"state\":{\"extra\":1,"),
      replace("\"format\"", "\"unknown\":0,\"format\""),
  };
  for (const std::string& doc : bad) {
    SCOPED_TRACE(doc);
    EXPECT_THROW(load_observer(doc), Error);
  }
  EXPECT_NO_THROW(load_observer(good));
}

TEST(ObserverSaveLoad, HistogramStateIsValidated) {
  ObserverOptions o;
  o.bins = 4;
  HistogramObserver obs(o);
  obs.observe(Tensor::from_vector(std::vector<float>{0.0f, 1.0f, 2.0f, 3.0f}));
  const std::string good = obs.save();
  EXPECT_NO_THROW(load_observer(good));
  std::string wrong_size = good;
  wrong_size.replace(wrong_size.find("\"histogram\":[") + 13, 0, "\"0x3f800000\",");
  EXPECT_THROW(load_observer(wrong_size), Error);
  std::string negative = good;
  const auto at = negative.find("0x3f800000");  // a count of 1
  ASSERT_NE(at, std::string::npos);
  negative.replace(at, 10, "0xbf800000");
  EXPECT_THROW(load_observer(negative), Error);
  // Counts on an uninitialized observer are inconsistent.
  EXPECT_THROW(HistogramObserver(o, HistogramState{kInf, -kInf, {1.0f, 0.0f, 0.0f, 0.0f}}), Error);
}

// ---- merge ----

std::unique_ptr<Observer> observed(const KindCase& k, const std::vector<Tensor>& batches) {
  auto obs = make_observer(k.kind, k.options);
  for (const Tensor& x : batches) obs->observe(x);
  return obs;
}

TEST(ObserverMerge, MinMaxKindsEqualOneObserverOnTheWholeStream) {
  for (const KindCase& k : every_kind()) {
    if (k.kind != "minmax" && k.kind != "per-channel-minmax") continue;
    SCOPED_TRACE(k.kind);
    const std::vector<Tensor> all = stream(5, 6, {3, 4, 7});
    const auto whole = observed(k, all);
    for (std::size_t split = 0; split <= all.size(); ++split) {
      const std::vector<Tensor> first(all.begin(), all.begin() + static_cast<long>(split));
      const std::vector<Tensor> second(all.begin() + static_cast<long>(split), all.end());
      auto a = observed(k, first);
      a->merge(*observed(k, second));
      EXPECT_EQ(a->save(), whole->save()) << "split " << split;
      auto b = observed(k, second);
      b->merge(*observed(k, first));
      EXPECT_EQ(b->save(), whole->save()) << "reversed split " << split;
    }
  }
}

TEST(ObserverMerge, MovingAverageMergesTheOtherAsOneBatch) {
  for (const KindCase& k : every_kind()) {
    if (k.kind.rfind("moving-average", 0) != 0) continue;
    SCOPED_TRACE(k.kind);
    const std::vector<Tensor> history = stream(21, 3, {5, 4});
    const Tensor batch = random_batch(77, {5, 4}, 3.0f, 0.5f);
    // Merging an observer that saw exactly one batch == observing that batch here.
    auto merged = observed(k, history);
    merged->merge(*observed(k, {batch}));
    auto direct = observed(k, history);
    direct->observe(batch);
    EXPECT_EQ(merged->save(), direct->save());
    // Into an empty observer: a copy. From an empty observer: nothing changes.
    auto empty = make_observer(k.kind, k.options);
    const auto full = observed(k, history);
    empty->merge(*full);
    EXPECT_EQ(empty->save(), full->save());
    auto unchanged = observed(k, history);
    unchanged->merge(*make_observer(k.kind, k.options));
    EXPECT_EQ(unchanged->save(), full->save());
    // Not order-free: merging a longer stream weights its average like one batch, which is
    // in general not what observing its batches one by one gives.
    const std::vector<Tensor> later = stream(40, 4, {5, 4});
    auto as_merge = observed(k, history);
    as_merge->merge(*observed(k, later));
    auto as_stream = observed(k, history);
    for (const Tensor& x : later) as_stream->observe(x);
    EXPECT_NE(as_merge->save(), as_stream->save());
  }
}

HistogramObserver histogram_of(const ObserverOptions& o, const std::vector<Tensor>& batches) {
  HistogramObserver obs(o);
  for (const Tensor& x : batches) obs.observe(x);
  return obs;
}

double mass(const HistogramObserver& obs) {
  double m = 0;
  for (const float h : obs.state().histogram) m += h;
  return m;
}

TEST(ObserverMerge, HistogramIntoEmptyCopiesAndEmptyIsANoOp) {
  ObserverOptions o;
  o.bins = 128;
  const HistogramObserver full = histogram_of(o, stream(3, 3, {64}));
  HistogramObserver empty(o);
  empty.merge(full);
  EXPECT_EQ(empty.save(), full.save());
  HistogramObserver same = full;
  same.merge(HistogramObserver(o));
  EXPECT_EQ(same.save(), full.save());
}

TEST(ObserverMerge, HistogramWithEqualRangesAddsBins) {
  ObserverOptions o;
  o.bins = 64;
  // Both sides see the same extremes, so their histograms share one range.
  std::vector<float> a = {-2.0f, 3.0f, 0.5f, 0.25f, 1.0f, -1.5f};
  std::vector<float> b = {3.0f, -2.0f, 2.9f, -0.75f};
  HistogramObserver left = histogram_of(o, {Tensor::from_vector(a)});
  const HistogramObserver right = histogram_of(o, {Tensor::from_vector(b)});
  std::vector<float> expected = left.state().histogram;
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] += right.state().histogram[i];
  left.merge(right);
  EXPECT_EQ(left.state().histogram, expected);
  EXPECT_EQ(left.state().min_val, -2.0f);
  EXPECT_EQ(left.state().max_val, 3.0f);
  // And it equals one observer on both batches.
  EXPECT_EQ(left.save(), histogram_of(o, {Tensor::from_vector(a), Tensor::from_vector(b)}).save());
}

TEST(ObserverMerge, HistogramMergingAWiderSingleBatchEqualsObservingIt) {
  ObserverOptions o;  // bins 2048
  const std::vector<Tensor> history = stream(8, 3, {200});
  const Tensor wide = random_batch(9, {300}, 6.0f);  // contains the history's range
  HistogramObserver merged = histogram_of(o, history);
  ASSERT_LE(*std::min_element(wide.span<float>().begin(), wide.span<float>().end()),
            merged.state().min_val);
  merged.merge(histogram_of(o, {wide}));
  HistogramObserver direct = histogram_of(o, history);
  direct.observe(wide);
  EXPECT_EQ(merged.save(), direct.save());
  // Also from a constant state (all mass moves into one bin).
  HistogramObserver constant = histogram_of(o, {Tensor::from_vector(std::vector<float>(5, 0.5f))});
  HistogramObserver constant_direct = constant;
  constant.merge(histogram_of(o, {wide}));
  constant_direct.observe(wide);
  EXPECT_EQ(constant.save(), constant_direct.save());
}

TEST(ObserverMerge, HistogramGeneralMergeKeepsMassAndUnionRange) {
  ObserverOptions o;
  o.bins = 512;
  HistogramObserver a = histogram_of(o, stream(30, 2, {100}));
  const HistogramObserver b = histogram_of(o, {random_batch(31, {150}, 2.0f, 3.0f)});
  const float lo = std::min(a.state().min_val, b.state().min_val);
  const float hi = std::max(a.state().max_val, b.state().max_val);
  a.merge(b);
  EXPECT_EQ(mass(a), 350.0);  // weights are multiples of 1/16: exact
  EXPECT_EQ(a.state().min_val, lo);
  EXPECT_EQ(a.state().max_val, hi);
  EXPECT_NO_THROW(a.calculate_qparams());
}

TEST(ObserverMerge, MismatchedKindsOrConfigurationsAreRejected) {
  ObserverOptions o;
  MinMaxObserver minmax(o);
  MovingAverageMinMaxObserver moving(o);
  HistogramObserver histogram(o);
  EXPECT_THROW(minmax.merge(moving), Error);
  EXPECT_THROW(moving.merge(minmax), Error);
  EXPECT_THROW(minmax.merge(histogram), Error);
  ObserverOptions other = o;
  other.eps = 0x1p-12f;
  EXPECT_THROW(minmax.merge(MinMaxObserver(other)), Error);
  other = o;
  other.reduce_range = true;
  EXPECT_THROW(minmax.merge(MinMaxObserver(other)), Error);
  other = o;
  other.bins = 1024;
  EXPECT_THROW(histogram.merge(HistogramObserver(other)), Error);
  // Per channel: different channel counts.
  PerChannelMinMaxObserver a(per_channel_options());
  PerChannelMinMaxObserver b(per_channel_options());
  a.observe(random_batch(1, {2, 3}));
  b.observe(random_batch(2, {2, 4}));
  const std::string before = a.save();
  EXPECT_THROW(a.merge(b), Error);
  EXPECT_EQ(a.save(), before);
}

// ---- reset / clone ----

TEST(ObserverLifecycle, ResetReturnsToTheFreshState) {
  for (const KindCase& k : every_kind()) {
    SCOPED_TRACE(k.kind);
    auto obs = observed(k, stream(4, 2, {3, 5}));
    obs->reset();
    EXPECT_EQ(obs->save(), make_observer(k.kind, k.options)->save());
    for (const Tensor& x : stream(6, 2, {3, 5})) obs->observe(x);
    EXPECT_EQ(obs->save(), observed(k, stream(6, 2, {3, 5}))->save());
  }
}

TEST(ObserverLifecycle, CloneIsAnIndependentCopy) {
  for (const KindCase& k : every_kind()) {
    SCOPED_TRACE(k.kind);
    auto obs = observed(k, stream(12, 2, {3, 5}));
    const std::string before = obs->save();
    auto copy = obs->clone();
    EXPECT_EQ(copy->kind(), obs->kind());
    EXPECT_EQ(copy->save(), before);
    copy->observe(random_batch(50, {3, 5}, 10.0f));
    EXPECT_EQ(obs->save(), before);
    copy->reset();
    EXPECT_EQ(obs->save(), before);
  }
}

TEST(ObserverLifecycle, UnobservedObserversReturnTorchDefaults) {
  for (const KindCase& k : every_kind()) {
    if (k.kind == "placeholder" || k.kind == "fixed-qparams") continue;
    SCOPED_TRACE(k.kind);
    const QParams qp = make_observer(k.kind, k.options)->calculate_qparams();
    EXPECT_EQ(qp.scale, std::vector<double>{1.0});
    EXPECT_EQ(qp.zero_point, std::vector<std::int64_t>{0});
  }
  EXPECT_THROW(HistogramObserver(ObserverOptions{}).search(), Error);
  EXPECT_THROW(HistogramObserver(ObserverOptions{}).quantization_error(0, 10), Error);
}

// ---- inputs ----

TEST(ObserverInput, EmptyTensorsAreIgnored) {
  for (const KindCase& k : every_kind()) {
    SCOPED_TRACE(k.kind);
    auto obs = make_observer(k.kind, k.options);
    const std::string fresh = obs->save();
    obs->observe(Tensor::zeros({0}, DType::Float32));
    obs->observe(Tensor::zeros({0, 3, 5}, DType::Float32));
    EXPECT_EQ(obs->save(), fresh);
    obs->observe(random_batch(3, {2, 3, 5}));
    const std::string seen = obs->save();
    obs->observe(Tensor::zeros({4, 0, 5}, DType::Float32));
    EXPECT_EQ(obs->save(), seen);
  }
}

TEST(ObserverInput, NonFloat32InputIsRejected) {
  for (const KindCase& k : every_kind()) {
    SCOPED_TRACE(k.kind);
    auto obs = make_observer(k.kind, k.options);
    EXPECT_THROW(obs->observe(Tensor::zeros({4}, DType::Int8)), Error);
    EXPECT_THROW(obs->observe(Tensor::zeros({4}, DType::Float64)), Error);
    EXPECT_THROW(obs->observe(Tensor::zeros({0}, DType::Int32)), Error);
  }
}

TEST(ObserverInput, NaNIsRejectedAndLeavesTheStateUnchanged) {
  for (const KindCase& k : every_kind()) {
    if (k.kind == "placeholder" || k.kind == "fixed-qparams") continue;
    SCOPED_TRACE(k.kind);
    auto obs = observed(k, stream(2, 1, {2, 3}));
    const std::string before = obs->save();
    std::vector<float> v = random_batch(5, {2, 3}).to_vector<float>();
    v[4] = kNaN;
    try {
      obs->observe(Tensor::from_vector(v, Shape{2, 3}));
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr("x[4]"));
    }
    EXPECT_EQ(obs->save(), before);
  }
}

TEST(ObserverInput, MinMaxFamilyRejectsInfinity) {
  for (const KindCase& k : every_kind()) {
    if (k.kind.find("minmax") == std::string::npos) continue;
    SCOPED_TRACE(k.kind);
    auto obs = observed(k, stream(2, 1, {2, 3}));
    const std::string before = obs->save();
    for (const float bad : {kInf, -kInf}) {
      std::vector<float> v(6, 1.0f);
      v[0] = bad;
      EXPECT_THROW(obs->observe(Tensor::from_vector(v, Shape{2, 3})), Error);
      EXPECT_EQ(obs->save(), before);
    }
  }
}

TEST(ObserverInput, HistogramDropsInfinity) {
  ObserverOptions o;
  o.bins = 32;
  HistogramObserver with_inf(o);
  with_inf.observe(Tensor::from_vector(std::vector<float>{1.0f, kInf, -2.0f, -kInf, 0.5f}));
  with_inf.observe(Tensor::from_vector(std::vector<float>{kInf, -kInf}));  // nothing left
  const HistogramObserver clean =
      histogram_of(o, {Tensor::from_vector(std::vector<float>{1.0f, -2.0f, 0.5f})});
  EXPECT_EQ(with_inf.save(), clean.save());
}

TEST(ObserverInput, PerChannelAxisAndChannelCountAreChecked) {
  ObserverOptions o = per_channel_options();
  o.ch_axis = 2;
  PerChannelMinMaxObserver obs(o);
  EXPECT_THROW(obs.observe(random_batch(1, {4, 3})), Error);  // axis 2 of a 2-D tensor
  EXPECT_THROW(obs.observe(Tensor::scalar(1.0f)), Error);
  obs.observe(random_batch(1, {4, 3, 5}));
  EXPECT_EQ(obs.state().min_val.size(), 5u);
  const std::string before = obs.save();
  EXPECT_THROW(obs.observe(random_batch(2, {4, 3, 6})), Error);
  EXPECT_EQ(obs.save(), before);
  obs.observe(random_batch(3, {1, 1, 5}));  // other dims may change
  o.ch_axis = -3;
  PerChannelMinMaxObserver negative(o);
  negative.observe(random_batch(1, {4, 3, 5}));
  EXPECT_EQ(negative.state().min_val.size(), 4u);
  EXPECT_THROW(negative.observe(random_batch(1, {3, 5})), Error);
}

TEST(ObserverInput, PerChannelReducesOverEveryOtherDimension) {
  ObserverOptions o = per_channel_options();
  o.ch_axis = 1;
  PerChannelMinMaxObserver obs(o);
  // shape [2, 3, 2]: channel c holds x[:, c, :].
  const std::vector<float> v = {0, 1, 10, 11, 20, 21, 5, -6, 15, 16, 25, 26};
  obs.observe(Tensor::from_vector(v, Shape{2, 3, 2}));
  EXPECT_EQ(obs.state().min_val, (std::vector<float>{-6, 10, 20}));
  EXPECT_EQ(obs.state().max_val, (std::vector<float>{5, 16, 26}));
}

TEST(ObserverInput, ForwardReturnsItsInputUnchanged) {
  for (const KindCase& k : every_kind()) {
    SCOPED_TRACE(k.kind);
    auto obs = make_observer(k.kind, k.options);
    const Tensor x = random_batch(8, {3, 5});
    const Tensor copy = x.clone();
    const Tensor y = obs->forward(x);
    EXPECT_EQ(y.raw_data(), x.raw_data());
    EXPECT_TRUE(bitwise_equal(x, copy));
  }
}

// ---- options ----

TEST(ObserverOptionsValidation, InvalidOptionsAreRejected) {
  const auto expect_invalid = [](const std::string& kind, ObserverOptions o, const char* arg) {
    SCOPED_TRACE(kind + " / " + arg);
    try {
      make_observer(kind, o);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(arg));
    }
  };
  ObserverOptions o;
  o.bins = 0;
  expect_invalid("histogram", o, "bins");
  o.bins = -5;
  expect_invalid("histogram", o, "bins");
  o.bins = 65537;
  expect_invalid("histogram", o, "bins");
  for (const float eps : {0.0f, -1e-7f, kNaN, kInf}) {
    o = {};
    o.eps = eps;
    expect_invalid("minmax", o, "eps");
    expect_invalid("histogram", o, "eps");
  }
  for (const float c : {0.0f, -0.5f, 1.5f, kNaN}) {
    o = {};
    o.averaging_constant = c;
    expect_invalid("moving-average-minmax", o, "averaging_constant");
    ObserverOptions pc = per_channel_options();
    pc.averaging_constant = c;
    expect_invalid("moving-average-per-channel-minmax", pc, "averaging_constant");
  }
  o = {};
  o.quant_min = 0;
  expect_invalid("minmax", o, "quant_max");
  o = {};
  o.quant_max = 15;
  expect_invalid("minmax", o, "quant_min");
  o = {};
  o.dtype = DType::Int8;
  o.quant_min = -200;
  o.quant_max = 100;
  expect_invalid("minmax", o, "quant_min");
  o.quant_min = -100;
  o.quant_max = 200;
  expect_invalid("minmax", o, "quant_max");
  o.quant_min = 1;  // must contain 0, as torch requires
  o.quant_max = 100;
  expect_invalid("minmax", o, "quant_min");
  o = {};
  o.qscheme = QScheme::PerTensorSymmetric;
  o.reduce_range = true;  // quint8 symmetric cannot reduce
  expect_invalid("minmax", o, "reduce_range");
  o = {};
  o.qscheme = QScheme::PerChannelAffine;
  expect_invalid("minmax", o, "qscheme");
  expect_invalid("histogram", o, "qscheme");
  expect_invalid("per-channel-minmax", ObserverOptions{}, "qscheme");
  o = {};
  o.dtype = DType::Int32;
  expect_invalid("histogram", o, "dtype");
  o.dtype = DType::Float32;
  expect_invalid("minmax", o, "dtype");
  o = {};
  o.fixed_zero_point = 256;
  expect_invalid("fixed-qparams", o, "fixed_zero_point");
  o = {};
  o.fixed_scale = 0.0;
  expect_invalid("fixed-qparams", o, "fixed_scale");
  o.fixed_scale = 1e300;  // infinite in float32
  expect_invalid("fixed-qparams", o, "fixed_scale");
  o = {};
  o.reduce_range = true;
  expect_invalid("fixed-qparams", o, "reduce_range");
  EXPECT_THROW(make_observer("median", ObserverOptions{}), Error);
}

TEST(ObserverOptionsValidation, SetStateIsValidated) {
  MinMaxObserver obs{ObserverOptions{}};
  EXPECT_THROW(obs.set_state({2.0f, 1.0f}), Error);
  EXPECT_THROW(obs.set_state({kNaN, 1.0f}), Error);
  EXPECT_THROW(obs.set_state({kInf, 1.0f}), Error);
  EXPECT_NO_THROW(obs.set_state(uninitialized_min_max()));
  EXPECT_NO_THROW(obs.set_state({-1.0f, 1.0f}));
  PerChannelMinMaxObserver pc(per_channel_options());
  EXPECT_THROW(pc.set_state({{1.0f, 2.0f}, {3.0f}}), Error);
  EXPECT_THROW(pc.set_state({{1.0f}, {0.0f}}), Error);
}

// ---- qparams of the observers (beyond the golden data) ----

TEST(ObserverQParams, HistogramOfConstantDataGivesTheMinMaxResult) {
  // All mass in one value v: the bin width is 0, every search error is 0 and the search range
  // stays [v, v]; torch's formula on it widens the range to contain zero, so quint8 affine
  // gives scale = float32(|v| / 255) with zero point 0 (v > 0) or 255 (v < 0) — as
  // observers_histogram_modern.json's single_element_only case records.
  for (const float v : {2.5f, -2.5f, 1e-3f}) {
    SCOPED_TRACE(v);
    HistogramObserver obs(ObserverOptions{});
    obs.observe(Tensor::from_vector(std::vector<float>(10, v)));
    const QParams qp = obs.calculate_qparams();
    ASSERT_EQ(qp.scale.size(), 1u);
    const float expected_scale = std::abs(v) / 255.0f;
    EXPECT_EQ(static_cast<float>(qp.scale[0]), expected_scale);
    EXPECT_EQ(qp.zero_point[0], v > 0 ? 0 : 255);
    MinMaxObserver minmax(ObserverOptions{});
    minmax.observe(Tensor::from_vector(std::vector<float>(10, v)));
    const QParams expected = minmax.calculate_qparams();
    EXPECT_EQ(qp.scale, expected.scale);
    EXPECT_EQ(qp.zero_point, expected.zero_point);
  }
}

TEST(ObserverQParams, HistogramSearchClipsALoneOutlierOfAVeryLargeBatch) {
  // torch's L2 search clips an outlier only with roughly 1e5 samples per clipped value.
  std::vector<float> v = random_batch(1, {200000}).to_vector<float>();
  v[123] = 60.0f;
  HistogramObserver obs(ObserverOptions{});
  obs.observe(Tensor::from_vector(v));
  const HistogramSearch s = obs.search();
  EXPECT_GE(s.trace.size(), 2u);
  EXPECT_LT(s.search_max, 60.0f);
  EXPECT_EQ(s.search_min, obs.state().min_val);
}

}  // namespace
}  // namespace quantkit
