// choose_qparams.h beyond the golden data: effective ranges, the customized-range rule,
// float zero points, and validation of every entry point.
#include "quantkit/quant/choose_qparams.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "quantkit/core/error.h"

namespace quantkit {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct RangeCase {
  DType dtype;
  std::optional<std::int64_t> qmin, qmax;
  bool reduce_range;
  std::int64_t expect_min, expect_max;
};

TEST(ObserverQuantRange, TorchCalculateQminQmax) {
  const std::vector<RangeCase> cases = {
      {DType::UInt8, {}, {}, false, 0, 255},
      {DType::UInt8, {}, {}, true, 0, 127},
      {DType::Int8, {}, {}, false, -128, 127},
      {DType::Int8, {}, {}, true, -64, 63},
      {DType::Int32, {}, {}, false, -2147483648LL, 2147483647LL},
      {DType::Int32, {}, {}, true, -2147483648LL, 2147483647LL},  // torch ignores it here
      {DType::Int8, -127, 127, false, -127, 127},                 // custom kept as given
      {DType::Int8, -127, 127, true, -64, 63},                    // Python floor division
      {DType::UInt8, 0, 127, true, 0, 63},
      {DType::UInt8, 0, 15, false, 0, 15},
      {DType::Int8, -8, 7, true, -4, 3},
      {DType::Int8, -1, 1, true, -1, 0},
      {DType::Int32, -5, 5, true, -3, 2},
  };
  for (const RangeCase& c : cases) {
    const QuantRange r = observer_quant_range(c.dtype, c.qmin, c.qmax, c.reduce_range);
    EXPECT_EQ(r.dtype, c.dtype);
    EXPECT_EQ(r.quant_min, c.expect_min) << dtype_name(c.dtype) << " " << c.reduce_range;
    EXPECT_EQ(r.quant_max, c.expect_max) << dtype_name(c.dtype) << " " << c.reduce_range;
  }
}

TEST(ObserverQuantRange, InvalidRangesAreRejected) {
  EXPECT_THROW(observer_quant_range(DType::Int16, {}, {}, false), Error);
  EXPECT_THROW(observer_quant_range(DType::Float32, {}, {}, false), Error);
  EXPECT_THROW(observer_quant_range(DType::Int8, -8, {}, false), Error);
  EXPECT_THROW(observer_quant_range(DType::Int8, {}, 7, false), Error);
  EXPECT_THROW(observer_quant_range(DType::Int8, -129, 127, false), Error);
  EXPECT_THROW(observer_quant_range(DType::UInt8, 0, 256, false), Error);
  EXPECT_THROW(observer_quant_range(DType::UInt8, -1, 255, false), Error);
  EXPECT_THROW(observer_quant_range(DType::Int8, 1, 7, false), Error);    // excludes 0
  EXPECT_THROW(observer_quant_range(DType::Int8, -7, -1, false), Error);  // excludes 0
  EXPECT_THROW(observer_quant_range(DType::Int8, 0, 0, false), Error);    // empty
}

QParams per_tensor(float lo, float hi, QScheme scheme, QuantRange range,
                   float eps = kDefaultObserverEps) {
  const float mn[1] = {lo};
  const float mx[1] = {hi};
  return calculate_qparams(mn, mx, scheme, range, eps);
}

TEST(CalculateQParams, AffineAndSymmetricBasics) {
  const QuantRange u8{DType::UInt8, 0, 255};
  QParams qp = per_tensor(-1.0f, 3.0f, QScheme::PerTensorAffine, u8);
  EXPECT_EQ(qp.scale[0], static_cast<double>(4.0f / 255.0f));
  EXPECT_EQ(qp.zero_point[0], 64);  // 0 - round(-1 / (4/255)) = round(63.75)
  // Symmetric int8: divisor 127.5, zero point 0.
  qp = per_tensor(-1.0f, 0.5f, QScheme::PerTensorSymmetric, {DType::Int8, -128, 127});
  EXPECT_EQ(qp.scale[0], static_cast<double>(1.0f / 127.5f));
  EXPECT_EQ(qp.zero_point[0], 0);
  // All zero: scale = eps.
  qp = per_tensor(0.0f, 0.0f, QScheme::PerTensorAffine, u8, 0x1p-12f);
  EXPECT_EQ(qp.scale[0], 0x1p-12);
  EXPECT_EQ(qp.zero_point[0], 0);
  // A constant c != 0 is the range [min(c, 0), max(c, 0)].
  EXPECT_EQ(per_tensor(2.0f, 2.0f, QScheme::PerTensorAffine, u8).scale,
            per_tensor(0.0f, 2.0f, QScheme::PerTensorAffine, u8).scale);
  // qint32 keeps eps for ordinary data.
  qp = per_tensor(-3.0f, 2.0f, QScheme::PerTensorAffine,
                  {DType::Int32, -2147483648LL, 2147483647LL});
  EXPECT_EQ(qp.scale[0], static_cast<double>(kDefaultObserverEps));
}

TEST(CalculateQParams, SymmetricUint8ZeroPointFollowsTorchsCustomizedRangeRule) {
  const float mn[1] = {-1.0f};
  const float mx[1] = {1.0f};
  const QuantRange full{DType::UInt8, 0, 255};
  EXPECT_EQ(calculate_qparams(mn, mx, QScheme::PerTensorSymmetric, full).zero_point[0], 128);
  // The same range given explicitly as a custom range: (0 + 255) // 2.
  EXPECT_EQ(
      calculate_qparams(mn, mx, QScheme::PerTensorSymmetric, full, kDefaultObserverEps, 0, true)
          .zero_point[0],
      127);
  EXPECT_EQ(
      calculate_qparams(mn, mx, QScheme::PerTensorSymmetric, {DType::UInt8, 0, 15}).zero_point[0],
      7);
}

TEST(CalculateQParams, PerChannelAndFloatQParams) {
  const std::vector<float> mn = {-1.0f, 0.0f, 0.5f};
  const std::vector<float> mx = {1.0f, 0.0f, 2.0f};
  const QParams qp = calculate_qparams(mn, mx, QScheme::PerChannelAffineFloatQParams,
                                       {DType::UInt8, 0, 255}, kDefaultObserverEps, 1);
  EXPECT_EQ(qp.axis, 1);
  EXPECT_TRUE(qp.zero_point.empty());
  ASSERT_EQ(qp.float_zero_point.size(), 3u);
  EXPECT_EQ(qp.scale[0], static_cast<double>(2.0f / 255.0f));
  EXPECT_EQ(qp.float_zero_point[0], 1.0f / (2.0f / 255.0f));
  EXPECT_EQ(qp.scale[1], 1.0);                        // (max - min) <= eps -> 1
  EXPECT_TRUE(std::signbit(qp.float_zero_point[1]));  // -0.0 / 1, as torch's -1 * min / scale
  EXPECT_EQ(qp.float_zero_point[2], -0.5f / (1.5f / 255.0f));
}

TEST(CalculateQParams, InvalidInputsAreRejected) {
  const QuantRange u8{DType::UInt8, 0, 255};
  const float one[1] = {1.0f};
  const float two[2] = {0.0f, 1.0f};
  const float nan[1] = {kNaN};
  const float inf[1] = {kInf};
  const float neg[1] = {-1.0f};
  EXPECT_THROW(calculate_qparams(one, neg, QScheme::PerTensorAffine, u8), Error);  // min > max
  EXPECT_THROW(calculate_qparams(nan, one, QScheme::PerTensorAffine, u8), Error);
  EXPECT_THROW(calculate_qparams(neg, inf, QScheme::PerTensorAffine, u8), Error);
  EXPECT_THROW(calculate_qparams(two, two, QScheme::PerTensorAffine, u8), Error);  // 2 channels
  EXPECT_THROW(calculate_qparams(two, one, QScheme::PerChannelAffine, u8), Error);
  EXPECT_THROW(calculate_qparams({}, {}, QScheme::PerChannelAffine, u8), Error);
  EXPECT_THROW(calculate_qparams(neg, one, QScheme::PerTensorAffine, u8, 0.0f), Error);
  EXPECT_THROW(calculate_qparams(neg, one, QScheme::PerTensorAffine, u8, kNaN), Error);
  EXPECT_THROW(calculate_qparams(neg, one, QScheme::PerTensorAffine, {DType::UInt8, 0, 256}),
               Error);
  EXPECT_THROW(calculate_qparams(neg, one, QScheme::PerTensorAffine, {DType::Int8, 5, 5}), Error);
  EXPECT_THROW(calculate_qparams(neg, one, QScheme::PerTensorAffine, {DType::Float32, 0, 1}),
               Error);
  // A range whose float32 scale overflows.
  const float huge_lo[1] = {-3e38f};
  const float huge_hi[1] = {3e38f};
  EXPECT_THROW(calculate_qparams(huge_lo, huge_hi, QScheme::PerTensorAffine, u8), Error);
}

TEST(ChooseQParamsDynamic, FormulaDetails) {
  // reduce_range uses C division: -128 / 2 = -64, 127 / 2 = 63.
  const DynamicQParams a = choose_qparams_dynamic(-1.0f, 1.0f, -128, 127, true);
  EXPECT_EQ(a.scale, 2.0 / 127);
  // All zero: scale 0 -> 0.1.
  const DynamicQParams z = choose_qparams_dynamic(0.0f, 0.0f, 0, 255, false);
  EXPECT_EQ(z.scale, 0.1);
  EXPECT_EQ(z.zero_point, 0);
  // The 6.1e-5 floor.
  const DynamicQParams tiny = choose_qparams_dynamic(0.0f, 1e-4f, 0, 255, false);
  EXPECT_EQ(tiny.scale, static_cast<double>(6.1e-5f));
  // Custom ranges work (e.g. int4 as -8..7).
  const DynamicQParams i4 = choose_qparams_dynamic(-1.0f, 2.0f, -8, 7, false);
  EXPECT_EQ(i4.scale, 3.0 / 15);
  EXPECT_EQ(i4.zero_point, -3);
}

TEST(ChooseQParamsDynamic, InvalidInputsAreRejected) {
  EXPECT_THROW(choose_qparams_dynamic(kNaN, 1.0f, 0, 255, false), Error);
  EXPECT_THROW(choose_qparams_dynamic(-kInf, 1.0f, 0, 255, false), Error);
  EXPECT_THROW(choose_qparams_dynamic(0.0f, kInf, 0, 255, false), Error);
  EXPECT_THROW(choose_qparams_dynamic(2.0f, 1.0f, 0, 255, false), Error);
  EXPECT_THROW(choose_qparams_dynamic(0.0f, 1.0f, 5, 5, false), Error);
  EXPECT_THROW(choose_qparams_dynamic(0.0f, 1.0f, 0, 1, true), Error);  // 0..0 after halving
  EXPECT_THROW(choose_qparams_dynamic(0.0f, 1.0f, -2147483648LL, 2147483647LL, false), Error);
  EXPECT_THROW(choose_qparams_dynamic(0.0f, 1.0f, 0, 1LL << 40, false), Error);

  const Tensor x = Tensor::from_vector(std::vector<float>{0.5f, -1.0f, 2.0f});
  EXPECT_THROW(choose_qparams_per_tensor_dynamic(x, DType::Int32, false), Error);
  EXPECT_THROW(choose_qparams_per_tensor_dynamic(x.to(DType::Float64), DType::UInt8, false), Error);
  EXPECT_THROW(
      choose_qparams_per_tensor_dynamic(Tensor::zeros({0}, DType::Float32), DType::UInt8, false),
      Error);
  EXPECT_THROW(quantize_per_tensor_dynamic(Tensor::zeros({0}, DType::Float32), DType::Int8, false),
               Error);
  const Tensor with_nan = Tensor::from_vector(std::vector<float>{0.5f, kNaN});
  EXPECT_THROW(choose_qparams_per_tensor_dynamic(with_nan, DType::UInt8, false), Error);
  EXPECT_THROW(quantize_per_tensor_dynamic(with_nan, DType::UInt8, false), Error);
  const Tensor with_inf = Tensor::from_vector(std::vector<float>{0.5f, -kInf});
  EXPECT_THROW(choose_qparams_per_tensor_dynamic(with_inf, DType::UInt8, false), Error);
}

TEST(ChooseQParamsPerRow, OneQParamsPerRowOfTheLastAxis) {
  // shape [2, 2, 3]: rows are the 4 runs of 3 along the last axis.
  const std::vector<float> v = {-1, 0, 1, 0, 2, 4, -3, -2, -1, 5, 5, 5};
  const Tensor x = Tensor::from_vector(v, Shape{2, 2, 3});
  const QuantRange u8{DType::UInt8, 0, 255};
  const QParams qp = choose_qparams_per_row_dynamic(x, u8);
  ASSERT_EQ(qp.scale.size(), 4u);
  ASSERT_EQ(qp.zero_point.size(), 4u);
  const float bounds[4][2] = {{-1, 1}, {0, 4}, {-3, -1}, {5, 5}};
  for (int r = 0; r < 4; ++r) {
    const DynamicQParams expected =
        choose_qparams_dynamic(bounds[r][0], bounds[r][1], 0, 255, false);
    EXPECT_EQ(qp.scale[r], expected.scale) << r;
    EXPECT_EQ(qp.zero_point[r], expected.zero_point) << r;
  }
  // No rows: empty qparams. Empty rows: an error.
  EXPECT_TRUE(
      choose_qparams_per_row_dynamic(Tensor::zeros({0, 4}, DType::Float32), u8).scale.empty());
  EXPECT_THROW(choose_qparams_per_row_dynamic(Tensor::zeros({3, 0}, DType::Float32), u8), Error);
  EXPECT_THROW(choose_qparams_per_row_dynamic(Tensor::scalar(1.0f), u8), Error);
  EXPECT_THROW(choose_qparams_per_row_dynamic(x.to(DType::Float64), u8), Error);
  EXPECT_THROW(choose_qparams_per_row_dynamic(x, QuantRange{DType::UInt8, 0, 300}), Error);
  std::vector<float> bad = v;
  bad[7] = kNaN;
  EXPECT_THROW(choose_qparams_per_row_dynamic(Tensor::from_vector(bad, Shape{4, 3}), u8), Error);
}

}  // namespace
}  // namespace quantkit
