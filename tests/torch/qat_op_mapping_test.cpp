// QatModule's op mapping: every graph-IR op it maps, run in eval mode on random inputs, equals
// graph::Interpreter's reference kernel within 1e-5 of the output's largest magnitude; an op
// without a mapping is refused at construction, naming the op and the node.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/pt2e/prepare.h"
#include "quantkit/torch/qat_module.h"
#include "torch/qat_test_support.h"

namespace quantkit {
namespace {

using graph::AttributeMap;
using graph::GraphBuilder;
using graph::OpKind;
using graph::Value;
using torch_test::from_quantkit;
using torch_test::max_relative_difference;
using torch_test::uniform;

struct InputSpec {
  Shape shape;
  float lo = -2.0f;
  float hi = 2.0f;
};

struct OpCase {
  std::string name;
  std::vector<InputSpec> inputs;
  // Builds the body on the graph inputs and returns the output.
  std::function<Value*(GraphBuilder&, const std::vector<Value*>&)> body;
};

Value* param(GraphBuilder& b, const std::string& name, Shape shape, std::uint32_t seed,
             float lo = -1.0f, float hi = 1.0f) {
  return b.parameter(name, uniform(std::move(shape), seed, lo, hi));
}

Value* op(GraphBuilder& b, OpKind kind, std::vector<Value*> in, AttributeMap attrs = {}) {
  return b.node(kind, std::move(in), std::move(attrs))->output();
}

using A = graph::Attribute;

std::vector<OpCase> op_cases() {
  using V = std::vector<Value*>;
  return {
      {"linear", {{{4, 6}}},
       [](GraphBuilder& b, const V& x) {
         return b.linear(x[0], param(b, "w", {5, 6}, 1), param(b, "b", {5}, 2));
       }},
      {"linear_rank3_no_bias", {{{2, 3, 6}}},
       [](GraphBuilder& b, const V& x) { return b.linear(x[0], param(b, "w", {4, 6}, 3)); }},
      {"conv2d_strided_dilated_grouped", {{{2, 4, 9, 9}}},
       [](GraphBuilder& b, const V& x) {
         return b.conv2d(x[0], param(b, "w", {6, 2, 3, 3}, 4), param(b, "b", {6}, 5),
                         graph::Conv2dOptions({2, 1}, {1, 2}, {2, 1}, 2));
       }},
      {"add_broadcast", {{{2, 3, 4}}, {{3, 1}}},
       [](GraphBuilder& b, const V& x) { return b.add(x[0], x[1]); }},
      {"sub_broadcast", {{{2, 3, 4}}, {{4}}},
       [](GraphBuilder& b, const V& x) { return b.sub(x[0], x[1]); }},
      {"mul_scalar_constant", {{{2, 3, 4}}},
       [](GraphBuilder& b, const V& x) {
         return b.mul(x[0], b.constant(Tensor::from_vector(std::vector<float>{1.5f}, Shape{})));
       }},
      {"div_broadcast", {{{2, 3, 4}}, {{1, 3, 1}, 0.5f, 2.0f}},
       [](GraphBuilder& b, const V& x) { return b.div(x[0], x[1]); }},
      {"relu", {{{3, 7}}}, [](GraphBuilder& b, const V& x) { return b.relu(x[0]); }},
      {"hardtanh", {{{3, 7}}}, [](GraphBuilder& b, const V& x) { return b.hardtanh(x[0], -0.5, 0.7); }},
      {"clamp_min", {{{3, 7}}},
       [](GraphBuilder& b, const V& x) { return b.clamp(x[0], -0.25, std::nullopt); }},
      {"clamp_max", {{{3, 7}}},
       [](GraphBuilder& b, const V& x) { return b.clamp(x[0], std::nullopt, 0.3); }},
      {"max_pool2d_ceil_padded", {{{2, 3, 9, 8}}},
       [](GraphBuilder& b, const V& x) {
         return b.max_pool2d(x[0], graph::MaxPool2dOptions({3, 3}, {2, 2}, {1, 1}, {1, 1}, true));
       }},
      {"max_pool2d_dilated_3d", {{{3, 9, 8}}},
       [](GraphBuilder& b, const V& x) {
         return b.max_pool2d(x[0], graph::MaxPool2dOptions({2, 2}, {1, 2}, {0, 1}, {2, 1}));
       }},
      {"avg_pool2d_ceil_exclude_pad", {{{2, 3, 9, 8}}},
       [](GraphBuilder& b, const V& x) {
         return b.avg_pool2d(x[0], graph::AvgPool2dOptions({3, 3}, {2, 2}, {1, 1}, true, false));
       }},
      {"avg_pool2d_include_pad_divisor", {{{2, 3, 8, 8}}},
       [](GraphBuilder& b, const V& x) {
         return b.avg_pool2d(x[0],
                             graph::AvgPool2dOptions({3, 2}, {2, 2}, {1, 1}, false, true, 5));
       }},
      {"adaptive_avg_pool2d", {{{2, 3, 7, 5}}},
       [](GraphBuilder& b, const V& x) { return b.adaptive_avg_pool2d(x[0], {3, 2}); }},
      {"batch_norm_eval", {{{2, 3, 4, 5}}},
       [](GraphBuilder& b, const V& x) {
         return b.batch_norm(x[0], param(b, "bn.weight", {3}, 6), param(b, "bn.bias", {3}, 7),
                             param(b, "bn.running_mean", {3}, 8),
                             param(b, "bn.running_var", {3}, 9, 0.5f, 2.0f), 1e-3);
       }},
      {"flatten", {{{2, 3, 4, 5}}}, [](GraphBuilder& b, const V& x) { return b.flatten(x[0], 1, 2); }},
      {"reshape", {{{2, 3, 4}}}, [](GraphBuilder& b, const V& x) { return b.reshape(x[0], {-1, 6}); }},
      {"transpose", {{{2, 3, 4}}},
       [](GraphBuilder& b, const V& x) { return b.relu(b.transpose(x[0], 0, -1)); }},
      {"cat", {{{2, 3, 4}}, {{2, 1, 4}}, {{2, 2, 4}}},
       [](GraphBuilder& b, const V& x) { return b.cat({x[0], x[1], x[2]}, -2); }},
      {"softmax", {{{3, 5, 4}}}, [](GraphBuilder& b, const V& x) { return b.softmax(x[0], 1); }},
      {"sigmoid", {{{3, 7}, -8.0f, 8.0f}},
       [](GraphBuilder& b, const V& x) { return op(b, OpKind::Sigmoid, {x[0]}); }},
      {"tanh", {{{3, 7}}}, [](GraphBuilder& b, const V& x) { return op(b, OpKind::Tanh, {x[0]}); }},
      {"hardsigmoid", {{{3, 7}, -6.0f, 6.0f}},
       [](GraphBuilder& b, const V& x) {
         return op(b, OpKind::HardSigmoid, {x[0]}, {{"alpha", A(0.2)}, {"beta", A(0.5)}});
       }},
      {"hardswish", {{{3, 7}, -5.0f, 5.0f}},
       [](GraphBuilder& b, const V& x) { return op(b, OpKind::HardSwish, {x[0]}); }},
      {"leaky_relu", {{{3, 7}}},
       [](GraphBuilder& b, const V& x) {
         return op(b, OpKind::LeakyRelu, {x[0]}, {{"negative_slope", A(0.1)}});
       }},
      {"matmul_batch_broadcast", {{{2, 1, 3, 4}}, {{5, 4, 2}}},
       [](GraphBuilder& b, const V& x) { return op(b, OpKind::MatMul, {x[0], x[1]}); }},
      {"pad2d", {{{2, 3, 4, 5}}},
       [](GraphBuilder& b, const V& x) {
         return op(b, OpKind::Pad2d, {x[0]},
                   {{"pads", A(std::vector<std::int64_t>{1, 2, 0, 3})}, {"value", A(0.5)}});
       }},
      {"erf", {{{3, 7}}}, [](GraphBuilder& b, const V& x) { return op(b, OpKind::Erf, {x[0]}); }},
      {"exp", {{{3, 7}}}, [](GraphBuilder& b, const V& x) { return op(b, OpKind::Exp, {x[0]}); }},
      {"neg", {{{3, 7}}}, [](GraphBuilder& b, const V& x) { return op(b, OpKind::Neg, {x[0]}); }},
      {"sqrt", {{{3, 7}, 0.0f, 4.0f}},
       [](GraphBuilder& b, const V& x) { return op(b, OpKind::Sqrt, {x[0]}); }},
      {"pow_scalar_square", {{{3, 7}}},
       [](GraphBuilder& b, const V& x) {
         return op(b, OpKind::Pow,
                   {x[0], b.constant(Tensor::from_vector(std::vector<float>{2.0f}, Shape{}))});
       }},
      {"pow_tensor", {{{3, 7}, 0.1f, 3.0f}, {{7}, -1.5f, 1.5f}},
       [](GraphBuilder& b, const V& x) { return op(b, OpKind::Pow, {x[0], x[1]}); }},
      {"mean_keepdim", {{{2, 3, 4, 5}}},
       [](GraphBuilder& b, const V& x) {
         return op(b, OpKind::Mean, {x[0]},
                   {{"dims", A(std::vector<std::int64_t>{1, -1})}, {"keepdim", A(std::int64_t{1})}});
       }},
      {"mean", {{{2, 3, 4}}},
       [](GraphBuilder& b, const V& x) {
         return op(b, OpKind::Mean, {x[0]},
                   {{"dims", A(std::vector<std::int64_t>{0})}, {"keepdim", A(std::int64_t{0})}});
       }},
      {"layer_norm_last_axis", {{{2, 3, 8}}},
       [](GraphBuilder& b, const V& x) {
         return op(b, OpKind::LayerNorm,
                   {x[0], param(b, "ln.weight", {8}, 10), param(b, "ln.bias", {8}, 11)},
                   {{"axis", A(std::int64_t{-1})}, {"eps", A(1e-5)}});
       }},
      {"layer_norm_axis1_no_bias", {{{2, 3, 4}}},
       [](GraphBuilder& b, const V& x) {
         return op(b, OpKind::LayerNorm, {x[0], param(b, "ln.weight", {3, 4}, 12)},
                   {{"axis", A(std::int64_t{1})}, {"eps", A(1e-5)}});
       }},
      {"slice_positive_and_negative_steps", {{{3, 6, 5}}},
       [](GraphBuilder& b, const V& x) {
         return op(b, OpKind::Slice, {x[0]},
                   {{"dims", A(std::vector<std::int64_t>{1, -1})},
                    {"starts", A(std::vector<std::int64_t>{1, -1})},
                    {"ends", A(std::vector<std::int64_t>{100, -100})},
                    {"steps", A(std::vector<std::int64_t>{2, -2})}});
       }},
      {"gather_negative_indices", {{{2, 5, 3}}},
       [](GraphBuilder& b, const V& x) {
         return op(b, OpKind::Gather, {x[0]},
                   {{"dim", A(std::int64_t{1})}, {"indices", A(std::vector<std::int64_t>{4, -5, 2})}});
       }},
      {"expand_bidirectional", {{{3, 1}}},
       [](GraphBuilder& b, const V& x) {
         return op(b, OpKind::Expand, {x[0]}, {{"shape", A(std::vector<std::int64_t>{2, 1, 4})}});
       }},
      {"conv_transpose2d_asymmetric_pads", {{{1, 4, 5, 5}}},
       [](GraphBuilder& b, const V& x) {
         return op(b, OpKind::ConvTranspose2d,
                   {x[0], param(b, "ct.weight", {4, 3, 3, 3}, 13), param(b, "ct.bias", {6}, 14)},
                   {{"stride", A(std::vector<std::int64_t>{2, 2})},
                    {"pads", A(std::vector<std::int64_t>{1, 0, 0, 1})},
                    {"output_padding", A(std::vector<std::int64_t>{1, 0})},
                    {"dilation", A(std::vector<std::int64_t>{1, 1})},
                    {"groups", A(std::int64_t{2})}});
       }},
      {"observe_is_identity", {{{3, 7}}},
       [](GraphBuilder& b, const V& x) {
         return b.relu(op(b, OpKind::Observe, {x[0]}, {{"observer", A(std::string("obs"))}}));
       }},
  };
}

// Runs one case; the body of the loop below.
void expect_eval_forward_equals_interpreter(const OpCase& c) {
  GraphBuilder b;
  std::vector<Value*> inputs;
  for (std::size_t i = 0; i < c.inputs.size(); ++i) {
    inputs.push_back(b.input("x" + std::to_string(i), DType::Float32, c.inputs[i].shape));
  }
  b.output(c.body(b, inputs));
  graph::Graph g = std::move(b).build();

  std::vector<Tensor> xs;
  std::vector<at::Tensor> torch_xs;
  for (std::size_t i = 0; i < c.inputs.size(); ++i) {
    xs.push_back(uniform(c.inputs[i].shape, 100 + static_cast<std::uint32_t>(i), c.inputs[i].lo,
                         c.inputs[i].hi));
    torch_xs.push_back(from_quantkit(xs.back()));
  }
  const Tensor expected = graph::run_graph(g, xs)[0];

  std::map<std::string, pt2e::ObservedPlace> places;
  places["obs"].observer = make_observer("minmax", ObserverOptions{});
  pt2e::PreparedModel prepared(std::move(g), std::move(places), /*is_qat=*/true);
  torch::QatModule module(prepared);
  module.eval();
  const at::Tensor got = module.forward(torch_xs)[0];
  ASSERT_EQ(std::vector<std::int64_t>(got.sizes().begin(), got.sizes().end()), expected.shape());
  EXPECT_LE(max_relative_difference(got, from_quantkit(expected)), 1e-5);
}

// One test over every case, not one per case: each test is a process under CTest, and each
// process pays for loading LibTorch (about a second).
TEST(QatOpMapping, EvalForwardEqualsTheInterpreterForEveryMappedOp) {
  for (const OpCase& c : op_cases()) {
    SCOPED_TRACE(c.name);
    expect_eval_forward_equals_interpreter(c);
  }
}

TEST(QatOpMapping, EveryParameterIsALeafThatReceivesAGradient) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3, 6, 6});
  Value* y = b.conv2d(x, param(b, "conv.weight", {4, 3, 3, 3}, 1), param(b, "conv.bias", {4}, 2));
  y = b.batch_norm(y, param(b, "bn.weight", {4}, 3), param(b, "bn.bias", {4}, 4),
                   param(b, "bn.running_mean", {4}, 5), param(b, "bn.running_var", {4}, 6, 0.5f, 1.5f));
  y = b.linear(b.flatten(b.relu(y), 1), param(b, "fc.weight", {3, 64}, 7));
  b.output(y);
  pt2e::PreparedModel prepared(std::move(b).build(), {}, true);
  torch::QatModule module(prepared);
  const std::vector<at::Tensor> leaves = module.parameters();
  ASSERT_EQ(leaves.size(), 5u);  // conv weight / bias, bn weight / bias, fc weight
  module.forward(from_quantkit(uniform({2, 3, 6, 6}, 9))).sum().backward();
  for (const at::Tensor& p : leaves) {
    EXPECT_TRUE(p.requires_grad());
    ASSERT_TRUE(p.grad().defined());
    EXPECT_GT(p.grad().abs().sum().item<double>(), 0.0);
  }
}

TEST(QatOpMapping, AnUnmappedOpIsAnErrorNamingTheOpAndTheNode) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3});
  Value* q = b.quantize_per_tensor(x, graph::QuantizeAttrs{0.1, 0, -128, 127, DType::Int8});
  b.output(b.dequantize_per_tensor(q, graph::QuantizeAttrs{0.1, 0, -128, 127, DType::Int8}));
  pt2e::PreparedModel prepared(std::move(b).build(), {}, true);
  try {
    torch::QatModule module(prepared);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("'quantize_per_tensor'"), std::string::npos) << message;
    EXPECT_NE(message.find("node 'quantize_per_tensor'"), std::string::npos) << message;
  }
}

TEST(QatOpMapping, InputsAreValidated) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 4});
  b.output(b.linear(x, param(b, "w", {2, 4}, 1)));
  pt2e::PreparedModel prepared(std::move(b).build(), {}, true);
  torch::QatModule module(prepared);
  EXPECT_EQ(module.forward(at::ones({8, 4})).size(0), 8);  // another batch is fine
  EXPECT_THROW(module.forward(at::ones({8, 5})), Error);
  EXPECT_THROW(module.forward(at::ones({8, 4}, at::kDouble)), Error);
  EXPECT_THROW(module.forward(std::vector<at::Tensor>{}), Error);
  // A shape the ops reject is an Error naming the node.
  GraphBuilder r;
  Value* rx = r.input("x", DType::Float32, {1, 4});
  r.output(r.reshape(rx, {2, 2}));
  pt2e::PreparedModel fixed(std::move(r).build(), {}, true);
  torch::QatModule pinned(fixed);
  try {
    pinned.forward(at::ones({3, 4}));
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("node 'reshape'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace quantkit
