// Unit tests of quantkit/quant/affine.h and qparams.h beyond the golden data: argument
// validation, non-finite semantics, empty tensors, sub-ranges, int16, per-group, the two
// per-channel execution paths, `_into` variants, and that inputs are never modified.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/quant/affine.h"
#include "quantkit/quant/qparams.h"

namespace quantkit {
namespace {

using ::testing::HasSubstr;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Expects `fn` to throw quantkit::Error whose message contains every fragment.
template <class Fn>
void expect_error(Fn&& fn, std::initializer_list<std::string> fragments) {
  try {
    fn();
    ADD_FAILURE() << "no quantkit::Error thrown; expected one mentioning " << *fragments.begin();
  } catch (const Error& e) {
    for (const auto& f : fragments) EXPECT_THAT(e.what(), HasSubstr(f));
  }
}

Tensor random_floats(Shape shape, float lo, float hi, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)));
  for (auto& x : v) x = dist(rng);
  return Tensor::from_vector(v, shape);
}

// torch's quantize formula, restated on one element (independent of the kernels).
std::int64_t torch_quantize(float x, double scale, std::int64_t zp, std::int64_t qmin,
                            std::int64_t qmax) {
  const float inv = 1.0f / static_cast<float>(scale);
  const auto q = static_cast<std::int64_t>(static_cast<float>(zp) + std::nearbyint(x * inv));
  return std::min(std::max(q, qmin), qmax);
}

const QuantRange kUInt8 = QuantRange::full(DType::UInt8);

// ---------------------------------------------------------------- qparams

TEST(QParams, SchemeNamesRoundTrip) {
  for (QScheme s : {QScheme::PerTensorAffine, QScheme::PerTensorSymmetric,
                    QScheme::PerChannelAffine, QScheme::PerChannelSymmetric,
                    QScheme::PerChannelAffineFloatQParams}) {
    EXPECT_EQ(qscheme_from_name(qscheme_name(s)), s);
  }
  EXPECT_EQ(qscheme_name(QScheme::PerTensorAffine), "per_tensor_affine");
  EXPECT_EQ(qscheme_from_name("torch.per_channel_symmetric"), QScheme::PerChannelSymmetric);
  EXPECT_TRUE(is_per_channel(QScheme::PerChannelAffineFloatQParams));
  EXPECT_FALSE(is_per_channel(QScheme::PerTensorSymmetric));
  EXPECT_TRUE(is_symmetric(QScheme::PerChannelSymmetric));
  EXPECT_FALSE(is_symmetric(QScheme::PerChannelAffine));
  expect_error([] { qscheme_from_name("per_tensor", "scheme"); }, {"'scheme'", "per_tensor"});
}

TEST(QParams, QuantRange) {
  const QuantRange r = QuantRange::full(DType::Int32);
  EXPECT_EQ(r.quant_min, std::numeric_limits<std::int32_t>::min());
  EXPECT_EQ(r.quant_max, std::numeric_limits<std::int32_t>::max());
  EXPECT_EQ(QuantRange::full(DType::Int16).quant_min, -32768);
  EXPECT_EQ(QuantRange::of(DType::Int8, -8, 7).quant_max, 7);
  expect_error([] { QuantRange::full(DType::Float32); }, {"'dtype'", "float32"});
  expect_error([] { QuantRange::full(DType::Int64); }, {"'dtype'", "int64"});
  expect_error([] { QuantRange::of(DType::UInt8, 0, 256); }, {"'quant_max'", "256"});
  expect_error([] { QuantRange::of(DType::Int8, -129, 0); }, {"'quant_min'", "-129"});
  expect_error([] { QuantRange::of(DType::Int8, 5, 4); }, {"'quant_max'", ">= quant_min"});
  expect_error([] { QuantRange{DType::UInt8, 0, 300}.validate("my_op"); }, {"my_op", "300"});
}

// ---------------------------------------------------------------- validation

TEST(AffineValidation, Scales) {
  const Tensor x = Tensor::from_vector<float>({1.0f, 2.0f});
  for (double bad : {0.0, -1.0, std::nan(""), static_cast<double>(kInf), 1e-50, 1e39}) {
    expect_error([&] { quantize_per_tensor(x, bad, 0, kUInt8); },
                 {"quantize_per_tensor", "'scale'"});
    expect_error([&] { fake_quantize_per_tensor(x, bad, 0, 0, 255); }, {"'scale'"});
    expect_error([&] { dequantize_per_tensor(Tensor::zeros({2}, DType::UInt8), bad, 0); },
                 {"dequantize_per_tensor", "'scale'"});
    const std::vector<double> scales = {1.0, bad};
    const std::vector<std::int64_t> zps = {0, 0};
    expect_error([&] { quantize_per_channel(x, scales, zps, 0, kUInt8); }, {"'scales[1]'"});
  }
}

TEST(AffineValidation, ZeroPointsAndRanges) {
  const Tensor x = Tensor::from_vector<float>({1.0f, 2.0f});
  expect_error([&] { quantize_per_tensor(x, 0.1, 256, kUInt8); }, {"'zero_point'", "256"});
  expect_error([&] { quantize_per_tensor(x, 0.1, -1, kUInt8); }, {"'zero_point'", "[0, 255]"});
  // A sub-range: the zero point must lie inside it.
  expect_error([&] { quantize_per_tensor(x, 0.1, 8, QuantRange{DType::Int8, -8, 7}); },
               {"'zero_point'", "[-8, 7]"});
  expect_error([&] { quantize_per_tensor(x, 0.1, 0, QuantRange{DType::UInt8, 10, 5}); },
               {"'quant_max'"});
  expect_error([&] { quantize_per_tensor(x, 0.1, 0, QuantRange{DType::Float32, 0, 5}); },
               {"'dtype'"});
  expect_error([&] { fake_quantize_per_tensor(x, 0.1, 0, 5, 4); }, {"'quant_max'"});
  expect_error([&] { fake_quantize_per_tensor(x, 0.1, 10, 0, 4); }, {"'zero_point'"});
  expect_error([&] { fake_quantize_per_tensor(x, 0.1, 0, 0, std::int64_t{1} << 31); },
               {"'quant_max'", "int32"});
  expect_error([&] { dequantize_per_tensor(Tensor::zeros({2}, DType::Int8), 0.1, 128); },
               {"'zero_point'", "[-128, 127]"});
  const std::vector<double> scales = {1.0, 1.0};
  expect_error(
      [&] { quantize_per_channel(x, scales, std::vector<std::int64_t>{0, 300}, 0, kUInt8); },
      {"'zero_points[1]'", "300"});
  expect_error(
      [&] { fake_quantize_per_channel_float_zp(x, scales, std::vector<float>{0.0f, kNaN}, 0, 0, 255); },
      {"'zero_points[1]'"});
}

TEST(AffineValidation, DTypesAndShapes) {
  const Tensor x = Tensor::from_vector<float>({1.0f, 2.0f, 3.0f, 4.0f}, {2, 2});
  const Tensor q8 = Tensor::zeros({2, 2}, DType::UInt8);
  expect_error([&] { quantize_per_tensor(q8, 0.1, 0, kUInt8); }, {"'x'", "uint8", "float32"});
  expect_error([&] { dequantize_per_tensor(x, 0.1, 0); }, {"'q'", "float32"});
  expect_error([&] { dequantize_per_tensor(Tensor::zeros({2}, DType::Int64), 0.1, 0); },
               {"'q'", "int64"});
  expect_error([&] { fake_quantize_per_tensor(q8, 0.1, 0, 0, 255); }, {"'x'"});
  expect_error(
      [&] { fake_quantize_per_tensor_backward(Tensor::zeros({4}, DType::Float32), x, 0.1, 0, 0, 255); },
      {"'dy'", "[4]", "[2, 2]"});
  expect_error(
      [&] { fake_quantize_per_tensor_backward(Tensor::zeros({2, 2}, DType::Float64), x, 0.1, 0, 0, 255); },
      {"'dy'", "float64"});

  // _into: wrong dtype or shape of out.
  Tensor wrong_dtype = Tensor::zeros({2, 2}, DType::Int8);
  expect_error([&] { quantize_per_tensor_into(x, 0.1, 0, kUInt8, wrong_dtype); },
               {"'out'", "int8", "uint8"});
  Tensor wrong_shape = Tensor::zeros({4}, DType::UInt8);
  expect_error([&] { quantize_per_tensor_into(x, 0.1, 0, kUInt8, wrong_shape); },
               {"'out'", "[4]", "[2, 2]"});
  Tensor wrong_float = Tensor::zeros({2, 2}, DType::Float64);
  expect_error([&] { dequantize_per_tensor_into(q8, 0.1, 0, wrong_float); }, {"'out'"});
  expect_error([&] { fake_quantize_per_tensor_into(x, 0.1, 0, 0, 255, wrong_float); }, {"'out'"});
  std::vector<double> s2 = {1.0, 1.0};
  std::vector<std::int64_t> z2 = {0, 0};
  expect_error([&] { quantize_per_channel_into(x, s2, z2, 0, kUInt8, wrong_shape); }, {"'out'"});
  expect_error([&] { dequantize_per_channel_into(q8, s2, z2, 0, wrong_float); }, {"'out'"});
  expect_error([&] { fake_quantize_per_channel_into(x, s2, z2, 0, 0, 255, wrong_float); },
               {"'out'"});
}

TEST(AffineValidation, PerChannelAxisAndCounts) {
  const Tensor x = random_floats({2, 3, 4}, -1, 1, 1);
  const std::vector<double> s3 = {0.1, 0.2, 0.3};
  const std::vector<std::int64_t> z3 = {0, 1, 2};
  expect_error([&] { quantize_per_channel(x, s3, z3, 3, kUInt8); }, {"'axis'", "3", "[-3, 3)"});
  expect_error([&] { quantize_per_channel(x, s3, z3, -4, kUInt8); }, {"'axis'", "-4"});
  expect_error([&] { quantize_per_channel(x, s3, z3, 0, kUInt8); },
               {"'scales'", "3 values", "2 (the size of the channel axis)"});
  expect_error(
      [&] { quantize_per_channel(x, s3, std::vector<std::int64_t>{0, 1}, 1, kUInt8); },
      {"'zero_points'", "2 values"});
  expect_error([&] { dequantize_per_channel(Tensor::zeros({2, 3, 4}, DType::Int8), s3, z3, 2); },
               {"dequantize_per_channel", "'scales'"});
  expect_error([&] { fake_quantize_per_channel(x, s3, z3, 7, 0, 255); }, {"'axis'"});
  expect_error([&] { quantize_per_channel(Tensor::scalar(1.0f), s3, z3, 0, kUInt8); },
               {"'x'", "0-d"});
  // Negative axes count from the end, so these are the same.
  EXPECT_TRUE(bitwise_equal(quantize_per_channel(x, s3, z3, 1, kUInt8),
                            quantize_per_channel(x, s3, z3, -2, kUInt8)));
}

TEST(AffineValidation, PerGroup) {
  const Tensor x = random_floats({2, 8}, -1, 1, 2);
  const Tensor scales = Tensor::from_vector<float>({0.1f, 0.1f, 0.2f, 0.2f}, {2, 2});
  const Tensor zps = Tensor::zeros({2, 2}, DType::Int32);
  const QuantRange r = QuantRange::full(DType::Int8);
  expect_error([&] { quantize_per_group(x, scales, zps, 3, r); },
               {"'group_size'", "3", "divisor of the last dimension (8)"});
  expect_error([&] { quantize_per_group(x, scales, zps, 0, r); }, {"'group_size'", "> 0"});
  expect_error([&] { quantize_per_group(x, scales, zps, 2, r); }, {"'scales'", "[2, 4]"});
  expect_error([&] { quantize_per_group(x, scales.to(DType::Float64), zps, 4, r); },
               {"'scales'", "float64"});
  expect_error([&] { quantize_per_group(x, scales, zps.to(DType::Float32), 4, r); },
               {"'zero_points'", "float32"});
  expect_error([&] { quantize_per_group(x, scales, Tensor::zeros({4}, DType::Int64), 4, r); },
               {"'zero_points'", "[4]"});
  const Tensor bad_scales = Tensor::from_vector<float>({0.1f, 0.1f, -0.2f, 0.2f}, {2, 2});
  expect_error([&] { quantize_per_group(x, bad_scales, zps, 4, r); }, {"'scales[2]'"});
  const Tensor bad_zps = Tensor::from_vector<std::int64_t>({0, 0, 0, 200}, {2, 2});
  expect_error([&] { quantize_per_group(x, scales, bad_zps, 4, r); }, {"'zero_points[3]'"});
  expect_error([&] { dequantize_per_group(x, scales, zps, 4); }, {"'q'"});
  expect_error([&] { fake_quantize_per_group(x, scales, zps, 4, 10, 0); }, {"'quant_max'"});
}

// ---------------------------------------------------------------- semantics

TEST(AffineSemantics, NonFiniteInputs) {
  const Tensor x = Tensor::from_vector<float>({kInf, -kInf, kNaN, 1e30f, -1e30f});
  const std::vector<std::int64_t> expected_u8 = {255, 0, 0, 255, 0};
  const Tensor q = quantize_per_tensor(x, 0.5, 3, kUInt8);
  EXPECT_EQ(q.to(DType::Int64).to_vector<std::int64_t>(), expected_u8);
  const Tensor q32 = quantize_per_tensor(x, 0.5, 3, QuantRange::full(DType::Int32));
  EXPECT_EQ(q32.to_vector<std::int32_t>(),
            (std::vector<std::int32_t>{std::numeric_limits<std::int32_t>::max(),
                                       std::numeric_limits<std::int32_t>::min(),
                                       std::numeric_limits<std::int32_t>::min(),
                                       std::numeric_limits<std::int32_t>::max(),
                                       std::numeric_limits<std::int32_t>::min()}));
  // Fake quantize: +inf -> qmax, -inf and NaN -> qmin, and the STE mask is false for all.
  const Tensor y = fake_quantize_per_tensor(x, 0.5, 3, 0, 15);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{6.0f, -1.5f, -1.5f, 6.0f, -1.5f}));
  const Tensor dy = Tensor::from_vector<float>({1, 1, 1, 1, 1});
  const Tensor dx = fake_quantize_per_tensor_backward(dy, x, 0.5, 3, 0, 15);
  EXPECT_EQ(dx.to_vector<float>(), (std::vector<float>{0, 0, 0, 0, 0}));
  const std::vector<double> s = {0.5};
  const std::vector<std::int64_t> z = {3};
  const Tensor x2 = x.reshape({5, 1});
  EXPECT_EQ(fake_quantize_per_channel(x2, s, z, 1, 0, 15).to_vector<float>(), y.to_vector<float>());
  EXPECT_EQ(fake_quantize_per_channel_backward(dy.reshape({5, 1}), x2, s, z, 1, 0, 15)
                .to_vector<float>(),
            dx.to_vector<float>());
  const std::vector<float> fz = {3.0f};
  EXPECT_EQ(fake_quantize_per_channel_float_zp(x2, s, fz, 1, 0, 15).to_vector<float>(),
            y.to_vector<float>());
}

TEST(AffineSemantics, MaskOnUnclampedValueAndSignedZeroGradient) {
  const Tensor x = Tensor::from_vector<float>({7.5f, 7.6f, -0.5f, -0.6f});  // scale 1, [0, 7]
  const Tensor dy = Tensor::from_vector<float>({-2.0f, -2.0f, -2.0f, -2.0f});
  const Tensor dx = fake_quantize_per_tensor_backward(dy, x, 1.0, 0, 0, 7);
  // 7.5 rounds to 8 (half to even): outside, masked. -0.5 rounds to -0: inside.
  const auto v = dx.to_vector<float>();
  EXPECT_EQ(v[0], 0.0f);
  EXPECT_TRUE(std::signbit(v[0])) << "a masked negative dy gives -0.0";
  EXPECT_EQ(v[1], 0.0f);
  EXPECT_EQ(v[2], -2.0f);
  EXPECT_TRUE(std::signbit(v[3]));
}

TEST(AffineSemantics, EmptyTensors) {
  for (const Shape& shape : {Shape{0}, Shape{3, 0}, Shape{0, 4}, Shape{2, 0, 5}}) {
    const Tensor x = Tensor::empty(shape, DType::Float32);
    const Tensor q = quantize_per_tensor(x, 0.1, 0, kUInt8);
    EXPECT_EQ(q.shape(), shape);
    EXPECT_EQ(q.dtype(), DType::UInt8);
    EXPECT_EQ(dequantize_per_tensor(q, 0.1, 0).shape(), shape);
    EXPECT_EQ(fake_quantize_per_tensor(x, 0.1, 0, 0, 255).shape(), shape);
    EXPECT_EQ(fake_quantize_per_tensor_backward(x, x, 0.1, 0, 0, 255).shape(), shape);
    const auto channels = static_cast<std::size_t>(shape[0]);
    const std::vector<double> s(channels, 0.1);
    const std::vector<std::int64_t> z(channels, 0);
    EXPECT_EQ(quantize_per_channel(x, s, z, 0, kUInt8).shape(), shape);
    EXPECT_EQ(dequantize_per_channel(q, s, z, 0).shape(), shape);
    EXPECT_EQ(fake_quantize_per_channel(x, s, z, 0, 0, 255).shape(), shape);
  }
  // Per group with an empty last dimension and with no rows.
  const Tensor x = Tensor::empty({3, 0}, DType::Float32);
  const Tensor q = quantize_per_group(x, Tensor::empty({3, 0}, DType::Float32),
                                      Tensor::empty({3, 0}, DType::Int32), 4, kUInt8);
  EXPECT_EQ(q.shape(), (Shape{3, 0}));
  const Tensor x0 = Tensor::empty({0, 8}, DType::Float32);
  EXPECT_EQ(fake_quantize_per_group(x0, Tensor::empty({0, 2}, DType::Float32),
                                    Tensor::empty({0, 2}, DType::Int64), 4, 0, 255)
                .shape(),
            (Shape{0, 8}));
}

TEST(AffineSemantics, SubRangesAndInt16) {
  const Tensor x = random_floats({257}, -3, 3, 3);
  const auto xs = x.to_vector<float>();
  struct Case {
    QuantRange range;
    std::int64_t zp;
  };
  for (const Case& c : {Case{QuantRange::of(DType::Int8, -8, 7), -1},      // int4
                        Case{QuantRange::of(DType::UInt8, 0, 15), 8},      // uint4
                        Case{QuantRange::full(DType::Int16), 1000},
                        Case{QuantRange::of(DType::Int16, -512, 511), 0},
                        Case{QuantRange::of(DType::Int32, -100, 100000), 7}}) {
    const double scale = 0.37;
    const Tensor q = quantize_per_tensor(x, scale, c.zp, c.range);
    ASSERT_EQ(q.dtype(), c.range.dtype);
    const auto codes = q.to(DType::Int64).to_vector<std::int64_t>();
    for (std::size_t i = 0; i < xs.size(); ++i) {
      ASSERT_EQ(codes[i], torch_quantize(xs[i], scale, c.zp, c.range.quant_min, c.range.quant_max))
          << "element " << i;
    }
    const auto dq = dequantize_per_tensor(q, scale, c.zp).to_vector<float>();
    const auto fq =
        fake_quantize_per_tensor(x, scale, c.zp, c.range.quant_min, c.range.quant_max)
            .to_vector<float>();
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const float expected = static_cast<float>(scale) * static_cast<float>(codes[i] - c.zp);
      EXPECT_EQ(dq[i], expected);
      EXPECT_EQ(fq[i], expected) << "fake quantize equals quantize + dequantize here";
    }
  }
}

// Per channel goes through two kernels (contiguous channel runs, or parameters cycling across
// channels when the inner size is small); both must give torch's per-element formula.
TEST(AffineSemantics, PerChannelLayouts) {
  for (const Shape& shape : {Shape{3, 200}, Shape{200, 3}, Shape{4, 5, 7}, Shape{2, 6, 70},
                             Shape{1000, 2}, Shape{5, 1}, Shape{17}}) {
    for (std::int64_t axis = 0; axis < static_cast<std::int64_t>(shape.size()); ++axis) {
      const Tensor x = random_floats(shape, -4, 4, static_cast<std::uint32_t>(axis + shape[0]));
      const std::int64_t channels = shape[static_cast<std::size_t>(axis)];
      std::vector<double> scales;
      std::vector<std::int64_t> zps;
      std::vector<float> fzps;
      for (std::int64_t c = 0; c < channels; ++c) {
        scales.push_back(0.01 + 0.013 * static_cast<double>(c % 11));
        zps.push_back(-20 + 7 * (c % 6));
        fzps.push_back(static_cast<float>(zps.back()) + 0.25f);
      }
      std::int64_t inner = 1;
      for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
      const QuantRange r = QuantRange::full(DType::Int8);
      const auto xs = x.to_vector<float>();
      const auto q = quantize_per_channel(x, scales, zps, axis, r).to_vector<std::int8_t>();
      const auto dq =
          dequantize_per_channel(quantize_per_channel(x, scales, zps, axis, r), scales, zps, axis)
              .to_vector<float>();
      const auto fq = fake_quantize_per_channel(x, scales, zps, axis, -128, 127).to_vector<float>();
      const auto ffq =
          fake_quantize_per_channel_float_zp(x, scales, fzps, axis, -128, 127).to_vector<float>();
      for (std::size_t i = 0; i < xs.size(); ++i) {
        const auto c = static_cast<std::size_t>((static_cast<std::int64_t>(i) / inner) % channels);
        const std::int64_t e = torch_quantize(xs[i], scales[c], zps[c], -128, 127);
        ASSERT_EQ(q[i], e) << shape_to_string(shape) << " axis " << axis << " element " << i;
        const float centered = static_cast<float>(e) - static_cast<float>(zps[c]);
        ASSERT_EQ(dq[i], static_cast<float>(static_cast<double>(centered) * scales[c]));
        const float s = static_cast<float>(scales[c]);
        ASSERT_EQ(fq[i], static_cast<float>(static_cast<double>(e - zps[c]) * s));
        const float fqv = std::nearbyint(std::fma(xs[i], 1.0f / s, fzps[c]));
        const double clamped = std::min(std::max(static_cast<double>(fqv), -128.0), 127.0);
        ASSERT_EQ(ffq[i], static_cast<float>((clamped - fzps[c]) * static_cast<double>(s)));
      }
    }
  }
}

TEST(AffineSemantics, PerChannelInt32RangeFakeQuantize) {
  // Ranges beyond 2^24 use the exact double path per channel run.
  const Tensor x = Tensor::from_vector<float>({1e9f, -1e9f, 3.0f, 1e30f}, {4, 1});
  const std::vector<double> s = {1e-3};
  const std::vector<std::int64_t> z = {123456789};
  const auto lo = std::numeric_limits<std::int32_t>::min();
  const auto hi = std::numeric_limits<std::int32_t>::max();
  const auto y = fake_quantize_per_channel(x, s, z, 1, lo, hi).to_vector<float>();
  const auto yt = fake_quantize_per_tensor(x.reshape({4}), 1e-3, 123456789, lo, hi).to_vector<float>();
  EXPECT_EQ(y, yt);
  const float sf = 1e-3f;
  EXPECT_EQ(y[3], static_cast<float>((static_cast<double>(hi) - 123456789.0) * static_cast<double>(sf)));
}

TEST(AffineSemantics, PerGroupMatchesPerTensorPerGroupAndRoundTrips) {
  const Shape shape{3, 64};
  const std::int64_t group = 16;
  const Tensor x = random_floats(shape, -2, 2, 9);
  std::vector<float> sv;
  std::vector<std::int8_t> zv;
  for (int i = 0; i < 12; ++i) {
    sv.push_back(0.01f * static_cast<float>(i + 1));
    zv.push_back(static_cast<std::int8_t>(i - 6));
  }
  const Tensor scales = Tensor::from_vector(sv, {3, 4});
  const Tensor zps = Tensor::from_vector(zv, {3, 4});  // int8 zero points are accepted
  const QuantRange r = QuantRange::of(DType::Int8, -8, 7);
  const Tensor q = quantize_per_group(x, scales, zps, group, r);
  const Tensor dq = dequantize_per_group(q, scales, zps, group);
  const Tensor fq = fake_quantize_per_group(x, scales, zps.to(DType::Int64), group, -8, 7);
  const auto xs = x.to_vector<float>();
  for (std::size_t g = 0; g < 12; ++g) {
    const Tensor xg = Tensor::from_vector(
        std::vector<float>(xs.begin() + static_cast<std::ptrdiff_t>(g * group),
                           xs.begin() + static_cast<std::ptrdiff_t>((g + 1) * group)));
    const Tensor qg = quantize_per_tensor(xg, sv[g], zv[g], r);
    const auto qall = q.to_vector<std::int8_t>();
    const auto qgv = qg.to_vector<std::int8_t>();
    EXPECT_TRUE(std::equal(qgv.begin(), qgv.end(), qall.begin() + static_cast<std::ptrdiff_t>(g * group)));
    const auto dqg = dequantize_per_tensor(qg, sv[g], zv[g]).to_vector<float>();
    const auto dqall = dq.to_vector<float>();
    const auto fqall = fq.to_vector<float>();
    for (std::size_t i = 0; i < dqg.size(); ++i) {
      EXPECT_EQ(dqall[g * group + i], dqg[i]);
      EXPECT_EQ(fqall[g * group + i], dqg[i]);
      // Round trip: inside the representable range the error is at most half a step.
      const float xv = xs[g * group + i];
      const float lo = sv[g] * static_cast<float>(-8 - zv[g]);
      const float hi = sv[g] * static_cast<float>(7 - zv[g]);
      if (xv > lo && xv < hi) {
        EXPECT_LE(std::fabs(dqg[i] - xv), sv[g] * 0.5f + 1e-6f);
      }
    }
  }
}

TEST(AffineSemantics, IntoVariantsMatchAndInputsAreUntouched) {
  const Tensor x = random_floats({8, 33}, -3, 3, 11);
  const Tensor x_copy = x.clone();
  const std::vector<double> s(8, 0.05);
  const std::vector<std::int64_t> z = {0, 1, 2, 3, 4, 5, 6, 7};
  const QuantRange r = QuantRange::full(DType::UInt8);

  Tensor q = Tensor::zeros({8, 33}, DType::UInt8);
  quantize_per_tensor_into(x, 0.05, 3, r, q);
  EXPECT_TRUE(bitwise_equal(q, quantize_per_tensor(x, 0.05, 3, r)));
  const Tensor q_copy = q.clone();
  Tensor y = Tensor::zeros({8, 33}, DType::Float32);
  dequantize_per_tensor_into(q, 0.05, 3, y);
  EXPECT_TRUE(bitwise_equal(y, dequantize_per_tensor(q, 0.05, 3)));
  fake_quantize_per_tensor_into(x, 0.05, 3, 0, 255, y);
  EXPECT_TRUE(bitwise_equal(y, fake_quantize_per_tensor(x, 0.05, 3, 0, 255)));

  quantize_per_channel_into(x, s, z, 0, r, q);
  EXPECT_TRUE(bitwise_equal(q, quantize_per_channel(x, s, z, 0, r)));
  dequantize_per_channel_into(q, s, z, 0, y);
  EXPECT_TRUE(bitwise_equal(y, dequantize_per_channel(q, s, z, 0)));
  fake_quantize_per_channel_into(x, s, z, 0, 0, 255, y);
  EXPECT_TRUE(bitwise_equal(y, fake_quantize_per_channel(x, s, z, 0, 0, 255)));

  // Every call above read x (and q) without writing to them.
  const Tensor dy = random_floats({8, 33}, -1, 1, 12);
  const Tensor dy_copy = dy.clone();
  fake_quantize_per_tensor_backward(dy, x, 0.05, 3, 0, 255);
  fake_quantize_per_channel_backward(dy, x, s, z, 0, 0, 255);
  EXPECT_TRUE(bitwise_equal(x, x_copy));
  EXPECT_TRUE(bitwise_equal(dy, dy_copy));
  const Tensor q2 = quantize_per_channel(x, s, z, 0, r);
  const Tensor q2_copy = q2.clone();
  dequantize_per_channel(q2, s, z, 0);
  dequantize_per_tensor(q2, 0.05, 3);
  EXPECT_TRUE(bitwise_equal(q2, q2_copy));
}

}  // namespace
}  // namespace quantkit
