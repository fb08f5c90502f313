// The runtime's requantization (quantkit/kernels/requantize.h) is the GEMM's RequantEpilogue
// with NearestEven bit for bit (checked through qlinear_reference on accumulators it produces
// exactly), rounds half to even, clamps before rounding, and wraps accumulators modulo 2^32.
#include "quantkit/kernels/requantize.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/kernels/gemm.h"

namespace quantkit::kernels {
namespace {

TEST(Requantize, MatchesTheGemmRequantEpilogueBitForBit) {
  // acc = x·w + bias with x = 1 (zp 0), w = 1: the epilogue sees exactly acc = 1 + bias.
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::int32_t> acc_dist(-2000000, 2000000);
  std::uniform_real_distribution<float> m_dist(1e-6f, 2e-2f);
  const Tensor x = Tensor::from_vector<std::uint8_t>({1}, Shape{1, 1});
  const Tensor w = Tensor::from_vector<std::int8_t>({1}, Shape{1, 1});
  for (int i = 0; i < 4000; ++i) {
    const bool is_signed = i % 2 == 0;
    const std::int32_t acc = i < 8 ? (i - 4) * 3 : acc_dist(rng);
    RequantEpilogue e;
    e.multiplier = {i % 7 == 0 ? 0.5f : m_dist(rng)};  // 0.5: exact ties
    e.out_dtype = is_signed ? DType::Int8 : DType::UInt8;
    e.zero_point = is_signed ? static_cast<std::int32_t>(rng() % 256) - 128
                             : static_cast<std::int32_t>(rng() % 256);
    e.quant_min = is_signed ? -128 : 0;
    e.quant_max = is_signed ? 127 : 255;
    if (i % 5 == 0) e.quant_min = e.zero_point;  // relu clamp
    const Tensor bias = Tensor::from_vector<std::int32_t>({acc - 1}, Shape{1});
    const Tensor y = qlinear_reference(x, 0, w, {}, e, bias);
    const std::int32_t gemm = is_signed ? y.data<std::int8_t>()[0] : y.data<std::uint8_t>()[0];
    EXPECT_EQ(requantize(acc, e.multiplier[0], e.zero_point, e.quant_min, e.quant_max), gemm)
        << "acc " << acc << " m " << e.multiplier[0] << " zp " << e.zero_point;
  }
}

TEST(Requantize, HalfToEvenAndClamp) {
  EXPECT_EQ(requantize(5, 0.5f, 0, -128, 127), 2);    // 2.5 → 2
  EXPECT_EQ(requantize(7, 0.5f, 0, -128, 127), 4);    // 3.5 → 4
  EXPECT_EQ(requantize(-5, 0.5f, 0, -128, 127), -2);  // −2.5 → −2
  EXPECT_EQ(requantize(5, 0.5f, 10, -128, 127), 12);
  EXPECT_EQ(requantize(1000, 1.0f, 0, -128, 127), 127);
  EXPECT_EQ(requantize(-1000, 1.0f, 3, 3, 127), 3);  // relu at the zero point
  // Extreme accumulators stay in range (clamped before the float → int conversion).
  EXPECT_EQ(requantize(std::numeric_limits<std::int32_t>::max(), 1e9f, 0, 0, 255), 255);
  EXPECT_EQ(requantize(std::numeric_limits<std::int32_t>::min(), 1e9f, 0, 0, 255), 0);
}

TEST(Requantize, WrappingArithmetic) {
  EXPECT_EQ(wrapping_add(std::numeric_limits<std::int32_t>::max(), 1),
            std::numeric_limits<std::int32_t>::min());
  EXPECT_EQ(wrapping_mul(65536, 65536), 0);
  EXPECT_EQ(wrapping_mul(-3, 7), -21);
}

}  // namespace
}  // namespace quantkit::kernels
