// torchao's per-token and groupwise qparams (quant/per_token.h) against hand-computed values
// of the formulas in docs/transformers.md: scale, zero point, round-half-even ties, clamps,
// the eps floor of all-zero rows / groups, and the quantize / dequantize that follow.
#include "quantkit/quant/per_token.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/quant/affine.h"

namespace quantkit {
namespace {

const QuantRange kInt8 = QuantRange::of(DType::Int8, -128, 127);
const QuantRange kInt4 = QuantRange::of(DType::Int8, -8, 7);

TokenQParams row_qparams(std::vector<float> row) {
  return choose_qparams_per_token_row(row.data(), static_cast<std::int64_t>(row.size()), kInt8,
                                      FLT_EPSILON);
}

TEST(PerTokenQParams, MixedSignRow) {
  // lo = -1, hi = 3: scale = 4 / 255, zero point = -128 - round(-63.75) = -64.
  const TokenQParams q = row_qparams({-1.0f, 0.0f, 2.0f, 3.0f});
  EXPECT_EQ(q.scale, 4.0f / 255.0f);
  EXPECT_EQ(q.zero_point, -64);
}

TEST(PerTokenQParams, OneSignedRowsIncludeZero) {
  const TokenQParams pos = row_qparams({1.0f, 2.0f});  // lo = min(1, 0) = 0
  EXPECT_EQ(pos.scale, 2.0f / 255.0f);
  EXPECT_EQ(pos.zero_point, -128);
  const TokenQParams neg = row_qparams({-2.0f, -1.0f});  // hi = 0: zp = -128 + 255, clamped
  EXPECT_EQ(neg.scale, 2.0f / 255.0f);
  EXPECT_EQ(neg.zero_point, 127);
}

TEST(PerTokenQParams, AllZeroRowTakesEps) {
  const TokenQParams q = row_qparams({0.0f, 0.0f, 0.0f});
  EXPECT_EQ(q.scale, FLT_EPSILON);
  EXPECT_EQ(q.zero_point, -128);
}

TEST(PerTokenQParams, ZeroPointTieRoundsHalfToEven) {
  // hi - lo = 63.75 = 255 * 0.25: scale 0.25 exactly; lo / scale = -2.5 rounds to -2.
  const TokenQParams q = row_qparams({-0.625f, 63.125f});
  EXPECT_EQ(q.scale, 0.25f);
  EXPECT_EQ(q.zero_point, -126);
}

TEST(PerTokenQParams, TensorFormQuantizesEachRowWithItsOwnQParams) {
  // Row 0 as the tie case above; row 1 all zero.
  const Tensor x = Tensor::from_vector(std::vector<float>{-0.625f, 63.125f, 0.375f, 0.125f,
                                                          0.0f, 0.0f, 0.0f, 0.0f})
                       .reshape({2, 4});
  const PerTokenQParams qp = choose_qparams_per_token(x, kInt8, FLT_EPSILON);
  ASSERT_EQ(qp.scales.shape(), (Shape{2, 1}));
  EXPECT_EQ(qp.scales.data<float>()[1], FLT_EPSILON);
  EXPECT_EQ(qp.zero_points.data<std::int32_t>()[0], -126);
  const Tensor q = quantize_per_group(x, qp.scales, qp.zero_points, 4, kInt8);
  // round(-2.5) = -2, round(252.5) = 252 -> 126, round(1.5) = 2, round(0.5) = 0.
  const std::vector<std::int8_t> expected{-128, 126, -124, -126, -128, -128, -128, -128};
  EXPECT_EQ(q.to_vector<std::int8_t>(), expected);
  const Tensor y = dequantize_per_group(q, qp.scales, qp.zero_points, 4);
  EXPECT_EQ(y.data<float>()[0], -0.5f);   // (-128 + 126) * 0.25
  EXPECT_EQ(y.data<float>()[2], 0.5f);    // (-124 + 126) * 0.25
}

TEST(PerTokenQParams, RejectsNonFiniteRowsNamingThem) {
  const Tensor x = Tensor::from_vector(std::vector<float>{1.0f, 2.0f, std::nanf(""), 0.0f}).reshape({2, 2});
  try {
    choose_qparams_per_token(x, kInt8, FLT_EPSILON);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 1"), std::string::npos) << e.what();
  }
}

TEST(GroupQParams, SymmetricInt4GroupsHandComputed) {
  // Groups of 2: amax 3 -> 3 / 7.5 = 0.4; amax 0.75 -> 0.1; all-zero -> the smallest normal.
  const Tensor w =
      Tensor::from_vector(std::vector<float>{-3.0f, 1.5f, 0.0f, 0.75f, 0.0f, 0.0f}).reshape({1, 6});
  const GroupQParams qp = choose_qparams_per_group_symmetric(w, 2, kInt4);
  ASSERT_EQ(qp.scales.shape(), (Shape{1, 3}));
  EXPECT_EQ(qp.scales.data<float>()[0], 3.0f / 7.5f);
  EXPECT_EQ(qp.scales.data<float>()[1], 0.75f / 7.5f);
  EXPECT_EQ(qp.scales.data<float>()[2], FLT_MIN);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(qp.zero_points.data<std::int32_t>()[i], 0);
  const Tensor q = quantize_per_group(w, qp.scales, qp.zero_points, 2, kInt4);
  // -3 · 2.5 = -7.5 -> -8 (half to even); 1.5 · 2.5 = 3.75 -> 4; 0.75 · 10 = 7.5 -> 8 -> 7.
  const std::vector<std::int8_t> expected{-8, 4, 0, 7, 0, 0};
  EXPECT_EQ(q.to_vector<std::int8_t>(), expected);
}

TEST(GroupQParams, ZeroPointOfAnAsymmetricRangeIsItsMidpoint) {
  // int((qmax + qmin + 1) / 2): [-128, 127] -> 0, [0, 15] -> 8.
  const Tensor w = Tensor::from_vector(std::vector<float>{1.0f, -2.0f}).reshape({1, 2});
  EXPECT_EQ(choose_qparams_per_group_symmetric(w, 2, kInt8).zero_points.data<std::int32_t>()[0],
            0);
  EXPECT_EQ(choose_qparams_per_group_symmetric(w, 2, QuantRange::of(DType::UInt8, 0, 15))
                .zero_points.data<std::int32_t>()[0],
            8);
}

TEST(GroupQParams, RejectsAGroupSizeThatDoesNotDivideK) {
  const Tensor w = Tensor::zeros({2, 6}, DType::Float32);
  EXPECT_THROW(choose_qparams_per_group_symmetric(w, 4, kInt4), Error);
}

}  // namespace
}  // namespace quantkit
