// The QAT modules: FakeQuantize (torch.ao.quantization.FakeQuantize) and
// LearnableFakeQuantize (torch's _LearnableFakeQuantize, per tensor).
//
// Ports of torch's module tests (test_workflow_module.py / test_workflow_ops.py:
// fake-quant/observer control, forward equal to the functional op with the observer's
// qparams, per-channel modules, STE backward), the golden fake_quantize.json cases run through
// the modules (torch checked that its Tensor-qparams overload, which the module calls, gives
// the same bits), and a finite-difference check of the LSQ gradients.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "quantkit/core/error.h"
#include "quantkit/core/tensor.h"
#include "quantkit/quant/affine.h"
#include "quantkit/quant/fake_quantize.h"
#include "quantkit/quant/observer.h"
#include "support/golden.h"

namespace quantkit {
namespace {

using nlohmann::json;
using testing::case_label;
using testing::double_from_bits;
using testing::float_from_bits;
using testing::floats_bitwise_equal;
using testing::floats_from_bits;

// ---- helpers ----

ObserverOptions observer_options(DType dtype, QScheme qscheme) {
  ObserverOptions o;
  o.dtype = dtype;
  o.qscheme = qscheme;
  return o;
}

ObserverOptions with_range(ObserverOptions o, std::int64_t quant_min, std::int64_t quant_max) {
  o.quant_min = quant_min;
  o.quant_max = quant_max;
  return o;
}

Tensor random_tensor(Shape shape, float lo, float hi, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)));
  for (float& f : v) f = dist(gen);
  return Tensor::from_vector(v, std::move(shape));
}

std::vector<double> as_float32(std::vector<double> scales) {
  for (double& s : scales) s = static_cast<float>(s);
  return scales;
}

// Observer stand-in whose qparams and range a test chooses, for module checks that real
// observers cannot reach (they validate their own output).
class ScriptedObserver final : public Observer {
 public:
  ScriptedObserver(QParams qparams, QuantRange range)
      : Observer(observer_options(range.dtype, qparams.qscheme)), qparams_(std::move(qparams)) {
    range_ = range;
  }
  void observe(const Tensor&) override { ++observed; }
  QParams calculate_qparams() const override { return qparams_; }
  void reset() override {}
  std::string_view kind() const override { return "scripted"; }
  std::string save() const override { return "{}"; }
  void merge(const Observer&) override {}
  std::unique_ptr<Observer> clone() const override {
    return std::make_unique<ScriptedObserver>(*this);
  }
  int observed = 0;

 private:
  QParams qparams_;
};

QParams per_tensor_qparams(double scale, std::int64_t zero_point) {
  QParams qp;
  qp.qscheme = QScheme::PerTensorAffine;
  qp.scale = {scale};
  qp.zero_point = {zero_point};
  return qp;
}

const json& fake_quantize_golden() {
  static const json doc = testing::load_json("uniform/fake_quantize.json");
  return doc;
}

// The golden per-element LSQ terms went through a one-element torch.sum (0.0f + v).
std::vector<float> as_read_through_sum(const Tensor& t) {
  std::vector<float> out = t.to_vector<float>();
  for (float& v : out) v = 0.0f + v;
  return out;
}

// ======================= FakeQuantize =======================

TEST(FakeQuantize, RejectsNullObserver) {
  EXPECT_THROW(FakeQuantize(nullptr), Error);
}

TEST(FakeQuantize, RangeComesFromTheObserver) {
  ObserverOptions reduced = observer_options(DType::UInt8, QScheme::PerTensorAffine);
  reduced.reduce_range = true;
  const FakeQuantize a(make_observer("minmax", reduced));
  EXPECT_EQ(a.quant_min(), 0);
  EXPECT_EQ(a.quant_max(), 127);
  const FakeQuantize b(
      make_observer("minmax", with_range(observer_options(DType::Int8, QScheme::PerTensorAffine), -8, 7)));
  EXPECT_EQ(b.quant_min(), -8);
  EXPECT_EQ(b.quant_max(), 7);
  EXPECT_TRUE(b.observer_enabled());
  EXPECT_TRUE(b.fake_quant_enabled());
  EXPECT_FALSE(b.has_qparams());
}

// torch: forward observes, copies calculate_qparams() into its buffers and applies
// fake_quantize_per_tensor_affine with them.
TEST(FakeQuantize, ForwardUsesTheObserversQparamsAfterEachBatch) {
  const ObserverOptions o = observer_options(DType::UInt8, QScheme::PerTensorAffine);
  FakeQuantize fq(make_observer("moving-average-minmax", o));
  const std::unique_ptr<Observer> reference = make_observer("moving-average-minmax", o);
  for (std::uint32_t batch = 0; batch < 3; ++batch) {
    const Tensor x = random_tensor({4, 8}, -3.0f - batch, 5.0f + 2.0f * batch, 10 + batch);
    const Tensor y = fq.forward(x);
    reference->observe(x);
    const QParams expected = reference->calculate_qparams();
    ASSERT_TRUE(fq.has_qparams());
    EXPECT_EQ(fq.qparams().scale, as_float32(expected.scale)) << "batch " << batch;
    EXPECT_EQ(fq.qparams().zero_point, expected.zero_point) << "batch " << batch;
    EXPECT_EQ(fq.calculate_qparams().scale, expected.scale);
    EXPECT_TRUE(bitwise_equal(y, fake_quantize_per_tensor(x, expected.scale[0],
                                                          expected.zero_point[0], 0, 255)))
        << "batch " << batch;
  }
}

// torch's test_fake_quant_control.
TEST(FakeQuantize, FakeQuantAndObserverSwitches) {
  FakeQuantize fq(make_observer("moving-average-minmax",
                                observer_options(DType::UInt8, QScheme::PerTensorAffine)));
  const Tensor x = random_tensor({64}, -10.0f, 10.0f, 1);
  const Tensor y = fq.forward(x);
  EXPECT_FALSE(bitwise_equal(y, x)) << "fake quantization should change a random tensor";

  fq.disable_fake_quant();
  EXPECT_FALSE(fq.fake_quant_enabled());
  const Tensor passthrough = fq.forward(x);
  EXPECT_EQ(passthrough.raw_data(), x.raw_data()) << "disabled fake quant returns x itself";

  // The observer still ran above; freeze it and feed a much wider tensor.
  fq.enable_fake_quant();
  fq.disable_observer();
  EXPECT_FALSE(fq.observer_enabled());
  const QParams frozen = fq.qparams();
  const QParams observer_before = fq.calculate_qparams();
  const Tensor wide = random_tensor({64}, -100.0f, 100.0f, 2);
  const Tensor y_wide = fq.forward(wide);
  EXPECT_EQ(fq.qparams().scale, frozen.scale);
  EXPECT_EQ(fq.qparams().zero_point, frozen.zero_point);
  EXPECT_EQ(fq.calculate_qparams().scale, observer_before.scale) << "the observer saw data";
  EXPECT_TRUE(bitwise_equal(
      y_wide, fake_quantize_per_tensor(wide, frozen.scale[0], frozen.zero_point[0], 0, 255)));

  fq.enable_observer();
  (void)fq.forward(wide);
  EXPECT_GT(fq.qparams().scale[0], frozen.scale[0]);
}

TEST(FakeQuantize, ObserverKeepsUpdatingWhileFakeQuantIsDisabled) {
  FakeQuantize fq(make_observer("minmax", observer_options(DType::Int8, QScheme::PerTensorSymmetric)));
  fq.disable_fake_quant();
  const Tensor x = random_tensor({16}, -2.0f, 2.0f, 3);
  EXPECT_EQ(fq.forward(x).raw_data(), x.raw_data());
  ASSERT_TRUE(fq.has_qparams());
  EXPECT_EQ(fq.qparams().scale, as_float32(fq.calculate_qparams().scale));
  EXPECT_EQ(fq.qparams().qscheme, QScheme::PerTensorSymmetric);
}

TEST(FakeQuantize, FakeQuantWithoutQparamsIsAnError) {
  FakeQuantize fq(make_observer("minmax", observer_options(DType::UInt8, QScheme::PerTensorAffine)));
  fq.disable_observer();
  const Tensor x = random_tensor({8}, -1.0f, 1.0f, 4);
  EXPECT_THROW(fq.forward(x), Error);
  EXPECT_THROW(fq.qparams(), Error);
  EXPECT_THROW(fq.backward(x, x), Error);
  EXPECT_FALSE(fq.has_qparams());

  fq.set_qparams(per_tensor_qparams(0.01, 100));
  EXPECT_TRUE(bitwise_equal(fq.forward(x), fake_quantize_per_tensor(x, 0.01, 100, 0, 255)));
}

TEST(FakeQuantize, BackwardIsTheStraightThroughEstimator) {
  FakeQuantize fq(make_observer("minmax", observer_options(DType::UInt8, QScheme::PerTensorAffine)));
  (void)fq.forward(random_tensor({32}, -1.0f, 1.0f, 5));  // qparams for about [-1, 1]
  fq.disable_observer();
  const QParams qp = fq.qparams();
  // Well inside, far below and far above the representable range.
  const Tensor x = Tensor::from_vector(std::vector<float>{0.0f, 0.5f, -0.5f, -5.0f, 5.0f});
  const Tensor dy = Tensor::from_vector(std::vector<float>{1.5f, -2.0f, 0.25f, 3.0f, -4.0f});
  const Tensor dx = fq.backward(dy, x);
  EXPECT_TRUE(bitwise_equal(
      dx, fake_quantize_per_tensor_backward(dy, x, qp.scale[0], qp.zero_point[0], 0, 255)));
  const std::vector<float> got = dx.to_vector<float>();
  EXPECT_EQ(got[0], 1.5f);
  EXPECT_EQ(got[1], -2.0f);
  EXPECT_EQ(got[2], 0.25f);
  EXPECT_EQ(got[3], 0.0f);
  EXPECT_EQ(got[4], 0.0f);
  EXPECT_TRUE(std::signbit(got[4])) << "dy * 0 keeps dy's sign, like torch";
}

TEST(FakeQuantize, BackwardWithFakeQuantDisabledIsTheIdentity) {
  FakeQuantize fq(make_observer("minmax", observer_options(DType::UInt8, QScheme::PerTensorAffine)));
  fq.disable_fake_quant();
  const Tensor x = random_tensor({2, 3}, -1.0f, 1.0f, 6);
  const Tensor dy = random_tensor({2, 3}, -1.0f, 1.0f, 7);
  EXPECT_EQ(fq.backward(dy, x).raw_data(), dy.raw_data());
  EXPECT_THROW(fq.backward(dy.reshape({6}), x), Error);
  EXPECT_THROW(fq.backward(Tensor::zeros({2, 3}, DType::Float64), x), Error);
}

TEST(FakeQuantize, PerChannelModule) {
  for (const std::int64_t ch_axis : {std::int64_t{1}, std::int64_t{-1}}) {
    SCOPED_TRACE("ch_axis " + std::to_string(ch_axis));
    ObserverOptions o = observer_options(DType::Int8, QScheme::PerChannelSymmetric);
    o.ch_axis = ch_axis;
    FakeQuantize fq(make_observer("per-channel-minmax", o));
    const std::unique_ptr<Observer> reference = make_observer("per-channel-minmax", o);
    const Tensor x = random_tensor({2, 3, 4}, -4.0f, 3.0f, 8);
    const Tensor y = fq.forward(x);
    reference->observe(x);
    const QParams qp = reference->calculate_qparams();
    ASSERT_TRUE(fq.qparams().per_channel());
    EXPECT_EQ(fq.qparams().scale, as_float32(qp.scale));
    EXPECT_EQ(fq.qparams().zero_point, qp.zero_point);
    const std::vector<double> scales = as_float32(qp.scale);
    EXPECT_TRUE(bitwise_equal(
        y, fake_quantize_per_channel(x, scales, qp.zero_point, qp.axis, -128, 127)));
    const Tensor dy = random_tensor({2, 3, 4}, -1.0f, 1.0f, 9);
    EXPECT_TRUE(bitwise_equal(fq.backward(dy, x),
                              fake_quantize_per_channel_backward(dy, x, scales, qp.zero_point,
                                                                 qp.axis, -128, 127)));
  }
}

TEST(FakeQuantize, FloatZeroPointPerChannelModule) {
  ObserverOptions o = observer_options(DType::UInt8, QScheme::PerChannelAffineFloatQParams);
  o.ch_axis = 0;
  FakeQuantize fq(make_observer("per-channel-minmax", o));
  const std::unique_ptr<Observer> reference = make_observer("per-channel-minmax", o);
  const Tensor x = random_tensor({3, 5}, -1.0f, 2.0f, 11);
  const Tensor y = fq.forward(x);
  reference->observe(x);
  const QParams qp = reference->calculate_qparams();
  ASSERT_EQ(fq.qparams().float_zero_point, qp.float_zero_point);
  const std::vector<double> scales = as_float32(qp.scale);
  EXPECT_TRUE(bitwise_equal(
      y, fake_quantize_per_channel_float_zp(x, scales, qp.float_zero_point, qp.axis, 0, 255)));
  const Tensor dy = random_tensor({3, 5}, -1.0f, 1.0f, 12);
  EXPECT_TRUE(bitwise_equal(
      fq.backward(dy, x), fake_quantize_per_channel_float_zp_backward(
                              dy, x, scales, qp.float_zero_point, qp.axis, 0, 255)));
}

TEST(FakeQuantize, StoresScalesRoundedToFloat32) {
  FakeQuantize fq(make_observer("minmax", observer_options(DType::UInt8, QScheme::PerTensorAffine)));
  fq.set_qparams(per_tensor_qparams(0.1, 7));
  EXPECT_EQ(fq.qparams().scale[0], static_cast<double>(0.1f));
  EXPECT_EQ(fq.qparams().zero_point[0], 7);
}

TEST(FakeQuantize, SetQparamsValidates) {
  FakeQuantize fq(make_observer("minmax", observer_options(DType::UInt8, QScheme::PerTensorAffine)));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(fq.set_qparams(per_tensor_qparams(0.0, 0)), Error);
  EXPECT_THROW(fq.set_qparams(per_tensor_qparams(-1.0, 0)), Error);
  EXPECT_THROW(fq.set_qparams(per_tensor_qparams(nan, 0)), Error);
  EXPECT_THROW(fq.set_qparams(per_tensor_qparams(1e-60, 0)), Error);  // 0 in float32
  EXPECT_THROW(fq.set_qparams(per_tensor_qparams(1e60, 0)), Error);   // inf in float32
  EXPECT_THROW(fq.set_qparams(per_tensor_qparams(1.0, 256)), Error);
  EXPECT_THROW(fq.set_qparams(per_tensor_qparams(1.0, -1)), Error);
  QParams two = per_tensor_qparams(1.0, 0);
  two.scale.push_back(1.0);
  two.zero_point.push_back(0);
  EXPECT_THROW(fq.set_qparams(two), Error);
  QParams per_channel = two;
  per_channel.qscheme = QScheme::PerChannelAffine;
  EXPECT_THROW(fq.set_qparams(per_channel), Error) << "per-tensor module";
  EXPECT_FALSE(fq.has_qparams()) << "nothing stored by a rejected set_qparams";

  FakeQuantize pc(make_observer("per-channel-minmax",
                                observer_options(DType::Int8, QScheme::PerChannelAffine)));
  per_channel.zero_point = {0};
  EXPECT_THROW(pc.set_qparams(per_channel), Error) << "one zero point per scale";
  per_channel.zero_point = {0, 0};
  per_channel.qscheme = QScheme::PerChannelAffineFloatQParams;
  EXPECT_THROW(pc.set_qparams(per_channel), Error) << "float zero points, integer module";
  per_channel.qscheme = QScheme::PerChannelSymmetric;  // same kind as per_channel_affine
  EXPECT_NO_THROW(pc.set_qparams(per_channel));
  per_channel.scale.clear();
  per_channel.zero_point.clear();
  EXPECT_THROW(pc.set_qparams(per_channel), Error);

  FakeQuantize fzp(make_observer("per-channel-minmax",
                                 observer_options(DType::UInt8, QScheme::PerChannelAffineFloatQParams)));
  QParams float_zp;
  float_zp.qscheme = QScheme::PerChannelAffineFloatQParams;
  float_zp.scale = {0.5, 0.25};
  float_zp.float_zero_point = {1.5f, nan};
  EXPECT_THROW(fzp.set_qparams(float_zp), Error);
  float_zp.float_zero_point = {1.5f};
  EXPECT_THROW(fzp.set_qparams(float_zp), Error);
  float_zp.float_zero_point = {1.5f, -3.25f};
  EXPECT_NO_THROW(fzp.set_qparams(float_zp));
}

TEST(FakeQuantize, RejectsBadQparamsFromTheObserver) {
  QParams bad = per_tensor_qparams(0.5, 300);  // zero point outside [0, 255]
  FakeQuantize fq(std::make_unique<ScriptedObserver>(bad, QuantRange::full(DType::UInt8)));
  EXPECT_THROW(fq.forward(random_tensor({4}, -1.0f, 1.0f, 13)), Error);
  EXPECT_FALSE(fq.has_qparams());
}

TEST(FakeQuantize, DoesNotModifyItsInput) {
  FakeQuantize fq(make_observer("minmax", observer_options(DType::UInt8, QScheme::PerTensorAffine)));
  const Tensor x = random_tensor({3, 7}, -2.0f, 2.0f, 14);
  const Tensor before = x.clone();
  const Tensor y = fq.forward(x);
  EXPECT_TRUE(bitwise_equal(x, before));
  EXPECT_NE(y.raw_data(), x.raw_data());
}

// torch's FakeQuantize calls fake_quantize_per_tensor_affine with its float32 scale and
// int32 zero point buffers; the golden description says that overload was checked to give
// the golden bits. A fixed-qparams observer feeds each case's qparams through forward().
TEST(FakeQuantizeGolden, PerTensorCasesThroughTheModule) {
  int cases = 0;
  for (const json& c : fake_quantize_golden().at("cases")) {
    if (c.at("op") != "fake_quantize_per_tensor_affine") continue;
    SCOPED_TRACE(case_label(c));
    const std::int64_t qmin = c.at("quant_min");
    const std::int64_t qmax = c.at("quant_max");
    ObserverOptions o = with_range(
        observer_options(qmin < 0 ? DType::Int8 : DType::UInt8, QScheme::PerTensorAffine), qmin, qmax);
    o.fixed_scale = double_from_bits(c.at("scale_f64_bits"));
    o.fixed_zero_point = c.at("zero_point");
    FakeQuantize fq(make_observer("fixed-qparams", o));
    const Shape shape = testing::shape_of(c.at("shape"));
    const Tensor x = Tensor::from_vector(floats_from_bits(c.at("x_bits")), shape);
    const Tensor dy = Tensor::from_vector(floats_from_bits(c.at("dy_bits")), shape);
    EXPECT_TRUE(floats_bitwise_equal(floats_from_bits(c.at("y_bits")),
                                     fq.forward(x).to_vector<float>()));
    EXPECT_TRUE(floats_bitwise_equal(floats_from_bits(c.at("dx_bits")),
                                     fq.backward(dy, x).to_vector<float>()));
    ++cases;
  }
  EXPECT_EQ(cases, 89);
}

TEST(FakeQuantizeGolden, PerChannelCasesThroughTheModule) {
  int cases = 0;
  for (const json& c : fake_quantize_golden().at("cases")) {
    if (c.at("op") != "fake_quantize_per_channel_affine") continue;
    SCOPED_TRACE(case_label(c));
    const std::int64_t qmin = c.at("quant_min");
    const std::int64_t qmax = c.at("quant_max");
    const bool float_zp = c.at("zero_point_dtype") == "float32";
    const QScheme qscheme =
        float_zp ? QScheme::PerChannelAffineFloatQParams : QScheme::PerChannelAffine;
    ObserverOptions o =
        with_range(observer_options(qmin < 0 ? DType::Int8 : DType::UInt8, qscheme), qmin, qmax);
    o.ch_axis = c.at("axis");
    FakeQuantize fq(make_observer("per-channel-minmax", o));
    fq.disable_observer();
    QParams qp;
    qp.qscheme = qscheme;
    qp.axis = c.at("axis");
    for (const float s : floats_from_bits(c.at("scales_bits"))) qp.scale.push_back(s);
    if (float_zp) {
      qp.float_zero_point = floats_from_bits(c.at("zero_points_bits"));
    } else {
      qp.zero_point = c.at("zero_points").get<std::vector<std::int64_t>>();
    }
    fq.set_qparams(qp);
    const Shape shape = testing::shape_of(c.at("shape"));
    const Tensor x = Tensor::from_vector(floats_from_bits(c.at("x_bits")), shape);
    const Tensor dy = Tensor::from_vector(floats_from_bits(c.at("dy_bits")), shape);
    EXPECT_TRUE(floats_bitwise_equal(floats_from_bits(c.at("y_bits")),
                                     fq.forward(x).to_vector<float>()));
    EXPECT_TRUE(floats_bitwise_equal(floats_from_bits(c.at("dx_bits")),
                                     fq.backward(dy, x).to_vector<float>()));
    ++cases;
  }
  EXPECT_EQ(cases, 44);
}

// ======================= LearnableFakeQuantize =======================

std::unique_ptr<Observer> uint8_minmax() {
  return make_observer("minmax", observer_options(DType::UInt8, QScheme::PerTensorAffine));
}

TEST(LearnableFakeQuantize, ConstructorDefaultsAndValidation) {
  const LearnableFakeQuantize lfq(uint8_minmax());
  EXPECT_EQ(lfq.scale(), 1.0f);
  EXPECT_EQ(lfq.zero_point(), 0.0f);
  EXPECT_FALSE(lfq.use_grad_scaling());
  EXPECT_TRUE(lfq.observer_enabled());
  EXPECT_TRUE(lfq.fake_quant_enabled());
  EXPECT_EQ(lfq.quant_min(), 0);
  EXPECT_EQ(lfq.quant_max(), 255);

  EXPECT_THROW(LearnableFakeQuantize(nullptr), Error);
  EXPECT_THROW(LearnableFakeQuantize(uint8_minmax(), 0.0f), Error);
  EXPECT_THROW(LearnableFakeQuantize(uint8_minmax(), -1.0f), Error);
  EXPECT_THROW(LearnableFakeQuantize(uint8_minmax(), 1.0f,
                                     std::numeric_limits<float>::infinity()),
               Error);
  EXPECT_THROW(LearnableFakeQuantize(make_observer(
                   "per-channel-minmax", observer_options(DType::Int8, QScheme::PerChannelAffine))),
               Error)
      << "per-channel observers need the per-channel module";
  // Ranges real observers refuse, through a scripted observer.
  EXPECT_THROW(LearnableFakeQuantize(std::make_unique<ScriptedObserver>(
                   per_tensor_qparams(1.0, 0), QuantRange{DType::Int8, 3, 3})),
               Error)
      << "torch asserts quant_min < quant_max";
  const QuantRange nonpositive{DType::Int8, -8, 0};
  EXPECT_NO_THROW(LearnableFakeQuantize(
      std::make_unique<ScriptedObserver>(per_tensor_qparams(1.0, 0), nonpositive)));
  EXPECT_THROW(LearnableFakeQuantize(std::make_unique<ScriptedObserver>(
                                         per_tensor_qparams(1.0, 0), nonpositive),
                                     1.0f, 0.0f, /*use_grad_scaling=*/true),
               Error)
      << "sqrt(numel * quant_max) needs quant_max > 0";
}

TEST(LearnableFakeQuantize, SettersValidate) {
  LearnableFakeQuantize lfq(uint8_minmax(), 0.5f, 3.0f);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(lfq.set_scale(0.0f), Error);
  EXPECT_THROW(lfq.set_scale(-0.1f), Error);
  EXPECT_THROW(lfq.set_scale(nan), Error);
  EXPECT_THROW(lfq.set_scale(std::numeric_limits<float>::infinity()), Error);
  EXPECT_THROW(lfq.set_zero_point(nan), Error);
  EXPECT_EQ(lfq.scale(), 0.5f);
  EXPECT_EQ(lfq.zero_point(), 3.0f);
  lfq.set_scale(0.25f);
  lfq.set_zero_point(-7.5f);  // outside the range is allowed: the kernels clamp it
  EXPECT_EQ(lfq.scale(), 0.25f);
  EXPECT_EQ(lfq.zero_point(), -7.5f);
}

TEST(LearnableFakeQuantize, ForwardEqualsTheLearnableFunction) {
  LearnableFakeQuantize lfq(uint8_minmax(), 0.05f, 2.5f);
  lfq.disable_observer();
  const Tensor x = random_tensor({5, 9}, -1.0f, 14.0f, 20);
  EXPECT_TRUE(bitwise_equal(lfq.forward(x),
                            fake_quantize_learnable_per_tensor(x, 0.05f, 2.5f, 0, 255)));
  EXPECT_EQ(lfq.scale(), 0.05f);
  EXPECT_EQ(lfq.zero_point(), 2.5f);
}

TEST(LearnableFakeQuantize, ObserverInitialisesScaleAndZeroPoint) {
  LearnableFakeQuantize lfq(uint8_minmax());
  const std::unique_ptr<Observer> reference = uint8_minmax();
  const Tensor x = random_tensor({40}, -3.0f, 7.0f, 21);
  const Tensor y = lfq.forward(x);
  reference->observe(x);
  const QParams qp = reference->calculate_qparams();
  EXPECT_EQ(lfq.scale(), static_cast<float>(qp.scale[0]));
  EXPECT_EQ(lfq.zero_point(), static_cast<float>(qp.zero_point[0]));
  EXPECT_TRUE(bitwise_equal(y, fake_quantize_learnable_per_tensor(
                                   x, lfq.scale(), lfq.zero_point(), 0, 255)));

  // Observer off: the learned values stay, whatever the data.
  lfq.disable_observer();
  lfq.set_scale(0.125f);
  lfq.set_zero_point(90.25f);
  (void)lfq.forward(random_tensor({40}, -300.0f, 700.0f, 22));
  EXPECT_EQ(lfq.scale(), 0.125f);
  EXPECT_EQ(lfq.zero_point(), 90.25f);
}

TEST(LearnableFakeQuantize, SymmetricSchemeResetsTheZeroPoint) {
  // A symmetric uint8 observer reports zero point 128; torch zeroes the learnable zero
  // point whenever it fake quantizes with a symmetric qscheme.
  LearnableFakeQuantize lfq(
      make_observer("minmax", observer_options(DType::UInt8, QScheme::PerTensorSymmetric)));
  const Tensor x = random_tensor({16}, -1.0f, 1.0f, 23);
  lfq.disable_fake_quant();
  (void)lfq.forward(x);
  EXPECT_EQ(lfq.zero_point(), 128.0f) << "copied from the observer; no fake quant, no reset";
  lfq.enable_fake_quant();
  const Tensor y = lfq.forward(x);
  EXPECT_EQ(lfq.zero_point(), 0.0f);
  EXPECT_TRUE(bitwise_equal(y, fake_quantize_learnable_per_tensor(x, lfq.scale(), 0.0f, 0,
                                                                  255)));
}

TEST(LearnableFakeQuantize, LearnedScaleIsClampedToEpsilon) {
  LearnableFakeQuantize lfq(uint8_minmax(), 1e-12f);
  lfq.disable_observer();
  lfq.disable_fake_quant();
  (void)lfq.forward(random_tensor({4}, -1.0f, 1.0f, 24));
  EXPECT_EQ(lfq.scale(), std::numeric_limits<float>::epsilon());
  EXPECT_EQ(lfq.calculate_qparams().scale[0], std::numeric_limits<float>::epsilon());
}

TEST(LearnableFakeQuantize, CalculateQparamsRoundsTheZeroPoint) {
  LearnableFakeQuantize lfq(uint8_minmax(), 0.3f, 2.5f);
  QParams qp = lfq.calculate_qparams();
  EXPECT_EQ(qp.qscheme, QScheme::PerTensorAffine);
  EXPECT_EQ(qp.scale, (std::vector<double>{0.3f}));
  EXPECT_EQ(qp.zero_point, (std::vector<std::int64_t>{2}));  // half to even
  lfq.set_zero_point(300.0f);
  EXPECT_EQ(lfq.calculate_qparams().zero_point[0], 255);
}

TEST(LearnableFakeQuantize, FakeQuantDisabledPassesThrough) {
  LearnableFakeQuantize lfq(uint8_minmax(), 0.1f, 10.0f);
  lfq.disable_fake_quant();
  const Tensor x = random_tensor({2, 5}, -1.0f, 1.0f, 25);
  const Tensor dy = random_tensor({2, 5}, -1.0f, 1.0f, 26);
  EXPECT_EQ(lfq.forward(x).raw_data(), x.raw_data());
  const LearnableFakeQuantizeGrads g = lfq.backward(dy, x);
  EXPECT_EQ(g.dx.raw_data(), dy.raw_data());
  EXPECT_TRUE(bitwise_equal(g.dscale_elem, Tensor::zeros({2, 5}, DType::Float32)));
  EXPECT_TRUE(bitwise_equal(g.dzero_point_elem, Tensor::zeros({2, 5}, DType::Float32)));
  EXPECT_EQ(g.dscale, 0.0f);
  EXPECT_EQ(g.dzero_point, 0.0f);
  EXPECT_THROW(lfq.backward(dy.reshape({10}), x), Error);
}

TEST(LearnableFakeQuantize, BackwardEqualsTheLearnableFunction) {
  LearnableFakeQuantize lfq(uint8_minmax(), 0.07f, 12.5f);
  lfq.disable_observer();
  const Tensor x = random_tensor({33}, -3.0f, 20.0f, 27);
  const Tensor dy = random_tensor({33}, -1.0f, 1.0f, 28);
  (void)lfq.forward(x);
  const LearnableFakeQuantizeGrads a = lfq.backward(dy, x);
  const LearnableFakeQuantizeGrads b =
      fake_quantize_learnable_per_tensor_backward(dy, x, 0.07f, 12.5f, 0, 255, 1.0);
  EXPECT_TRUE(bitwise_equal(a.dx, b.dx));
  EXPECT_TRUE(bitwise_equal(a.dscale_elem, b.dscale_elem));
  EXPECT_TRUE(bitwise_equal(a.dzero_point_elem, b.dzero_point_elem));
  EXPECT_EQ(a.dscale, b.dscale);
  EXPECT_EQ(a.dzero_point, b.dzero_point);
}

// The golden case tagged 'grad_factor_lsq_1/sqrt(N*qmax)' used torch's module formula
// 1.0 / (numel * quant_max) ** 0.5 (N = 64, quant_max = 127); the module must produce the
// same gradients from use_grad_scaling alone.
TEST(LearnableFakeQuantize, GradScalingMatchesTorchsFactor) {
  const json* found = nullptr;
  for (const json& c : fake_quantize_golden().at("cases")) {
    if (c.at("tag") == "grad_factor_lsq_1/sqrt(N*qmax)") found = &c;
  }
  ASSERT_NE(found, nullptr);
  const json& c = *found;
  SCOPED_TRACE(case_label(c));
  ASSERT_EQ(c.at("quant_min"), -128);
  ASSERT_EQ(c.at("quant_max"), 127);
  const Shape shape = testing::shape_of(c.at("shape"));
  const Tensor x = Tensor::from_vector(floats_from_bits(c.at("x_bits")), shape);
  const Tensor dy = Tensor::from_vector(floats_from_bits(c.at("dy_bits")), shape);
  LearnableFakeQuantize lfq(make_observer("minmax", observer_options(DType::Int8,
                                                           QScheme::PerTensorAffine)),
                            float_from_bits(c.at("scale_bits")),
                            float_from_bits(c.at("zero_point_bits")),
                            /*use_grad_scaling=*/true);
  lfq.disable_observer();
  EXPECT_TRUE(floats_bitwise_equal(floats_from_bits(c.at("y_bits")),
                                   lfq.forward(x).to_vector<float>()));
  const LearnableFakeQuantizeGrads g = lfq.backward(dy, x);
  EXPECT_TRUE(floats_bitwise_equal(floats_from_bits(c.at("dx_bits")), g.dx.to_vector<float>()));
  EXPECT_TRUE(floats_bitwise_equal(floats_from_bits(c.at("dscale_elem_bits")),
                                   as_read_through_sum(g.dscale_elem)));
  EXPECT_TRUE(floats_bitwise_equal(floats_from_bits(c.at("dzero_point_elem_bits")),
                                   as_read_through_sum(g.dzero_point_elem)));

  // Without scaling the parameter gradients differ (the factor is ~0.011).
  LearnableFakeQuantize unscaled(make_observer("minmax", observer_options(DType::Int8,
                                                                QScheme::PerTensorAffine)),
                                 lfq.scale(), lfq.zero_point());
  unscaled.disable_observer();
  EXPECT_FALSE(bitwise_equal(unscaled.backward(dy, x).dscale_elem, g.dscale_elem));
}

// One float32 ulp at |v|: the rounding step of the forward's outputs.
double ulp_at(float v) {
  const float a = std::abs(v);
  return double(std::nextafter(a, std::numeric_limits<float>::infinity())) - double(a);
}

// Finite differences of the real forward pass, piece by piece. LSQ's gradients are those
// of the forward with round() given derivative 1 (the STE), so:
//   * dx: over one quantization step the forward moves by exactly one step inside the
//     range (average slope 1 = dx / dy) and not at all outside it (slope 0);
//   * dzero_point: shifting the (integer) zero point by +-1 leaves in-range outputs unchanged
//     (slope 0) and moves clamped outputs by -scale, LSQ's out-of-range term;
//   * dscale: for a small change of scale that moves no value across a rounding or clamping
//     boundary, y = (q - zp) * s is linear in s, so the difference quotient is q - zp.
//     Outside the range that IS LSQ's term (qmin|qmax - zp); inside, LSQ adds the STE term
//     -x/s (the derivative of round(x/s) taken as that of x/s).
// The zero point is an integer so the forward's nearbyint(zp) and the backward's
// trunc(zp + 0.5) agree. Inputs stay >= 0.2 of a step from rounding ties and >= 2 steps
// from the clamp edges, so none of the perturbations below changes a piece. Each
// difference quotient is compared with a tolerance of the float32 rounding of the two
// outputs it subtracts (2 ulps / step) plus 1e-5 relative for LSQ's own float32 rounding.
TEST(LearnableFakeQuantize, GradientsMatchFiniteDifferencesOfTheForward) {
  const float scale = 0.05f;
  const float zero_point = 100.0f;
  const std::int64_t qmax = 255;
  // Targets for x / scale + zero_point: in range with fractional offsets in [-0.3, 0.3],
  // or far outside.
  std::mt19937 gen(30);
  std::uniform_int_distribution<int> level(3, 252);
  std::uniform_real_distribution<float> offset(-0.3f, 0.3f);
  std::uniform_real_distribution<float> grad(-1.0f, 1.0f);
  std::vector<float> xs;
  std::vector<float> dys;
  for (int i = 0; i < 48; ++i) {
    const float target = static_cast<float>(level(gen)) + offset(gen);
    xs.push_back((target - zero_point) * scale);
    dys.push_back(grad(gen));
  }
  for (const float target : {-40.0f, -20.5f, -7.0f, 270.0f, 300.25f, 400.0f}) {
    xs.push_back((target - zero_point) * scale);
    dys.push_back(grad(gen));
  }
  const std::size_t n = xs.size();
  const Tensor x = Tensor::from_vector(xs);
  const Tensor dy = Tensor::from_vector(dys);

  LearnableFakeQuantize lfq(uint8_minmax(), scale, zero_point, /*use_grad_scaling=*/true);
  lfq.disable_observer();
  auto forward_with = [&](const Tensor& input, float s, float zp) {
    lfq.set_scale(s);
    lfq.set_zero_point(zp);
    return lfq.forward(input).to_vector<float>();
  };
  const std::vector<float> y = forward_with(x, scale, zero_point);
  const LearnableFakeQuantizeGrads g = lfq.backward(dy, x);
  // torch's factor 1 / sqrt(numel * quant_max), as float32 in the kernel.
  const double g_factor = static_cast<float>(1.0 / std::sqrt(double(n) * double(qmax)));
  const std::vector<float> dx = g.dx.to_vector<float>();
  const std::vector<float> dscale = g.dscale_elem.to_vector<float>();
  const std::vector<float> dzp = g.dzero_point_elem.to_vector<float>();

  // x +- one step.
  std::vector<float> up_x(xs), down_x(xs);
  for (std::size_t i = 0; i < n; ++i) {
    up_x[i] += scale;
    down_x[i] -= scale;
  }
  const std::vector<float> y_up_x = forward_with(Tensor::from_vector(up_x), scale, zero_point);
  const std::vector<float> y_down_x =
      forward_with(Tensor::from_vector(down_x), scale, zero_point);
  // zero point +- 1.
  const std::vector<float> y_up_zp = forward_with(x, scale, zero_point + 1.0f);
  const std::vector<float> y_down_zp = forward_with(x, scale, zero_point - 1.0f);
  // scale * (1 +- 1e-3) moves x / s by at most 300 * 1e-3 steps: in range (|x / s| <= 152)
  // less than 0.16, under the 0.2 margin from ties; far outside it stays outside.
  const float s_up = scale * 1.001f;
  const float s_down = scale * 0.999f;
  const std::vector<float> y_up_s = forward_with(x, s_up, zero_point);
  const std::vector<float> y_down_s = forward_with(x, s_down, zero_point);

  int inside = 0;
  for (std::size_t i = 0; i < n; ++i) {
    SCOPED_TRACE("element " + std::to_string(i) + " x=" + std::to_string(xs[i]));
    const double level_i = static_cast<double>(y[i]) / scale + zero_point;  // clamped q
    const bool in_range = std::abs(xs[i] / scale + zero_point - level_i) < 0.5;
    inside += in_range;
    const double dy_g = std::abs(dys[i]) * g_factor;

    const double step_x = double(up_x[i]) - double(down_x[i]);
    const double slope_x = (double(y_up_x[i]) - double(y_down_x[i])) / step_x;
    const double tol_x = 2.0 * std::max(ulp_at(y_up_x[i]), ulp_at(y_down_x[i])) / step_x;
    EXPECT_NEAR(slope_x, in_range ? 1.0 : 0.0, tol_x);
    EXPECT_EQ(dx[i], dys[i] * static_cast<float>(in_range ? 1.0 : 0.0));

    const double slope_zp = (double(y_up_zp[i]) - double(y_down_zp[i])) / 2.0;
    const double tol_zp = 2.0 * std::max(ulp_at(y_up_zp[i]), ulp_at(y_down_zp[i])) / 2.0;
    EXPECT_NEAR(slope_zp, in_range ? 0.0 : -double(scale), tol_zp);
    const double expected_dzp = dys[i] * slope_zp * g_factor;
    EXPECT_NEAR(dzp[i], expected_dzp, tol_zp * dy_g + 1e-5 * std::abs(expected_dzp));

    const double step_s = double(s_up) - double(s_down);
    const double slope_s = (double(y_up_s[i]) - double(y_down_s[i])) / step_s;
    const double tol_s = 2.0 * std::max(ulp_at(y_up_s[i]), ulp_at(y_down_s[i])) / step_s;
    const double ste_term = in_range ? -double(xs[i]) / scale : 0.0;
    const double expected_dscale = dys[i] * (slope_s + ste_term) * g_factor;
    EXPECT_NEAR(dscale[i], expected_dscale, tol_s * dy_g + 1e-5 * std::abs(expected_dscale));
  }
  EXPECT_EQ(inside, 48) << "the construction put 48 elements inside the range";
  // The totals are the sums of the per-element terms.
  double sum_dscale = 0.0, sum_dzp = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    sum_dscale += dscale[i];
    sum_dzp += dzp[i];
  }
  EXPECT_NEAR(g.dscale, sum_dscale, 1e-6 * (1.0 + std::abs(sum_dscale)));
  EXPECT_NEAR(g.dzero_point, sum_dzp, 1e-6 * (1.0 + std::abs(sum_dzp)));
}

}  // namespace
}  // namespace quantkit
