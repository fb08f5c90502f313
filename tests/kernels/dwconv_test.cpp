// Depthwise convolution kernels (quantkit/kernels/dwconv.h): every ISA level is bit-exact
// with dwconv_reference over a sweep of channels (1 .. 3× the widest vector), kernel sizes,
// strides, dilations, paddings, zero points at the extremes and per-tensor / per-channel
// multipliers, at every work split; the reference is within one output step of the
// dequantize → float convolution → quantize result.
#include "quantkit/kernels/dwconv.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "int8_kernel_testing.h"
#include "quantkit/core/error.h"

namespace quantkit::kernels {
namespace {

using testing::isa_levels;
using testing::ScopedIsa;

// XNNPACK-style tester: set the problem, test() checks every ISA level against the reference
// and the reference against float.
class DwConvTester {
 public:
  DwConvTester& channels(std::int64_t c) {
    p_.channels = c;
    return *this;
  }
  DwConvTester& kernel(int kh, int kw) {
    p_.kernel_h = kh;
    p_.kernel_w = kw;
    return *this;
  }
  DwConvTester& stride(int sh, int sw) {
    p_.stride_h = sh;
    p_.stride_w = sw;
    return *this;
  }
  DwConvTester& dilation(int dh, int dw) {
    p_.dilation_h = dh;
    p_.dilation_w = dw;
    return *this;
  }
  DwConvTester& padding(int t, int l, int b, int r) {
    p_.pad_top = t;
    p_.pad_left = l;
    p_.pad_bottom = b;
    p_.pad_right = r;
    return *this;
  }
  DwConvTester& dtype(DType t) {
    p_.dtype = t;
    return *this;
  }
  DwConvTester& zero_points(std::int32_t in, std::int32_t out) {
    p_.input_zero_point = in;
    p_.output_zero_point = out;
    return *this;
  }
  DwConvTester& weight_zero_point(std::int32_t z) {
    p_.weight_zero_point = z;
    return *this;
  }
  DwConvTester& clamp(std::int32_t lo, std::int32_t hi) {
    clamp_ = {lo, hi};
    return *this;
  }
  DwConvTester& per_channel(bool v) {
    per_channel_ = v;
    return *this;
  }
  DwConvTester& input(std::int64_t n, std::int64_t h, std::int64_t w) {
    batch_ = n;
    in_h_ = h;
    in_w_ = w;
    return *this;
  }
  DwConvTester& pixel_strides(std::int64_t extra_in, std::int64_t extra_out) {
    extra_in_ = extra_in;
    extra_out_ = extra_out;
    return *this;
  }
  DwConvTester& seed(unsigned s) {
    seed_ = s;
    return *this;
  }
  DwConvTester& weights_fit_int8(bool v) {
    weights_fit_ = v;
    return *this;
  }

  void test() const {
    std::mt19937 rng(seed_);
    DwConvParams p = p_;
    p.qmin = clamp_.first.value_or(testing::qmin_of(p.dtype));
    p.qmax = clamp_.second.value_or(testing::qmax_of(p.dtype));
    const std::int64_t taps = static_cast<std::int64_t>(p.kernel_h) * p.kernel_w;
    // Scales: outputs spread over the whole range for random data.
    const double x_scale = 0.02, out_scale = 0.02 * 0.01 * std::sqrt(double(taps)) * 40.0;
    std::uniform_real_distribution<double> ws(0.005, 0.015);
    std::vector<double> w_scale(per_channel_ ? p.channels : 1);
    for (auto& s : w_scale) s = ws(rng);
    p.multiplier.clear();
    for (double s : w_scale) p.multiplier.push_back(static_cast<float>(x_scale * s / out_scale));

    std::vector<std::int8_t> weights(static_cast<std::size_t>(p.channels * taps));
    std::uniform_int_distribution<int> wd(-128, 127);
    for (auto& w : weights) w = static_cast<std::int8_t>(wd(rng));
    if (!weights.empty()) weights[0] = -128;  // the extreme product
    if (weights_fit_ && p.weight_zero_point != 0) {
      // Keep w − w_zp inside int8 so that the vector kernels run.
      std::uniform_int_distribution<int> fit(-128 + std::max(p.weight_zero_point, 0),
                                             127 + std::min(p.weight_zero_point, 0));
      for (auto& w : weights) w = static_cast<std::int8_t>(fit(rng));
    }
    std::vector<std::int32_t> bias(static_cast<std::size_t>(p.channels));
    std::uniform_int_distribution<int> bd(-3000, 3000);
    for (auto& b : bias) b = bd(rng);

    DepthwiseConv2d op(p, weights, bias);
    const DwConvShape& s =
        op.setup(batch_, in_h_, in_w_, p.channels + extra_in_, p.channels + extra_out_);
    const auto input = testing::random_bytes(rng, batch_ * in_h_ * in_w_ * s.in_pixel_stride);
    const std::int64_t pixels = s.output_pixels();
    const std::size_t out_bytes = static_cast<std::size_t>(pixels * s.out_pixel_stride);

    std::vector<std::uint8_t> expected(out_bytes, 0xA5);
    op.run_reference(input.data(), expected.data(), 0, pixels);
    check_against_float(p, s, weights, bias, input, expected, x_scale, w_scale, out_scale);

    for (IsaLevel level : isa_levels()) {
      ScopedIsa scoped(level);
      testing::note_kernel("dwconv " + std::to_string(p.kernel_h) + "x" +
                               std::to_string(p.kernel_w) + " " + std::string(isa_name(level)),
                           op.kernel_name());
      std::vector<std::uint8_t> got(out_bytes, 0xA5);  // gap bytes must stay untouched
      const auto cuts = testing::split_points(pixels);
      for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
        op.run(input.data(), got.data(), cuts[i], cuts[i + 1]);
      }
      for (std::size_t i = 0; i < out_bytes; ++i) {
        ASSERT_EQ(got[i], expected[i])
            << isa_name(level) << " (" << op.kernel_name() << ") byte " << i << " of " << out_bytes
            << ", C=" << p.channels << " k=" << p.kernel_h << "x" << p.kernel_w
            << " s=" << p.stride_h << " in=" << in_h_ << "x" << in_w_;
      }
    }
  }

 private:
  // The reference against dequantize → float depthwise conv (+ float bias) → quantize.
  void check_against_float(const DwConvParams& p, const DwConvShape& s,
                           const std::vector<std::int8_t>& w, const std::vector<std::int32_t>& b,
                           const std::vector<std::uint8_t>& in,
                           const std::vector<std::uint8_t>& ref, double x_scale,
                           const std::vector<double>& w_scale, double out_scale) const {
    const std::int64_t taps = static_cast<std::int64_t>(p.kernel_h) * p.kernel_w;
    for (std::int64_t px = 0; px < s.output_pixels(); ++px) {
      const std::int64_t n = px / (s.out_h * s.out_w);
      const std::int64_t oy = px / s.out_w % s.out_h, ox = px % s.out_w;
      for (std::int64_t c = 0; c < p.channels; ++c) {
        const double wsc = w_scale[per_channel_ ? c : 0];
        double y = b[c] * x_scale * wsc;
        for (int ky = 0; ky < p.kernel_h; ++ky) {
          for (int kx = 0; kx < p.kernel_w; ++kx) {
            const std::int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
            const std::int64_t ix = ox * p.stride_w - p.pad_left + kx * p.dilation_w;
            if (iy < 0 || iy >= s.in_h || ix < 0 || ix >= s.in_w) continue;
            const std::int32_t x = testing::value_of(
                in[((n * s.in_h + iy) * s.in_w + ix) * s.in_pixel_stride + c], p.dtype);
            y += (x - p.input_zero_point) * x_scale *
                 (w[c * taps + ky * p.kernel_w + kx] - p.weight_zero_point) * wsc;
          }
        }
        const std::int32_t q =
            testing::quantize_double(y, out_scale, p.output_zero_point, p.qmin, p.qmax);
        const std::int32_t r = testing::value_of(ref[px * s.out_pixel_stride + c], p.dtype);
        ASSERT_LE(std::abs(q - r), 1) << "reference vs float at pixel " << px << " c " << c;
      }
    }
  }

  DwConvParams p_;
  std::pair<std::optional<std::int32_t>, std::optional<std::int32_t>> clamp_;
  bool per_channel_ = true;
  std::int64_t batch_ = 1, in_h_ = 7, in_w_ = 6;
  std::int64_t extra_in_ = 0, extra_out_ = 0;
  unsigned seed_ = 1;
  bool weights_fit_ = true;
};

// Channels 1..3× the AVX-512 step (32) plus a few past it: every tail length at every level.
TEST(DwConv, ChannelSweep3x3And5x5BothStrides) {
  for (int k : {3, 5}) {
    for (int stride : {1, 2}) {
      for (std::int64_t c = 1; c <= 100; c += (c < 40 ? 1 : 7)) {
        DwConvTester()
            .channels(c)
            .kernel(k, k)
            .stride(stride, stride)
            .padding(k / 2, k / 2, k / 2, k / 2)
            .input(1, 9, 8)
            .seed(static_cast<unsigned>(c * 7 + k + stride))
            .test();
      }
    }
  }
}

TEST(DwConv, Uint8AndZeroPointExtremes) {
  for (auto [in_zp, out_zp] : {std::pair{0, 255}, std::pair{255, 0}, std::pair{128, 3}}) {
    for (std::int64_t c : {5, 16, 33, 64}) {
      DwConvTester()
          .dtype(DType::UInt8)
          .zero_points(in_zp, out_zp)
          .channels(c)
          .padding(1, 1, 1, 1)
          .seed(static_cast<unsigned>(in_zp + c))
          .test();
    }
  }
  for (auto [in_zp, out_zp] : {std::pair{-128, 127}, std::pair{127, -128}}) {
    for (std::int64_t c : {7, 32, 48}) {
      DwConvTester()
          .zero_points(in_zp, out_zp)
          .channels(c)
          .kernel(5, 5)
          .stride(2, 2)
          .padding(2, 2, 2, 2)
          .seed(static_cast<unsigned>(c))
          .test();
    }
  }
}

TEST(DwConv, AsymmetricPaddingSmallInputsAndBatches) {
  // Padding wider than the input: every tap of some pixels reads the zero-point row.
  DwConvTester().channels(19).kernel(5, 5).padding(4, 0, 3, 4).input(2, 2, 3).test();
  DwConvTester().channels(40).kernel(3, 3).stride(2, 1).padding(0, 1, 1, 0).input(3, 5, 4).test();
  DwConvTester().channels(1).kernel(3, 3).padding(2, 2, 2, 2).input(1, 1, 1).test();
}

TEST(DwConv, GenericKernelsAndDilation) {
  for (auto [kh, kw] : {std::pair{1, 1}, std::pair{2, 2}, std::pair{7, 7}, std::pair{3, 1},
                        std::pair{1, 5}, std::pair{8, 8}}) {
    for (std::int64_t c : {3, 17, 35}) {
      DwConvTester()
          .channels(c)
          .kernel(kh, kw)
          .stride(1, 2)
          .padding(kh / 2, kw / 2, kh / 2, 0)
          .input(1, 10, 9)
          .seed(static_cast<unsigned>(kh * 31 + c))
          .test();
    }
  }
  DwConvTester()
      .channels(37)
      .kernel(3, 3)
      .dilation(2, 3)
      .padding(2, 3, 2, 3)
      .input(1, 9, 11)
      .test();
  DwConvTester().channels(21).kernel(5, 5).dilation(2, 2).stride(2, 2).padding(4, 4, 4, 4).test();
  // 9×9 = 81 taps: beyond the vector kernels' 64; the reference runs at every level.
  DwConvTester().channels(9).kernel(9, 9).padding(4, 4, 4, 4).input(1, 10, 10).test();
}

TEST(DwConv, ClampPerTensorAndPixelStrides) {
  DwConvTester().channels(48).clamp(0, 127).padding(1, 1, 1, 1).test();  // relu
  DwConvTester()
      .channels(33)
      .dtype(DType::UInt8)
      .zero_points(10, 20)
      .clamp(20, 80)
      .padding(1, 1, 1, 1)
      .test();  // relu6-like
  DwConvTester().channels(50).per_channel(false).padding(1, 1, 1, 1).test();
  // Input and output as channel slices of wider tensors; the gaps must stay untouched.
  DwConvTester().channels(24).pixel_strides(5, 9).padding(1, 1, 1, 1).input(2, 6, 5).test();
  DwConvTester()
      .channels(70)
      .pixel_strides(3, 1)
      .kernel(5, 5)
      .stride(2, 2)
      .padding(2, 2, 2, 2)
      .test();
}

TEST(DwConv, NonzeroWeightZeroPoint) {
  // w − w_zp inside int8: the vector kernels run with the zero point folded into the weights.
  DwConvTester().channels(20).weight_zero_point(3).padding(1, 1, 1, 1).test();
  DwConvTester().channels(40).weight_zero_point(-100).kernel(5, 5).padding(2, 2, 2, 2).test();
  // Outside int8 (w = −128, w_zp = 3): every level falls back to the reference.
  DwConvTester()
      .channels(20)
      .weight_zero_point(3)
      .weights_fit_int8(false)
      .padding(1, 1, 1, 1)
      .test();
}

TEST(DwConv, KernelNameFollowsTheActiveLevel) {
  DwConvParams p;
  p.channels = 8;
  p.multiplier = {0.01f};
  std::vector<std::int8_t> w(72, 1);
  DepthwiseConv2d op(p, w);
  {
    ScopedIsa s(IsaLevel::Portable);
    EXPECT_STREQ(op.kernel_name(), "reference");
  }
  if (detected_isa() >= IsaLevel::Avx2) {
    ScopedIsa s(IsaLevel::Avx2);
    EXPECT_STREQ(op.kernel_name(), "avx2_3x3");
  }
  if (detected_isa() >= IsaLevel::Avx512) {
    ScopedIsa s(IsaLevel::Avx512);
    EXPECT_STREQ(op.kernel_name(), "avx512_3x3");
  }
}

TEST(DwConv, HandComputedPixel) {
  // One channel, 3×3 of ones, input all 3 (zp 1), padding 1, multiplier 0.5, bias 1:
  // corner pixel sees 4 taps: acc = 1 + 4·(3 − 1)·1 = 9 → 4.5 → 4 (half to even) + zp_out 2.
  DwConvParams p;
  p.channels = 1;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  p.input_zero_point = 1;
  p.output_zero_point = 2;
  p.multiplier = {0.5f};
  std::vector<std::int8_t> w(9, 1);
  std::vector<std::int32_t> bias{1};
  DepthwiseConv2d op(p, w, bias);
  op.setup(1, 3, 3);
  std::vector<std::int8_t> in(9, 3), out(9, 0);
  for (IsaLevel level : isa_levels()) {
    ScopedIsa s(level);
    op.run(in.data(), out.data(), 0, 9);
    EXPECT_EQ(out[0], 6);   // 4 + 2
    EXPECT_EQ(out[4], 12);  // centre: 1 + 9·2 = 19 → 9.5 → 10 (even) + 2
    EXPECT_EQ(out[1], 8);   // edge: 1 + 6·2 = 13 → 6.5 → 6 + 2
  }
}

TEST(DwConv, RejectsBadArguments) {
  DwConvParams p;
  p.channels = 4;
  p.multiplier = {0.1f};
  std::vector<std::int8_t> w(36, 0);
  EXPECT_THROW(DepthwiseConv2d(p, std::span<const std::int8_t>(w.data(), 35)), Error);
  DwConvParams bad = p;
  bad.multiplier = {0.1f, 0.2f};
  EXPECT_THROW(DepthwiseConv2d(bad, w), Error);
  bad = p;
  bad.qmin = 5;
  bad.qmax = 4;
  EXPECT_THROW(DepthwiseConv2d(bad, w), Error);
  bad = p;
  bad.dtype = DType::Int16;
  EXPECT_THROW(DepthwiseConv2d(bad, w), Error);
  DepthwiseConv2d op(p, w);
  EXPECT_THROW(op.setup(1, 2, 2), Error);     // 3×3 kernel over an unpadded 2×2 input
  EXPECT_THROW(op.setup(1, 4, 4, 3), Error);  // pixel stride below C
}

}  // namespace
}  // namespace quantkit::kernels
