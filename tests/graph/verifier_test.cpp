// The verifier rejects each kind of broken graph with a message naming the culprit.
#include "quantkit/graph/verifier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "quantkit/core/error.h"
#include "quantkit/graph/builder.h"

namespace quantkit::graph {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// Runs verify and returns its message ("" when it passes).
std::string verify_message(const Graph& g) {
  try {
    verify(g);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

struct Chain {
  Graph graph;
  Node* first;
  Node* second;
};

// x -> relu -> relu_1 -> output
Chain make_chain() {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3});
  Value* a = b.relu(x);
  b.output(b.relu(a));
  Graph g = std::move(b).build();
  Node* first = g.find_node("relu");
  Node* second = g.find_node("relu_1");
  return {std::move(g), first, second};
}

TEST(Verifier, AcceptsWellFormedGraphs) {
  Chain c = make_chain();
  EXPECT_EQ(verify_message(c.graph), "");
}

TEST(Verifier, RejectsUseBeforeDefinition) {
  Chain c = make_chain();
  // relu reads relu_1's output, which is defined after it: a cycle.
  c.first->set_input(0, c.second->output());
  EXPECT_THAT(verify_message(c.graph), AllOf(HasSubstr("node 'relu' (relu)"), HasSubstr("'relu_1'"),
                                             HasSubstr("used before it is defined")));
}

TEST(Verifier, RejectsSelfLoop) {
  Chain c = make_chain();
  c.first->set_input(0, c.first->output());
  EXPECT_THAT(verify_message(c.graph),
              HasSubstr("used before it is defined (or the graph has a cycle)"));
}

TEST(Verifier, RejectsOutOfOrderNodes) {
  Chain c = make_chain();
  c.graph.move_before(c.second, c.first);
  EXPECT_THAT(verify_message(c.graph), HasSubstr("node 'relu_1' (relu): input 0 'relu'"));
}

TEST(Verifier, RejectsMissingAttribute) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 1, 4, 4});
  b.output(b.max_pool2d(x, MaxPool2dOptions({2, 2})));
  Graph g = std::move(b).build();
  g.nodes()[0]->remove_attr("ceil_mode");
  EXPECT_THAT(verify_message(g), AllOf(HasSubstr("node 'max_pool2d' (max_pool2d)"),
                                       HasSubstr("missing required attribute 'ceil_mode' (int)")));
}

TEST(Verifier, RejectsMistypedAttribute) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {4});
  b.output(b.hardtanh(x, -1, 1));
  Graph g = std::move(b).build();
  g.nodes()[0]->set_attr("min_val", std::int64_t{-1});
  EXPECT_THAT(verify_message(g), HasSubstr("attribute 'min_val' is a int, expected a float"));
}

TEST(Verifier, RejectsUnknownAttribute) {
  Chain c = make_chain();
  c.first->set_attr("inplace", std::int64_t{1});
  EXPECT_THAT(verify_message(c.graph),
              HasSubstr("node 'relu' (relu): unknown attribute 'inplace'"));
}

TEST(Verifier, RejectsDtypeMismatchWithInference) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3});
  Value* y = b.input("y", DType::Float32, {2, 3});
  Value* i = b.input("i", DType::Int32, {2, 3});
  b.output(b.add(x, y));
  Graph g = std::move(b).build();
  g.nodes()[0]->set_input(1, i);
  EXPECT_THAT(verify_message(g), AllOf(HasSubstr("node 'add' (add)"), HasSubstr("different dtypes"),
                                       HasSubstr("i32[2, 3]")));
}

TEST(Verifier, RejectsStaleOutputType) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3});
  Value* z = b.input("z", DType::Float32, {4, 3});
  b.output(b.relu(x));
  Graph g = std::move(b).build();
  // Same dtype, other shape: inference now gives f32[4, 3], the output says f32[2, 3].
  g.nodes()[0]->set_input(0, z);
  EXPECT_THAT(verify_message(g),
              AllOf(HasSubstr("output 0 'relu' has type f32[2, 3]"), HasSubstr("f32[4, 3]")));
}

TEST(Verifier, RejectsShapeErrorsFoundByInference) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 3, 8, 8});
  Value* x4 = b.input("x4", DType::Float32, {1, 4, 8, 8});
  Value* w = b.parameter("w", Tensor::zeros({2, 3, 3, 3}, DType::Float32));
  b.output(b.conv2d(x, w));
  Graph g = std::move(b).build();
  g.nodes()[0]->set_input(0, x4);
  EXPECT_THAT(verify_message(g),
              AllOf(HasSubstr("node 'conv2d' (conv2d)"), HasSubstr("expects 3 input channels")));
}

TEST(Verifier, RejectsBadQuantRange) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {4});
  b.output(b.quantize_per_tensor(x, QuantizeAttrs{0.1, 0, -128, 127, DType::Int8}));
  Graph g = std::move(b).build();
  g.nodes()[0]->set_attr("quant_max", std::int64_t{300});
  EXPECT_THAT(verify_message(g),
              HasSubstr("quant range [-128, 300] is not a non-empty range inside int8"));
  g.nodes()[0]->set_attr("quant_max", std::int64_t{127});
  g.nodes()[0]->set_attr("scale", -1.0);
  EXPECT_THAT(verify_message(g), HasSubstr("attribute 'scale' must be a finite float32 value > 0"));
}

TEST(Verifier, RejectsQParamsGivenTwice) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {4});
  Value* s = b.constant(Tensor::from_vector(std::vector<double>{0.5}, Shape{1}), "s");
  Value* z = b.constant(Tensor::from_vector(std::vector<std::int64_t>{0}, Shape{1}), "z");
  b.output(b.quantize_per_tensor(x, s, z, -128, 127, DType::Int8));
  Graph g = std::move(b).build();
  g.nodes()[0]->set_attr("scale", 0.5);
  EXPECT_THAT(verify_message(g), HasSubstr("the attributes must be absent"));
}

TEST(Verifier, RequiresDefinedOutputs) {
  Chain c = make_chain();
  // The output points at a value that is no longer in the graph.
  c.graph.set_outputs({c.first->output()});
  c.graph.remove_node(c.second);
  EXPECT_EQ(verify_message(c.graph), "");
  Chain other = make_chain();
  other.graph.set_outputs({});
  EXPECT_THAT(verify_message(other.graph), HasSubstr("the graph has no outputs"));
}

TEST(Verifier, RejectsValueOfAnotherGraph) {
  Chain a = make_chain();
  Chain b = make_chain();
  // set_input checks ownership up front, so the broken state cannot even be built.
  EXPECT_THROW(a.first->set_input(0, b.graph.find_value("x")), Error);
  EXPECT_THROW(a.graph.set_outputs({b.second->output()}), Error);
}

TEST(Verifier, RejectsWrongInputCount) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {4});
  b.output(b.cat({x, x}, 0));
  Graph g = std::move(b).build();
  EXPECT_EQ(verify_message(g), "");  // cat is variadic
  EXPECT_THROW(b.node(OpKind::Cat, {}, {{"dim", std::int64_t{0}}}), Error);
}

}  // namespace
}  // namespace quantkit::graph
