// Dynamic dims in the graph IR: naming, propagation through add_node (the probe),
// Graph::specialized, and the interpreter running any batch size.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "graph_test_util.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/graph/printer.h"
#include "quantkit/graph/verifier.h"

namespace quantkit::graph {
namespace {

using ::testing::HasSubstr;
using testing::identical;
using testing::random_tensor;

// x [N, 2, 6, 6] → conv 3×3 (4 channels) → relu → max_pool 2 → flatten(1) → linear(16 → 3).
Graph small_cnn() {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 2, 6, 6}, {"N", "", "", ""});
  Value* w = b.parameter("conv.weight", random_tensor({4, 2, 3, 3}, 1));
  Value* bias = b.parameter("conv.bias", random_tensor({4}, 2));
  Value* y = b.relu(b.conv2d(x, w, bias));
  y = b.max_pool2d(y, MaxPool2dOptions({2, 2}));
  y = b.flatten(y, 1);
  y = b.linear(y, b.parameter("fc.weight", random_tensor({3, 16}, 3)),
               b.parameter("fc.bias", random_tensor({3}, 4)));
  b.output(y);
  return std::move(b).build();
}

// Rows [start, start + n) of a tensor stacked on dim 0.
Tensor rows(const Tensor& t, std::int64_t start, std::int64_t n) {
  Shape shape = t.shape();
  shape[0] = n;
  Tensor out = Tensor::empty(shape, t.dtype());
  std::memcpy(out.raw_data(),
              static_cast<const std::byte*>(t.raw_data()) +
                  start * static_cast<std::int64_t>(out.nbytes()) / n,
              out.nbytes());
  return out;
}

TEST(DynamicDims, NamesPropagateFromTheInputThroughEveryOp) {
  const Graph g = small_cnn();
  EXPECT_TRUE(g.has_dynamic_dims());
  EXPECT_EQ(g.inputs()[0]->type_string(), "f32[N, 2, 6, 6]");
  EXPECT_EQ(g.inputs()[0]->shape(), (Shape{1, 2, 6, 6}));  // the representative size
  for (const Node* n : g.nodes()) {
    ASSERT_TRUE(n->output()->is_dynamic()) << n->name();
    EXPECT_EQ(n->output()->dim_names()[0], "N") << n->name();
  }
  EXPECT_EQ(g.outputs()[0]->type_string(), "f32[N, 3]");
  EXPECT_THAT(to_string(g), HasSubstr("%x: f32[N, 2, 6, 6]"));
  EXPECT_THAT(to_string(g), HasSubstr("f32[N, 3] = linear("));
  // Parameters are static, and a clone keeps the names.
  EXPECT_FALSE(g.parameters()[0]->is_dynamic());
  EXPECT_EQ(g.clone().outputs()[0]->type_string(), "f32[N, 3]");
}

TEST(DynamicDims, ADerivedDimIsUnnamedAndAStaticOneStaysStatic) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 4}, {"N", ""});
  Value* all = b.reshape(x, {-1});  // N*4: dynamic, but not N
  Value* t = b.transpose(x, 0, 1);  // [4, N]
  b.output(all);
  b.output(t);
  const Graph g = std::move(b).build();
  EXPECT_EQ(g.outputs()[0]->type_string(), "f32[?]");
  EXPECT_EQ(g.outputs()[1]->type_string(), "f32[4, N]");
}

TEST(DynamicDims, AnOpThatNeedsTheDimStaticIsAnErrorNamingIt) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 4}, {"N", ""});
  try {
    b.reshape(x, {2, 2});  // holds 4 elements: only batch 1
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("needs static dims"));
    EXPECT_THAT(e.what(), HasSubstr("'x' f32[N, 4]"));
  }
}

TEST(DynamicDims, AddInputChecksOneNamePerDim) {
  Graph g;
  EXPECT_THROW(g.add_input("x", {DType::Float32, {1, 4}}, {"N"}), Error);
  // All names empty: a static input.
  EXPECT_FALSE(g.add_input("y", {DType::Float32, {1, 4}}, {"", ""})->is_dynamic());
}

TEST(DynamicDims, SpecializedIsStaticWithTheConcreteShapes) {
  const Graph g = small_cnn();
  const Shape five{5, 2, 6, 6};
  const Graph s = g.specialized(std::span<const Shape>(&five, 1));
  verify(s);
  EXPECT_FALSE(s.has_dynamic_dims());
  EXPECT_EQ(s.inputs()[0]->shape(), five);
  EXPECT_EQ(s.outputs()[0]->shape(), (Shape{5, 3}));
  EXPECT_EQ(s.outputs()[0]->type_string(), "f32[5, 3]");
  EXPECT_EQ(s.num_nodes(), g.num_nodes());
  EXPECT_EQ(s.nodes()[0]->name(), g.nodes()[0]->name());
  // The original keeps its dynamic types.
  EXPECT_EQ(g.outputs()[0]->type_string(), "f32[N, 3]");
  // Static dims must match; dynamic ones must be >= 1.
  for (const Shape& bad : {Shape{5, 3, 6, 6}, Shape{0, 2, 6, 6}, Shape{5, 2, 6}}) {
    EXPECT_THROW(g.specialized(std::span<const Shape>(&bad, 1)), Error) << shape_to_string(bad);
  }
}

TEST(DynamicDims, InterpreterRunsAnyBatchAndEachRowIsWhatItsSampleGivesAlone) {
  const Graph g = small_cnn();
  Interpreter run(g);
  const Tensor x = random_tensor({7, 2, 6, 6}, 9);
  for (std::int64_t batch : {7, 3, 1, 3}) {  // 3 again: from the cache
    const Tensor xb = rows(x, 0, batch);
    const Tensor y = run({xb})[0];
    ASSERT_EQ(y.shape(), (Shape{batch, 3}));
    for (std::int64_t i = 0; i < batch; ++i) {
      EXPECT_TRUE(identical(rows(y, i, 1), run({rows(x, i, 1)})[0]))
          << "batch " << batch << " row " << i;
    }
  }
  // A static dim of another size is still an Error.
  EXPECT_THROW(run({random_tensor({2, 3, 6, 6}, 1)}), Error);
}

TEST(DynamicDims, InterpreterObserverSeesTheSpecializedNodesByName) {
  const Graph g = small_cnn();
  Interpreter run(g);
  std::vector<std::string> seen;
  run.set_observer([&](const Node& n, std::span<const Tensor> outs) {
    seen.push_back(n.name() + shape_to_string(outs[0].shape()));
  });
  run({random_tensor({4, 2, 6, 6}, 5)});
  ASSERT_EQ(seen.size(), g.num_nodes());
  EXPECT_EQ(seen.back(), g.nodes().back()->name() + "[4, 3]");
}

TEST(DynamicDims, WithDynamicBatchLetsAStaticModelRunAnyBatch) {
  // A model exported for batch 2, with a reshape to [2, 16] (x.view(2, -1) traced).
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 2, 6, 6});
  Value* y = b.relu(b.conv2d(x, b.parameter("conv.weight", random_tensor({4, 2, 3, 3}, 1)),
                             b.parameter("conv.bias", random_tensor({4}, 2))));
  y = b.max_pool2d(y, MaxPool2dOptions({2, 2}));
  y = b.reshape(y, {2, 16});
  y = b.linear(y, b.parameter("fc.weight", random_tensor({3, 16}, 3)), nullptr);
  b.output(y);
  const Graph g = std::move(b).build();
  const Graph d = g.with_dynamic_batch();
  verify(d);
  EXPECT_EQ(d.inputs()[0]->type_string(), "f32[N, 2, 6, 6]");
  EXPECT_EQ(d.outputs()[0]->type_string(), "f32[N, 3]");
  EXPECT_EQ(g.outputs()[0]->type_string(), "f32[2, 3]");  // the original is untouched
  ASSERT_EQ(d.num_nodes(), g.num_nodes());
  for (std::size_t i = 0; i < g.num_nodes(); ++i)
    EXPECT_EQ(d.nodes()[i]->name(), g.nodes()[i]->name());
  // Batch 2 gives the original's bits; each row of batch 5 is what its sample gives alone.
  const Tensor x2 = random_tensor({2, 2, 6, 6}, 7);
  EXPECT_TRUE(identical(Interpreter(d)({x2})[0], Interpreter(g)({x2})[0]));
  const Shape five{5, 2, 6, 6};
  const Graph s = d.specialized(std::span<const Shape>(&five, 1));
  const Tensor x5 = random_tensor(five, 8);
  const Tensor y5 = Interpreter(s)({x5})[0];
  ASSERT_EQ(y5.shape(), (Shape{5, 3}));
  const Shape one{1, 2, 6, 6};
  const Graph s1 = d.specialized(std::span<const Shape>(&one, 1));
  for (std::int64_t i = 0; i < 5; ++i)
    EXPECT_TRUE(identical(rows(y5, i, 1), Interpreter(s1)({rows(x5, i, 1)})[0])) << i;
  // Already dynamic: unchanged names.
  EXPECT_EQ(small_cnn().with_dynamic_batch().outputs()[0]->type_string(), "f32[N, 3]");
}

TEST(DynamicDims, WithDynamicBatchNamesTheOpThatNeedsTheBatchStatic) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 4});
  b.output(b.reshape(x, {4, 2}));  // mixes the batch into another dim
  const Graph g = std::move(b).build();
  try {
    g.with_dynamic_batch();
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("needs static dims"));
    EXPECT_THAT(e.what(), HasSubstr("reshape"));
  }
}

}  // namespace
}  // namespace quantkit::graph
