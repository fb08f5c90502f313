// Export of mean and layer_norm: ReduceMean with axes as an attribute (opset < 18) or an input
// (18+), LayerNormalization (opset 17+; refused before) — each read back by the importer and
// run to the same bits as the original graph.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <string>

#include "graph/graph_test_util.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/onnx/onnx_export.h"
#include "quantkit/onnx/onnx_import.h"

namespace quantkit::onnx {
namespace {

using graph::GraphBuilder;
using graph::OpKind;
using graph::testing::identical;
using graph::testing::random_tensor;

// x -> mean over dims {0, 2} (kept) -> layer_norm over the last dim.
graph::Graph encoder_piece() {
  GraphBuilder b;
  graph::Value* x = b.input("x", DType::Float32, {2, 3, 4});
  graph::Value* m =
      b.node(OpKind::Mean, {x},
             {{"dims", std::vector<std::int64_t>{0, 2}}, {"keepdim", std::int64_t{1}}})
          ->output();
  graph::Value* centered = b.node(OpKind::Sub, {x, m})->output();
  graph::Value* w = b.constant(random_tensor({4}, 31), "weight");
  graph::Value* bias = b.constant(random_tensor({4}, 32), "bias");
  b.output(
      b.node(OpKind::LayerNorm, {centered, w, bias}, {{"axis", std::int64_t{-1}}, {"eps", 1e-5}})
          ->output());
  return std::move(b).build();
}

const ::onnx::NodeProto& node_of_type(const ::onnx::ModelProto& m, const std::string& type) {
  for (const auto& n : m.graph().node()) {
    if (n.op_type() == type) return n;
  }
  throw std::runtime_error("no " + type + " node");
}

TEST(ExportReductions, ReduceMeanAxesFormFollowsTheOpset) {
  const graph::Graph g = encoder_piece();
  const Tensor x = random_tensor({2, 3, 4}, 30);
  const Tensor expected = graph::run_graph(g, {x})[0];
  for (std::int64_t opset : {17, 18, 21}) {
    SCOPED_TRACE(opset);
    ExportOptions options;
    options.opset = opset;
    const std::string bytes = export_onnx_bytes(g, options);
    ::onnx::ModelProto model;
    ASSERT_TRUE(model.ParseFromString(bytes));
    const ::onnx::NodeProto& reduce = node_of_type(model, "ReduceMean");
    if (opset < 18) {
      EXPECT_EQ(reduce.input_size(), 1);
      ASSERT_EQ(reduce.attribute(0).name(), "axes");
      EXPECT_EQ(reduce.attribute(0).ints_size(), 2);
    } else {
      EXPECT_EQ(reduce.input_size(), 2);  // the axes initializer
      for (const auto& a : reduce.attribute()) EXPECT_NE(a.name(), "axes");
    }
    const ::onnx::NodeProto& ln = node_of_type(model, "LayerNormalization");
    EXPECT_EQ(ln.input_size(), 3);
    const graph::Graph back = import_onnx_bytes(bytes, "reductions.onnx");
    EXPECT_EQ(graph::count_nodes(back, OpKind::Mean), 1u);
    EXPECT_EQ(graph::count_nodes(back, OpKind::LayerNorm), 1u);
    EXPECT_TRUE(identical(graph::run_graph(back, {x})[0], expected));
  }
}

TEST(ExportReductions, LayerNormalizationNeedsOpset17) {
  ExportOptions options;
  options.opset = 16;
  try {
    export_onnx_bytes(encoder_piece(), options);
    FAIL() << "exported layer_norm at opset 16";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("LayerNormalization needs opset >= 17"));
  }
}

}  // namespace
}  // namespace quantkit::onnx
