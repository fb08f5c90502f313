// Integer and fp32 linear kernels (include/quantkit/kernels/gemm.h): every kernel family is
// bit-identical to the plain-loop reference on a sweep of shapes, data and epilogues; the
// reference itself is checked against hand-computed and int64-computed values.
#include "quantkit/kernels/gemm.h"

#include <cblas.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/kernels/cpu_features.h"
#include "support/kernel_configs.h"
#include "support/isa_report.h"

namespace quantkit::kernels {
namespace {

using testing::kernel_configs_reported;
using testing::ScopedKernel;

// Which ISA levels this binary covered (see support/isa_report.h).
QUANTKIT_ISA_COVERAGE_TESTS(GemmIsaCoverage)

TEST(GemmKernelConfig, EveryConfigRunsTheKernelItNames) {
  for (const auto& c : kernel_configs_reported()) {
    ScopedKernel scoped(c);
    EXPECT_EQ(std::string(active_qlinear_kernel()), c.name);
  }
}

// ---------------------------------------------------------------------------------------
// Random data
// ---------------------------------------------------------------------------------------

// Integers of `dtype` in [lo, hi]; one in four values is an extreme of the range.
Tensor random_ints(std::mt19937& rng, Shape shape, DType dtype, std::int64_t lo, std::int64_t hi) {
  Tensor t = Tensor::empty(std::move(shape), dtype);
  std::uniform_int_distribution<std::int64_t> value(lo, hi);
  std::uniform_int_distribution<int> pick(0, 7);
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T>) {
      for (T& v : t.span<T>()) {
        const int p = pick(rng);
        v = static_cast<T>(p == 0 ? lo : p == 1 ? hi : value(rng));
      }
    }
  });
  return t;
}

Tensor random_ints(std::mt19937& rng, Shape shape, DType dtype) {
  return random_ints(rng, std::move(shape), dtype, dtype_min(dtype), dtype_max(dtype));
}

std::int32_t random_in(std::mt19937& rng, std::int64_t lo, std::int64_t hi) {
  return static_cast<std::int32_t>(std::uniform_int_distribution<std::int64_t>(lo, hi)(rng));
}

std::vector<float> random_scales(std::mt19937& rng, std::size_t count, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> out(count);
  for (float& v : out) v = d(rng);
  return out;
}

// A random epilogue of kind 0 (int32), 1 (float) or 2 (requant) for N channels.
Epilogue random_epilogue(std::mt19937& rng, int kind, std::int64_t n, std::int64_t k) {
  const std::size_t count = std::bernoulli_distribution(0.5)(rng) ? 1 : static_cast<std::size_t>(n);
  if (kind == 0) return Int32Epilogue{};
  if (kind == 1) {
    FloatEpilogue fe;
    fe.scale = random_scales(rng, count, -1e-3f, 1e-3f);
    if (std::bernoulli_distribution(0.5)(rng)) {
      std::vector<float> b(static_cast<std::size_t>(n));
      std::uniform_real_distribution<float> d(-100.0f, 100.0f);
      for (float& v : b) v = d(rng);
      fe.bias = Tensor::from_vector(b);
    }
    return fe;
  }
  RequantEpilogue re;
  re.out_dtype = std::bernoulli_distribution(0.5)(rng) ? DType::Int8 : DType::UInt8;
  const std::int64_t lo = dtype_min(re.out_dtype), hi = dtype_max(re.out_dtype);
  re.zero_point = random_in(rng, lo, hi);
  re.quant_min = random_in(rng, lo, (lo + hi) / 2);
  re.quant_max = random_in(rng, re.quant_min, hi);
  // Scaled so that typical accumulators land across the output range, some clamped.
  const float typical =
      1.0f / (64.0f * static_cast<float>(std::sqrt(static_cast<double>(k) + 1)) * 128.0f);
  re.multiplier = random_scales(rng, count, typical * 0.25f, typical * 4.0f);
  return re;
}

std::string describe(const Tensor& t) {
  return std::string(dtype_name(t.dtype())) + shape_to_string(t.shape());
}

// Index of the first differing element, or -1.
std::int64_t first_difference(const Tensor& a, const Tensor& b) {
  const auto* pa = static_cast<const unsigned char*>(a.raw_data());
  const auto* pb = static_cast<const unsigned char*>(b.raw_data());
  const std::size_t size = dtype_size(a.dtype());
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    if (std::memcmp(pa + i * size, pb + i * size, size) != 0) return i;
  }
  return -1;
}

struct Case {
  Tensor x;
  std::int32_t x_zp = 0;
  Tensor w;
  std::vector<std::int32_t> w_zp;
  Epilogue epilogue;
  std::optional<Tensor> bias;
};

// Runs the case on every kernel configuration and expects the reference's bits.
void expect_all_kernels_match_reference(const Case& c, const std::string& label) {
  const Tensor expected = qlinear_reference(c.x, c.x_zp, c.w, c.w_zp, c.epilogue, c.bias);
  const PackedWeights packed(c.w, c.w_zp);
  for (const auto& config : kernel_configs_reported()) {
    ScopedKernel scoped(config);
    const Tensor got = qlinear(c.x, c.x_zp, packed, c.epilogue, c.bias);
    ASSERT_EQ(got.dtype(), expected.dtype()) << label;
    ASSERT_EQ(got.shape(), expected.shape()) << label;
    const std::int64_t diff = first_difference(got, expected);
    ASSERT_EQ(diff, -1) << label << " kernel " << config.name << ": first difference at flat index "
                        << diff << " (x " << describe(c.x) << ", w " << describe(c.w) << ")";
  }
}

Case random_case(std::mt19937& rng, std::int64_t m, std::int64_t n, std::int64_t k, DType x_dtype,
                 DType w_dtype, int epilogue_kind) {
  Case c;
  c.x = random_ints(rng, {m, k}, x_dtype);
  c.x_zp = random_in(rng, dtype_min(x_dtype), dtype_max(x_dtype));
  // int16 weights in the range the APoT linear uses (multipliers up to a few thousand), and
  // now and then the full range.
  const std::int64_t w_lim =
      w_dtype == DType::Int8 ? 127 : (std::bernoulli_distribution(0.2)(rng) ? 32767 : 3840);
  c.w = random_ints(rng, {n, k}, w_dtype, -w_lim - (w_dtype == DType::Int8 ? 1 : 0), w_lim);
  switch (std::uniform_int_distribution<int>(0, 2)(rng)) {
    case 0:
      break;  // no weight zero points
    case 1:
      c.w_zp = {random_in(rng, -20, 20)};
      break;
    default:
      for (std::int64_t i = 0; i < n; ++i) c.w_zp.push_back(random_in(rng, -128, 127));
  }
  c.epilogue = random_epilogue(rng, epilogue_kind, n, k);
  if (std::bernoulli_distribution(0.5)(rng))
    c.bias = random_ints(rng, {n}, DType::Int32, -100000, 100000);
  return c;
}

// ---------------------------------------------------------------------------------------
// Every kernel == reference
// ---------------------------------------------------------------------------------------

TEST(QLinear, ShapeSweepMatchesReferenceOnEveryKernel) {
  std::mt19937 rng(20240611);
  const std::vector<std::int64_t> ms{1, 2, 3, 5, 6, 7, 13, 70};
  const std::vector<std::int64_t> ns{1, 2, 15, 16, 17, 31, 33, 64, 65, 70};
  const std::vector<std::int64_t> ks{1, 2, 3, 4, 5, 7, 8, 63, 64, 70};
  int index = 0;
  for (std::int64_t m : ms) {
    for (std::int64_t n : ns) {
      for (std::int64_t k : ks) {
        const DType xd = (index & 1) ? DType::Int8 : DType::UInt8;
        const DType wd = (index % 5 == 4) ? DType::Int16 : DType::Int8;
        const int kind = index % 3;
        const Case c = random_case(rng, m, n, k, xd, wd, kind);
        expect_all_kernels_match_reference(c, "M=" + std::to_string(m) + " N=" + std::to_string(n) +
                                                  " K=" + std::to_string(k) + " epilogue " +
                                                  std::to_string(kind));
        ++index;
      }
    }
  }
}

TEST(QLinear, LargeKMatchesReferenceOnEveryKernel) {
  std::mt19937 rng(7);
  for (std::int64_t k : {1023, 1024, 4099}) {
    for (DType xd : {DType::UInt8, DType::Int8}) {
      for (DType wd : {DType::Int8, DType::Int16}) {
        for (int kind = 0; kind < 3; ++kind) {
          const Case c = random_case(rng, 9, 37, k, xd, wd, kind);
          expect_all_kernels_match_reference(
              c, "K=" + std::to_string(k) + " " + std::string(dtype_name(xd)) + "x" +
                     std::string(dtype_name(wd)) + " epilogue " + std::to_string(kind));
        }
      }
    }
  }
}

TEST(QLinear, BatchedInputKeepsLeadingDimensions) {
  std::mt19937 rng(3);
  Case c = random_case(rng, 6, 20, 11, DType::UInt8, DType::Int8, 2);
  c.x = c.x.reshape({2, 3, 11});
  const Tensor expected = qlinear_reference(c.x, c.x_zp, c.w, c.w_zp, c.epilogue, c.bias);
  EXPECT_EQ(expected.shape(), (Shape{2, 3, 20}));
  expect_all_kernels_match_reference(c, "batched");
}

TEST(QLinear, EmptyDimensions) {
  std::mt19937 rng(5);
  // K = 0: every accumulator is the bias (or 0).
  Case c = random_case(rng, 3, 5, 0, DType::UInt8, DType::Int8, 0);
  c.bias = Tensor::from_vector<std::int32_t>({1, -2, 3, -4, 5});
  const Tensor y = qlinear_reference(c.x, c.x_zp, c.w, c.w_zp, c.epilogue, c.bias);
  for (std::int64_t r = 0; r < 3; ++r) {
    for (std::int64_t col = 0; col < 5; ++col) {
      EXPECT_EQ(y.data<std::int32_t>()[r * 5 + col], c.bias->data<std::int32_t>()[col]);
    }
  }
  expect_all_kernels_match_reference(c, "K=0");
  expect_all_kernels_match_reference(random_case(rng, 0, 5, 7, DType::Int8, DType::Int8, 1), "M=0");
  expect_all_kernels_match_reference(random_case(rng, 4, 0, 7, DType::Int8, DType::Int8, 0), "N=0");
}

// ---------------------------------------------------------------------------------------
// The reference against independent arithmetic
// ---------------------------------------------------------------------------------------

TEST(QLinearReference, Int32EqualsInt64SumOfZeroPointShiftedProducts) {
  std::mt19937 rng(11);
  for (DType xd : {DType::UInt8, DType::Int8}) {
    const Case c = random_case(rng, 4, 9, 33, xd, DType::Int8, 0);
    const Tensor y = qlinear_reference(c.x, c.x_zp, c.w, c.w_zp, Int32Epilogue{}, c.bias);
    for (std::int64_t r = 0; r < 4; ++r) {
      for (std::int64_t col = 0; col < 9; ++col) {
        std::int64_t sum = c.bias ? c.bias->data<std::int32_t>()[col] : 0;
        const std::int64_t wz = c.w_zp.empty() ? 0 : c.w_zp.size() == 1 ? c.w_zp[0] : c.w_zp[col];
        for (std::int64_t kk = 0; kk < 33; ++kk) {
          const std::int64_t xv = xd == DType::UInt8 ? c.x.data<std::uint8_t>()[r * 33 + kk]
                                                     : c.x.data<std::int8_t>()[r * 33 + kk];
          sum += (xv - c.x_zp) * (c.w.data<std::int8_t>()[col * 33 + kk] - wz);
        }
        EXPECT_EQ(y.data<std::int32_t>()[r * 9 + col], sum);
      }
    }
  }
}

// The documented exactness bound: int8 weights, K = 33,025 and the largest |x - x_zp| and
// |w - w_zp| (255 each) still fit int32 — on every kernel.
TEST(QLinear, ExtremeOperandsAtTheExactnessBound) {
  const std::int64_t k = 33025;
  Case c;
  c.x = Tensor::from_vector(std::vector<std::uint8_t>(k, 255), {1, k});
  c.x_zp = 0;
  c.w = Tensor::from_vector(std::vector<std::int8_t>(2 * k, -128), {2, k});
  c.w.data<std::int8_t>()[k] = 127;  // second channel: one +127 among -128s
  c.w_zp = {127, -128};
  c.epilogue = Int32Epilogue{};
  const Tensor y = qlinear_reference(c.x, c.x_zp, c.w, c.w_zp, c.epilogue);
  EXPECT_EQ(y.data<std::int32_t>()[0], std::int64_t{255} * -255 * k);
  EXPECT_EQ(y.data<std::int32_t>()[1], std::int64_t{255} * 255);
  expect_all_kernels_match_reference(c, "exactness bound");
}

// Past the bound the accumulator wraps modulo 2^32 — identically on every kernel.
TEST(QLinear, OverflowWrapsIdenticallyOnEveryKernel) {
  std::mt19937 rng(13);
  const std::int64_t k = 80000;
  Case c;
  c.x = random_ints(rng, {3, k}, DType::UInt8, 250, 255);
  c.x_zp = 0;
  c.w = random_ints(rng, {17, k}, DType::Int8, 120, 127);
  c.epilogue = Int32Epilogue{};
  const Tensor y = qlinear_reference(c.x, c.x_zp, c.w, c.w_zp, c.epilogue);
  std::int64_t exact = 0;
  for (std::int64_t kk = 0; kk < k; ++kk) {
    exact += std::int64_t{c.x.data<std::uint8_t>()[kk]} * c.w.data<std::int8_t>()[kk];
  }
  ASSERT_GT(exact, std::numeric_limits<std::int32_t>::max());
  EXPECT_EQ(y.data<std::int32_t>()[0],
            static_cast<std::int32_t>(static_cast<std::uint32_t>(exact)));
  expect_all_kernels_match_reference(c, "overflow");
}

// acc = x · 1 with multiplier 0.5 gives exact halves: ties go to the even integer (not away
// from zero, not toward zero as torchao's reference representation's truncation would).
TEST(QLinear, RequantRoundsHalfToEven) {
  const std::vector<std::int8_t> xs{3, 5, -3, -5, 1, -1, 7, 6};
  const std::vector<std::int8_t> nearest_even{2, 2, -2, -2, 0, 0, 4, 3};
  Case c;
  c.x = Tensor::from_vector(xs, {static_cast<std::int64_t>(xs.size()), 1});
  c.w = Tensor::from_vector<std::int8_t>({1}, {1, 1});
  RequantEpilogue re;
  re.multiplier = {0.5f};
  c.epilogue = re;
  const Tensor y = qlinear_reference(c.x, 0, c.w, {}, re);
  EXPECT_EQ(y.to_vector<std::int8_t>(), nearest_even);
  expect_all_kernels_match_reference(c, "ties");
}

TEST(QLinear, RequantAddsZeroPointAndClamps) {
  Case c;
  c.x = Tensor::from_vector<std::uint8_t>({255, 0, 128, 130}, {4, 1});
  c.x_zp = 128;
  c.w = Tensor::from_vector<std::int8_t>({127, -128}, {2, 1});
  RequantEpilogue re;
  re.out_dtype = DType::UInt8;
  re.zero_point = 10;
  re.quant_min = 5;
  re.quant_max = 200;
  re.multiplier = {0.25f, 0.125f};
  c.epilogue = re;
  // acc rows: 127·{127, -128}, -128·{127, -128}, 0, 2·{127, -128}
  const Tensor y = qlinear_reference(c.x, c.x_zp, c.w, {}, re);
  const std::vector<std::uint8_t> expected{200, 5, 5, 200, 10, 10, 74, 5};
  EXPECT_EQ(y.to_vector<std::uint8_t>(), expected);
  expect_all_kernels_match_reference(c, "clamp");
}

TEST(QLinear, FloatEpilogueIsScaleThenBias) {
  Case c;
  c.x = Tensor::from_vector<std::int8_t>({-128, 127, 3}, {1, 3});
  c.x_zp = -1;
  c.w = Tensor::from_vector<std::int16_t>({1000, -7, 2, 0, 1, 1}, {2, 3});
  FloatEpilogue fe;
  fe.scale = {0.1f, 3.0f};
  fe.bias = Tensor::from_vector<float>({0.5f, -1.0f});
  c.epilogue = fe;
  c.bias = Tensor::from_vector<std::int32_t>({1, 2});
  const Tensor y = qlinear_reference(c.x, c.x_zp, c.w, {}, fe, c.bias);
  const std::int32_t acc0 = -127 * 1000 + 128 * -7 + 4 * 2 + 1;
  const std::int32_t acc1 = 128 * 1 + 4 * 1 + 2;
  EXPECT_EQ(y.data<float>()[0], static_cast<float>(acc0) * 0.1f + 0.5f);
  EXPECT_EQ(y.data<float>()[1], static_cast<float>(acc1) * 3.0f + -1.0f);
  expect_all_kernels_match_reference(c, "float epilogue");
}

// ---------------------------------------------------------------------------------------
// PackedWeights and argument checks
// ---------------------------------------------------------------------------------------

TEST(PackedWeights, KeepsEveryWeightAndItsColumnSums) {
  std::mt19937 rng(17);
  for (DType wd : {DType::Int8, DType::Int16}) {
    const Tensor w = random_ints(rng, {19, 7}, wd);
    const PackedWeights p(w, std::vector<std::int32_t>{3});
    EXPECT_EQ(p.n(), 19);
    EXPECT_EQ(p.k(), 7);
    EXPECT_EQ(p.k_padded(), 8);
    EXPECT_EQ(p.num_blocks(), 2);
    EXPECT_TRUE(p.has_zero_points());
    for (std::int64_t n = 0; n < 19; ++n) {
      std::int32_t sum = 0;
      for (std::int64_t k = 0; k < 7; ++k) {
        const std::int32_t v = wd == DType::Int8 ? w.data<std::int8_t>()[n * 7 + k]
                                                 : w.data<std::int16_t>()[n * 7 + k];
        EXPECT_EQ(p.at(n, k), v);
        sum += v;
      }
      EXPECT_EQ(p.column_sums()[n], sum);
      EXPECT_EQ(p.zero_points()[n], 3);
    }
    EXPECT_THROW(p.at(19, 0), Error);
    EXPECT_THROW(p.at(0, 7), Error);
  }
}

TEST(PackedWeights, RejectsBadWeights) {
  EXPECT_THROW(PackedWeights(Tensor::zeros({2, 3}, DType::Float32)), Error);
  EXPECT_THROW(PackedWeights(Tensor::zeros({2, 3}, DType::UInt8)), Error);
  EXPECT_THROW(PackedWeights(Tensor::zeros({6}, DType::Int8)), Error);
  const std::vector<std::int32_t> two{0, 0};
  EXPECT_THROW(PackedWeights(Tensor::zeros({3, 3}, DType::Int8), two), Error);
  const std::vector<std::int32_t> out_of_range{128};
  EXPECT_THROW(PackedWeights(Tensor::zeros({3, 3}, DType::Int8), out_of_range), Error);
}

TEST(QLinear, RejectsBadArguments) {
  const PackedWeights w(Tensor::zeros({4, 3}, DType::Int8));
  const Tensor x = Tensor::zeros({2, 3}, DType::UInt8);
  EXPECT_NO_THROW(qlinear(x, 0, w, Int32Epilogue{}));
  // Activations: dtype, shape, zero point.
  EXPECT_THROW(qlinear(Tensor::zeros({2, 3}, DType::Float32), 0, w, Int32Epilogue{}), Error);
  EXPECT_THROW(qlinear(Tensor::zeros({2, 3}, DType::Int16), 0, w, Int32Epilogue{}), Error);
  EXPECT_THROW(qlinear(Tensor::zeros({2, 4}, DType::UInt8), 0, w, Int32Epilogue{}), Error);
  EXPECT_THROW(qlinear(Tensor::zeros(Shape{}, DType::UInt8), 0, w, Int32Epilogue{}), Error);
  EXPECT_THROW(qlinear(x, 256, w, Int32Epilogue{}), Error);
  EXPECT_THROW(qlinear(Tensor::zeros({2, 3}, DType::Int8), 128, w, Int32Epilogue{}), Error);
  // Bias.
  EXPECT_THROW(qlinear(x, 0, w, Int32Epilogue{}, Tensor::zeros({4}, DType::Float32)), Error);
  EXPECT_THROW(qlinear(x, 0, w, Int32Epilogue{}, Tensor::zeros({3}, DType::Int32)), Error);
  // Float epilogue.
  EXPECT_THROW(qlinear(x, 0, w, FloatEpilogue{{}, std::nullopt}), Error);
  EXPECT_THROW(qlinear(x, 0, w, FloatEpilogue{{1.0f, 1.0f}, std::nullopt}), Error);
  EXPECT_THROW(qlinear(x, 0, w, FloatEpilogue{{NAN}, std::nullopt}), Error);
  EXPECT_THROW(qlinear(x, 0, w, FloatEpilogue{{1.0f}, Tensor::zeros({4}, DType::Int32)}), Error);
  EXPECT_THROW(qlinear(x, 0, w, FloatEpilogue{{1.0f}, Tensor::zeros({5}, DType::Float32)}), Error);
  // Requant epilogue.
  const auto requant = [](auto edit) {
    RequantEpilogue re;
    re.multiplier = {0.5f};
    edit(re);
    return re;
  };
  EXPECT_NO_THROW(qlinear(x, 0, w, requant([](RequantEpilogue&) {})));
  EXPECT_THROW(qlinear(x, 0, w, requant([](RequantEpilogue& r) { r.multiplier = {0.0f}; })), Error);
  EXPECT_THROW(qlinear(x, 0, w, requant([](RequantEpilogue& r) { r.multiplier = {INFINITY}; })),
               Error);
  EXPECT_THROW(qlinear(x, 0, w, requant([](RequantEpilogue& r) {
                         r.multiplier = {1, 1, 1};
                       })),
               Error);
  EXPECT_THROW(qlinear(x, 0, w, requant([](RequantEpilogue& r) { r.out_dtype = DType::Int32; })),
               Error);
  EXPECT_THROW(qlinear(x, 0, w, requant([](RequantEpilogue& r) { r.zero_point = 200; })), Error);
  EXPECT_THROW(
      qlinear(x, 0, w, requant([](RequantEpilogue& r) { r.quant_min = 10, r.quant_max = 9; })),
      Error);
  EXPECT_THROW(qlinear(x, 0, w, requant([](RequantEpilogue& r) {
                         r.out_dtype = DType::UInt8, r.zero_point = 0, r.quant_min = -1;
                       })),
               Error);
  // The reference checks the same, plus its unpacked weight.
  EXPECT_THROW(qlinear_reference(x, 0, Tensor::zeros({4, 3}, DType::Float32), {}, Int32Epilogue{}),
               Error);
  EXPECT_THROW(qlinear_reference(x, 0, Tensor::zeros({4, 2}, DType::Int8), {}, Int32Epilogue{}),
               Error);
  const std::vector<std::int32_t> three{0, 0, 0};
  EXPECT_THROW(qlinear_reference(x, 0, Tensor::zeros({4, 3}, DType::Int8), three, Int32Epilogue{}),
               Error);
}

TEST(QLinear, ErrorMessagesNameTheArgument) {
  const PackedWeights w(Tensor::zeros({4, 3}, DType::Int8));
  try {
    qlinear(Tensor::zeros({2, 5}, DType::UInt8), 0, w, Int32Epilogue{});
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x.shape"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[2, 5]"), std::string::npos) << e.what();
  }
}

TEST(QLinear, InputsAreNotModified) {
  std::mt19937 rng(19);
  const Case c = random_case(rng, 5, 21, 13, DType::Int8, DType::Int8, 2);
  const Tensor x_copy = c.x.clone();
  const PackedWeights packed(c.w, c.w_zp);
  for (const auto& config : kernel_configs_reported()) {
    ScopedKernel scoped(config);
    (void)qlinear(c.x, c.x_zp, packed, c.epilogue, c.bias);
    EXPECT_TRUE(bitwise_equal(c.x, x_copy)) << config.name;
  }
}

TEST(ScaleHelpers, ComputeInDoubleAndRoundOnce) {
  const std::vector<double> ws{0.003, 0.25};
  const auto m = requant_multipliers(0.1, ws, 0.7);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0], static_cast<float>(0.1 * 0.003 / 0.7));
  EXPECT_EQ(m[1], static_cast<float>(0.1 * 0.25 / 0.7));
  const auto s = dequant_scales(0.1, ws);
  EXPECT_EQ(s[0], static_cast<float>(0.1 * 0.003));
  const std::vector<double> bad{0.0};
  EXPECT_THROW(requant_multipliers(0.1, bad, 0.7), Error);
  EXPECT_THROW(requant_multipliers(0.1, ws, 0.0), Error);
  EXPECT_THROW(requant_multipliers(NAN, ws, 1.0), Error);
  EXPECT_THROW(requant_multipliers(1.0, {}, 1.0), Error);
  EXPECT_THROW(requant_multipliers(1e-30, ws, 1e30), Error);  // underflows float32
  EXPECT_THROW(dequant_scales(-1.0, ws), Error);
}

// ---------------------------------------------------------------------------------------
// fp32
// ---------------------------------------------------------------------------------------

std::vector<float> random_floats(std::mt19937& rng, std::size_t count) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> out(count);
  for (float& v : out) v = d(rng);
  return out;
}

TEST(LinearF32, MatchesDoubleReferenceWithinRounding) {
  std::mt19937 rng(23);
  for (auto [m, n, k] : {std::tuple{1, 1, 1}, std::tuple{3, 17, 5}, std::tuple{70, 33, 129},
                         std::tuple{8, 64, 1000}}) {
    const auto xs = random_floats(rng, static_cast<std::size_t>(m * k));
    const auto ws = random_floats(rng, static_cast<std::size_t>(n * k));
    const auto bs = random_floats(rng, static_cast<std::size_t>(n));
    const Tensor y = linear_f32(Tensor::from_vector(xs, {m, k}), Tensor::from_vector(ws, {n, k}),
                                Tensor::from_vector(bs));
    ASSERT_EQ(y.shape(), (Shape{m, n}));
    for (int r = 0; r < m; ++r) {
      for (int c = 0; c < n; ++c) {
        double exact = bs[c], magnitude = std::fabs(bs[c]);
        for (int i = 0; i < k; ++i) {
          exact += double{xs[r * k + i]} * ws[c * k + i];
          magnitude += std::fabs(double{xs[r * k + i]} * ws[c * k + i]);
        }
        // Worst-case float32 summation error: (k + 1) roundings of at most eps/2 each.
        const double tolerance = (k + 1) * 0.5 * std::numeric_limits<float>::epsilon() * magnitude;
        EXPECT_NEAR(y.data<float>()[r * n + c], exact, tolerance) << m << "x" << n << "x" << k;
      }
    }
  }
}

TEST(LinearF32, BiasIsAddedAndLeadingDimensionsKept) {
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 1, 2});
  const Tensor w = Tensor::from_vector<float>({1, 0, 0, 1, 1, 1}, {3, 2});
  const Tensor y = linear_f32(x, w, Tensor::from_vector<float>({10, 20, 30}));
  EXPECT_EQ(y.shape(), (Shape{3, 1, 3}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{11, 22, 33, 13, 24, 37, 15, 26, 41}));
  const Tensor y0 =
      linear_f32(Tensor::zeros({2, 0}, DType::Float32), Tensor::zeros({3, 0}, DType::Float32),
                 Tensor::from_vector<float>({1, 2, 3}));
  EXPECT_EQ(y0.to_vector<float>(), (std::vector<float>{1, 2, 3, 1, 2, 3}));
}

// OpenBLAS is pinned to one thread, so raising its thread count changes nothing.
TEST(LinearF32, ResultIndependentOfOpenBlasThreadCount) {
  std::mt19937 rng(29);
  const Tensor x = Tensor::from_vector(random_floats(rng, 256 * 300), {256, 300});
  const Tensor w = Tensor::from_vector(random_floats(rng, 200 * 300), {200, 300});
  const Tensor first = linear_f32(x, w);
  EXPECT_EQ(openblas_get_num_threads(), 1);
  openblas_set_num_threads(4);
  const Tensor second = linear_f32(x, w);
  EXPECT_EQ(openblas_get_num_threads(), 1);
  EXPECT_TRUE(bitwise_equal(first, second));
}

// A sample's result does not depend on how many samples come with it: [B, K] rows one by
// one, [B, T, K] one GEMM per sample of T rows (sgemm sums in another order for other row
// counts, so a larger call would make a model's outputs depend on the batch size).
TEST(LinearF32, EachSampleGivesWhatItGivesAloneAtAnyBatch) {
  std::mt19937 rng(31);
  const std::int64_t batch = 5, tokens = 37, k = 96, n = 70;
  const Tensor x = Tensor::from_vector(random_floats(rng, batch * tokens * k), {batch, tokens, k});
  const Tensor w = Tensor::from_vector(random_floats(rng, n * k), {n, k});
  const Tensor y = linear_f32(x, w);
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::vector<float> xs(x.data<float>() + b * tokens * k,
                                x.data<float>() + (b + 1) * tokens * k);
    const Tensor alone = linear_f32(Tensor::from_vector(xs, {1, tokens, k}), w);
    EXPECT_EQ(std::memcmp(alone.data<float>(), y.data<float>() + b * tokens * n,
                          alone.nbytes()), 0) << "sample " << b;
  }
}

TEST(LinearF32, RejectsBadArguments) {
  const Tensor x = Tensor::zeros({2, 3}, DType::Float32);
  const Tensor w = Tensor::zeros({4, 3}, DType::Float32);
  EXPECT_THROW(linear_f32(Tensor::zeros({2, 3}, DType::Float64), w), Error);
  EXPECT_THROW(linear_f32(x, Tensor::zeros({4, 3}, DType::Int8)), Error);
  EXPECT_THROW(linear_f32(x, Tensor::zeros({12}, DType::Float32)), Error);
  EXPECT_THROW(linear_f32(x, Tensor::zeros({4, 2}, DType::Float32)), Error);
  EXPECT_THROW(linear_f32(x, w, Tensor::zeros({3}, DType::Float32)), Error);
  EXPECT_THROW(linear_f32(x, w, Tensor::zeros({4}, DType::Int32)), Error);
  EXPECT_THROW(gemm_f32(-1, 2, 3, nullptr, nullptr, nullptr, nullptr), Error);
}

}  // namespace
}  // namespace quantkit::kernels
