// NHWC int8 convolution (include/quantkit/kernels/conv_nhwc.h): QConv2dNhwc equals the
// plain-loop conv2d_nhwc_reference bit for bit at every ISA level and for every split of the
// pixel range, on sweeps of channels (1 to 3× the vector width and beyond), kernel sizes,
// strides, asymmetric padding, dilation, groups, dtypes, zero points and clamp ranges (the
// XNNPACK microkernel-tester pattern: ConvTester below). The reference itself is checked
// against hand-computed values (padding, ties to even, clamp, groups).
#include "quantkit/kernels/conv_nhwc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/kernels/cpu_features.h"
#include "quantkit/kernels/gemm.h"
#include "support/kernel_configs.h"

// Counts every allocation through the global operator new (replaceable, [new.delete]), so a
// test can check that QConv2dNhwc::run allocates nothing.
namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// GCC 12 takes the replaced pair for the built-in one and reports free() on new's pointer.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace quantkit::kernels {
namespace {

using testing::kernel_configs_reported;
using testing::ScopedKernel;

TEST(ConvNhwcKernelConfig, EveryConfigRunsTheKernelItNames) {
  for (const auto& c : kernel_configs_reported()) {
    ScopedKernel scoped(c);
    EXPECT_EQ(std::string(active_qlinear_kernel()), c.name);
  }
}

std::int32_t random_in(std::mt19937& rng, std::int64_t lo, std::int64_t hi) {
  return static_cast<std::int32_t>(std::uniform_int_distribution<std::int64_t>(lo, hi)(rng));
}

// Bytes of an int8/uint8 tensor; one in eight values is an extreme of the range.
std::vector<std::uint8_t> random_bytes(std::mt19937& rng, std::int64_t count) {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(count));
  std::uniform_int_distribution<int> value(0, 255), pick(0, 15);
  for (auto& v : out) {
    const int p = pick(rng);
    v = static_cast<std::uint8_t>(p == 0   ? 0x00
                                  : p == 1 ? 0xFF
                                  : p == 2 ? 0x80
                                  : p == 3 ? 0x7F
                                           : value(rng));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// ConvTester: one convolution, random data, every kernel and several pixel-range splits
// against the reference.
// ---------------------------------------------------------------------------------------

class ConvTester {
 public:
  ConvTester& channels(std::int64_t ic, std::int64_t oc) {
    p_.in_channels = ic;
    p_.out_channels = oc;
    return *this;
  }
  ConvTester& kernel(std::int64_t kh, std::int64_t kw) {
    p_.kernel_h = kh;
    p_.kernel_w = kw;
    return *this;
  }
  ConvTester& stride(std::int64_t sh, std::int64_t sw) {
    p_.stride_h = sh;
    p_.stride_w = sw;
    return *this;
  }
  ConvTester& padding(std::int64_t top, std::int64_t left, std::int64_t bottom,
                      std::int64_t right) {
    p_.pad_top = top;
    p_.pad_left = left;
    p_.pad_bottom = bottom;
    p_.pad_right = right;
    return *this;
  }
  ConvTester& dilation(std::int64_t dh, std::int64_t dw) {
    p_.dilation_h = dh;
    p_.dilation_w = dw;
    return *this;
  }
  ConvTester& groups(std::int64_t g) {
    p_.groups = g;
    return *this;
  }
  ConvTester& input(std::int64_t batch, std::int64_t h, std::int64_t w) {
    batch_ = batch;
    h_ = h;
    w_ = w;
    return *this;
  }
  ConvTester& dtypes(DType x, DType y) {
    p_.x_dtype = x;
    p_.y_dtype = y;
    return *this;
  }
  ConvTester& per_channel(bool v) {
    per_channel_ = v;
    return *this;
  }
  ConvTester& with_bias(bool v) {
    bias_ = v;
    return *this;
  }
  ConvTester& splits(int n) {
    splits_ = n;
    return *this;
  }
  // Zero points and the clamp range: random, one in four an extreme of its range, and the
  // clamp a sub-range half the time.
  ConvTester& seed(std::uint32_t s) {
    seed_ = s;
    return *this;
  }

  std::string describe() const {
    std::ostringstream os;
    os << "N" << batch_ << " " << h_ << "x" << w_ << " IC" << p_.in_channels << " OC"
       << p_.out_channels << " k" << p_.kernel_h << "x" << p_.kernel_w << " s" << p_.stride_h << "x"
       << p_.stride_w << " pad(t" << p_.pad_top << " l" << p_.pad_left << " b" << p_.pad_bottom
       << " r" << p_.pad_right << ") d" << p_.dilation_h << "x" << p_.dilation_w << " g"
       << p_.groups << " x:" << dtype_name(p_.x_dtype) << " zp" << p_.x_zero_point
       << " y:" << dtype_name(p_.y_dtype) << " zp" << p_.y_zero_point << " [" << p_.quant_min << ","
       << p_.quant_max << "] mult" << (p_.multiplier.size() == 1 ? "/tensor" : "/channel")
       << (bias_ ? " bias" : "") << " seed" << seed_;
    return os.str();
  }

  void test() {
    std::mt19937 rng(seed_);
    const auto pick_zp = [&](DType t) {
      const int c = random_in(rng, 0, 7);
      return c == 0   ? static_cast<std::int32_t>(dtype_min(t))
             : c == 1 ? static_cast<std::int32_t>(dtype_max(t))
                      : random_in(rng, dtype_min(t), dtype_max(t));
    };
    p_.x_zero_point = pick_zp(p_.x_dtype);
    p_.y_zero_point = pick_zp(p_.y_dtype);
    const std::int64_t lo = dtype_min(p_.y_dtype), hi = dtype_max(p_.y_dtype);
    if (random_in(rng, 0, 1) == 0) {
      p_.quant_min = static_cast<std::int32_t>(lo);
      p_.quant_max = static_cast<std::int32_t>(hi);
    } else {
      p_.quant_min = random_in(rng, lo, (lo + hi) / 2);
      p_.quant_max = random_in(rng, p_.quant_min, hi);
    }
    const std::int64_t icg = p_.in_channels / p_.groups;
    const std::int64_t k = icg * p_.kernel_h * p_.kernel_w;
    // Typical |acc| ≈ 128·64·sqrt(K): multipliers that spread it over the output range, so
    // both the clamp and many interior values (and ties) are exercised.
    const float typical = 1.0f / (64.0f * std::sqrt(static_cast<float>(k) + 1.0f) * 64.0f);
    std::uniform_real_distribution<float> mult(typical * 0.25f, typical * 4.0f);
    p_.multiplier.assign(per_channel_ ? static_cast<std::size_t>(p_.out_channels) : 1, 0.0f);
    for (float& m : p_.multiplier) m = mult(rng);

    const auto wbytes = random_bytes(rng, p_.out_channels * icg * p_.kernel_h * p_.kernel_w);
    Tensor weight = Tensor::empty({p_.out_channels, icg, p_.kernel_h, p_.kernel_w}, DType::Int8);
    std::memcpy(weight.raw_data(), wbytes.data(), wbytes.size());
    std::optional<Tensor> bias;
    if (bias_) {
      std::vector<std::int32_t> b(static_cast<std::size_t>(p_.out_channels));
      for (auto& v : b) v = random_in(rng, -200000, 200000);
      bias = Tensor::from_vector(b);
    }
    const auto x = random_bytes(rng, batch_ * h_ * w_ * p_.in_channels);

    const ConvOutputSize out = conv2d_output_size(p_, h_, w_);
    const std::int64_t pixels = batch_ * out.height * out.width;
    const std::size_t y_bytes = static_cast<std::size_t>(pixels * p_.out_channels);
    std::vector<std::uint8_t> expected(y_bytes);
    conv2d_nhwc_reference(p_, weight, bias, x.data(), expected.data(), batch_, h_, w_);

    QConv2dNhwc op(p_, weight, bias);
    op.setup(batch_, h_, w_);
    ASSERT_EQ(op.output_height(), out.height);
    ASSERT_EQ(op.output_width(), out.width);
    ASSERT_EQ(op.output_pixels(), pixels);
    // Exactly the advertised scratch, so an overrun is a heap overflow under ASan.
    std::vector<std::uint8_t> scratch(op.scratch_bytes_per_thread());
    void* scratch_ptr = scratch.empty() ? nullptr : scratch.data();
    for (const auto& config : kernel_configs_reported()) {
      ScopedKernel scoped(config);
      for (int split = 0; split <= splits_; ++split) {
        // split 0: one call over everything; then random cut points.
        std::vector<std::int64_t> cuts{0, pixels};
        for (int c = 0; c < split; ++c) cuts.push_back(random_in(rng, 0, pixels));
        std::sort(cuts.begin(), cuts.end());
        // groups == 1: odd splits also cut the output channels at a random multiple of
        // QConv2dNhwc::kChannelTile (when there is more than one tile).
        std::vector<std::int64_t> channel_cuts{0, p_.out_channels};
        const std::int64_t tiles =
            (p_.out_channels + QConv2dNhwc::kChannelTile - 1) / QConv2dNhwc::kChannelTile;
        if (p_.groups == 1 && split % 2 == 1 && tiles > 1) {
          channel_cuts.insert(channel_cuts.begin() + 1,
                              random_in(rng, 1, tiles - 1) * QConv2dNhwc::kChannelTile);
        }
        std::vector<std::uint8_t> got(y_bytes, 0xA5);
        for (std::size_t c = 0; c + 1 < cuts.size(); ++c) {
          if (channel_cuts.size() == 2) {
            op.run(x.data(), got.data(), cuts[c], cuts[c + 1], scratch_ptr);
            continue;
          }
          for (std::size_t d = 0; d + 1 < channel_cuts.size(); ++d) {
            op.run(x.data(), got.data(), cuts[c], cuts[c + 1], channel_cuts[d], channel_cuts[d + 1],
                   scratch_ptr);
          }
        }
        for (std::size_t i = 0; i < y_bytes; ++i) {
          if (got[i] != expected[i]) {
            const auto pixel = static_cast<std::int64_t>(i) / p_.out_channels;
            FAIL() << describe() << " kernel " << config.name << " split " << split
                   << ": first difference at pixel " << pixel << " channel "
                   << static_cast<std::int64_t>(i) % p_.out_channels << ": got " << int{got[i]}
                   << ", expected " << int{expected[i]};
          }
        }
      }
    }
  }

 private:
  QConv2dNhwcParams p_;
  std::int64_t batch_ = 1, h_ = 5, w_ = 5;
  bool per_channel_ = true;
  bool bias_ = true;
  int splits_ = 2;
  std::uint32_t seed_ = 1;
};

// ---------------------------------------------------------------------------------------
// Sweeps
// ---------------------------------------------------------------------------------------

// Output channels 1..49 (below, at, above and at multiples of the 16-lane block, past 3×)
// and around the AVX-512 panel of 4 blocks (64: one 64-byte store per row) and its multiples,
// for 3×3 padded and 1×1 pointwise convolutions.
std::vector<std::int64_t> output_channel_counts() {
  std::vector<std::int64_t> out;
  for (std::int64_t oc = 1; oc <= 49; ++oc) out.push_back(oc);
  for (std::int64_t oc : {63, 64, 65, 80, 127, 128, 129, 192}) out.push_back(oc);
  return out;
}

TEST(ConvNhwc, OutputChannelSweep) {
  for (std::int64_t oc : output_channel_counts()) {
    for (std::int64_t ic : {3, 17}) {
      ConvTester()
          .channels(ic, oc)
          .kernel(3, 3)
          .padding(1, 1, 1, 1)
          .input(1, 5, 6)
          .seed(static_cast<std::uint32_t>(oc * 100 + ic))
          .test();
      ConvTester()
          .channels(ic, oc)
          .kernel(1, 1)
          .input(1, 4, 5)
          .per_channel(oc % 2 == 0)
          .dtypes(oc % 3 == 0 ? DType::Int8 : DType::UInt8, DType::UInt8)
          .seed(static_cast<std::uint32_t>(oc * 100 + ic + 1))
          .test();
    }
  }
}

// Input channels 1..49: K = IC·taps crosses every 4-byte group boundary and the partial last
// group.
TEST(ConvNhwc, InputChannelSweep) {
  for (std::int64_t ic = 1; ic <= 49; ++ic) {
    for (std::int64_t oc : {16, 33}) {
      ConvTester()
          .channels(ic, oc)
          .kernel(3, 3)
          .stride(2, 2)
          .padding(1, 0, 2, 1)
          .input(2, 6, 5)
          .dtypes(ic % 2 ? DType::Int8 : DType::UInt8, ic % 3 ? DType::Int8 : DType::UInt8)
          .seed(static_cast<std::uint32_t>(ic * 1000 + oc))
          .test();
      ConvTester()
          .channels(ic, oc)
          .kernel(1, 1)
          .input(1, 3, 7)
          .with_bias(ic % 2 == 0)
          .seed(static_cast<std::uint32_t>(ic * 1000 + oc + 1))
          .test();
    }
  }
}

// Every kernel size × stride × dilation × groups, with random asymmetric padding 0..3,
// dtypes, batch 1–2, per-tensor or per-channel multipliers.
TEST(ConvNhwc, GeometrySweep) {
  std::mt19937 rng(7);
  std::uint32_t seed = 1;
  for (std::int64_t k : {1, 3, 5, 7}) {
    for (std::int64_t stride : {1, 2}) {
      for (std::int64_t dilation : {1, 2}) {
        for (std::int64_t groups : {1, 2, 4}) {
          for (int rep = 0; rep < 2; ++rep) {
            const std::int64_t icg = random_in(rng, 1, 9), ocg = random_in(rng, 1, 20);
            const std::int64_t span = dilation * (k - 1) + 1;
            std::int64_t pads[4];
            for (auto& pad : pads) pad = random_in(rng, 0, 3);
            const std::int64_t h =
                std::max<std::int64_t>(1, span - pads[0] - pads[2]) + random_in(rng, 0, 5);
            const std::int64_t w =
                std::max<std::int64_t>(1, span - pads[1] - pads[3]) + random_in(rng, 0, 5);
            ConvTester()
                .channels(icg * groups, ocg * groups)
                .kernel(k, k)
                .stride(stride, stride)
                .dilation(dilation, dilation)
                .padding(pads[0], pads[1], pads[2], pads[3])
                .groups(groups)
                .input(random_in(rng, 1, 2), h, w)
                .dtypes(random_in(rng, 0, 1) ? DType::Int8 : DType::UInt8,
                        random_in(rng, 0, 1) ? DType::Int8 : DType::UInt8)
                .per_channel(random_in(rng, 0, 1) == 1)
                .with_bias(random_in(rng, 0, 3) != 0)
                .seed(seed++)
                .test();
          }
        }
      }
    }
  }
}

// Non-square kernels, strides and dilations (h and w handled separately).
TEST(ConvNhwc, RectangularGeometry) {
  ConvTester().channels(5, 7).kernel(1, 3).stride(1, 2).padding(0, 1, 0, 0).input(1, 4, 9).test();
  ConvTester().channels(6, 9).kernel(3, 1).stride(2, 1).dilation(2, 1).input(2, 9, 4).test();
  ConvTester()
      .channels(8, 20)
      .kernel(2, 5)
      .dilation(1, 2)
      .padding(3, 0, 1, 2)
      .groups(2)
      .input(1, 6, 8)
      .test();
  ConvTester().channels(4, 4).kernel(7, 7).padding(3, 3, 3, 3).input(1, 1, 1).test();  // all pad
}

// Ranges much longer than one tile (the tile size depends on K): tile boundaries, the
// per-tile pixel → (n, oh, ow) walk across images, and random splits through them.
TEST(ConvNhwc, ManyTilesAndSplits) {
  ConvTester().channels(3, 24).kernel(3, 3).padding(1, 1, 1, 1).input(2, 23, 21).splits(5).test();
  ConvTester()
      .channels(64, 40)
      .kernel(3, 3)
      .stride(2, 2)
      .padding(1, 1, 1, 1)
      .input(2, 30, 29)
      .test();
  ConvTester().channels(32, 48).kernel(1, 1).input(2, 25, 17).splits(5).test();  // pointwise
  ConvTester().channels(32, 48).kernel(1, 1).groups(4).input(1, 24, 19).splits(4).test();
  ConvTester().channels(24, 36).kernel(1, 1).stride(2, 2).input(2, 17, 18).test();  // gathered
}

// Channels past the AVX-512 panel width (4 blocks = 64), resnet-like K.
TEST(ConvNhwc, WideChannels) {
  ConvTester().channels(64, 80).kernel(3, 3).padding(1, 1, 1, 1).input(1, 7, 6).test();
  ConvTester()
      .channels(128, 130)
      .kernel(1, 1)
      .input(1, 6, 5)
      .dtypes(DType::Int8, DType::Int8)
      .test();
  ConvTester().channels(96, 72).kernel(3, 3).padding(1, 1, 1, 1).groups(2).input(1, 5, 5).test();
}

// ---------------------------------------------------------------------------------------
// The operator's shape handling
// ---------------------------------------------------------------------------------------

QConv2dNhwcParams simple_params(std::int64_t ic, std::int64_t oc, std::int64_t k) {
  QConv2dNhwcParams p;
  p.in_channels = ic;
  p.out_channels = oc;
  p.kernel_h = p.kernel_w = k;
  p.multiplier = {0.01f};
  return p;
}

TEST(ConvNhwc, PointwiseOnlyFor1x1Stride1Unpadded) {
  const Tensor w1 = Tensor::zeros({4, 4, 1, 1}, DType::Int8);
  auto p = simple_params(4, 4, 1);
  QConv2dNhwc pointwise(p, w1);
  pointwise.setup(1, 3, 3);
  EXPECT_TRUE(pointwise.is_pointwise());
  EXPECT_EQ(pointwise.scratch_bytes_per_thread(), 0u);
  p.stride_w = 2;
  QConv2dNhwc strided(p, w1);
  strided.setup(1, 3, 3);
  EXPECT_FALSE(strided.is_pointwise());
  EXPECT_GT(strided.scratch_bytes_per_thread(), 0u);
  p.stride_w = 1;
  p.pad_right = 1;
  EXPECT_FALSE(QConv2dNhwc(p, w1).is_pointwise());
}

// Steady state: after setup, run (both paths, every ISA level, with a channel range) makes no
// allocation at all.
TEST(ConvNhwc, RunAllocatesNothing) {
  const auto& configs = kernel_configs_reported();
  for (std::int64_t k : {1, 3}) {
    auto p = simple_params(16, 130, k);
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = k / 2;
    QConv2dNhwc op(p, Tensor::zeros({130, 16, k, k}, DType::Int8));
    op.setup(2, 9, 7);
    std::vector<std::uint8_t> x(2 * 9 * 7 * 16, 3), y(op.output_pixels() * 130);
    std::vector<std::uint8_t> scratch(op.scratch_bytes_per_thread());
    void* s = scratch.empty() ? nullptr : scratch.data();
    for (const auto& config : configs) {
      ScopedKernel scoped(config);
      const long before = g_allocations.load();
      op.run(x.data(), y.data(), 0, op.output_pixels(), s);
      op.run(x.data(), y.data(), 5, 40, 64, 130, s);
      EXPECT_EQ(g_allocations.load(), before) << config.name << " k" << k;
    }
  }
  // The counter does see allocations (a std::string too long for its inline buffer).
  const long before = g_allocations.load();
  const std::string probe(100, 'x');
  EXPECT_GT(g_allocations.load(), before) << probe.size();
}

TEST(ConvNhwc, OutputSize) {
  auto p = simple_params(3, 64, 7);
  p.stride_h = p.stride_w = 2;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 3;
  const ConvOutputSize s = conv2d_output_size(p, 224, 224);
  EXPECT_EQ(s.height, 112);
  EXPECT_EQ(s.width, 112);
  p.dilation_h = 2;  // span 13: (224 + 6 − 13) / 2 + 1
  EXPECT_EQ(conv2d_output_size(p, 224, 224).height, 109);
  EXPECT_THROW(conv2d_output_size(simple_params(1, 1, 3), 2, 5), Error);
}

// ---------------------------------------------------------------------------------------
// The reference against hand-computed values
// ---------------------------------------------------------------------------------------

// 1×1, one channel, weight 1, multiplier 0.5: acc = x − x_zp gives exact halves, which must
// round to even (truncation would give 1, −1, 3 for 3, −3, 7).
TEST(ConvNhwcReference, RoundsHalfToEven) {
  auto p = simple_params(1, 1, 1);
  p.x_dtype = DType::Int8;
  p.y_dtype = DType::Int8;
  p.multiplier = {0.5f};
  p.quant_min = -128;
  p.quant_max = 127;
  const Tensor w = Tensor::from_vector<std::int8_t>({1}, {1, 1, 1, 1});
  const std::vector<std::int8_t> x{3, 5, -3, -5, 1, -1, 7, 6};
  const std::vector<std::int8_t> want{2, 2, -2, -2, 0, 0, 4, 3};
  std::vector<std::int8_t> y(x.size());
  conv2d_nhwc_reference(p, w, std::nullopt, x.data(), y.data(), 1, 1, 8);
  EXPECT_EQ(y, want);
  QConv2dNhwc op(p, w);
  op.setup(1, 1, 8);
  for (const auto& config : kernel_configs_reported()) {
    ScopedKernel scoped(config);
    std::vector<std::int8_t> got(x.size());
    op.run(x.data(), got.data(), 0, 8, nullptr);
    EXPECT_EQ(got, want) << config.name;
  }
}

// 3×3 all-ones kernel, padding 1 on a 2×2 uint8 image with x_zp = 10: padding taps read the
// zero point (contribute 0), so corner outputs sum the 4 pixels' (x − 10).
TEST(ConvNhwcReference, PaddingReadsTheZeroPoint) {
  auto p = simple_params(1, 1, 3);
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  p.x_zero_point = 10;
  p.y_zero_point = 100;
  p.multiplier = {1.0f};
  const Tensor w = Tensor::from_vector<std::int8_t>(std::vector<std::int8_t>(9, 1), {1, 1, 3, 3});
  const Tensor bias = Tensor::from_vector<std::int32_t>({5});
  const std::vector<std::uint8_t> x{11, 12, 13, 20};  // x − zp: 1, 2, 3, 10 → sum 16
  std::vector<std::uint8_t> y(4);
  conv2d_nhwc_reference(p, w, bias, x.data(), y.data(), 1, 2, 2);
  EXPECT_EQ(y, (std::vector<std::uint8_t>{121, 121, 121, 121}));  // 16 + 5 + 100
}

// Groups: output channel g reads only input channels of group g; the clamp bounds apply
// after the zero point.
TEST(ConvNhwcReference, GroupsAndClamp) {
  auto p = simple_params(4, 2, 1);
  p.groups = 2;
  p.multiplier = {1.0f, 2.0f};
  p.y_zero_point = 50;
  p.quant_min = 40;
  p.quant_max = 60;
  // w[oc][ic]: group 0 = channels 0,1 → oc 0; group 1 = channels 2,3 → oc 1.
  const Tensor w = Tensor::from_vector<std::int8_t>({1, 2, 3, -1}, {2, 2, 1, 1});
  const std::vector<std::uint8_t> x{1, 2, 3, 4, 9, 0, 0, 0};  // two pixels
  // pixel 0: oc0 = 1 + 4 = 5 → 55; oc1 = (9 − 4)·2 = 10 → 60. pixel 1: oc0 = 9 → 59;
  // oc1 = 0 → 50.
  std::vector<std::uint8_t> y(4);
  conv2d_nhwc_reference(p, w, std::nullopt, x.data(), y.data(), 1, 1, 2);
  EXPECT_EQ(y, (std::vector<std::uint8_t>{55, 60, 59, 50}));
  p.quant_max = 58;  // clamps 60 and 59
  conv2d_nhwc_reference(p, w, std::nullopt, x.data(), y.data(), 1, 1, 2);
  EXPECT_EQ(y, (std::vector<std::uint8_t>{55, 58, 58, 50}));
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

TEST(ConvNhwc, RejectsInvalidArguments) {
  const Tensor w = Tensor::zeros({4, 2, 3, 3}, DType::Int8);
  auto ok = simple_params(2, 4, 3);
  EXPECT_NO_THROW(QConv2dNhwc(ok, w));
  const auto bad = [&](auto&& edit) {
    auto p = ok;
    edit(p);
    return p;
  };
  EXPECT_THROW(QConv2dNhwc(bad([](auto& p) { p.groups = 3; }), w), Error);
  EXPECT_THROW(QConv2dNhwc(bad([](auto& p) { p.stride_h = 0; }), w), Error);
  EXPECT_THROW(QConv2dNhwc(bad([](auto& p) { p.dilation_w = 0; }), w), Error);
  EXPECT_THROW(QConv2dNhwc(bad([](auto& p) { p.pad_left = -1; }), w), Error);
  EXPECT_THROW(QConv2dNhwc(bad([](auto& p) { p.x_zero_point = 256; }), w), Error);
  EXPECT_THROW(QConv2dNhwc(bad([](auto& p) { p.x_dtype = DType::Int32; }), w), Error);
  EXPECT_THROW(QConv2dNhwc(bad([](auto& p) { p.quant_min = 10, p.quant_max = 9; }), w), Error);
  EXPECT_THROW(QConv2dNhwc(bad([](auto& p) { p.multiplier = {0.0f}; }), w), Error);
  EXPECT_THROW(QConv2dNhwc(bad([](auto& p) { p.multiplier = {1.0f, 1.0f}; }), w), Error);
  EXPECT_THROW(QConv2dNhwc(ok, Tensor::zeros({4, 2, 3, 2}, DType::Int8)), Error);
  EXPECT_THROW(QConv2dNhwc(ok, Tensor::zeros({4, 2, 3, 3}, DType::UInt8)), Error);
  EXPECT_THROW(QConv2dNhwc(ok, w, Tensor::zeros({3}, DType::Int32)), Error);

  QConv2dNhwc op(ok, w);
  std::vector<std::uint8_t> x(2 * 4 * 4), y(4 * 4 * 4), scratch;
  EXPECT_THROW(op.run(x.data(), y.data(), 0, 1, nullptr), Error);  // before setup
  EXPECT_THROW(op.setup(1, 1, 4), Error);                          // kernel taller than input
  op.setup(1, 4, 4);
  scratch.resize(op.scratch_bytes_per_thread());
  EXPECT_THROW(op.run(x.data(), y.data(), 0, 5, scratch.data()), Error);  // 2×2 = 4 pixels
  EXPECT_THROW(op.run(x.data(), y.data(), 3, 2, scratch.data()), Error);
  EXPECT_THROW(op.run(x.data(), y.data(), 0, 4, nullptr), Error);  // needs scratch
  EXPECT_NO_THROW(op.run(x.data(), y.data(), 0, 4, scratch.data()));
  EXPECT_NO_THROW(op.run(x.data(), y.data(), 0, 4, 0, 4, scratch.data()));
  EXPECT_THROW(op.run(x.data(), y.data(), 0, 4, 0, 5, scratch.data()), Error);  // past OC
  EXPECT_THROW(op.run(x.data(), y.data(), 0, 4, 0, 2, scratch.data()), Error);  // not a tile

  // Channel splits: multiples of kChannelTile, groups == 1 only.
  const Tensor w130 = Tensor::zeros({130, 2, 3, 3}, DType::Int8);
  QConv2dNhwc wide(simple_params(2, 130, 3), w130);
  wide.setup(1, 4, 4);
  std::vector<std::uint8_t> y130(4 * 130), scratch130(wide.scratch_bytes_per_thread());
  EXPECT_NO_THROW(wide.run(x.data(), y130.data(), 0, 4, 64, 130, scratch130.data()));
  EXPECT_THROW(wide.run(x.data(), y130.data(), 0, 4, 16, 130, scratch130.data()), Error);
  EXPECT_THROW(wide.run(x.data(), y130.data(), 0, 4, 0, 100, scratch130.data()), Error);
  EXPECT_THROW(wide.run(x.data(), y130.data(), 0, 4, 128, 64, scratch130.data()), Error);
  auto grouped = simple_params(2, 128, 3);
  grouped.groups = 2;
  QConv2dNhwc two_groups(grouped, Tensor::zeros({128, 1, 3, 3}, DType::Int8));
  two_groups.setup(1, 4, 4);
  std::vector<std::uint8_t> y128(4 * 128), scratch128(two_groups.scratch_bytes_per_thread());
  EXPECT_THROW(two_groups.run(x.data(), y128.data(), 0, 4, 0, 64, scratch128.data()), Error);
}

}  // namespace
}  // namespace quantkit::kernels
