// LSQ per channel (fake_quantize_learnable_per_channel[_backward]) against the
// per-tensor kernels, which the golden data pin to torch 1.13: every channel
// must behave like the per-tensor op on its own elements with that channel's
// scale and ONE rounded zero point (torch's per-channel op rounds half to even
// in both passes, unlike the per-tensor backward). LibTorch itself is the
// oracle in tests/torch/ (built with QUANTKIT_WITH_TORCH); these run in every
// build, ASan + UBSan included.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/core/tensor.h"
#include "quantkit/quant/affine.h"
#include "quantkit/quant/fake_quantize.h"

namespace quantkit {
namespace {

constexpr std::int64_t kQmin = -128;
constexpr std::int64_t kQmax = 127;

// [2, 3, 40] with channels along axis 1: values spread past both ends of the
// range, and exact grid points / ties for scale 0.125.
Tensor make_x() {
  std::vector<float> v(2 * 3 * 40);
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto k = static_cast<float>(static_cast<int>(i % 120) - 60);
    v[i] = (i % 3 == 0) ? k * 0.3f : (k + 0.5f) * 0.125f * static_cast<float>(1 + i % 5);
  }
  return Tensor::from_vector(v, {2, 3, 40});
}

Tensor make_dy() {
  std::vector<float> v(2 * 3 * 40);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::sin(static_cast<float>(i)) * 2.0f;
  return Tensor::from_vector(v, {2, 3, 40});
}

// The elements of channel c (axis 1) of a [2, 3, 40] tensor, as a 1-D tensor.
Tensor channel_of(const Tensor &t, std::int64_t c) {
  std::vector<float> out;
  const float *p = t.data<float>();
  for (std::int64_t o = 0; o < 2; ++o) {
    for (std::int64_t i = 0; i < 40; ++i) out.push_back(p[(o * 3 + c) * 40 + i]);
  }
  return Tensor::from_vector(out);
}

bool same_bits(const Tensor &a, const Tensor &b) {
  if (a.shape() != b.shape()) return false;
  const auto x = a.span<const float>();
  const auto y = b.span<const float>();
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (std::signbit(x[i]) != std::signbit(y[i]) || !(x[i] == y[i] || (x[i] != x[i]))) {
      return false;
    }
  }
  return true;
}

TEST(LearnablePerChannel, EachChannelIsThePerTensorOpWithItsRoundedZeroPoint) {
  const Tensor x = make_x();
  const Tensor dy = make_dy();
  const std::vector<float> scales = {0.125f, 0.0371f, 0.3f};
  // 2.5 rounds to 2 (half to even); 200 clamps to 127; -7.4 rounds to -7.
  const std::vector<float> zero_points = {2.5f, 200.0f, -7.4f};
  const std::vector<float> rounded = {2.0f, 127.0f, -7.0f};
  // The per-tensor backward derives trunc(zp + 0.5f): these give the same
  // integers there
  // (-7.0f would give trunc(-6.5f) = -6).
  const std::vector<float> rounded_for_backward = {2.0f, 127.0f, -7.5f};
  const double grad_factor = 0.75;

  const Tensor y = fake_quantize_learnable_per_channel(x, scales, zero_points, 1, kQmin, kQmax);
  const auto grads = fake_quantize_learnable_per_channel_backward(dy, x, scales, zero_points, 1,
                                                                  kQmin, kQmax, grad_factor);
  ASSERT_EQ(grads.dscale.size(), 3u);
  ASSERT_EQ(grads.dzero_point.size(), 3u);
  for (std::int64_t c = 0; c < 3; ++c) {
    const auto ch = static_cast<std::size_t>(c);
    const Tensor xc = channel_of(x, c);
    const Tensor dyc = channel_of(dy, c);
    EXPECT_TRUE(same_bits(channel_of(y, c), fake_quantize_learnable_per_tensor(
                                                xc, scales[ch], rounded[ch], kQmin, kQmax)))
        << "channel " << c;
    const auto expected = fake_quantize_learnable_per_tensor_backward(
        dyc, xc, scales[ch], rounded_for_backward[ch], kQmin, kQmax, grad_factor);
    EXPECT_TRUE(same_bits(channel_of(grads.dx, c), expected.dx)) << "channel " << c;
    EXPECT_TRUE(same_bits(channel_of(grads.dscale_elem, c), expected.dscale_elem)) << c;
    EXPECT_TRUE(same_bits(channel_of(grads.dzero_point_elem, c), expected.dzero_point_elem))
        << "channel " << c;
    EXPECT_EQ(grads.dscale[ch], expected.dscale) << "channel " << c;
    EXPECT_EQ(grads.dzero_point[ch], expected.dzero_point) << "channel " << c;
  }
}

TEST(LearnablePerChannel, HalfZeroPointUsesTheForwardRoundingInTheBackwardToo) {
  // The per-tensor backward would use trunc(2.5 + 0.5) = 3; per channel uses 2
  // in both.
  const Tensor x = Tensor::from_vector(std::vector<float>{-16.0f, -15.9f, 15.9f, 16.0f}, {1, 4});
  const Tensor dy = Tensor::from_vector(std::vector<float>{1.0f, 1.0f, 1.0f, 1.0f}, {1, 4});
  const std::vector<float> scale = {0.125f};
  const std::vector<float> zero_point = {2.5f};
  const auto grads =
      fake_quantize_learnable_per_channel_backward(dy, x, scale, zero_point, 0, kQmin, kQmax);
  // -16 / 0.125 + 2 = -126 (inside), 16 / 0.125 + 2 = 130 (above 127): out of
  // range terms are dzero_point = -scale and dscale = 127 - 2.
  EXPECT_EQ(grads.dx.to_vector<float>(), (std::vector<float>{1.0f, 1.0f, 0.0f, 0.0f}));
  EXPECT_EQ(grads.dscale_elem.to_vector<float>()[3], 125.0f);
  EXPECT_EQ(grads.dzero_point_elem.to_vector<float>()[3], -0.125f);
}

TEST(LearnablePerChannel, RejectsBadArguments) {
  const Tensor x = Tensor::zeros({2, 3}, DType::Float32);
  const std::vector<float> ok3 = {0.1f, 0.1f, 0.1f};
  const std::vector<float> zp3 = {0.0f, 0.0f, 0.0f};
  EXPECT_THROW(fake_quantize_learnable_per_channel(x, ok3, zp3, 0, kQmin, kQmax), Error);
  EXPECT_THROW(fake_quantize_learnable_per_channel(x, ok3, zp3, 2, kQmin, kQmax), Error);
  const std::vector<float> zero_scale = {0.1f, 0.0f, 0.1f};
  EXPECT_THROW(fake_quantize_learnable_per_channel(x, zero_scale, zp3, 1, kQmin, kQmax), Error);
  const std::vector<float> nan_zp = {0.0f, NAN, 0.0f};
  EXPECT_THROW(fake_quantize_learnable_per_channel(x, ok3, nan_zp, 1, kQmin, kQmax), Error);
  const Tensor dy = Tensor::zeros({3, 2}, DType::Float32);
  EXPECT_THROW(fake_quantize_learnable_per_channel_backward(dy, x, ok3, zp3, 1, kQmin, kQmax),
               Error);
  try {
    fake_quantize_learnable_per_channel(x, zero_scale, zp3, -1, kQmin, kQmax);
    FAIL() << "no error";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("scales[1]"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace quantkit
