// ONNX import of 1-D Conv (lowered to a unit-height conv2d), ConvTranspose and Resize:
// models written with the protobuf classes, checked against loops / hand-computed values,
// refusals named, the same files run by ONNX Runtime (when QUANTKIT_ORT_DIR is set), and a
// 1-D conv net quantized int8-per-channel that lowers to fused kernels with no fallback.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "graph/graph_test_util.h"
#include "onnx/model_writer.h"
#include "onnx/ort_runner.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/onnx/onnx_export.h"
#include "quantkit/pipeline/quantize_model.h"
#include "quantkit/pt2e/lowering.h"
#include "quantkit/runtime/runtime.h"

namespace quantkit::onnx {
namespace {

namespace fs = std::filesystem;
using graph::count_nodes;
using graph::OpKind;
using graph::testing::all_close;
using graph::testing::random_tensor;
using testing::ModelWriter;
using ::testing::HasSubstr;
using Ints = std::vector<std::int64_t>;

// Direct 1-D convolution with explicit (begin, end) zero padding, in double.
Tensor conv1d_loops(const Tensor& x, const Tensor& w, const Tensor& b, std::int64_t stride,
                    Ints pads, std::int64_t dilation, std::int64_t groups) {
  const std::int64_t n = x.shape()[0], c = x.shape()[1], len = x.shape()[2];
  const std::int64_t o = w.shape()[0], k = w.shape()[2];
  const std::int64_t out_len = (len + pads[0] + pads[1] - dilation * (k - 1) - 1) / stride + 1;
  Tensor y = Tensor::zeros({n, o, out_len}, DType::Float32);
  const std::int64_t cg = c / groups, og = o / groups;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t oc = 0; oc < o; ++oc)
      for (std::int64_t t = 0; t < out_len; ++t) {
        double acc = b.data<float>()[oc];
        for (std::int64_t ic = 0; ic < cg; ++ic)
          for (std::int64_t r = 0; r < k; ++r) {
            const std::int64_t at = t * stride - pads[0] + r * dilation;
            if (at < 0 || at >= len) continue;
            acc += static_cast<double>(x.data<float>()[(i * c + (oc / og) * cg + ic) * len + at]) *
                   w.data<float>()[(oc * cg + ic) * k + r];
          }
        y.data<float>()[(i * o + oc) * out_len + t] = static_cast<float>(acc);
      }
  return y;
}

ModelWriter conv1d_model(const Tensor& w, const Tensor& b, std::vector<ModelWriter::Attr> attrs) {
  ModelWriter m;
  m.input("x", {2, 4, 9});
  m.initializer("W", w);
  m.initializer("B", b);
  m.node("Conv", {"x", "W", "B"}, {"y"}, std::move(attrs));
  m.output("y");
  return m;
}

TEST(Conv1dImport, RunsAsUnitHeightConv2dWithStridesPadsDilationsGroups) {
  const Tensor w = random_tensor({6, 2, 3}, 1), b = random_tensor({6}, 2), x = random_tensor({2, 4, 9}, 3);
  const graph::Graph g = conv1d_model(w, b, {{"strides", Ints{2}}, {"pads", Ints{1, 2}},
                                             {"dilations", Ints{2}}, {"group", std::int64_t{2}}})
                             .import();
  EXPECT_EQ(count_nodes(g, OpKind::Conv2d), 1);
  EXPECT_EQ(count_nodes(g, OpKind::Pad2d), 1);  // asymmetric pads
  EXPECT_TRUE(all_close(graph::run_graph(g, {x})[0], conv1d_loops(x, w, b, 2, {1, 2}, 2, 2)));
}

TEST(Conv1dImport, KeepsADynamicBatch) {
  const Tensor w = random_tensor({6, 2, 3}, 1), b = random_tensor({6}, 2);
  ModelWriter m = conv1d_model(w, b, {{"pads", Ints{1, 1}}, {"group", std::int64_t{2}}});
  m.proto().mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()
      ->mutable_shape()->mutable_dim(0)->set_dim_param("N");
  const graph::Graph g = m.import();
  EXPECT_EQ(g.outputs()[0]->type_string(), "f32[N, 6, 9]");
  const Tensor x = random_tensor({3, 4, 9}, 8);
  EXPECT_TRUE(all_close(graph::run_graph(g, {x})[0], conv1d_loops(x, w, b, 1, {1, 1}, 1, 2)));
}

TEST(Conv1dImport, AutoPadSameSplitsTheOddPadPerMode) {
  const Tensor w = random_tensor({3, 4, 4}, 4), b = random_tensor({3}, 5), x = random_tensor({2, 4, 9}, 6);
  // Stride 2 over 9: 5 outputs, total pad (5 - 1) * 2 + 4 - 9 = 3; SAME_UPPER puts 2 at the end.
  const graph::Graph upper = conv1d_model(w, b, {{"strides", Ints{2}}, {"auto_pad", std::string("SAME_UPPER")}}).import();
  EXPECT_TRUE(all_close(graph::run_graph(upper, {x})[0], conv1d_loops(x, w, b, 2, {1, 2}, 1, 1)));
  const graph::Graph lower = conv1d_model(w, b, {{"strides", Ints{2}}, {"auto_pad", std::string("SAME_LOWER")}}).import();
  EXPECT_TRUE(all_close(graph::run_graph(lower, {x})[0], conv1d_loops(x, w, b, 2, {2, 1}, 1, 1)));
}

TEST(Conv1dImport, RefusesA1DWindowOfTheWrongLength) {
  const Tensor w = random_tensor({3, 4, 3}, 4), b = random_tensor({3}, 5);
  EXPECT_THAT([&] { conv1d_model(w, b, {{"strides", Ints{1, 1}}}).import(); },
              ::testing::ThrowsMessage<Error>(HasSubstr("attribute 'strides' has 2 entries, expected 1")));
}

TEST(Conv1dImport, QuantizedInt8PerChannelLowersWithoutFallbacksAndRuntimeEqualsInterpreter) {
  ModelWriter m;
  m.input("x", {1, 4, 16});
  m.initializer("W1", random_tensor({8, 4, 3}, 11));
  m.initializer("B1", random_tensor({8}, 12));
  m.initializer("W2", random_tensor({8, 2, 5}, 13));
  m.initializer("B2", random_tensor({8}, 14));
  m.node("Conv", {"x", "W1", "B1"}, {"c1"}, {{"pads", Ints{1, 1}}});
  m.node("Relu", {"c1"}, {"r1"});
  m.node("Conv", {"r1", "W2", "B2"}, {"y"}, {{"pads", Ints{2, 2}}, {"strides", Ints{2}}, {"group", std::int64_t{4}}});
  m.output("y");
  const graph::Graph fp32 = m.import();
  const std::vector<Tensor> calibration{random_tensor({1, 4, 16}, 21), random_tensor({1, 4, 16}, 22)};
  const graph::Graph qdq = pipeline::quantize_model(fp32, "int8-per-channel", calibration);
  const graph::Graph lowered = pt2e::lower_to_fused_kernels(qdq);
  EXPECT_EQ(count_nodes(lowered, OpKind::QuantizedConv2d), 2);
  EXPECT_EQ(count_nodes(lowered, OpKind::Conv2d), 0);
  const runtime::Runtime rt(lowered);
  for (const std::string& label : rt.op_labels()) {
    EXPECT_EQ(label.find("(reference)"), std::string::npos) << label;
  }
  const Tensor x = random_tensor({1, 4, 16}, 23);
  const Tensor fast = rt.run(std::vector<Tensor>{x})[0];
  const Tensor reference = graph::run_graph(lowered, {x})[0];
  ASSERT_EQ(fast.shape(), (Shape{1, 8, 8}));
  EXPECT_EQ(0, std::memcmp(fast.raw_data(), reference.raw_data(), fast.nbytes()));
}

// Conv -> Resize (nearest or bilinear) -> Conv, quantized int8-per-channel and lowered.
graph::Graph quantized_upsample(const std::string& mode) {
  ModelWriter m;
  m.input("x", {1, 3, 6, 6});
  m.initializer("W1", random_tensor({4, 3, 3, 3}, 31));
  m.initializer("W2", random_tensor({4, 4, 3, 3}, 32));
  m.initializer("scales", Tensor::from_vector(std::vector<float>{1, 1, 2, 2}));
  m.node("Conv", {"x", "W1"}, {"c1"}, {{"pads", Ints{1, 1, 1, 1}}});
  m.node("Resize", {"c1", "", "scales"}, {"up"}, {{"mode", mode}});
  m.node("Conv", {"up", "W2"}, {"y"}, {{"pads", Ints{1, 1, 1, 1}}});
  m.output("y");
  const std::vector<Tensor> calibration{random_tensor({1, 3, 6, 6}, 33), random_tensor({1, 3, 6, 6}, 34)};
  return pt2e::lower_to_fused_kernels(pipeline::quantize_model(m.import(), "int8-per-channel", calibration));
}

TEST(ResizeQuantized, NearestSharesItsProducersQParamsAndRunsOnInt8BilinearStaysFloat) {
  const graph::Graph nearest = quantized_upsample("nearest");
  EXPECT_EQ(count_nodes(nearest, OpKind::QuantizedConv2d), 2);
  EXPECT_EQ(count_nodes(nearest, OpKind::DequantizePerTensor), 1);  // the output's only
  const graph::Node* resize = nullptr;
  for (const graph::Node* n : nearest.nodes()) resize = n->op() == OpKind::Resize ? n : resize;
  ASSERT_NE(resize, nullptr);
  EXPECT_EQ(resize->output()->dtype(), DType::Int8);
  const Tensor x = random_tensor({1, 3, 6, 6}, 35);
  const Tensor fast = runtime::Runtime(nearest).run(std::vector<Tensor>{x})[0];
  const Tensor reference = graph::run_graph(nearest, {x})[0];
  EXPECT_EQ(0, std::memcmp(fast.raw_data(), reference.raw_data(), fast.nbytes()));

  const graph::Graph bilinear = quantized_upsample("linear");
  EXPECT_EQ(count_nodes(bilinear, OpKind::QuantizedConv2d), 2);
  for (const graph::Node* n : bilinear.nodes()) {
    if (n->op() == OpKind::Resize) {
      EXPECT_EQ(n->output()->dtype(), DType::Float32);
    }
  }
}

ModelWriter conv_transpose_model(std::vector<ModelWriter::Attr> attrs) {
  ModelWriter m;
  m.input("x", {1, 1, 3, 3});
  m.initializer("W", Tensor::from_vector(std::vector<float>(18, 1.0f), {1, 2, 3, 3}));
  m.node("ConvTranspose", {"x", "W"}, {"y"}, std::move(attrs));
  m.output("y");
  return m;
}

Tensor zero_to_eight() {
  std::vector<float> v(9);
  for (int i = 0; i < 9; ++i) v[static_cast<std::size_t>(i)] = static_cast<float>(i);
  return Tensor::from_vector(v, {1, 1, 3, 3});
}

TEST(ConvTransposeImport, ExplicitPadsGiveOnnxBackendValues) {
  const graph::Graph g =
      conv_transpose_model({{"strides", Ints{3, 2}}, {"pads", Ints{1, 2, 1, 2}}}).import();
  ASSERT_EQ(count_nodes(g, OpKind::ConvTranspose2d), 1);
  const Tensor y = graph::run_graph(g, {zero_to_eight()})[0];
  ASSERT_EQ(y.shape(), (Shape{1, 2, 7, 3}));
  const std::vector<float> plane{1, 1, 3, 1, 1, 3, 7, 4, 9, 7, 4, 9, 7, 4, 9, 13, 7, 15, 13, 7, 15};
  EXPECT_EQ(std::vector<float>(y.data<float>(), y.data<float>() + 21), plane);
}

TEST(ConvTransposeImport, OutputShapeAndAutoPadBecomePads) {
  // Full size: 3 * (3 - 1) + 3 = 9 high, 2 * 2 + 3 = 7 wide.
  const graph::Graph larger =
      conv_transpose_model({{"strides", Ints{3, 2}}, {"output_shape", Ints{10, 8}}}).import();
  const graph::Node* n = larger.nodes().back();
  EXPECT_EQ(n->attr_ints("pads"), (Ints{0, 0, 0, 0}));
  EXPECT_EQ(n->attr_ints("output_padding"), (Ints{1, 1}));  // the extra row / column at the end
  const graph::Graph smaller =
      conv_transpose_model({{"strides", Ints{3, 2}}, {"output_shape", Ints{6, 4}}}).import();
  // Totals 3 and 3: without SAME_UPPER the odd one goes to the beginning.
  EXPECT_EQ(smaller.nodes().back()->attr_ints("pads"), (Ints{2, 2, 1, 1}));
  const graph::Graph same = conv_transpose_model({{"strides", Ints{2, 2}}, {"auto_pad", std::string("SAME_UPPER")}}).import();
  // Target 6 of a full 7: total 1, at the end for SAME_UPPER.
  EXPECT_EQ(same.nodes().back()->attr_ints("pads"), (Ints{0, 0, 1, 1}));
  EXPECT_EQ(same.outputs()[0]->shape(), (Shape{1, 2, 6, 6}));
}

TEST(ConvTransposeImport, Refuses1DAndConflictingPads) {
  ModelWriter m;
  m.input("x", {1, 1, 3});
  m.initializer("W", Tensor::zeros({1, 1, 2}, DType::Float32));
  m.node("ConvTranspose", {"x", "W"}, {"y"});
  m.output("y");
  EXPECT_THAT([&] { m.import(); }, ::testing::ThrowsMessage<Error>(HasSubstr("only 2-D ConvTranspose")));
  EXPECT_THAT([&] { conv_transpose_model({{"pads", Ints{1, 1, 1, 1}}, {"output_shape", Ints{5, 5}}}).import(); },
              ::testing::ThrowsMessage<Error>(HasSubstr("are exclusive")));
}

// Resize of x [1, 2, 3, 4] with the given attributes, inputs (ONNX names: "" is absent) and
// initializers.
ModelWriter resize_model(std::int64_t opset, std::vector<std::string> inputs,
                         std::vector<std::pair<std::string, Tensor>> initializers,
                         std::vector<ModelWriter::Attr> attrs) {
  ModelWriter m(opset);
  m.input("x", {1, 2, 3, 4});
  for (auto& [name, t] : initializers) m.initializer(name, t);
  inputs.insert(inputs.begin(), "x");
  m.node("Resize", inputs, {"y"}, std::move(attrs));
  m.output("y");
  return m;
}

Tensor scales_of(std::vector<float> v) { return Tensor::from_vector(v); }
Tensor sizes_of(Ints v) { return Tensor::from_vector(v); }
Tensor empty_floats() { return Tensor::from_vector(std::vector<float>{}, {0}); }

std::vector<ModelWriter> torch_like_resizes() {
  std::vector<ModelWriter> models;
  // torch 1.13 nn.Upsample(scale_factor=2) at opset 11: roi and scales constants.
  models.push_back(resize_model(11, {"roi", "scales"},
                                {{"roi", empty_floats()}, {"scales", scales_of({1, 1, 2, 2})}},
                                {{"mode", std::string("nearest")},
                                 {"coordinate_transformation_mode", std::string("asymmetric")},
                                 {"nearest_mode", std::string("floor")}}));
  // F.interpolate(size=(5, 7), mode='bilinear', align_corners=True) at opset 13: sizes.
  models.push_back(resize_model(13, {"", "", "sizes"}, {{"sizes", sizes_of({1, 2, 5, 7})}},
                                {{"mode", std::string("linear")},
                                 {"coordinate_transformation_mode", std::string("align_corners")}}));
  // Bilinear, align_corners=False (pytorch_half_pixel), downscaling, opset 18 axes.
  models.push_back(resize_model(18, {"", "", "sizes"}, {{"sizes", sizes_of({2, 3})}},
                                {{"mode", std::string("linear")},
                                 {"coordinate_transformation_mode", std::string("pytorch_half_pixel")},
                                 {"axes", Ints{2, 3}}}));
  // Nearest half_pixel round_prefer_ceil with a fractional scale.
  models.push_back(resize_model(13, {"", "scales"}, {{"scales", scales_of({1, 1, 1.5f, 0.75f})}},
                                {{"mode", std::string("nearest")},
                                 {"nearest_mode", std::string("round_prefer_ceil")}}));
  return models;
}

TEST(ResizeImport, TorchExportLayoutsBecomeOneResizeNode) {
  const std::vector<Shape> expected{{1, 2, 6, 8}, {1, 2, 5, 7}, {1, 2, 2, 3}, {1, 2, 4, 3}};
  std::vector<ModelWriter> models = torch_like_resizes();
  for (std::size_t i = 0; i < models.size(); ++i) {
    const graph::Graph g = models[i].import();
    EXPECT_EQ(count_nodes(g, OpKind::Resize), 1) << i;
    EXPECT_EQ(g.outputs()[0]->shape(), expected[i]) << i;
  }
  // Every value of the opset-11 nearest upsample is x at (floor(y / 2), floor(x / 2)).
  const Tensor x = random_tensor({1, 2, 3, 4}, 7);
  const Tensor y = graph::run_graph(models[0].import(), {x})[0];
  for (std::int64_t c = 0; c < 2; ++c)
    for (std::int64_t r = 0; r < 6; ++r)
      for (std::int64_t q = 0; q < 8; ++q)
        ASSERT_EQ(y.data<float>()[(c * 6 + r) * 8 + q], x.data<float>()[(c * 3 + r / 2) * 4 + q / 2]);
}

TEST(ResizeImport, RefusesWhatTheGraphOpCannotDoNamingIt) {
  auto refused = [](ModelWriter m, const std::string& what) {
    EXPECT_THAT([&] { m.import(); }, ::testing::ThrowsMessage<Error>(HasSubstr(what)));
  };
  refused(resize_model(13, {"", "scales"}, {{"scales", scales_of({1, 1, 2, 2})}},
                       {{"mode", std::string("cubic")}}),
          "attribute 'mode' is 'cubic'");
  refused(resize_model(13, {"", "scales"}, {{"scales", scales_of({1, 1, 2, 2})}},
                       {{"coordinate_transformation_mode", std::string("tf_crop_and_resize")}}),
          "attribute 'coordinate_transformation_mode' is 'tf_crop_and_resize'");
  refused(resize_model(18, {"", "scales"}, {{"scales", scales_of({1, 1, 2, 2})}},
                       {{"antialias", std::int64_t{1}}}),
          "attribute 'antialias' is 1");
  refused(resize_model(13, {"", "scales"}, {{"scales", scales_of({1, 2, 2, 2})}}, {}),
          "resizing dim 1");
  refused(resize_model(13, {"", "scales", "sizes"},
                       {{"scales", scales_of({1, 1, 2, 2})}, {"sizes", sizes_of({1, 2, 6, 8})}}, {}),
          "exactly one of the inputs 'scales' and 'sizes'");
  refused(resize_model(13, {"", "scales"}, {{"scales", scales_of({1, 1, 2, 2})}},
                       {{"nearest_mode", std::string("simple")}}),
          "attribute 'nearest_mode' is 'simple'");
}

// ---- export: conv_transpose2d and resize write back as ConvTranspose and Resize ----

graph::Graph resample_graph(std::vector<double> scales, Ints size) {
  graph::GraphBuilder b;
  graph::Value* x = b.input("x", DType::Float32, {1, 2, 3, 3});
  graph::Value* up = b.node(OpKind::ConvTranspose2d,
                            {x, b.parameter("w", random_tensor({2, 3, 3, 2}, 41)),
                             b.parameter("b", random_tensor({3}, 42))},
                            {{"stride", Ints{2, 1}},
                             {"pads", Ints{1, 0, 0, 1}},
                             {"output_padding", Ints{1, 0}},
                             {"dilation", Ints{1, 2}},
                             {"groups", std::int64_t{1}}})
                        ->output();
  b.output(b.node(OpKind::Resize, {up},
                  {{"mode", std::string("linear")},
                   {"coordinate_transformation_mode", std::string("half_pixel")},
                   {"nearest_mode", std::string("round_prefer_floor")},
                   {"scales", scales},
                   {"output_size", size}})
               ->output());
  return std::move(b).build();
}

TEST(ResampleExport, RoundTripsThroughOnnxWithScalesOrSizes) {
  const Tensor x = random_tensor({1, 2, 3, 3}, 43);
  // The conv_transpose2d output is [1, 3, 7, 4]. Scales 1.5 / 0.5 agree with floor(scale *
  // size) = 10 / 2; sizes 31 / 3 only with the ratio form (f32(31 / 7) * 7 rounds below 31).
  const float ratio_h = 31.0f / 7.0f, ratio_w = 3.0f / 4.0f;
  for (const auto& [scales, size] : std::vector<std::pair<std::vector<double>, Ints>>{
           {{1.5, 0.5}, {10, 2}}, {{ratio_h, ratio_w}, {31, 3}}}) {
    const graph::Graph g = resample_graph(scales, size);
    const graph::Graph back = import_onnx_bytes(export_onnx_bytes(g), "resample.onnx");
    EXPECT_EQ(count_nodes(back, OpKind::ConvTranspose2d), 1);
    ASSERT_EQ(count_nodes(back, OpKind::Resize), 1);
    const graph::Node* resize = back.nodes().back();
    EXPECT_EQ(resize->attr_floats("scales"), scales);
    EXPECT_EQ(resize->attr_ints("output_size"), size);
    const Tensor a = graph::run_graph(g, {x})[0], c = graph::run_graph(back, {x})[0];
    EXPECT_EQ(0, std::memcmp(a.raw_data(), c.raw_data(), a.nbytes()));
  }
  // Scales and a size that agree with neither ONNX form have none.
  EXPECT_THAT([&] { export_onnx_bytes(resample_graph({2.0, 2.0}, {5, 5})); },
              ::testing::ThrowsMessage<Error>(HasSubstr("agree neither with ONNX Resize's scales")));
}

// ---- the same files in ONNX Runtime ----

class ResampleOrt : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = testing::ort_unavailable_reason();
    if (!why.empty()) GTEST_SKIP() << why;
    dir_ = fs::temp_directory_path() / ("quantkit_resample_ort_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  // max |ours - ORT| / max |ORT| on the model's first output.
  double ort_difference(ModelWriter& m, const Tensor& x) {
    const fs::path file = dir_ / "model.onnx";
    std::ofstream(file, std::ios::binary) << m.bytes();
    const Tensor ours = graph::run_graph(m.import(), {x})[0];
    const Tensor ort = testing::run_ort_file(file, std::span(&x, 1), dir_, "all").at(0);
    return testing::relative_max_diff(ours, ort);
  }
  fs::path dir_;
};

TEST_F(ResampleOrt, Conv1dConvTransposeAndResizeAgreeWithOnnxRuntime) {
  const Tensor w = random_tensor({6, 2, 3}, 1), b = random_tensor({6}, 2);
  ModelWriter conv = conv1d_model(w, b, {{"strides", Ints{2}}, {"pads", Ints{1, 2}},
                                         {"dilations", Ints{2}}, {"group", std::int64_t{2}}});
  EXPECT_LE(ort_difference(conv, random_tensor({2, 4, 9}, 3)), 1e-5);
  for (auto attrs : std::vector<std::vector<ModelWriter::Attr>>{
           {{"strides", Ints{3, 2}}, {"pads", Ints{1, 2, 1, 2}}},
           {{"strides", Ints{3, 2}}, {"output_shape", Ints{10, 8}}},
           {{"strides", Ints{2, 2}}, {"output_padding", Ints{1, 1}}, {"dilations", Ints{2, 1}}}}) {
    ModelWriter m = conv_transpose_model(attrs);
    EXPECT_LE(ort_difference(m, random_tensor({1, 1, 3, 3}, 4)), 1e-5) << attrs[1].name;
  }
  std::vector<ModelWriter> resizes = torch_like_resizes();
  for (std::size_t i = 0; i < resizes.size(); ++i) {
    EXPECT_LE(ort_difference(resizes[i], random_tensor({1, 2, 3, 4}, 5)), 1e-6) << "resize " << i;
  }
}

}  // namespace
}  // namespace quantkit::onnx
