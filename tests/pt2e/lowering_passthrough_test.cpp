// The lowering's pass-through follows OpTraits::value_preserving: every flagged op between a
// dequantize and a quantize with equal qparams runs on the int8 codes, bit-equal to the Q/DQ
// graph (transpose joined max_pool2d / flatten / reshape when the list became a trait).
#include <gtest/gtest.h>

#include "qdq_graphs.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/pt2e/lowering.h"

namespace quantkit::pt2e {
namespace {

using graph::OpKind;
using graph::QuantizeAttrs;
using graph::run_graph;
using graph::Value;
using graph::testing::identical;
using graph::testing::random_ints;

TEST(LoweringPassthrough, TransposeRunsOnTheInt8Codes) {
  const QuantizeAttrs q{0.0073, 13, -128, 127, DType::Int8};
  graph::GraphBuilder b;
  Value* x = b.input("x", DType::Int8, {2, 3, 4});
  b.output(b.quantize_per_tensor(b.transpose(b.dequantize_per_tensor(x, q), 0, 2), q));
  const Graph qdq = std::move(b).build();
  LoweringStats stats;
  const Graph lowered = lower_to_fused_kernels(qdq, &stats);
  EXPECT_EQ(stats.passthrough, 1u);
  ASSERT_EQ(lowered.num_nodes(), 1u);
  EXPECT_EQ(lowered.nodes()[0]->op(), OpKind::Transpose);
  EXPECT_EQ(lowered.nodes()[0]->output()->dtype(), DType::Int8);
  const Tensor codes = random_ints<std::int8_t>({2, 3, 4}, 3, -128, 127);
  EXPECT_TRUE(identical(run_graph(lowered, {codes})[0], run_graph(qdq, {codes})[0]));
}

TEST(LoweringPassthrough, AnOpThatIsNotValuePreservingIsNotPassedThrough) {
  // relu changes values (negative codes become the zero point): no pass-through; being
  // pointwise it becomes a table instead.
  const QuantizeAttrs q{0.0073, 13, -128, 127, DType::Int8};
  graph::GraphBuilder b;
  Value* x = b.input("x", DType::Int8, {2, 3});
  b.output(b.quantize_per_tensor(b.relu(b.dequantize_per_tensor(x, q)), q));
  const Graph qdq = std::move(b).build();
  LoweringStats stats;
  const Graph lowered = lower_to_fused_kernels(qdq, &stats);
  EXPECT_EQ(stats.passthrough, 0u);
  EXPECT_EQ(stats.lut, 1u);
  EXPECT_EQ(graph::count_nodes(lowered, graph::OpKind::Relu), 0u);
  EXPECT_EQ(graph::count_nodes(lowered, graph::OpKind::QuantizedLut), 1u);
}

TEST(LoweringPassthrough, AnOpThatIsNeitherStaysInFloat) {
  // softmax is neither value preserving nor pointwise: it keeps its dequantize/quantize.
  const QuantizeAttrs q{0.0073, 13, -128, 127, DType::Int8};
  graph::GraphBuilder b;
  Value* x = b.input("x", DType::Int8, {2, 3});
  b.output(b.quantize_per_tensor(b.softmax(b.dequantize_per_tensor(x, q), 1), q));
  LoweringStats stats;
  const Graph lowered = lower_to_fused_kernels(std::move(b).build(), &stats);
  EXPECT_EQ(stats.passthrough + stats.lut, 0u);
  EXPECT_EQ(lowered.num_nodes(), 3u);
}

}  // namespace
}  // namespace quantkit::pt2e
