// Export → import round trips: the re-imported graph computes what the original did
// (fp32 to rounding; Q/DQ within one output step: scales travel as float32 and ONNX's
// QuantizeLinear divides where torch multiplies by the reciprocal).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

#include "export_test_models.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/onnx/onnx_export.h"
#include "quantkit/onnx/onnx_import.h"

namespace quantkit::onnx {
namespace {

Tensor run(const graph::Graph& g, const Tensor& x) {
  return graph::run_graph(g, std::vector<Tensor>{x}).at(0);
}

graph::Graph round_trip(const graph::Graph& g) {
  return import_onnx_bytes(export_onnx_bytes(g), "round_trip.onnx");
}

// Largest |a - b| and largest |b|.
std::pair<float, float> max_diff(const Tensor& a, const Tensor& b) {
  float diff = 0.0f, mag = 0.0f;
  for (std::int64_t i = 0; i < b.numel(); ++i) {
    diff = std::max(diff, std::fabs(a.data<float>()[i] - b.data<float>()[i]));
    mag = std::max(mag, std::fabs(b.data<float>()[i]));
  }
  return {diff, mag};
}

TEST(OnnxRoundTrip, Fp32Cnn) {
  const graph::Graph g = testing::float_cnn(4);
  const graph::Graph back = round_trip(g);
  ASSERT_EQ(back.inputs().size(), 1u);
  EXPECT_EQ(back.inputs()[0]->name(), "input");
  EXPECT_EQ(back.inputs()[0]->type(), g.inputs()[0]->type());
  const Tensor x = testing::cnn_input(4, 3);
  const Tensor expected = run(g, x);
  const Tensor actual = run(back, x);
  ASSERT_EQ(actual.shape(), expected.shape());
  const auto [diff, mag] = max_diff(actual, expected);
  EXPECT_LE(diff, 1e-6f * mag);
}

TEST(OnnxRoundTrip, StaticQdqCnnWithinOneOutputStep) {
  const graph::Graph g = testing::static_qdq_cnn(8, testing::cnn_input(8, 4));
  const graph::Graph back = round_trip(g);
  const Tensor x = testing::cnn_input(8, 5);
  const Tensor expected = run(g, x);
  const Tensor actual = run(back, x);
  ASSERT_EQ(actual.shape(), expected.shape());
  const double step = g.outputs()[0]->producer()->attr_float("scale");
  EXPECT_LE(max_diff(actual, expected).first, step * (1 + 1e-4));
  EXPECT_EQ(graph::count_nodes(back, graph::OpKind::Conv2d), 2u);
}

TEST(OnnxRoundTrip, ShapeOpsAndActivations) {
  graph::GraphBuilder b;
  graph::Value* x = b.input("x", DType::Float32, {2, 3, 4, 4});
  graph::Value* y = b.hardtanh(x, -0.5, 0.5);
  y = b.adaptive_avg_pool2d(b.max_pool2d(y, graph::MaxPool2dOptions({2, 2})), {1, 1});
  y = b.reshape(b.flatten(y, 1), {3, 2});
  y = b.softmax(b.cat({b.transpose(y, 0, 1), b.transpose(y, 0, 1)}, 0), 1);
  b.output(y);
  const graph::Graph g = std::move(b).build();
  const Tensor in = testing::uniform_tensor({2, 3, 4, 4}, 9, -1, 1);
  const Tensor expected = run(g, in);
  const Tensor actual = run(round_trip(g), in);
  ASSERT_EQ(actual.shape(), expected.shape());
  EXPECT_LE(max_diff(actual, expected).first, 1e-6f);
}

// The main job's model: imported from torch.onnx.export's file, exported by us, imported
// again: same graph function.
TEST(OnnxRoundTrip, FashionMnistModel) {
  const auto path = std::filesystem::path(QUANTKIT_TEST_DATA_DIR) / ".." / ".." / "models" /
                    "fashion_mnist" / "fashion_mnist_cnn.onnx";
  const graph::Graph original = import_onnx(path);
  const graph::Graph back = round_trip(original);
  const Tensor x = testing::uniform_tensor({1, 1, 28, 28}, 12, 0.0f, 255.0f);
  const Tensor expected = run(original, x);
  const Tensor actual = run(back, x);
  ASSERT_EQ(actual.shape(), (Shape{1, 10}));
  const auto [diff, mag] = max_diff(actual, expected);
  EXPECT_LE(diff, 1e-6f * mag);
}

}  // namespace
}  // namespace quantkit::onnx
