// The learnable (LSQ) fake-quantize autograd functions against LibTorch's
// _fake_quantize_learnable_per_tensor_affine / _per_channel_affine through
// torch::autograd::grad: forward and input gradient bit-exact; scale / zero-point gradients
// exact per element and, summed, within kSumTolerance of torch's float32 sum (docs/torch.md:
// torch sums float32 terms in its vectorised order, quantkit sums them compensated in double,
// so the two differ by torch's rounding, bounded relative to the sum of |terms|).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/core/tensor.h"
#include "quantkit/quant/fake_quantize.h"
#include "quantkit/torch/fake_quantize_functions.h"
#include "quantkit/torch/tensor_bridge.h"
#include "torch/oracle_checks.h"

namespace quantkit {
namespace {

using torch_test::bitwise_equal;
using torch_test::fake_quant_inputs;
using torch_test::grad_outputs_like;

// |ours - torch| <= kSumTolerance * sum(|terms|). Measured over these cases: at most
// 2.1e-7 (about 2^-22) of the mass, i.e. torch's float32 rounding; one wrong term of average
// size moves a sum by mass / n (2^-12 for n = 4096, 2^-7 per channel here), far above 2^-16.
constexpr double kSumTolerance = 0x1p-16;

::testing::AssertionResult sum_within_tolerance(const at::Tensor& ours, const at::Tensor& theirs,
                                                const at::Tensor& terms_abs_sum) {
  const at::Tensor diff = (ours.to(at::kDouble) - theirs.to(at::kDouble)).abs();
  const at::Tensor bound = terms_abs_sum.to(at::kDouble) * kSumTolerance;
  if (diff.le(bound).all().item<bool>()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "ours " << ours << " torch " << theirs << " bound " << bound;
}

struct Grads {
  at::Tensor y;
  at::Tensor dx;
  at::Tensor dscale;
  at::Tensor dzero_point;
};

template <class F>
Grads run(F&& fake_quantize, const at::Tensor& x0, const at::Tensor& scale0,
          const at::Tensor& zero_point0, const at::Tensor& dy) {
  const at::Tensor x = x0.clone().requires_grad_(true);
  const at::Tensor scale = scale0.clone().requires_grad_(true);
  const at::Tensor zero_point = zero_point0.clone().requires_grad_(true);
  at::Tensor y = fake_quantize(x, scale, zero_point);
  const auto g = ::torch::autograd::grad({y}, {x, scale, zero_point}, {dy});
  return {y, g[0], g[1], g[2]};
}

struct PerTensorCase {
  float scale;
  float zero_point;  // float: rounded one way forward, another way backward
  std::int64_t quant_min;
  std::int64_t quant_max;
  double grad_factor;
};

class LearnablePerTensorOracle : public ::testing::TestWithParam<PerTensorCase> {};

TEST_P(LearnablePerTensorOracle, MatchesTorch) {
  const PerTensorCase c = GetParam();
  const auto zp_int = static_cast<std::int64_t>(std::nearbyint(c.zero_point));
  const at::Tensor x0 = fake_quant_inputs(4096, c.scale, zp_int, c.quant_min, c.quant_max, 11);
  const at::Tensor dy = grad_outputs_like(x0, 12);
  const at::Tensor scale = at::full({1}, c.scale);
  const at::Tensor zero_point = at::full({1}, c.zero_point);
  const Grads ours = run(
      [&](const at::Tensor& x, const at::Tensor& s, const at::Tensor& z) {
        return torch::fake_quantize_learnable_per_tensor(x, s, z, c.quant_min, c.quant_max,
                                                         c.grad_factor);
      },
      x0, scale, zero_point, dy);
  const Grads theirs = run(
      [&](const at::Tensor& x, const at::Tensor& s, const at::Tensor& z) {
        return at::_fake_quantize_learnable_per_tensor_affine(x, s, z, c.quant_min, c.quant_max,
                                                              c.grad_factor);
      },
      x0, scale, zero_point, dy);
  EXPECT_TRUE(bitwise_equal(ours.y, theirs.y));
  EXPECT_TRUE(bitwise_equal(ours.dx, theirs.dx));
  ASSERT_EQ(ours.dscale.sizes(), scale.sizes());
  ASSERT_EQ(ours.dzero_point.sizes(), zero_point.sizes());

  // Per element: torch's backward on one element at a time sums a single term. That sum is
  // exact except for the sign of zero (0 + -0 = +0), so ours get the same "+ 0" first.
  const auto in = torch::borrow_float32(x0, "test", "x");
  const auto g = torch::borrow_float32(dy, "test", "dy");
  const LearnableFakeQuantizeGrads elems = fake_quantize_learnable_per_tensor_backward(
      g.view, in.view, c.scale, c.zero_point, c.quant_min, c.quant_max, c.grad_factor);
  const at::Tensor our_dscale = torch::to_torch(elems.dscale_elem) + 0.0;
  const at::Tensor our_dzero_point = torch::to_torch(elems.dzero_point_elem) + 0.0;
  at::Tensor their_dscale = at::empty_like(x0);
  at::Tensor their_dzero_point = at::empty_like(x0);
  for (std::int64_t i = 0; i < x0.numel(); ++i) {
    const auto one = at::_fake_quantize_learnable_per_tensor_affine_backward(
        dy.slice(0, i, i + 1), x0.slice(0, i, i + 1), scale, zero_point, c.quant_min, c.quant_max,
        c.grad_factor);
    their_dscale[i] = std::get<1>(one)[0];
    their_dzero_point[i] = std::get<2>(one)[0];
  }
  EXPECT_TRUE(bitwise_equal(our_dscale, their_dscale));
  EXPECT_TRUE(bitwise_equal(our_dzero_point, their_dzero_point));

  // Summed: close to torch's float32 sum, and essentially the exact sum of the terms.
  EXPECT_TRUE(sum_within_tolerance(ours.dscale, theirs.dscale, their_dscale.abs().sum()));
  EXPECT_TRUE(
      sum_within_tolerance(ours.dzero_point, theirs.dzero_point, their_dzero_point.abs().sum()));
  EXPECT_FLOAT_EQ(ours.dscale.item<float>(),
                  static_cast<float>(their_dscale.to(at::kDouble).sum().item<double>()));
}

INSTANTIATE_TEST_SUITE_P(
    Ranges, LearnablePerTensorOracle,
    ::testing::Values(PerTensorCase{0.125f, 3.0f, -128, 127, 1.0},
                      // .5 zero points: forward rounds half to even, backward adds 0.5
                      PerTensorCase{0.0371f, 2.5f, -128, 127, 1.0},
                      PerTensorCase{0.05f, -3.5f, -128, 127, 1.0},
                      PerTensorCase{0.0625f, 130.3f, 0, 255, 1.0 / std::sqrt(4096.0 * 255)},
                      // zero point beyond the range: both passes clamp it
                      PerTensorCase{0.2f, 9.7f, -8, 7, 0.5}));

TEST(LearnablePerChannel, MatchesTorchOnEveryAxis) {
  const std::int64_t qmin = -128;
  const std::int64_t qmax = 127;
  const std::vector<std::int64_t> shape = {6, 5, 7, 3};
  for (std::int64_t axis = 0; axis < 4; ++axis) {
    const std::int64_t channels = shape[static_cast<std::size_t>(axis)];
    at::Generator gen = at::detail::createCPUGenerator(static_cast<std::uint64_t>(axis + 40));
    const at::Tensor scale = (at::rand({channels}, gen, at::kFloat) * 0.1 + 0.01);
    scale[0] = 0.0625f;  // the inputs' power-of-two scale: exact ties in channel 0
    // Fractional zero points incl. exact halves (torch rounds them half to even here) and
    // one beyond the range.
    at::Tensor zero_point = at::rand({channels}, gen, at::kFloat) * 40 - 20;
    zero_point[0] = 2.5f;
    zero_point[1] = 200.0f;
    const at::Tensor x0 =
        fake_quant_inputs(6 * 5 * 7 * 3, 0.0625, 0, qmin, qmax, 50 + axis).reshape(shape);
    const at::Tensor dy = grad_outputs_like(x0, 60 + axis);
    const double grad_factor = 0.75;
    const Grads ours = run(
        [&](const at::Tensor& x, const at::Tensor& s, const at::Tensor& z) {
          return torch::fake_quantize_learnable_per_channel(x, s, z, axis, qmin, qmax, grad_factor);
        },
        x0, scale, zero_point, dy);
    const Grads theirs = run(
        [&](const at::Tensor& x, const at::Tensor& s, const at::Tensor& z) {
          return at::_fake_quantize_learnable_per_channel_affine(x, s, z, axis, qmin, qmax,
                                                                 grad_factor);
        },
        x0, scale, zero_point, dy);
    EXPECT_TRUE(bitwise_equal(ours.y, theirs.y)) << "axis " << axis;
    EXPECT_TRUE(bitwise_equal(ours.dx, theirs.dx)) << "axis " << axis;

    // Per element: torch's backward with x as [numel, 1] along axis 0 reduces nothing, so
    // its dscale / dzero_point are the element terms (each with its channel's parameters),
    // up to the sign of zero (a one-term sum gives +0 for -0; ours get the same "+ 0").
    const std::vector<std::int64_t> expand_shape(shape.begin(), shape.end());
    std::vector<std::int64_t> view_shape(4, 1);
    view_shape[static_cast<std::size_t>(axis)] = channels;
    const at::Tensor s_elem = scale.reshape(view_shape).expand(expand_shape).reshape({-1});
    const at::Tensor z_elem = zero_point.reshape(view_shape).expand(expand_shape).reshape({-1});
    const auto elems = at::_fake_quantize_learnable_per_channel_affine_backward(
        dy.reshape({-1, 1}), x0.reshape({-1, 1}), s_elem.contiguous(), z_elem.contiguous(), 0, qmin,
        qmax, grad_factor);
    const auto in = torch::borrow_float32(x0, "test", "x");
    const auto g = torch::borrow_float32(dy, "test", "dy");
    const auto s_vec = torch::float32_values(scale, "test", "scale", channels);
    const auto z_vec = torch::float32_values(zero_point, "test", "zero_point", channels);
    const LearnableFakeQuantizePerChannelGrads our_elems =
        fake_quantize_learnable_per_channel_backward(g.view, in.view, s_vec, z_vec, axis, qmin,
                                                     qmax, grad_factor);
    EXPECT_TRUE(bitwise_equal((torch::to_torch(our_elems.dscale_elem) + 0.0).reshape({-1, 1}),
                              std::get<1>(elems).reshape({-1, 1})))
        << "axis " << axis;
    EXPECT_TRUE(bitwise_equal((torch::to_torch(our_elems.dzero_point_elem) + 0.0).reshape({-1, 1}),
                              std::get<2>(elems).reshape({-1, 1})))
        << "axis " << axis;

    std::vector<std::int64_t> reduce;
    for (std::int64_t d = 0; d < 4; ++d) {
      if (d != axis) reduce.push_back(d);
    }
    const at::Tensor dscale_mass = std::get<1>(elems).reshape(shape).abs().sum(reduce);
    const at::Tensor dzero_point_mass = std::get<2>(elems).reshape(shape).abs().sum(reduce);
    EXPECT_TRUE(sum_within_tolerance(ours.dscale, theirs.dscale, dscale_mass)) << axis;
    EXPECT_TRUE(sum_within_tolerance(ours.dzero_point, theirs.dzero_point, dzero_point_mass))
        << axis;
  }
}

TEST(LearnablePerChannel, RejectsParametersOfTheWrongShape) {
  const at::Tensor x = at::ones({2, 3});
  EXPECT_THROW(
      torch::fake_quantize_learnable_per_channel(x, at::ones({2}), at::zeros({3}), 1, -128, 127),
      Error);
  EXPECT_THROW(
      torch::fake_quantize_learnable_per_tensor(x, at::ones({2}), at::zeros({1}), -128, 127),
      Error);
  EXPECT_THROW(
      torch::fake_quantize_learnable_per_tensor(x, at::full({1}, -1.0f), at::zeros({1}), -128, 127),
      Error);
}

}  // namespace
}  // namespace quantkit
