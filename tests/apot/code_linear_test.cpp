// apot_code_linear: PyTorch's LinearAPoT (activation x CODES^T, float32 accumulation),
// equal to apot_linear.json bit for bit, including its quirk cases.
#include "quantkit/apot/code_linear.h"

#include <gtest/gtest.h>

#include "apot/apot_golden.h"
#include "quantkit/core/error.h"

namespace quantkit::apot {
namespace {

using namespace quantkit::apot::testing;
using quantkit::testing::bits_of;
using quantkit::testing::floats_bitwise_equal;

void expect_case(const json& c) {
  SCOPED_TRACE(c.at("id").get<std::string>());
  const Tensor weight = f32_tensor(c, "weight");
  const Tensor weight_before = weight.clone();
  const ApotCodeLinear layer =
      apot_code_linear_prepare(weight, c.at("b").get<int>(), c.at("k").get<int>());
  EXPECT_TRUE(bitwise_equal(weight, weight_before));  // PyTorch overwrites it with the codes
  EXPECT_EQ(bits_of(layer.qparams.alpha), bits_of(f32_scalar(c, "alpha")));
  EXPECT_EQ(bits_of(layer.qparams.gamma), bits_of(f32_scalar(c, "gamma")));
  EXPECT_EQ(layer.weight_codes.shape(), shape(c, "weight_indices"));
  EXPECT_EQ(layer.weight_codes.to_vector<std::int32_t>(), ints<std::int32_t>(c, "weight_indices"));
  const Tensor out = apot_code_linear(f32_tensor(c, "activation"), layer.weight_codes);
  EXPECT_EQ(out.shape(), shape(c, "output"));
  EXPECT_TRUE(floats_bitwise_equal(f32(c, "output"), out.to_vector<float>()));
}

TEST(ApotCodeLinearGolden, Cases) {
  const json& g = golden("apot_linear.json");
  ASSERT_EQ(g.at("cases").size(), 10u);
  for (const auto& c : g.at("cases")) expect_case(c);
}

TEST(ApotCodeLinearGolden, QuirkCases) {
  // Extra activation columns ignored; fractional/negative activations truncated toward 0.
  const json& g = golden("apot_linear.json");
  ASSERT_EQ(g.at("quirk_cases").size(), 2u);
  for (const auto& c : g.at("quirk_cases")) expect_case(c);
}

TEST(ApotCodeLinear, ComputesActivationTimesCodes) {
  const Tensor codes = Tensor::from_vector(std::vector<std::int32_t>{1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor act = Tensor::from_vector(std::vector<float>{1.0f, -2.9f, 3.5f}, {1, 3});
  // trunc: 1, -2, 3 -> row0: 1 - 4 + 9 = 6; row1: 4 - 10 + 18 = 12.
  EXPECT_EQ(apot_code_linear(act, codes).to_vector<float>(), (std::vector<float>{6.0f, 12.0f}));
}

TEST(ApotCodeLinear, Errors) {
  const Tensor codes = Tensor::from_vector(std::vector<std::int32_t>{1, 2, 3, 4}, {2, 2});
  EXPECT_THROW(apot_code_linear(Tensor::from_vector(std::vector<float>{1.0f}, {1, 1}), codes),
               Error);
  EXPECT_THROW(apot_code_linear(Tensor::from_vector(std::vector<float>{1.0f, 2.0f}), codes), Error);
  EXPECT_THROW(apot_code_linear(Tensor::from_vector(std::vector<float>{1.0f, NAN}, {1, 2}), codes),
               Error);
  EXPECT_THROW(apot_code_linear(Tensor::from_vector(std::vector<float>{1.0f, 3e9f}, {1, 2}), codes),
               Error);
  EXPECT_THROW(apot_code_linear(Tensor::from_vector(std::vector<double>{1.0, 2.0}, {1, 2}), codes),
               Error);
  EXPECT_THROW(apot_code_linear(Tensor::from_vector(std::vector<float>{1.0f, 2.0f}, {1, 2}),
                                codes.to(DType::Int64)),
               Error);
  EXPECT_THROW(apot_code_linear_prepare(Tensor::from_vector(std::vector<float>{1.0f}), 4, 2),
               Error);
  EXPECT_THROW(apot_code_linear_prepare(
                   Tensor::from_vector(std::vector<float>{1.0f, INFINITY}, {1, 2}), 4, 2),
               Error);
  EXPECT_THROW(
      apot_code_linear_prepare(Tensor::from_vector(std::vector<float>{1.0f, 2.0f}, {1, 2}), 5, 2),
      Error);
}

}  // namespace
}  // namespace quantkit::apot
