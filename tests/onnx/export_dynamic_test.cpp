// Export of graphs with dynamic dims: dim_param on the inputs and outputs, a reshape that holds
// for any batch, and the round trip back through the importer.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cstring>

#include "graph/graph_test_util.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/onnx/onnx_export.h"
#include "quantkit/onnx/onnx_import.h"

namespace quantkit::onnx {
namespace {

using graph::testing::identical;
using graph::testing::random_tensor;

// x [N, 2, 3] → reshape(-1, 6) → linear(6 → 4) → relu.
graph::Graph dynamic_mlp() {
  graph::GraphBuilder b;
  graph::Value* x = b.input("x", DType::Float32, {1, 2, 3}, {"N", "", ""});
  graph::Value* y = b.reshape(x, {-1, 6});
  y = b.linear(y, b.parameter("w", random_tensor({4, 6}, 1)),
               b.parameter("b", random_tensor({4}, 2)));
  b.output(b.relu(y));
  return std::move(b).build();
}

TEST(OnnxExportDynamic, WritesDimParamsAndRoundTripsForAnyBatch) {
  const graph::Graph g = dynamic_mlp();
  const std::string bytes = export_onnx_bytes(g);
  ::onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromString(bytes));
  const auto& in = model.graph().input(0).type().tensor_type().shape();
  ASSERT_EQ(in.dim_size(), 3);
  EXPECT_EQ(in.dim(0).dim_param(), "N");
  EXPECT_FALSE(in.dim(0).has_dim_value());
  EXPECT_EQ(in.dim(1).dim_value(), 2);
  const auto& out = model.graph().output(0).type().tensor_type().shape();
  EXPECT_EQ(out.dim(0).dim_param(), "N");
  EXPECT_EQ(out.dim(1).dim_value(), 4);

  const graph::Graph back = import_onnx_bytes(bytes, "dynamic.onnx");
  EXPECT_EQ(back.inputs()[0]->type_string(), "f32[N, 2, 3]");
  EXPECT_EQ(back.outputs()[0]->type_string(), "f32[N, 4]");
  for (std::int64_t batch : {1, 4}) {
    const Tensor x = random_tensor({batch, 2, 3}, static_cast<std::uint32_t>(10 + batch));
    EXPECT_TRUE(identical(graph::run_graph(back, {x})[0], graph::run_graph(g, {x})[0]));
  }
}

}  // namespace
}  // namespace quantkit::onnx
