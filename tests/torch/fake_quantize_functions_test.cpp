// The straight-through fake-quantize autograd functions against LibTorch's built-ins
// (torch::fake_quantize_per_tensor_affine / _per_channel_affine): forward and input gradient
// bit-exact, on inputs with ties, edges and values beyond both ends of the range; and the APoT
// function against an independent LibTorch formulation of nearest-level search and its STE.
#include "quantkit/torch/fake_quantize_functions.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "quantkit/apot/qparams.h"
#include "quantkit/apot/quantizer.h"
#include "quantkit/core/error.h"
#include "torch/oracle_checks.h"

namespace quantkit {
namespace {

using torch_test::bitwise_equal;
using torch_test::fake_quant_inputs;
using torch_test::grad_outputs_like;

// d(sum(y * dy))/dx through whichever function produced y from x.
at::Tensor input_grad(const at::Tensor& y, const at::Tensor& x, const at::Tensor& dy) {
  return ::torch::autograd::grad({y}, {x}, {dy})[0];
}

struct PerTensorCase {
  double scale;
  std::int64_t zero_point;
  std::int64_t quant_min;
  std::int64_t quant_max;
};

class FakeQuantizePerTensorOracle : public ::testing::TestWithParam<PerTensorCase> {};

TEST_P(FakeQuantizePerTensorOracle, ForwardAndInputGradientAreBitExact) {
  const PerTensorCase c = GetParam();
  const at::Tensor x0 = fake_quant_inputs(4096, c.scale, c.zero_point, c.quant_min, c.quant_max, 7);
  const at::Tensor dy = grad_outputs_like(x0, 8);
  const at::Tensor x = x0.clone().requires_grad_(true);
  const at::Tensor ours =
      torch::fake_quantize_per_tensor(x, c.scale, c.zero_point, c.quant_min, c.quant_max);
  const at::Tensor theirs =
      at::fake_quantize_per_tensor_affine(x, c.scale, c.zero_point, c.quant_min, c.quant_max);
  EXPECT_TRUE(bitwise_equal(ours, theirs));
  const at::Tensor dx = input_grad(ours, x, dy);
  EXPECT_TRUE(bitwise_equal(dx, input_grad(theirs, x, dy)));
  // The inputs do reach both sides of the mask (else the gradient check proves little).
  const at::Tensor passed = dx.ne(0);
  EXPECT_GT(passed.sum().item<std::int64_t>(), 0);
  EXPECT_LT(passed.sum().item<std::int64_t>(), x.numel());
}

INSTANTIATE_TEST_SUITE_P(Ranges, FakeQuantizePerTensorOracle,
                         ::testing::Values(PerTensorCase{0.125, 3, -128, 127},  // exact ties
                                           PerTensorCase{0.0371, -17, -128,
                                                         127},  // inexact reciprocal
                                           PerTensorCase{0.0625, 128, 0, 255},  // uint8
                                           PerTensorCase{0.3, 0, -8, 7},        // 4-bit
                                           PerTensorCase{1.7e-3, 0, -1, 1}));   // ternary

TEST(FakeQuantizePerTensor, NonContiguousInputMatchesTheOracle) {
  const at::Tensor base = fake_quant_inputs(64 * 48, 0.05, 2, -128, 127, 3).reshape({64, 48});
  const at::Tensor x = base.t().requires_grad_(false);  // a strided view, not a copy
  ASSERT_FALSE(x.is_contiguous());
  EXPECT_TRUE(bitwise_equal(torch::fake_quantize_per_tensor(x, 0.05, 2, -128, 127),
                            at::fake_quantize_per_tensor_affine(x, 0.05, 2, -128, 127)));
}

TEST(FakeQuantizePerTensor, RejectsWhatTheKernelsCannotRead) {
  const at::Tensor x = at::ones({4}, at::kDouble);
  EXPECT_THROW(torch::fake_quantize_per_tensor(x, 0.1, 0, -128, 127), Error);
  EXPECT_THROW(torch::fake_quantize_per_tensor(at::ones({4}), -0.1, 0, -128, 127), Error);
  EXPECT_THROW(torch::fake_quantize_per_tensor(at::ones({4}), 0.1, 300, -128, 127), Error);
}

TEST(FakeQuantizePerChannel, ForwardAndInputGradientAreBitExactOnEveryAxis) {
  const std::int64_t qmin = -128;
  const std::int64_t qmax = 127;
  const std::vector<std::int64_t> shape = {6, 5, 7, 3};
  for (std::int64_t axis = -1; axis < 4; ++axis) {
    const std::int64_t channels = shape[static_cast<std::size_t>(axis < 0 ? axis + 4 : axis)];
    at::Generator gen = at::detail::createCPUGenerator(static_cast<std::uint64_t>(axis + 10));
    // Inexact scales and, in channel 0, the inputs' power-of-two scale, so that channel sees
    // exact ties; zero points anywhere in the range.
    const at::Tensor scales =
        (at::rand({channels}, gen, at::kFloat) * 0.1 + 0.01).index_put_({0}, 0.0625f);
    const at::Tensor zero_points = at::randint(qmin, qmax + 1, {channels}, gen, at::kInt);
    const at::Tensor x0 =
        fake_quant_inputs(6 * 5 * 7 * 3, 0.0625, 0, qmin, qmax, 20 + axis).reshape(shape);
    const at::Tensor dy = grad_outputs_like(x0, 30 + axis);
    const at::Tensor x = x0.clone().requires_grad_(true);
    const at::Tensor ours =
        torch::fake_quantize_per_channel(x, scales, zero_points, axis, qmin, qmax);
    const std::int64_t torch_axis = axis < 0 ? axis + 4 : axis;  // torch wants axis >= 0
    const at::Tensor theirs =
        at::fake_quantize_per_channel_affine(x, scales, zero_points, torch_axis, qmin, qmax);
    EXPECT_TRUE(bitwise_equal(ours, theirs)) << "axis " << axis;
    EXPECT_TRUE(bitwise_equal(input_grad(ours, x, dy), input_grad(theirs, x, dy)))
        << "axis " << axis;
  }
}

TEST(FakeQuantizePerTensor, EmptyInputGivesEmptyOutputAndGradient) {
  const at::Tensor x = at::empty({0, 3}).requires_grad_(true);
  const at::Tensor y = torch::fake_quantize_per_tensor(x, 0.1, 0, -128, 127);
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_EQ(input_grad(y, x, at::empty({0, 3})).sizes(), x.sizes());
}

TEST(FakeQuantizePerChannel, ChecksParametersAgainstTheChannelAxis) {
  const at::Tensor x = at::ones({2, 3});
  const at::Tensor zp = at::zeros({3}, at::kInt);
  EXPECT_THROW(torch::fake_quantize_per_channel(x, at::ones({2}), zp, 1, -128, 127), Error);
  EXPECT_THROW(torch::fake_quantize_per_channel(x, at::ones({3}), zp, 2, -128, 127), Error);
  EXPECT_THROW(torch::fake_quantize_per_channel(x, at::ones({3}, at::kDouble), zp, 1, -128, 127),
               Error);
  EXPECT_THROW(torch::fake_quantize_per_channel(x, at::ones({3}), at::zeros({3}), 1, -128, 127),
               Error);  // float zero points are not the integer op's
}

// APoT has no LibTorch built-in. The oracle is LibTorch arithmetic on the documented rule:
// clamp to [-alpha, alpha], then the first (lowest) sorted level at the least float32
// distance (torch's argmin returns the first minimum); gradient dy * (-alpha <= x <= alpha).
// PyTorch's b=4, k=2 sets and the paper's signed 4- and 3-bit sets (apot_paper_scheme).
TEST(ApotFakeQuantize, MatchesNearestLevelAndItsStraightThroughEstimator) {
  for (const apot::ApotScheme& scheme :
       {apot::ApotScheme{.b = 4, .k = 2, .is_signed = false},
        apot::ApotScheme{.b = 4, .k = 2, .is_signed = true}, apot::apot_paper_scheme(4),
        apot::apot_paper_scheme(3)}) {
    const std::string label = scheme.label();
    const float alpha = 1.3f;
    const auto quantizer = apot::ApotQuantizer(apot::make_apot_qparams(scheme, alpha));
    const std::vector<float>& level_values = quantizer.qparams().levels;
    const at::Tensor levels = at::tensor(level_values, at::kFloat);
    at::Generator gen = at::detail::createCPUGenerator(5);
    at::Tensor x0 = at::randn({2048}, gen, at::kFloat) * alpha;
    // Exact midpoints between neighbouring levels (ties) and the clipping edges.
    for (std::size_t i = 0; i + 1 < level_values.size(); ++i) {
      x0[static_cast<std::int64_t>(i)] = (level_values[i] + level_values[i + 1]) / 2.0f;
    }
    x0[100] = alpha;
    x0[101] = -alpha;
    x0[102] = std::nextafter(alpha, 2.0f);
    const at::Tensor dy = grad_outputs_like(x0, 6);
    const at::Tensor x = x0.clone().requires_grad_(true);
    const at::Tensor ours = torch::apot_fake_quantize(x, quantizer);

    const at::Tensor clipped = x0.clamp(-alpha, alpha);
    const at::Tensor nearest = (clipped.unsqueeze(1) - levels).abs().argmin(1);
    EXPECT_TRUE(bitwise_equal(ours, levels.index({nearest}))) << label;
    const at::Tensor inside = x0.ge(-alpha).logical_and(x0.le(alpha));
    EXPECT_TRUE(bitwise_equal(input_grad(ours, x, dy), dy * inside)) << label;
  }
}

}  // namespace
}  // namespace quantkit
