// ApotFakeQuantize: the seed tests (test_fake_quantize.py) ported, the golden module runs and
// straight-through-gradient cases, and a finite-difference gradient check.
#include "quantkit/apot/fake_quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "apot/apot_golden.h"
#include "quantkit/core/error.h"

namespace quantkit::apot {
namespace {

using namespace quantkit::apot::testing;
using quantkit::testing::bits_of;
using quantkit::testing::floats_bitwise_equal;

Tensor random_uniform(std::size_t n, float scale, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& e : v) e = scale * dist(gen);
  return Tensor::from_vector(v);
}

// ---- seed: test_fake_quantize.py ----

// test_fake_quantize.py's min 0 / max 1 with b=4, k=2, against PyTorch's qparams for alpha = 1
// (apot_levels.json b4_k2_{u,s}_a1.0: alpha = max(-min_val, max_val) = 1 there too), signed
// and unsigned, so the signedness must reach the observer.
TEST(ApotFakeQuantizeSeed, FakeCalcQparams) {
  ApotFakeQuantize fake(4, 2);
  fake.observer().set_min_val(0.0f);
  fake.observer().set_max_val(1.0f);
  for (const bool is_signed : {false, true}) {
    const std::string id = is_signed ? "b4_k2_s_a1.0" : "b4_k2_u_a1.0";
    SCOPED_TRACE(id);
    const json* entry = nullptr;
    for (const auto& e : golden("apot_levels.json").at("entries")) {
      if (e.at("id") == id) entry = &e;
    }
    ASSERT_NE(entry, nullptr);
    const ApotQParams got = fake.calculate_qparams(is_signed);
    EXPECT_EQ(got.scheme.is_signed, is_signed);
    EXPECT_EQ(bits_of(got.alpha), bits_of(f32_scalar(*entry, "alpha")));
    EXPECT_EQ(bits_of(got.gamma), bits_of(f32_scalar(*entry, "gamma")));
    EXPECT_TRUE(floats_bitwise_equal(f32(*entry, "quantization_levels"), got.levels));
    EXPECT_EQ(got.level_indices, ints<std::int64_t>(*entry, "level_indices"));
  }
}

TEST(ApotFakeQuantizeSeed, ForwardEqualsDequantizeQuantize) {
  const Tensor x = random_uniform(20, 1000.0f, 7);
  ApotObserver observer(4, 2);
  observer.observe(x);
  const ApotQParams q = observer.calculate_qparams(false);
  ApotFakeQuantize fake(4, 2);
  fake.enable_observer();
  fake.enable_fake_quant();
  const Tensor x_before = x.clone();
  const Tensor out = fake.forward(x);
  EXPECT_TRUE(bitwise_equal(x, x_before));  // PyTorch overwrites X; we do not
  const Tensor expected = dequantize_apot(quantize_apot(x, q));
  EXPECT_EQ(out.dtype(), DType::Float64);
  EXPECT_TRUE(bitwise_equal(out, expected));
  EXPECT_TRUE(bitwise_equal(fake.forward_f32(x), expected.to(DType::Float32)));
}

TEST(ApotFakeQuantizeSeed, ForwardWithoutQparamsThrows) {
  ApotFakeQuantize fake(4, 2);
  fake.disable_observer();
  fake.enable_fake_quant();
  EXPECT_FALSE(fake.has_qparams());
  try {
    fake.forward(random_uniform(20, 1000.0f, 8));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("qparams"), std::string::npos) << e.what();
  }
  EXPECT_THROW(fake.qparams(), Error);
  EXPECT_THROW(fake.backward(Tensor::from_vector(std::vector<float>{1.0f}),
                             Tensor::from_vector(std::vector<float>{1.0f})),
               Error);
}

// The C++ counterpart of test_backward's gradcheck. A straight-through estimator is not the
// derivative of the forward (a staircase, whose finite-difference derivative is 0 wherever
// it is defined), so torch.autograd.gradcheck cannot pass for it. What the STE promises is
// the derivative of the surrogate clamp(x, -alpha, alpha); we check (a) the forward is flat
// (finite difference 0) at points away from level boundaries, and (b) the backward equals
// the finite-difference Jacobian of the surrogate, element by element (the Jacobian is
// diagonal: perturbing x_j changes no other output).
TEST(ApotFakeQuantizeSeed, FiniteDifferenceGradientCheck) {
  std::mt19937 gen(9);
  std::normal_distribution<double> dist(0.0, 1.0);
  std::vector<double> v(20);
  for (auto& e : v) e = dist(gen);
  ApotObserver observer(4, 2);
  observer.observe(Tensor::from_vector(v));
  const ApotQuantizer quantizer(observer.calculate_qparams(false));
  const double alpha = quantizer.qparams().alpha;
  // Extra points beyond +-alpha exercise the masked part of the STE.
  v.push_back(1.5 * alpha);
  v.push_back(-1.25 * alpha);
  const double h = 1e-6;
  const auto& t = quantizer.table();
  auto near_boundary = [&](double x) {
    for (std::int32_t j = 0; j + 1 < t.num_distinct; ++j) {
      if (std::fabs(x - t.thresholds[static_cast<std::size_t>(j)]) < 1e-4) return true;
    }
    return std::fabs(std::fabs(x) - alpha) < 1e-4;
  };
  auto forward_at = [&](double x) {
    return apot_fake_quantize(Tensor::from_vector(std::vector<double>{x}), quantizer)
        .data<double>()[0];
  };
  auto surrogate = [&](double x) { return std::min(std::max(x, -alpha), alpha); };
  const Tensor x = Tensor::from_vector(v);
  std::size_t checked = 0;
  for (std::size_t j = 0; j < v.size(); ++j) {
    if (near_boundary(v[j])) continue;
    std::vector<double> dy(v.size(), 0.0);
    dy[j] = 1.0;
    const Tensor grad =
        apot_fake_quantize_backward(Tensor::from_vector(dy), x, quantizer.qparams().alpha);
    const double fd_forward = (forward_at(v[j] + h) - forward_at(v[j] - h)) / (2 * h);
    const double fd_surrogate = (surrogate(v[j] + h) - surrogate(v[j] - h)) / (2 * h);
    EXPECT_EQ(fd_forward, 0.0) << "x=" << v[j];
    for (std::size_t i = 0; i < v.size(); ++i) {
      const double expected = i == j ? fd_surrogate : 0.0;
      EXPECT_NEAR(grad.data<double>()[i], expected, 1e-4) << "x=" << v[j] << " i=" << i;
    }
    ++checked;
  }
  EXPECT_GE(checked, 18u);
}

// ---- golden: apot_fake_quantize.json ----

TEST(ApotFakeQuantizeGolden, ModuleStepSequences) {
  const json& g = golden("apot_fake_quantize.json");
  ASSERT_EQ(g.at("modules").size(), 3u);
  for (const auto& m : g.at("modules")) {
    SCOPED_TRACE(m.at("id").get<std::string>());
    ApotFakeQuantize fake(m.at("b").get<int>(), m.at("k").get<int>());
    for (const auto& s : m.at("steps")) {
      SCOPED_TRACE("step " + std::to_string(s.at("step").get<int>()));
      fake.enable_observer(s.at("observer_enabled").get<bool>());
      fake.enable_fake_quant(s.at("fake_quant_enabled").get<bool>());
      const Tensor x = f32_tensor(s, "x");
      const Tensor x_before = x.clone();
      const Tensor out = fake.forward(x);
      EXPECT_TRUE(bitwise_equal(x, x_before));
      EXPECT_EQ(bits_of(fake.qparams().alpha), bits_of(f32_scalar(s, "alpha_after")));
      EXPECT_EQ(bits_of(fake.qparams().gamma), bits_of(f32_scalar(s, "gamma_after")));
      EXPECT_EQ(static_cast<std::int64_t>(fake.qparams().levels.size()),
                s.at("num_levels").get<std::int64_t>());
      if (!s.at("fake_quant_enabled").get<bool>()) {
        EXPECT_EQ(out.raw_data(), x.raw_data());  // the input itself
        EXPECT_TRUE(floats_bitwise_equal(f32(s, "output"), out.to_vector<float>()));
        continue;
      }
      std::vector<double> expected;
      if (s.contains("output")) {
        expected = f64(s, "output");
        const ApotQuantizer q(fake.qparams());
        EXPECT_EQ(q.quantize(x).to_vector<std::int32_t>(), ints<std::int32_t>(s, "codes"));
      } else {
        // Observer off, stale alpha: PyTorch raises or returns garbage (README item 12); we
        // clamp, which is the generator's clipped reference.
        expected = f64(s.at("pytorch_out_of_range"), "clipped_reference_output");
      }
      EXPECT_EQ(out.dtype(), DType::Float64);
      const std::vector<double> got = out.to_vector<double>();
      ASSERT_EQ(got.size(), expected.size());
      for (std::size_t i = 0; i < got.size(); ++i)
        EXPECT_EQ(bits_of(got[i]), bits_of(expected[i])) << i;
    }
  }
}

TEST(ApotFakeQuantizeGolden, StraightThroughGradients) {
  const json& g = golden("apot_fake_quantize.json");
  ASSERT_EQ(g.at("ste_cases").size(), 3u);
  for (const auto& c : g.at("ste_cases")) {
    SCOPED_TRACE(c.at("id").get<std::string>());
    ApotFakeQuantize fake(c.at("b").get<int>(), c.at("k").get<int>());
    for (const auto& batch : c.at("observed_batches")) fake.forward(f32_tensor(batch, "x"));
    EXPECT_EQ(bits_of(fake.qparams().alpha), bits_of(f32_scalar(c, "alpha")));
    const Tensor x = f32_tensor(c, "x");
    const Tensor dy = Tensor::from_vector(f64(c, "grad_output"), shape(c, "grad_output"));
    const Tensor dx = fake.backward(dy, x);
    EXPECT_EQ(dx.dtype(), DType::Float32);
    EXPECT_TRUE(floats_bitwise_equal(f32(c, "expected_grad_input"), dx.to_vector<float>()));
    // Float32 gradients give the same values.
    const Tensor dx32 = fake.backward(dy.to(DType::Float32), x);
    EXPECT_TRUE(floats_bitwise_equal(f32(c, "expected_grad_input"), dx32.to_vector<float>()));
  }
}

TEST(ApotFakeQuantize, DisabledFakeQuantPassesGradientAndErrors) {
  ApotFakeQuantize fake(4, 2);
  fake.disable_fake_quant();
  const Tensor x = Tensor::from_vector(std::vector<float>{100.0f, -1.0f});
  const Tensor dy = Tensor::from_vector(std::vector<double>{0.5, -2.0});
  const Tensor dx = fake.backward(dy, x);
  EXPECT_EQ(dx.dtype(), DType::Float32);
  EXPECT_EQ(dx.to_vector<float>(), (std::vector<float>{0.5f, -2.0f}));
  EXPECT_THROW(fake.backward(Tensor::from_vector(std::vector<double>{1.0}), x), Error);
  EXPECT_THROW(apot_fake_quantize_backward(dy, x, -1.0f), Error);
  EXPECT_THROW(
      apot_fake_quantize_backward(Tensor::from_vector(std::vector<std::int32_t>{1, 2}), x, 1.0f),
      Error);
  // set_qparams drives forward without an observer pass.
  fake.disable_observer();
  fake.enable_fake_quant();
  fake.set_qparams(make_apot_qparams({4, 2, false}, 1.0f));
  EXPECT_EQ(fake.forward(x).to_vector<double>(), (std::vector<double>{1.0, 0.0}));
}

}  // namespace
}  // namespace quantkit::apot
