// Pooling (quantkit/kernels/pool.h): max / average / adaptive average on int8 and uint8 NHWC,
// every ISA level bit-exact with pool_reference over channels 1 .. 3× the widest vector,
// kernels, strides, dilations, paddings, ceil_mode, count_include_pad, divisor_override and
// work splits; max pooling equals an independent max; averages are within one output step of
// dequantize → float average → quantize; output sizes follow PyTorch's formula.
#include "quantkit/kernels/pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "int8_kernel_testing.h"
#include "quantkit/core/error.h"

namespace quantkit::kernels {
namespace {

using testing::isa_levels;
using testing::ScopedIsa;

class PoolTester {
 public:
  explicit PoolTester(PoolKind kind) { p_.kind = kind; }
  PoolTester& channels(std::int64_t c) {
    p_.channels = c;
    return *this;
  }
  PoolTester& dtype(DType t) {
    p_.dtype = t;
    return *this;
  }
  PoolTester& kernel(int kh, int kw) {
    p_.kernel_h = kh;
    p_.kernel_w = kw;
    return *this;
  }
  PoolTester& stride(int sh, int sw) {
    p_.stride_h = sh;
    p_.stride_w = sw;
    return *this;
  }
  PoolTester& dilation(int dh, int dw) {
    p_.dilation_h = dh;
    p_.dilation_w = dw;
    return *this;
  }
  PoolTester& padding(int t, int l, int b, int r) {
    p_.pad_top = t;
    p_.pad_left = l;
    p_.pad_bottom = b;
    p_.pad_right = r;
    return *this;
  }
  PoolTester& ceil_mode(bool v) {
    p_.ceil_mode = v;
    return *this;
  }
  PoolTester& count_include_pad(bool v) {
    p_.count_include_pad = v;
    return *this;
  }
  PoolTester& divisor_override(std::int64_t d) {
    p_.divisor_override = d;
    return *this;
  }
  PoolTester& quant(double in_s, std::int32_t in_zp, double out_s, std::int32_t out_zp) {
    p_.in_scale = in_s;
    p_.in_zero_point = in_zp;
    p_.out_scale = out_s;
    p_.out_zero_point = out_zp;
    return *this;
  }
  PoolTester& adaptive_output(std::int64_t h, std::int64_t w) {
    p_.out_h = h;
    p_.out_w = w;
    return *this;
  }
  PoolTester& input(std::int64_t n, std::int64_t h, std::int64_t w) {
    n_ = n;
    h_ = h;
    w_ = w;
    return *this;
  }
  PoolTester& in_pixel_extra(std::int64_t e) {
    extra_in_ = e;
    return *this;
  }
  PoolTester& out_pixel_extra(std::int64_t e) {
    extra_out_ = e;
    return *this;
  }
  PoolTester& seed(unsigned s) {
    seed_ = s;
    return *this;
  }

  void test() const {
    PoolParams p = p_;
    p.qmin = testing::qmin_of(p.dtype);
    p.qmax = testing::qmax_of(p.dtype);
    std::mt19937 rng(seed_);
    Pool2d op(p);
    const PoolShape& s = op.setup(n_, h_, w_, p.channels + extra_in_, p.channels + extra_out_);
    const auto in =
        testing::random_bytes(rng, static_cast<std::size_t>(n_ * h_ * w_ * s.in_pixel_stride));
    const std::size_t out_bytes = static_cast<std::size_t>(s.output_pixels() * s.out_pixel_stride);
    std::vector<std::uint8_t> expected(out_bytes, 0x3C);
    op.run_reference(in.data(), expected.data(), 0, s.output_pixels());
    check_independently(p, s, in, expected);
    for (IsaLevel level : isa_levels()) {
      ScopedIsa scoped(level);
      testing::note_kernel(std::string("pool ") + std::string(isa_name(level)), op.kernel_name());
      std::vector<std::uint8_t> got(out_bytes, 0x3C);
      const auto cuts = testing::split_points(s.output_pixels());
      for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
        op.run(in.data(), got.data(), cuts[i], cuts[i + 1]);
      }
      ASSERT_EQ(got, expected) << isa_name(level) << " kind " << static_cast<int>(p.kind)
                               << " C=" << p.channels << " in " << h_ << "x" << w_;
    }
  }

 private:
  // Windows computed here from the parameters alone (not the library's window helper).
  void check_independently(const PoolParams& p, const PoolShape& s,
                           const std::vector<std::uint8_t>& in,
                           const std::vector<std::uint8_t>& ref) const {
    for (std::int64_t px = 0; px < s.output_pixels(); ++px) {
      const std::int64_t n = px / (s.out_h * s.out_w);
      const std::int64_t oy = px / s.out_w % s.out_h, ox = px % s.out_w;
      std::int64_t y0, y1, x0, x1, divisor;
      int dh = 1, dw = 1;
      if (p.kind == PoolKind::AdaptiveAverage) {
        y0 = static_cast<std::int64_t>(std::floor(double(oy * h_) / s.out_h));
        y1 = static_cast<std::int64_t>(std::ceil(double((oy + 1) * h_) / s.out_h));
        x0 = static_cast<std::int64_t>(std::floor(double(ox * w_) / s.out_w));
        x1 = static_cast<std::int64_t>(std::ceil(double((ox + 1) * w_) / s.out_w));
        divisor = (y1 - y0) * (x1 - x0);
      } else {
        dh = p.kind == PoolKind::Max ? p.dilation_h : 1;
        dw = p.kind == PoolKind::Max ? p.dilation_w : 1;
        y0 = oy * p.stride_h - p.pad_top;
        x0 = ox * p.stride_w - p.pad_left;
        y1 = y0 + (p.kernel_h - 1) * dh + 1;
        x1 = x0 + (p.kernel_w - 1) * dw + 1;
        const std::int64_t ph = std::min(y1, h_ + p.pad_bottom) - y0;
        const std::int64_t pw = std::min(x1, w_ + p.pad_right) - x0;
        divisor = p.divisor_override ? p.divisor_override : ph * pw;
      }
      for (std::int64_t c = 0; c < p.channels; ++c) {
        std::int32_t best = -1000;
        double sum = 0;
        std::int64_t count = 0;
        for (std::int64_t iy = y0; iy < y1; iy += dh) {
          for (std::int64_t ix = x0; ix < x1; ix += dw) {
            if (iy < 0 || iy >= h_ || ix < 0 || ix >= w_) continue;
            const std::int32_t v =
                testing::value_of(in[((n * h_ + iy) * w_ + ix) * s.in_pixel_stride + c], p.dtype);
            best = std::max(best, v);
            sum += (v - p.in_zero_point) * p.in_scale;
            ++count;
          }
        }
        const std::int32_t r = testing::value_of(ref[px * s.out_pixel_stride + c], p.dtype);
        if (p.kind == PoolKind::Max) {
          ASSERT_EQ(r, best) << "max at pixel " << px << " c " << c;
        } else {
          const double d =
              p.kind == PoolKind::Average && !p.count_include_pad && !p.divisor_override
                  ? double(count)
                  : double(divisor);
          const std::int32_t q =
              testing::quantize_double(sum / d, p.out_scale, p.out_zero_point, p.qmin, p.qmax);
          ASSERT_LE(std::abs(q - r), 1) << "average at pixel " << px << " c " << c;
        }
      }
    }
  }

  PoolParams p_;
  std::int64_t n_ = 1, h_ = 8, w_ = 7, extra_in_ = 0, extra_out_ = 0;
  unsigned seed_ = 1;
};

TEST(Pool, MaxChannelSweep) {
  for (DType t : {DType::Int8, DType::UInt8}) {
    for (std::int64_t c = 1; c <= 200; c += (c < 70 ? 1 : 13)) {
      PoolTester(PoolKind::Max)
          .dtype(t)
          .channels(c)
          .kernel(3, 3)
          .stride(2, 2)
          .padding(1, 1, 1, 1)
          .seed(static_cast<unsigned>(c))
          .test();
    }
  }
}

TEST(Pool, MaxWindowsDilationCeilMode) {
  PoolTester(PoolKind::Max)
      .channels(19)
      .kernel(2, 2)
      .stride(2, 2)
      .input(2, 7, 9)
      .ceil_mode(true)
      .test();
  PoolTester(PoolKind::Max)
      .channels(70)
      .kernel(3, 3)
      .stride(2, 2)
      .input(1, 6, 6)
      .ceil_mode(true)
      .test();
  PoolTester(PoolKind::Max)
      .channels(33)
      .kernel(3, 2)
      .stride(1, 2)
      .dilation(2, 3)
      .padding(2, 1, 2, 3)
      .input(2, 9, 10)
      .test();
  PoolTester(PoolKind::Max)
      .dtype(DType::UInt8)
      .channels(64)
      .kernel(5, 5)
      .stride(1, 1)
      .padding(2, 2, 2, 2)
      .out_pixel_extra(7)
      .in_pixel_extra(5)
      .test();
}

TEST(Pool, AverageChannelSweepAndSemantics) {
  for (DType t : {DType::Int8, DType::UInt8}) {
    const std::int32_t zin = t == DType::Int8 ? -128 : 255, zout = t == DType::Int8 ? 127 : 0;
    for (std::int64_t c = 1; c <= 60; ++c) {
      PoolTester(PoolKind::Average)
          .dtype(t)
          .channels(c)
          .kernel(3, 3)
          .stride(2, 2)
          .padding(1, 1, 1, 1)
          .quant(0.05, zin, 0.05, zout)
          .seed(static_cast<unsigned>(c))
          .test();
    }
    for (bool include : {true, false}) {
      PoolTester(PoolKind::Average)
          .dtype(t)
          .channels(37)
          .kernel(3, 2)
          .stride(2, 1)
          .padding(1, 1, 1, 0)
          .count_include_pad(include)
          .quant(0.02, 3, 0.03, 5)
          .test();
      PoolTester(PoolKind::Average)
          .dtype(t)
          .channels(20)
          .kernel(3, 3)
          .stride(2, 2)
          .padding(1, 1, 1, 1)
          .ceil_mode(true)
          .count_include_pad(include)
          .input(2, 8, 8)
          .test();
    }
    PoolTester(PoolKind::Average)
        .dtype(t)
        .channels(17)
        .kernel(2, 2)
        .divisor_override(3)
        .quant(0.1, 0, 0.3, 0)
        .test();
  }
}

TEST(Pool, AdaptiveAndGlobalAverage) {
  for (std::int64_t c : {1, 8, 15, 16, 17, 40, 96, 130}) {
    PoolTester(PoolKind::AdaptiveAverage)
        .channels(c)
        .adaptive_output(1, 1)
        .input(2, 7, 7)
        .quant(0.04, -5, 0.02, 9)
        .seed(static_cast<unsigned>(c))
        .test();
  }
  PoolTester(PoolKind::AdaptiveAverage).channels(23).adaptive_output(3, 2).input(1, 5, 7).test();
  PoolTester(PoolKind::AdaptiveAverage)
      .channels(21)
      .adaptive_output(2, 2)
      .input(2, 6, 6)
      .in_pixel_extra(11)
      .out_pixel_extra(3)
      .test();
  PoolTester(PoolKind::AdaptiveAverage)
      .dtype(DType::UInt8)
      .channels(33)
      .adaptive_output(4, 5)
      .input(1, 9, 5)
      .quant(0.05, 128, 0.05, 128)
      .test();
}

TEST(Pool, OutputSizesFollowPyTorch) {
  PoolParams p;
  p.channels = 1;
  p.kernel_h = p.kernel_w = 3;
  p.stride_h = p.stride_w = 2;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  EXPECT_EQ(pool_shape(p, 1, 112, 112).out_h, 56);  // resnet's stem max pool
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 0;
  EXPECT_EQ(pool_shape(p, 1, 6, 6).out_h, 2);
  p.ceil_mode = true;
  EXPECT_EQ(pool_shape(p, 1, 6, 6).out_h, 3);
  p.kernel_h = p.kernel_w = 2;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  EXPECT_EQ(pool_shape(p, 1, 5, 5).out_h, 3);  // the 4th window would start in the padding
}

TEST(Pool, HandComputedAverageRounding) {
  // 2×2 window of {1, 2, 2, 0} (zp 0), scales 1: 5/4 = 1.25 → 1; {1,1,0,0}: 0.5 → 0 (even).
  PoolParams p;
  p.kind = PoolKind::Average;
  p.channels = 1;
  Pool2d op(p);
  op.setup(1, 2, 4);
  std::vector<std::int8_t> in{1, 2, 1, 1, 2, 0, 0, 0}, out(2);
  for (IsaLevel level : isa_levels()) {
    ScopedIsa s(level);
    op.run(in.data(), out.data(), 0, 2);
    EXPECT_EQ(out[0], 1);
    EXPECT_EQ(out[1], 0);
  }
}

TEST(Pool, RejectsBadArguments) {
  PoolParams p;
  p.channels = 3;
  p.kernel_h = p.kernel_w = 2;
  p.pad_top = 3;  // windows entirely in padding
  EXPECT_THROW(pool_shape(p, 1, 4, 4), Error);
  p.pad_top = 0;
  p.dtype = DType::Int32;
  EXPECT_THROW(Pool2d{p}, Error);
  p.dtype = DType::Int8;
  p.kind = PoolKind::Average;
  p.dilation_h = 2;
  EXPECT_THROW(Pool2d{p}, Error);
  p.dilation_h = 1;
  p.out_scale = 0;
  EXPECT_THROW(Pool2d{p}, Error);
}

}  // namespace
}  // namespace quantkit::kernels
