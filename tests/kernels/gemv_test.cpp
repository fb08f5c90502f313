// GEMV kernels (include/quantkit/kernels/gemv.h): every kernel configuration is
// bit-identical to gemv_reference over channels 1 .. 3× the 64-channel block
// (+1) and K across every group tail, both activation dtypes, both epilogues,
// int8 and packed int4 weights, at every channel split; the 4-bit GEMV equals
// the int8 GEMV on the same weights; the reference is checked against
// hand-computed values; the packing round-trips (including ONNX's nibble
// stream).
#include "quantkit/kernels/gemv.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/kernels/requantize.h"
#include "support/isa_report.h"
#include "support/kernel_configs.h"

namespace quantkit::kernels {
namespace {

using testing::kernel_configs_reported;
using testing::ScopedKernel;

// Which ISA levels this binary covered (see support/isa_report.h).
QUANTKIT_ISA_COVERAGE_TESTS(GemvIsaCoverage)

TEST(GemvKernelConfig, EveryConfigRunsTheKernelItNames) {
  for (const auto& c : kernel_configs_reported()) {
    ScopedKernel scoped(c);
    EXPECT_EQ(std::string(active_gemv_kernel()), c.name);
  }
}

constexpr std::uint8_t kSentinel = 0xA5;

// XNNPACK-style tester: set the problem, test() runs every kernel configuration
// against gemv_reference.
class GemvTester {
 public:
  GemvTester& n(std::int64_t v) {
    n_ = v;
    return *this;
  }
  GemvTester& k(std::int64_t v) {
    k_ = v;
    return *this;
  }
  GemvTester& bits(int v) {
    bits_ = v;
    return *this;
  }
  GemvTester& x_dtype(DType t, std::int32_t zp) {
    x_dtype_ = t;
    x_zp_ = zp;
    return *this;
  }
  GemvTester& out(DType t, std::int32_t zp, std::int32_t qmin, std::int32_t qmax) {
    out_dtype_ = t;
    out_zp_ = zp;
    qmin_ = qmin;
    qmax_ = qmax;
    return *this;
  }
  GemvTester& float_output(bool v) {
    float_out_ = v;
    return *this;
  }
  GemvTester& per_channel(bool v) {
    per_channel_ = v;
    return *this;
  }
  GemvTester& bias(bool v) {
    bias_ = v;
    return *this;
  }
  GemvTester& seed(unsigned v) {
    seed_ = v;
    return *this;
  }
  // All activations at one value and all weights at one value (overflow cases).
  GemvTester& constant(std::uint8_t x, std::int8_t w) {
    constant_ = true;
    cx_ = x;
    cw_ = w;
    return *this;
  }

  void test() const {
    std::mt19937 rng(seed_);
    const int wlo = bits_ == 4 ? -8 : -128, whi = bits_ == 4 ? 7 : 127;
    std::uniform_int_distribution<int> wd(wlo, whi), xd(0, 255), pick(0, 7);
    std::vector<std::int8_t> w(static_cast<std::size_t>(n_ * k_));
    for (auto& v : w) {
      const int p = pick(rng);  // one in four values at an extreme
      v = static_cast<std::int8_t>(constant_ ? cw_ : p == 0 ? wlo : p == 1 ? whi : wd(rng));
    }
    std::vector<std::uint8_t> x(static_cast<std::size_t>(k_));
    for (auto& v : x) v = constant_ ? cx_ : static_cast<std::uint8_t>(xd(rng));
    std::vector<std::int32_t> bias;
    // Typical |Σ (x − x_zp)·w|: 74 · (74 or 5) · sqrt(K); the bias of the same
    // size.
    const double typical = 74.0 * (bits_ == 4 ? 5.0 : 74.0) * std::sqrt(double(k_));
    std::uniform_int_distribution<int> bd(-static_cast<int>(typical), static_cast<int>(typical));
    if (bias_) {
      for (std::int64_t c = 0; c < n_; ++c) bias.push_back(bd(rng));
    }
    // Factors that spread random outputs over the whole range: |acc| ~
    // 128·74·sqrt(K).
    const double spread = 1.0 / (bits_ == 4 ? 5.0 : 74.0) / 74.0 / std::sqrt(double(k_));
    std::uniform_real_distribution<double> fd(0.5 * spread, 2.0 * spread);
    std::vector<float> factors(per_channel_ ? n_ : 1);
    for (auto& f : factors) f = static_cast<float>(fd(rng) * 60.0);
    std::vector<float> float_bias;
    if (bias_ && float_out_) {
      for (std::int64_t c = 0; c < n_; ++c) float_bias.push_back(static_cast<float>(c) * 0.25f);
    }

    const GemvInput in{x.data(), x_dtype_, x_zp_, bias};
    const GemvRequant requant{factors, out_zp_, out_dtype_, qmin_, qmax_};
    const GemvDequant dequant{factors, float_bias};
    const std::size_t out_bytes = static_cast<std::size_t>(n_) * (float_out_ ? 4 : 1);
    // Outputs plus a guard that no kernel may write.
    std::vector<std::uint8_t> expected(out_bytes + 64, kSentinel);
    float_out_ ? gemv_reference(w, n_, k_, in, dequant, reinterpret_cast<float*>(expected.data()))
               : gemv_reference(w, n_, k_, in, requant, expected.data());

    if (!constant_ && !float_out_ && n_ >= 64 && k_ >= 8 && qmax_ - qmin_ > 200) {
      // The factors must spread outputs over the range (a test of saturated
      // outputs proves little about the arithmetic before the clamp).
      const std::set<std::uint8_t> distinct(expected.begin(), expected.begin() + n_);
      ASSERT_GE(distinct.size(), 16u) << "N=" << n_ << " K=" << k_;
    }
    const GemvWeights packed =
        bits_ == 8 ? GemvWeights::pack_int8(w, n_, k_) : GemvWeights::pack_int4(w, n_, k_);
    // The 4-bit GEMV must equal the int8 GEMV on the same weights, not only the
    // reference.
    std::vector<GemvWeights> all{packed};
    if (bits_ == 4) all.push_back(GemvWeights::pack_int8(w, n_, k_));
    for (const auto& c : kernel_configs_reported()) {
      ScopedKernel scoped(c);
      for (const GemvWeights& pw : all) {
        for (std::int64_t cut : split_points()) {
          std::vector<std::uint8_t> got(out_bytes + 64, kSentinel);
          run(pw, in, requant, dequant, got.data(), 0, cut);
          if (cut < n_) run(pw, in, requant, dequant, got.data(), cut, n_);
          ASSERT_EQ(std::memcmp(got.data(), expected.data(), got.size()), 0)
              << c.name << " (" << active_gemv_kernel() << ") int" << pw.bits() << " N=" << n_
              << " K=" << k_ << " x " << dtype_name(x_dtype_) << " zp " << x_zp_
              << (float_out_ ? " float out" : " requant") << " split at " << cut
              << ", first difference at byte " << first_difference(got, expected);
        }
      }
    }
  }

 private:
  void run(const GemvWeights& w, const GemvInput& in, const GemvRequant& r, const GemvDequant& d,
           std::uint8_t* y, std::int64_t begin, std::int64_t end) const {
    float_out_ ? gemv(w, in, d, reinterpret_cast<float*>(y), begin, end)
               : gemv(w, in, r, y, begin, end);
  }
  // Where a second thread's share could start: N (one call) and a block
  // boundary inside.
  std::vector<std::int64_t> split_points() const {
    std::vector<std::int64_t> cuts{n_};
    if (n_ > 64) cuts.push_back((n_ - 1) / 64 / 2 * 64 + 64);
    return cuts;
  }
  static std::size_t first_difference(const std::vector<std::uint8_t>& a,
                                      const std::vector<std::uint8_t>& b) {
    std::size_t i = 0;
    while (i < a.size() && a[i] == b[i]) ++i;
    return i;
  }

  std::int64_t n_ = 64, k_ = 64;
  int bits_ = 8;
  DType x_dtype_ = DType::UInt8;
  std::int32_t x_zp_ = 128;
  DType out_dtype_ = DType::Int8;
  std::int32_t out_zp_ = 0, qmin_ = -128, qmax_ = 127;
  bool float_out_ = false, per_channel_ = true, bias_ = true, constant_ = false;
  std::uint8_t cx_ = 0;
  std::int8_t cw_ = 0;
  unsigned seed_ = 1;
};

// Channels 1 .. 3·64 + 1 (every tail of every vector width: 8, 16, 32, 64) at K
// values around the 4 / 8-wide K groups, both weight widths.
TEST(Gemv, ChannelSweepMatchesReference) {
  unsigned seed = 0;
  for (int bits : {8, 4}) {
    for (std::int64_t n = 1; n <= 3 * 64 + 1; ++n) {
      for (std::int64_t k : {1, 7, 8, 13, 64}) {
        GemvTester().bits(bits).n(n).k(k).seed(++seed).test();
      }
    }
  }
}

TEST(Gemv, DepthSweepMatchesReference) {
  unsigned seed = 100;
  for (int bits : {8, 4}) {
    for (std::int64_t k = 1; k <= 3 * 64 + 1; ++k) {
      GemvTester().bits(bits).n(77).k(k).seed(++seed).test();
    }
    GemvTester().bits(bits).n(130).k(4099).seed(++seed).test();
    // Packed weights beyond 4 MiB: the VNNI kernels' prefetching variant.
    GemvTester().bits(bits).n(130).k(bits == 8 ? 30001 : 60001).seed(++seed).test();
  }
}

TEST(Gemv, ActivationDtypesZeroPointsAndOutputs) {
  unsigned seed = 500;
  struct X {
    DType t;
    std::int32_t zp;
  };
  for (int bits : {8, 4}) {
    for (X x : {X{DType::UInt8, 0}, X{DType::UInt8, 255}, X{DType::UInt8, 131},
                X{DType::Int8, -128}, X{DType::Int8, 127}, X{DType::Int8, -3}}) {
      for (bool per_channel : {true, false}) {
        for (bool bias : {true, false}) {
          GemvTester t;
          t.bits(bits).n(150).k(67).x_dtype(x.t, x.zp).per_channel(per_channel).bias(bias);
          t.seed(++seed).out(DType::Int8, -5, -128, 127).test();
          t.seed(++seed).out(DType::UInt8, 0, 0, 255).test();
          t.seed(++seed).out(DType::UInt8, 255, 0, 255).test();
          t.seed(++seed).out(DType::Int8, -128, -128, -20).test();  // relu-like sub-range
          t.seed(++seed).float_output(true).test();
        }
      }
    }
  }
}

// Sums beyond int32 wrap identically everywhere: 255·(−128)·70,001 < −2^31
// (int8), and for int4 the −8·Σx' correction itself wraps when Σ x' is large.
TEST(Gemv, WrapAroundIsIdenticalEverywhere) {
  GemvTester().bits(8).n(65).k(70001).x_dtype(DType::UInt8, 0).constant(255, -128).test();
  GemvTester()
      .bits(8)
      .n(65)
      .k(70001)
      .x_dtype(DType::UInt8, 0)
      .constant(255, -128)
      .float_output(true)
      .test();
  GemvTester()
      .bits(4)
      .n(17)
      .k(1100001)
      .x_dtype(DType::UInt8, 0)
      .constant(255, -8)
      .float_output(true)
      .test();
}

// The reference on numbers worked by hand.
TEST(GemvReference, HandComputed) {
  // w = [[1, -2, 3], [-8, 7, 0]], x = [10, 0, 255] uint8, zp 5, bias [100, -7].
  const std::vector<std::int8_t> w{1, -2, 3, -8, 7, 0};
  const std::vector<std::uint8_t> x{10, 0, 255};
  const std::vector<std::int32_t> bias{100, -7};
  // acc0 = 5·1 + (−5)(−2) + 250·3 + 100 = 865; acc1 = 5·(−8) + (−5)·7 + 0 − 7 =
  // −82.
  const GemvInput in{x.data(), DType::UInt8, 5, bias};
  const std::vector<float> scale{0.5f, 2.0f}, fbias{1.0f, -1.0f};
  std::vector<float> yf(2);
  gemv_reference(w, 2, 3, in, GemvDequant{scale, fbias}, yf.data());
  EXPECT_EQ(yf[0], 865.0f * 0.5f + 1.0f);
  EXPECT_EQ(yf[1], -82.0f * 2.0f - 1.0f);
  // Requant: 865·0.01 = 8.65 → 9 (+2) = 11; −82·0.25 = −20.5 → −20 (ties to
  // even) + 2 = −18, clamped to qmin −10.
  const std::vector<float> m{0.01f, 0.25f};
  std::vector<std::int8_t> y(2);
  gemv_reference(w, 2, 3, in, GemvRequant{m, 2, DType::Int8, -10, 127}, y.data());
  EXPECT_EQ(y[0], 11);
  EXPECT_EQ(y[1], -10);
  gemv_reference(w, 2, 3, in, GemvRequant{m, 2, DType::Int8, -128, 127}, y.data());
  EXPECT_EQ(y[1], -18);
  // int8 activations: x = [−118, −128, 127] with zp −123 is the same x − zp.
  const std::vector<std::uint8_t> xs{138, 128, 127};
  gemv_reference(w, 2, 3, GemvInput{xs.data(), DType::Int8, -123, bias}, GemvDequant{scale, fbias},
                 yf.data());
  EXPECT_EQ(yf[0], 865.0f * 0.5f + 1.0f);
  // And the packed kernels give the same on these numbers at every
  // configuration.
  for (const auto& c : kernel_configs_reported()) {
    ScopedKernel scoped(c);
    for (const GemvWeights& pw :
         {GemvWeights::pack_int8(w, 2, 3), GemvWeights::pack_int4(w, 2, 3)}) {
      std::vector<float> got(2);
      gemv(pw, in, GemvDequant{scale, fbias}, got.data());
      EXPECT_EQ(got, (std::vector<float>{433.5f, -165.0f})) << c.name << " int" << pw.bits();
    }
  }
}

TEST(GemvWeights, PackedValuesReadBack) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> d8(-128, 127), d4(-8, 7);
  const std::int64_t n = 70, k = 21;
  std::vector<std::int8_t> w8(n * k), w4(n * k);
  for (auto& v : w8) v = static_cast<std::int8_t>(d8(rng));
  for (auto& v : w4) v = static_cast<std::int8_t>(d4(rng));
  const GemvWeights p8 = GemvWeights::pack_int8(w8, n, k), p4 = GemvWeights::pack_int4(w4, n, k);
  EXPECT_EQ(p8.k_padded(), 24);
  EXPECT_EQ(p4.k_padded(), 24);
  EXPECT_EQ(p8.num_blocks(), 2);
  // 4-bit: half the bytes of int8 at the same padded K.
  EXPECT_EQ(p4.packed_bytes() * 2, p8.packed_bytes());
  for (std::int64_t i = 0; i < n; ++i) {
    std::int32_t s = 0;
    for (std::int64_t j = 0; j < k; ++j) {
      ASSERT_EQ(p8.at(i, j), w8[i * k + j]);
      ASSERT_EQ(p4.at(i, j), w4[i * k + j]);
      s += w8[i * k + j];
    }
    EXPECT_EQ(p8.column_sums()[i], s);
  }
  // The documented nibble order: channel 0, k = 0 is the low nibble of byte 0
  // (w + 8), k = 4 its high nibble; channel 1 starts at byte 4.
  EXPECT_EQ(p4.data()[0], (w4[0] + 8) | (w4[4] + 8) << 4);
  EXPECT_EQ(p4.data()[4], (w4[k] + 8) | (w4[k + 4] + 8) << 4);
  EXPECT_THROW(p8.at(n, 0), Error);
  EXPECT_THROW(p4.at(0, k), Error);
}

TEST(GemvWeights, OnnxNibbleStreamEqualsValues) {
  // Odd N·K: the last byte's high nibble is unused.
  const std::int64_t n = 3, k = 5;
  std::vector<std::int8_t> w(n * k);
  for (std::int64_t i = 0; i < n * k; ++i) w[i] = static_cast<std::int8_t>(i % 16 - 8);
  std::vector<std::uint8_t> stream((n * k + 1) / 2, 0);
  for (std::int64_t i = 0; i < n * k; ++i) {
    stream[i / 2] |= static_cast<std::uint8_t>((w[i] & 0x0F) << (i % 2 * 4));
  }
  const GemvWeights from_stream = GemvWeights::pack_int4_nibbles(stream, n, k);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < k; ++j) EXPECT_EQ(from_stream.at(i, j), w[i * k + j]);
  }
  EXPECT_THROW(GemvWeights::pack_int4_nibbles(std::vector<std::uint8_t>(7), n, k), Error);
}

// Throws Error whose message names the function and the argument.
template <class F>
void expect_error(F f, const std::string& where, const std::string& arg) {
  try {
    f();
    ADD_FAILURE() << "no Error for " << arg;
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(where), std::string::npos) << what;
    EXPECT_NE(what.find(arg), std::string::npos) << what;
  }
}

TEST(Gemv, RejectsInvalidArguments) {
  std::vector<std::int8_t> w(130 * 4, 7);
  w[5] = 8;  // outside int4
  expect_error([&] { (void)GemvWeights::pack_int4(w, 130, 4); }, "pack_int4", "w[5]");
  w[5] = -9;
  expect_error([&] { (void)GemvWeights::pack_int4(w, 130, 4); }, "pack_int4", "w[5]");
  w[5] = -8;
  expect_error([&] { (void)GemvWeights::pack_int8(w, 130, 5); }, "pack_int8", "w.size()");
  expect_error([&] { (void)GemvWeights::pack_int8(w, 0, 4); }, "pack_int8", "n");

  const GemvWeights packed = GemvWeights::pack_int4(w, 130, 4);
  const std::vector<std::uint8_t> x(4, 1);
  const std::vector<float> m{0.5f}, nan_m{std::nanf("")}, zero_m{0.0f}, two(2, 1.0f);
  std::vector<std::int8_t> y(130);
  const GemvInput in{x.data(), DType::UInt8, 0, {}};
  const GemvRequant r{m, 0, DType::Int8, -128, 127};
  auto requant = [&](GemvInput i, GemvRequant e, std::int64_t b = 0, std::int64_t end = -1) {
    return [&, i, e, b, end] { gemv(packed, i, e, y.data(), b, end); };
  };
  expect_error(requant(in, r, 1), "gemv", "begin");
  expect_error(requant(in, r, 0, 65), "gemv", "end");
  expect_error(requant(in, r, 0, 131), "gemv", "end");
  expect_error(requant(in, r, 128, 64), "gemv", "end");
  expect_error(requant(in, {nan_m, 0, DType::Int8, -128, 127}), "gemv", "multiplier");
  expect_error(requant(in, {zero_m, 0, DType::Int8, -128, 127}), "gemv", "multiplier");
  expect_error(requant(in, {two, 0, DType::Int8, -128, 127}), "gemv", "multiplier.size()");
  expect_error(requant(in, {m, 0, DType::Int8, 10, 9}), "gemv", "quant_min");
  expect_error(requant(in, {m, 200, DType::Int8, -128, 127}), "gemv", "zero_point");
  expect_error(requant(in, {m, 0, DType::Float32, -128, 127}), "gemv", "out_dtype");
  expect_error(requant({x.data(), DType::UInt8, 256, {}}, r), "gemv", "in.zero_point");
  expect_error(requant({x.data(), DType::Float32, 0, {}}, r), "gemv", "in.dtype");
  const std::vector<std::int32_t> short_bias(129);
  expect_error(requant({x.data(), DType::UInt8, 0, short_bias}, r), "gemv", "in.bias.size()");
  std::vector<float> yf(130);
  expect_error([&] { gemv(packed, in, GemvDequant{nan_m, {}}, yf.data()); }, "gemv", "scale");
  expect_error([&] { gemv(packed, in, GemvDequant{m, two}, yf.data()); }, "gemv", "bias.size()");
  // A valid call on the same objects succeeds (the errors above are about their
  // arguments).
  EXPECT_NO_THROW(gemv(packed, in, r, y.data(), 64, 130));
}

}  // namespace
}  // namespace quantkit::kernels
