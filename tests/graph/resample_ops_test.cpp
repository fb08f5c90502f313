// conv_transpose2d and resize: the reference kernels on hand-computed values (ONNX's
// semantics: ConvTranspose's pads / output_padding / groups / dilations, Resize's nearest
// roundings and coordinate transformations, bilinear), and type inference's refusals.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "graph/graph_test_util.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/interpreter.h"

namespace quantkit::graph {
namespace {

using Ints = std::vector<std::int64_t>;
using testing::all_close;
using ::testing::HasSubstr;

Tensor floats(std::vector<float> v, Shape shape) { return Tensor::from_vector(v, std::move(shape)); }

AttributeMap transpose_attrs(Ints stride, Ints pads, Ints output_padding, Ints dilation,
                             std::int64_t groups) {
  return {{"stride", stride},
          {"pads", pads},
          {"output_padding", output_padding},
          {"dilation", dilation},
          {"groups", groups}};
}

Tensor run_conv_transpose(const Tensor& x, const Tensor& w, const Tensor* bias, AttributeMap attrs) {
  GraphBuilder b;
  std::vector<Value*> in{b.input("x", DType::Float32, x.shape()), b.parameter("w", w)};
  if (bias) in.push_back(b.parameter("b", *bias));
  b.output(b.node(OpKind::ConvTranspose2d, in, std::move(attrs))->output());
  return run_graph(std::move(b).build(), {x})[0];
}

TEST(ConvTranspose2d, StrideScattersTheKernelAndPadsCropTheFullOutput) {
  // x = [1, 2], w = [1, 10, 100], stride 2: x0·w at 0..2 and x1·w at 2..4 of a length-5 output.
  const Tensor x = floats({1, 2}, {1, 1, 1, 2});
  const Tensor w = floats({1, 10, 100}, {1, 1, 1, 3});
  EXPECT_TRUE(all_close(run_conv_transpose(x, w, nullptr, transpose_attrs({1, 2}, {0, 0, 0, 0}, {0, 0}, {1, 1}, 1)),
                        floats({1, 10, 102, 20, 200}, {1, 1, 1, 5})));
  // Left pad 1 crops the first element; output_padding 1 adds a last one that only the bias reaches.
  const Tensor bias = floats({0.5f}, {1});
  EXPECT_TRUE(all_close(run_conv_transpose(x, w, &bias, transpose_attrs({1, 2}, {0, 1, 0, 0}, {0, 1}, {1, 1}, 1)),
                        floats({10.5f, 102.5f, 20.5f, 200.5f, 0.5f}, {1, 1, 1, 5})));
}

TEST(ConvTranspose2d, DilationSpreadsTheKernel) {
  // w = [1, 10] with dilation 2: x0 lands at 0 and 2, x1 = 2 at 1 and 3.
  const Tensor x = floats({1, 2}, {1, 1, 1, 2});
  const Tensor w = floats({1, 10}, {1, 1, 1, 2});
  EXPECT_TRUE(all_close(run_conv_transpose(x, w, nullptr, transpose_attrs({1, 1}, {0, 0, 0, 0}, {0, 0}, {1, 2}, 1)),
                        floats({1, 2, 10, 20}, {1, 1, 1, 4})));
}

TEST(ConvTranspose2d, GroupsKeepChannelsApartWithWeightLayoutInputFirst) {
  // Weight [C_in = 2, C_out / groups = 2, 1, 1], groups 2: input channel c feeds outputs 2c, 2c + 1.
  const Tensor x = floats({1, 2}, {1, 2, 1, 1});
  const Tensor w = floats({3, 5, 7, 11}, {2, 2, 1, 1});
  EXPECT_TRUE(all_close(run_conv_transpose(x, w, nullptr, transpose_attrs({1, 1}, {0, 0, 0, 0}, {0, 0}, {1, 1}, 2)),
                        floats({3, 5, 14, 22}, {1, 4, 1, 1})));
  // Without groups every input channel feeds both outputs: [1·3 + 2·7, 1·5 + 2·11].
  EXPECT_TRUE(all_close(run_conv_transpose(x, w, nullptr, transpose_attrs({1, 1}, {0, 0, 0, 0}, {0, 0}, {1, 1}, 1)),
                        floats({17, 27}, {1, 2, 1, 1})));
}

TEST(ConvTranspose2d, OnnxBackendCaseWithAsymmetricStridesAndPads) {
  // ONNX's test_convtranspose_pads: x 0..8 (3x3), W ones [1, 2, 3, 3], strides [3, 2], pads [1, 2, 1, 2].
  std::vector<float> xv(9);
  for (int i = 0; i < 9; ++i) xv[static_cast<std::size_t>(i)] = static_cast<float>(i);
  const Tensor y = run_conv_transpose(floats(xv, {1, 1, 3, 3}), floats(std::vector<float>(18, 1.0f), {1, 2, 3, 3}),
                                      nullptr, transpose_attrs({3, 2}, {1, 2, 1, 2}, {0, 0}, {1, 1}, 1));
  const std::vector<float> plane{1, 1, 3, 1, 1, 3, 7, 4, 9, 7, 4, 9, 7, 4, 9, 13, 7, 15, 13, 7, 15};
  std::vector<float> expected = plane;
  expected.insert(expected.end(), plane.begin(), plane.end());
  EXPECT_TRUE(all_close(y, floats(expected, {1, 2, 7, 3})));
}

TEST(ConvTranspose2d, InferenceRefusesMismatchesNamingThem) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 2, 3, 3});
  Value* w3 = b.parameter("w3", Tensor::zeros({3, 1, 2, 2}, DType::Float32));
  Value* w2 = b.parameter("w2", Tensor::zeros({2, 1, 2, 2}, DType::Float32));
  EXPECT_THAT([&] { b.node(OpKind::ConvTranspose2d, {x, w3}, transpose_attrs({1, 1}, {0, 0, 0, 0}, {0, 0}, {1, 1}, 1)); },
              ::testing::ThrowsMessage<Error>(HasSubstr("expects 3 input channels")));
  EXPECT_THAT([&] { b.node(OpKind::ConvTranspose2d, {x, w2}, transpose_attrs({2, 2}, {0, 0, 0, 0}, {2, 0}, {1, 1}, 1)); },
              ::testing::ThrowsMessage<Error>(HasSubstr("'output_padding' entry 2 must be smaller")));
  EXPECT_THAT([&] { b.node(OpKind::ConvTranspose2d, {x, w2}, transpose_attrs({1, 1}, {2, 2, 2, 2}, {0, 0}, {1, 1}, 1)); },
              ::testing::ThrowsMessage<Error>(HasSubstr("leave no output")));
}

Tensor run_resize(const Tensor& x, const std::string& mode, const std::string& transform,
                  const std::string& nearest, std::vector<double> scales, Ints size) {
  GraphBuilder b;
  Value* in = b.input("x", x.dtype(), x.shape());
  b.output(b.node(OpKind::Resize, {in},
                  {{"mode", mode},
                   {"coordinate_transformation_mode", transform},
                   {"nearest_mode", nearest},
                   {"scales", scales},
                   {"output_size", size}})
               ->output());
  return run_graph(std::move(b).build(), {x})[0];
}

TEST(Resize, NearestAsymmetricFloorRepeatsPixelsAnyDtype) {
  // torch's nn.Upsample(scale_factor=2, mode='nearest') export.
  const Tensor x = Tensor::from_vector(std::vector<std::int8_t>{1, 2, -3, 4}, {1, 1, 2, 2});
  const Tensor y = run_resize(x, "nearest", "asymmetric", "floor", {2.0, 2.0}, {4, 4});
  const std::vector<std::int8_t> expected{1, 1, 2, 2, 1, 1, 2, 2, -3, -3, 4, 4, -3, -3, 4, 4};
  ASSERT_EQ(y.shape(), (Shape{1, 1, 4, 4}));
  EXPECT_EQ(std::vector<std::int8_t>(y.data<std::int8_t>(), y.data<std::int8_t>() + 16), expected);
}

TEST(Resize, NearestModesRoundTheHalfPixelCoordinate) {
  // Width 4 -> 3 (scale 0.75), half_pixel: source coordinates 1/6, 1.5 (a tie), 17/6.
  const Tensor x = floats({10, 20, 30, 40}, {1, 1, 1, 4});
  auto row = [&](const std::string& mode) {
    return run_resize(x, "nearest", "half_pixel", mode, {1.0, 0.75}, {1, 3});
  };
  EXPECT_TRUE(all_close(row("round_prefer_floor"), floats({10, 20, 40}, {1, 1, 1, 3})));
  EXPECT_TRUE(all_close(row("round_prefer_ceil"), floats({10, 30, 40}, {1, 1, 1, 3})));
  EXPECT_TRUE(all_close(row("floor"), floats({10, 20, 30}, {1, 1, 1, 3})));
  EXPECT_TRUE(all_close(row("ceil"), floats({20, 30, 40}, {1, 1, 1, 3})));
}

// 1 + x + 2y sampled at the given source coordinates: what bilinear gives on [[1, 2], [3, 4]].
Tensor plane_at(const std::vector<float>& cy, const std::vector<float>& cx) {
  std::vector<float> v;
  for (float y : cy) {
    for (float x : cx) v.push_back(1 + x + 2 * y);
  }
  return floats(v, {1, 1, static_cast<std::int64_t>(cy.size()), static_cast<std::int64_t>(cx.size())});
}

TEST(Resize, BilinearAlignCornersAndPytorchHalfPixel) {
  const Tensor x = floats({1, 2, 3, 4}, {1, 1, 2, 2});
  const std::vector<float> corners{0, 1.0f / 3, 2.0f / 3, 1};
  EXPECT_TRUE(all_close(run_resize(x, "linear", "align_corners", "round_prefer_floor", {2.0, 2.0}, {4, 4}),
                        plane_at(corners, corners), 1e-6f, 1e-6f));
  // (o + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped into [0, 1]: the edges repeat.
  const std::vector<float> half{0, 0.25f, 0.75f, 1};
  EXPECT_TRUE(all_close(run_resize(x, "linear", "pytorch_half_pixel", "round_prefer_floor", {2.0, 2.0}, {4, 4}),
                        plane_at(half, half), 1e-6f, 1e-6f));
  EXPECT_TRUE(all_close(run_resize(x, "linear", "half_pixel", "round_prefer_floor", {2.0, 2.0}, {4, 4}),
                        plane_at(half, half), 1e-6f, 1e-6f));
}

TEST(Resize, LengthOneOutputsDifferBetweenHalfPixelModes) {
  // 2x2 -> 1x1 (scale 0.5): pytorch_half_pixel samples coordinate 0, half_pixel 0.5 (the mean).
  const Tensor x = floats({1, 2, 3, 4}, {1, 1, 2, 2});
  EXPECT_TRUE(all_close(run_resize(x, "linear", "pytorch_half_pixel", "round_prefer_floor", {0.5, 0.5}, {1, 1}),
                        floats({1}, {1, 1, 1, 1})));
  EXPECT_TRUE(all_close(run_resize(x, "linear", "half_pixel", "round_prefer_floor", {0.5, 0.5}, {1, 1}),
                        floats({2.5f}, {1, 1, 1, 1})));
  // align_corners on a length-1 output samples 0; asymmetric samples o / scale = 0 too.
  EXPECT_TRUE(all_close(run_resize(x, "nearest", "align_corners", "ceil", {0.5, 0.5}, {1, 1}),
                        floats({1}, {1, 1, 1, 1})));
}

TEST(Resize, InferenceRefusesUnsupportedModesNamingTheAttribute) {
  GraphBuilder b;
  Value* f = b.input("f", DType::Float32, {1, 1, 2, 2});
  Value* q = b.input("q", DType::Int8, {1, 1, 2, 2});
  auto attrs = [](std::string mode, std::string transform, std::string nearest, std::vector<double> scales) {
    return AttributeMap{{"mode", mode},
                        {"coordinate_transformation_mode", transform},
                        {"nearest_mode", nearest},
                        {"scales", scales},
                        {"output_size", Ints{4, 4}}};
  };
  EXPECT_THAT([&] { b.node(OpKind::Resize, {f}, attrs("cubic", "half_pixel", "floor", {2, 2})); },
              ::testing::ThrowsMessage<Error>(HasSubstr("attribute 'mode' is 'cubic', expected one of nearest, linear")));
  EXPECT_THAT([&] { b.node(OpKind::Resize, {f}, attrs("nearest", "tf_crop_and_resize", "floor", {2, 2})); },
              ::testing::ThrowsMessage<Error>(HasSubstr("attribute 'coordinate_transformation_mode' is 'tf_crop_and_resize'")));
  EXPECT_THAT([&] { b.node(OpKind::Resize, {f}, attrs("nearest", "half_pixel", "simple", {2, 2})); },
              ::testing::ThrowsMessage<Error>(HasSubstr("attribute 'nearest_mode' is 'simple'")));
  EXPECT_THAT([&] { b.node(OpKind::Resize, {q}, attrs("linear", "half_pixel", "floor", {2, 2})); },
              ::testing::ThrowsMessage<Error>(HasSubstr("mode 'linear' needs a floating input")));
  EXPECT_THAT([&] { b.node(OpKind::Resize, {f}, attrs("nearest", "half_pixel", "floor", {0, 2})); },
              ::testing::ThrowsMessage<Error>(HasSubstr("'scales' entries must be finite")));
  Value* empty = b.input("empty", DType::Float32, {1, 1, 0, 2});
  EXPECT_THAT([&] { b.node(OpKind::Resize, {empty}, attrs("nearest", "half_pixel", "floor", {2, 2})); },
              ::testing::ThrowsMessage<Error>(HasSubstr("expected non-empty last two dims")));
}

}  // namespace
}  // namespace quantkit::graph
