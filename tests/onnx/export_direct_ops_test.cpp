// The ops whose ONNX form is one node of the schema's OpTraits::onnx_op_type: the exporter
// writes exactly that node, and the importer reads it back as the same op.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <string>

#include "quantkit/graph/graph.h"
#include "quantkit/graph/op.h"
#include "quantkit/onnx/onnx_export.h"
#include "quantkit/onnx/onnx_import.h"

namespace quantkit::onnx {
namespace {

using graph::OpKind;

TEST(ExportDirectOps, EachWritesOneNodeOfItsSchemasTypeAndImportsBack) {
  std::size_t direct = 0;
  for (OpKind op : graph::all_ops()) {
    const graph::OpSchema& schema = graph::op_schema(op);
    if (schema.traits.onnx_op_type.empty()) continue;
    ++direct;
    // Every direct op takes float32 operands of one shape and no attributes.
    graph::Graph g;
    std::vector<graph::Value*> inputs;
    for (std::size_t i = 0; i < schema.min_inputs; ++i) {
      inputs.push_back(
          g.add_input("x" + std::to_string(i), graph::TensorType{DType::Float32, Shape{2, 2}}));
    }
    g.add_output(g.add_node(op, inputs)->output());

    ::onnx::ModelProto model;
    ASSERT_TRUE(model.ParseFromString(export_onnx_bytes(g))) << schema.name;
    ASSERT_EQ(model.graph().node_size(), 1) << schema.name;
    EXPECT_EQ(model.graph().node(0).op_type(), schema.traits.onnx_op_type) << schema.name;
    EXPECT_EQ(model.graph().node(0).attribute_size(), 0) << schema.name;

    const graph::Graph back = import_onnx_bytes(model.SerializeAsString(), "direct");
    ASSERT_EQ(back.nodes().size(), 1u) << schema.name;
    EXPECT_EQ(back.nodes()[0]->op(), op) << schema.name;
  }
  // add sub mul div relu round sigmoid tanh matmul erf exp neg sqrt pow: a dropped
  // onnx_op_type is noticed.
  EXPECT_EQ(direct, 14u);
}

}  // namespace
}  // namespace quantkit::onnx
