// Export of slice / gather / expand: Slice with starts, ends, axes and steps as int64
// initializers, Gather with its indices as one, Expand with its shape as one — read back by
// the importer as the same ops and run to the same bits as the original graph.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

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
using Ints = std::vector<std::int64_t>;

// x[:, ::-2, 1:] → gather columns {-1, 0} → expand to [2, 2, 3, 2].
graph::Graph indexing_chain() {
  GraphBuilder b;
  graph::Value* x = b.input("x", DType::Float32, {3, 5, 4});
  graph::Value* s =
      b.node(OpKind::Slice, {x},
             {{"dims", Ints{1, 2}},
              {"starts", Ints{std::numeric_limits<std::int64_t>::max(), 1}},
              {"ends", Ints{std::numeric_limits<std::int64_t>::min(), 4}},
              {"steps", Ints{-2, 1}}})
          ->output();
  graph::Value* g =
      b.node(OpKind::Gather, {s}, {{"dim", std::int64_t{2}}, {"indices", Ints{-1, 0}}})->output();
  graph::Value* r = b.node(OpKind::Slice, {g},
                           {{"dims", Ints{1}}, {"starts", Ints{0}}, {"ends", Ints{1}}, {"steps", Ints{1}}})
                        ->output();
  b.output(b.node(OpKind::Expand, {r}, {{"shape", Ints{2, 1, 1, 1}}})->output());
  b.output(g);
  return std::move(b).build();
}

TEST(ExportIndexing, SliceGatherExpandRoundTrip) {
  const graph::Graph g = indexing_chain();
  const Tensor x = random_tensor({3, 5, 4}, 40);
  const std::vector<Tensor> expected = graph::run_graph(g, {x});
  ASSERT_EQ(expected[0].shape(), (Shape{2, 3, 1, 2}));
  ASSERT_EQ(expected[1].shape(), (Shape{3, 3, 2}));
  for (std::int64_t opset : {13, 17, 21}) {
    SCOPED_TRACE(opset);
    ExportOptions options;
    options.opset = opset;
    const graph::Graph back = import_onnx_bytes(export_onnx_bytes(g, options), "indexing.onnx");
    EXPECT_EQ(graph::count_nodes(back, OpKind::Slice), 2u);
    EXPECT_EQ(graph::count_nodes(back, OpKind::Gather), 1u);
    EXPECT_EQ(graph::count_nodes(back, OpKind::Expand), 1u);
    const std::vector<Tensor> got = graph::run_graph(back, {x});
    EXPECT_TRUE(identical(got[0], expected[0]));
    EXPECT_TRUE(identical(got[1], expected[1]));
  }
}

}  // namespace
}  // namespace quantkit::onnx
