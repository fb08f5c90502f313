// Graph construction, names, uses and the mutation helpers passes rely on; clone and move.
#include "quantkit/graph/graph.h"

#include <gtest/gtest.h>

#include "graph_test_util.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/printer.h"
#include "quantkit/graph/verifier.h"

namespace quantkit::graph {
namespace {

using ::testing::HasSubstr;

// x -> linear -> relu -> out, with parameters fc.weight / fc.bias.
Graph make_linear_relu() {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 4});
  Value* w = b.parameter("fc.weight", testing::random_tensor({3, 4}, 1));
  Value* bias = b.parameter("fc.bias", testing::random_tensor({3}, 2));
  b.output(b.relu(b.linear(x, w, bias)));
  return std::move(b).build();
}

TEST(Graph, BuilderTypesOutputsThroughInference) {
  Graph g = make_linear_relu();
  ASSERT_EQ(g.num_nodes(), 2u);
  const Node* linear = g.nodes()[0];
  EXPECT_EQ(linear->op(), OpKind::Linear);
  EXPECT_EQ(linear->name(), "linear");
  EXPECT_EQ(linear->output()->type(), (TensorType{DType::Float32, {2, 3}}));
  EXPECT_EQ(linear->output()->producer(), linear);
  EXPECT_EQ(linear->output()->kind(), ValueKind::NodeOutput);
  EXPECT_EQ(g.inputs().size(), 1u);
  EXPECT_EQ(g.parameters().size(), 2u);
  EXPECT_EQ(g.find_value("fc.weight")->kind(), ValueKind::Parameter);
  EXPECT_EQ(g.find_value("fc.weight")->data().shape(), (Shape{3, 4}));
  EXPECT_EQ(g.find_node("relu"), g.nodes()[1]);
  EXPECT_EQ(g.find_node("missing"), nullptr);
  EXPECT_THROW((void)g.find_value("x")->data(), Error);
}

TEST(Graph, NodeNamesAreUniqueLikeFx) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {4});
  Value* a = b.relu(x);
  Value* c = b.relu(a);
  Value* d = b.relu(c);
  b.output(d);
  EXPECT_EQ(a->name(), "relu");
  EXPECT_EQ(c->name(), "relu_1");
  EXPECT_EQ(d->name(), "relu_2");
  // An input may not reuse a taken name.
  EXPECT_THROW(b.input("relu", DType::Float32, {1}), Error);
  EXPECT_THROW(b.input("", DType::Float32, {1}), Error);
}

TEST(Graph, MultiOutputNodeNamesItsOutputs) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 5});
  auto [scale, zp] = b.choose_qparams(x, -128, 127, 1.1920928955078125e-07, DType::Int8);
  EXPECT_EQ(scale->name(), "choose_qparams_scale");
  EXPECT_EQ(zp->name(), "choose_qparams_zero_point");
  EXPECT_EQ(scale->type(), (TensorType{DType::Float64, {1}}));
  EXPECT_EQ(zp->type(), (TensorType{DType::Int64, {1}}));
  EXPECT_EQ(zp->output_index(), 1u);
  b.output(b.quantize_per_tensor(x, scale, zp, -128, 127, DType::Int8));
  Graph g = std::move(b).build();
  EXPECT_EQ(g.nodes()[0]->num_outputs(), 2u);
}

TEST(Graph, InferenceErrorsNameTheNode) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 4});
  Value* w = b.parameter("w", Tensor::zeros({3, 5}, DType::Float32));
  try {
    b.linear(x, w);
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("node 'linear' (linear)"));
    EXPECT_THAT(e.what(), HasSubstr("4 features"));
  }
  // Nothing was added by the failed call.
  EXPECT_EQ(b.graph().num_nodes(), 0u);
  EXPECT_EQ(b.graph().find_node("linear"), nullptr);
}

TEST(Graph, UnknownAttributeIsRejectedAtConstruction) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {4});
  EXPECT_THROW(b.node(OpKind::Relu, {x}, {{"alpha", 0.1}}), Error);
  EXPECT_THROW(b.node(OpKind::Relu, {x, x}), Error);  // too many inputs
}

TEST(Graph, ValuesFromAnotherGraphAreRejected) {
  GraphBuilder a;
  Value* xa = a.input("x", DType::Float32, {4});
  GraphBuilder b;
  b.input("x", DType::Float32, {4});
  EXPECT_THROW(b.relu(xa), Error);
  EXPECT_THROW(b.output(xa), Error);
  EXPECT_THROW(b.relu(nullptr), Error);
}

TEST(Graph, UsesAndReplaceAllUses) {
  Graph g = make_linear_relu();
  Node* linear = g.find_node("linear");
  Node* relu = g.find_node("relu");
  Value* x = g.find_value("x");
  ASSERT_EQ(g.uses(x).size(), 1u);
  EXPECT_EQ(g.uses(x)[0].node, linear);
  EXPECT_EQ(g.uses(x)[0].index, 0u);
  EXPECT_TRUE(g.is_output(relu->output()));

  // Insert a hardtanh after the linear and route the relu through it.
  Node* ht = g.insert_node_after(linear, OpKind::Hardtanh, {linear->output()},
                                 {{"min_val", -0.5}, {"max_val", 0.5}});
  g.replace_all_uses_except(linear->output(), ht->output(), ht);
  verify(g);
  EXPECT_EQ(relu->input(0), ht->output());
  EXPECT_EQ(g.nodes()[1], ht);
  EXPECT_EQ(g.uses(linear->output()).size(), 1u);

  // Types must match.
  Value* wrong = g.add_constant(Tensor::zeros({3}, DType::Float32));
  EXPECT_THROW(g.replace_all_uses(ht->output(), wrong), Error);
}

TEST(Graph, ReplaceAllUsesUpdatesGraphOutputs) {
  Graph g = make_linear_relu();
  Node* linear = g.find_node("linear");
  Node* relu = g.find_node("relu");
  g.replace_all_uses(relu->output(), linear->output());
  EXPECT_EQ(g.outputs()[0], linear->output());
  // relu is now dead.
  EXPECT_EQ(g.eliminate_dead_code(), 1u);
  EXPECT_EQ(g.num_nodes(), 1u);
  EXPECT_FALSE(g.contains(relu));
  verify(g);
}

TEST(Graph, RemoveNodeRefusesWhileUsed) {
  Graph g = make_linear_relu();
  Node* linear = g.find_node("linear");
  EXPECT_THROW(g.remove_node(linear), Error);
  Node* relu = g.find_node("relu");
  EXPECT_THROW(g.remove_node(relu), Error);  // a graph output
  g.set_outputs({linear->output()});
  g.remove_node(relu);
  EXPECT_EQ(g.num_nodes(), 1u);
  // The name is free again.
  EXPECT_EQ(g.unique_name("relu"), "relu");
  verify(g);
}

TEST(Graph, InsertBeforeAndMove) {
  Graph g = make_linear_relu();
  Node* linear = g.find_node("linear");
  Value* x = g.find_value("x");
  Node* pre = g.insert_node_before(linear, OpKind::Relu, {x}, {}, "pre_relu");
  linear->set_input(0, pre->output());
  EXPECT_EQ(g.nodes()[0], pre);
  verify(g);
  // Moving the producer after its user breaks the def-before-use order.
  g.move_before(pre, g.find_node("relu"));
  EXPECT_THROW(verify(g), Error);
  g.move_before(pre, linear);
  verify(g);
}

TEST(Graph, DeadCodeEliminationDropsUnusedConstantsButKeepsParameters) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {4});
  Value* c = b.constant(Tensor::scalar(2.0f), "two");
  Value* unused_param = b.parameter("p", Tensor::zeros({4}, DType::Float32));
  b.mul(x, c);             // dead
  b.add(x, unused_param);  // dead
  b.output(b.relu(x));
  Graph g = std::move(b).build();
  EXPECT_EQ(g.eliminate_dead_code(), 2u);
  EXPECT_EQ(g.constants().size(), 0u);
  EXPECT_EQ(g.parameters().size(), 1u);
  EXPECT_EQ(g.remove_unused_parameters(), 1u);
  EXPECT_EQ(g.parameters().size(), 0u);
  EXPECT_EQ(g.find_value("two"), nullptr);
  verify(g);
}

TEST(Graph, CountNodes) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 2, 4, 4});
  Value* y = b.relu(b.relu(x));
  Value* z = b.max_pool2d(y, MaxPool2dOptions({2, 2}));
  b.output(b.relu(z));
  Graph g = std::move(b).build();
  EXPECT_EQ(count_nodes(g, OpKind::Relu), 3u);
  EXPECT_EQ(count_nodes(g, OpKind::MaxPool2d), 1u);
  EXPECT_EQ(count_nodes(g, OpKind::QuantizePerChannel), 0u);
}

TEST(Graph, CloneIsDeepAndIndependent) {
  Graph g = make_linear_relu();
  g.find_node("linear")->set_source({"fc", "Linear"});
  Graph c = g.clone();
  verify(c);
  EXPECT_EQ(to_string(c), to_string(g));
  // Different objects, equal data.
  EXPECT_NE(c.find_value("fc.weight"), g.find_value("fc.weight"));
  EXPECT_TRUE(bitwise_equal(c.find_value("fc.weight")->data(), g.find_value("fc.weight")->data()));
  EXPECT_NE(c.find_value("fc.weight")->data().raw_data(),
            g.find_value("fc.weight")->data().raw_data());
  EXPECT_EQ(c.find_node("linear")->source(), (SourceInfo{"fc", "Linear"}));
  EXPECT_EQ(c.find_node("relu")->input(0), c.find_node("linear")->output());

  // Mutating the clone leaves the original untouched.
  c.set_parameter_data("fc.weight", Tensor::zeros({3, 4}, DType::Float32));
  c.find_node("linear")->set_source({});
  Node* relu = c.find_node("relu");
  c.set_outputs({c.find_node("linear")->output()});
  c.remove_node(relu);
  EXPECT_EQ(g.num_nodes(), 2u);
  EXPECT_NE(g.find_value("fc.weight")->data().data<float>()[0], 0.0f);
  EXPECT_EQ(g.find_node("linear")->source().module_path, "fc");
  verify(g);
}

TEST(Graph, MovedGraphKeepsWorking) {
  Graph g = make_linear_relu();
  Graph moved = std::move(g);
  verify(moved);
  EXPECT_EQ(&moved.find_node("linear")->owner(), &moved);
  Node* relu = moved.find_node("relu");
  EXPECT_TRUE(moved.contains(relu));
  moved.insert_node_after(relu, OpKind::Relu, {relu->output()});
  verify(moved);
}

TEST(Graph, SetParameterDataChecksType) {
  Graph g = make_linear_relu();
  EXPECT_THROW(g.set_parameter_data("fc.weight", Tensor::zeros({4, 3}, DType::Float32)), Error);
  EXPECT_THROW(g.set_parameter_data("x", Tensor::zeros({2, 4}, DType::Float32)), Error);
  EXPECT_THROW(g.set_parameter_data("nope", Tensor::zeros({1}, DType::Float32)), Error);
}

TEST(Graph, TypedAttributeGettersNameNodeAndAttribute) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 1, 4, 4});
  Value* y = b.max_pool2d(x, MaxPool2dOptions({2, 2}));
  const Node* n = y->producer();
  EXPECT_EQ(n->attr_ints("stride"), (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(n->attr_int("ceil_mode"), 0);
  try {
    (void)n->attr_float("stride");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("node 'max_pool2d' (max_pool2d) attribute 'stride'"));
    EXPECT_THAT(e.what(), HasSubstr("expected a float attribute, got a ints"));
  }
  EXPECT_THROW((void)n->attr_int("missing"), Error);
}

}  // namespace
}  // namespace quantkit::graph
