// Batch norm stays a real batch norm in QAT graphs (issue #12 item 2): prepare_qat_pt2e
// rewrites conv2d -> batch_norm into torchao's _qat_conv_bn_pattern (qat_conv_bn.h), the
// XNNPACK quantizer annotates it as torchao does, and convert_pt2e folds it back into the
// same Q/DQ form PTQ makes from the folded weights.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pt2e/pt2e_test_util.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/export.h"
#include "quantkit/graph/nn.h"
#include "quantkit/pt2e/convert.h"
#include "quantkit/pt2e/fold_batch_norm.h"
#include "quantkit/pt2e/lowering.h"
#include "quantkit/pt2e/qat_conv_bn.h"
#include "quantkit/pt2e/xnnpack_quantizer.h"
#include "quantkit/runtime/runtime.h"

namespace quantkit::pt2e {
namespace {

using graph::Conv2dOptions;
using graph::OpKind;
using testing::randn;
using testing::run1;

// conv (bias) -> bn -> relu -> conv (no bias, stride 2) -> bn (eps 1e-3): both convs get the
// QAT form; the first ends with a fused relu, the second with the batch norm itself.
struct ConvBnNet : graph::Module {
  graph::Conv2d conv1{3, 4, 3, Conv2dOptions({1, 1}, {1, 1})};
  graph::BatchNorm2d bn1{4};
  graph::ReLU relu1;
  graph::Conv2d conv2{4, 6, 3, Conv2dOptions({2, 2}, {1, 1}), /*bias=*/false};
  graph::BatchNorm2d bn2{6, 1e-3};
  ConvBnNet() : Module("ConvBnNet") {
    register_module("conv1", conv1);
    register_module("bn1", bn1);
    register_module("relu1", relu1);
    register_module("conv2", conv2);
    register_module("bn2", bn2);
    reset_parameters(11);
    set_statistics(bn1, 4, 20);
    set_statistics(bn2, 6, 30);
  }
  static void set_statistics(graph::BatchNorm2d& bn, std::int64_t c, std::uint32_t seed) {
    bn.weight = randn({c}, seed, 0.4f);
    for (float& w : bn.weight.span<float>()) w += 1.0f;
    bn.bias = randn({c}, seed + 1, 0.2f);
    bn.running_mean = randn({c}, seed + 2, 0.3f);
    bn.running_var = randn({c}, seed + 3, 0.5f);
    for (float& v : bn.running_var.span<float>()) v = 0.3f + std::fabs(v);
  }
  graph::Proxy forward(const graph::Proxy& x) override {
    return bn2(conv2(relu1(bn1(conv1(x)))));
  }
};

const Shape kInput{2, 3, 8, 8};

Graph fp32_graph() {
  ConvBnNet net;
  return graph::export_model(net, {Tensor::zeros(kInput, DType::Float32)});
}

Graph folded_fp32_graph() {
  Graph g = fp32_graph();
  EXPECT_EQ(fold_batch_norm(g), 2u);
  return g;
}

XNNPACKQuantizer qat_quantizer(bool per_channel) {
  XNNPACKQuantizer q;
  q.set_global(get_symmetric_quantization_config(per_channel, /*is_qat=*/true));
  return q;
}

// The QAT model after a few "training" forwards (observers on), observers then frozen.
PreparedModel trained_qat_model(const XNNPACKQuantizer& quantizer) {
  PreparedModel m = prepare_qat_pt2e(fp32_graph(), quantizer);
  for (std::uint32_t s = 0; s < 3; ++s) m.run({randn(kInput, 100 + s)});
  m.enable_observers(false);
  return m;
}

// A QAT model of the PTQ-folded graph whose fake quants hold `trained`'s observers: the
// "PTQ-style" model with the same qparams. The two graphs annotate the same places in the
// same order, so their places have the same names.
PreparedModel folded_model_with_observers_of(const PreparedModel& trained,
                                             const XNNPACKQuantizer& quantizer) {
  PreparedModel m = prepare_qat_pt2e(folded_fp32_graph(), quantizer);
  EXPECT_EQ(m.places().size(), trained.places().size());
  for (const auto& [name, place] : trained.places()) {
    m.place(name).fake_quant = std::make_unique<FakeQuantize>(place.fake_quant->observer().clone());
    m.place(name).fake_quant->set_qparams(place.fake_quant->qparams());
  }
  m.enable_observers(false);
  return m;
}

std::vector<const graph::Node*> nodes_of(const Graph& g, OpKind op) {
  std::vector<const graph::Node*> found;
  for (const graph::Node* n : g.nodes()) {
    if (n->op() == op) found.push_back(n);
  }
  return found;
}

// Every value of `expected` exists in `g` under its name with the same bits.
void expect_same_data(const Graph& g, std::span<Value* const> expected) {
  for (const Value* v : expected) {
    const Value* got = g.find_value(v->name());
    ASSERT_NE(got, nullptr) << v->name();
    EXPECT_TRUE(bitwise_equal(got->data(), v->data())) << v->name();
  }
}

TEST(QatConvBn, PrepareKeepsARealBatchNormInTorchaosForm) {
  const PreparedModel m = prepare_qat_pt2e(fp32_graph(), qat_quantizer(true));
  const Graph& g = m.graph();
  EXPECT_EQ(count_nodes(g, OpKind::BatchNorm), 2u);
  EXPECT_EQ(count_nodes(g, OpKind::Sqrt), 2u);
  EXPECT_EQ(count_nodes(g, OpKind::Div), 4u);  // scale factor, unscaled output
  // Fake quants: x, two weights, relu1's output (conv2's input) and bn2's output. None on
  // the helper mul / div / add nodes: they are not quantized ops of their own.
  EXPECT_EQ(count_nodes(g, OpKind::FakeQuantize), 5u);
  for (const graph::Node* conv : nodes_of(g, OpKind::Conv2d)) {
    const std::string& name = conv->name();
    EXPECT_EQ(conv->num_inputs(), 2u) << name << ": the conv has no bias of its own";
    const graph::Node* weight_fq = conv->input(1)->producer();
    ASSERT_NE(weight_fq, nullptr);
    ASSERT_EQ(weight_fq->op(), OpKind::FakeQuantize) << name;
    const graph::Node* scaled = weight_fq->input(0)->producer();
    ASSERT_NE(scaled, nullptr);
    EXPECT_EQ(scaled->op(), OpKind::Mul);
    EXPECT_EQ(scaled->name(), name + "_qat_scaled_weight");
    EXPECT_EQ(scaled->input(0)->kind(), graph::ValueKind::Parameter);
    ASSERT_NE(g.find_node(name + "_qat_scale_factor"), nullptr) << name;
    EXPECT_EQ(g.find_node(name + "_qat_scale_factor")->source(), conv->source());
    const graph::Node* unscaled = g.uses(conv->output()).at(0).node;
    EXPECT_EQ(unscaled->name(), name + "_qat_unscaled");
    const graph::Node* biased = g.uses(unscaled->output()).at(0).node;
    EXPECT_EQ(biased->name(), name + "_qat_biased");
    EXPECT_EQ(g.uses(biased->output()).at(0).node->op(), OpKind::BatchNorm);
  }
  for (const char* parameter : {"conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias",
                                "conv2.weight", "bn2.weight", "bn2.bias"}) {
    const Value* v = g.find_value(parameter);
    ASSERT_NE(v, nullptr) << parameter;
    EXPECT_EQ(v->kind(), graph::ValueKind::Parameter) << parameter;
  }
  // conv2 had no bias: a zero bias parameter stands in (PyTorch's folded-bias name).
  const Value* zero_bias = g.find_value("conv2.bias");
  ASSERT_NE(zero_bias, nullptr);
  EXPECT_EQ(zero_bias->kind(), graph::ValueKind::Parameter);
  EXPECT_TRUE(bitwise_equal(zero_bias->data(), Tensor::zeros({6}, DType::Float32)));
  for (const graph::Node* bn : nodes_of(g, OpKind::BatchNorm)) {
    for (std::size_t i = 3; i < 5; ++i) EXPECT_TRUE(bn->input(i)->has_data()) << bn->name();
  }
  // The output fake quants sit after relu1 and after bn2.
  const auto fake_quant_reads = [&](OpKind op) {
    const graph::Node* n = nodes_of(g, op).at(op == OpKind::BatchNorm ? 1 : 0);
    const auto uses = g.uses(n->output());
    return uses.size() == 1 && uses[0].node->op() == OpKind::FakeQuantize;
  };
  EXPECT_TRUE(fake_quant_reads(OpKind::Relu));
  EXPECT_TRUE(fake_quant_reads(OpKind::BatchNorm));
}

// The eval-mode QAT forward is the folded model's fake-quantized forward up to float
// rounding: the weight fake quant sees conv_w * (bn_w / std) instead of conv_w * (bn_w * (1 /
// std)), and the conv output is unscaled and normalised instead of biased, so a value on a
// rounding boundary may land one step away.
void expect_eval_forward_equals_folded(bool per_channel) {
  PreparedModel m = trained_qat_model(qat_quantizer(per_channel));
  PreparedModel folded = folded_model_with_observers_of(m, qat_quantizer(per_channel));
  // Places are numbered in annotation order: x, conv1 weight, relu1, conv2 weight, bn2.
  const double step = m.place("activation_post_process_4").fake_quant->qparams().scale[0];
  for (std::uint32_t s = 0; s < 3; ++s) {
    const Tensor x = randn(kInput, 200 + s, 1.5f);
    EXPECT_GE(testing::equal_fraction_within_one_step(m({x})[0], folded({x})[0], step), 0.99)
        << "per_channel " << per_channel << ", batch " << s;
  }
  // Fake quant off: the fp32 model with batch norm, within rounding.
  m.enable_fake_quant(false);
  const Tensor x = randn(kInput, 300);
  const Tensor fp = m({x})[0];
  const Tensor ref = run1(fp32_graph(), {x});
  for (std::int64_t i = 0; i < ref.numel(); ++i) {
    EXPECT_NEAR(fp.data<float>()[i], ref.data<float>()[i], 1e-4f) << i;
  }
}

TEST(QatConvBn, EvalForwardEqualsFoldedFakeQuantForwardPerTensor) {
  expect_eval_forward_equals_folded(false);
}
TEST(QatConvBn, EvalForwardEqualsFoldedFakeQuantForwardPerChannel) {
  expect_eval_forward_equals_folded(true);
}

// convert_pt2e folds the pattern back: no batch norm, and bit for bit the graph convert
// makes from the PTQ-folded model with the same observers (weights quantized once from the
// same folded float32 weights, the same biases, the same qparams).
void expect_convert_equals_ptq_form(const XNNPACKQuantizer& quantizer, const std::string& what) {
  SCOPED_TRACE(what);
  const PreparedModel m = trained_qat_model(quantizer);
  const Graph qdq = convert_pt2e(m);
  for (OpKind op : {OpKind::BatchNorm, OpKind::Sqrt, OpKind::Div, OpKind::Mul, OpKind::Add,
                    OpKind::Reshape, OpKind::FakeQuantize}) {
    EXPECT_EQ(count_nodes(qdq, op), 0u) << graph::op_name(op);
  }
  const Graph expected = convert_pt2e(folded_model_with_observers_of(m, quantizer));
  ASSERT_EQ(qdq.num_nodes(), expected.num_nodes());
  for (std::size_t i = 0; i < qdq.num_nodes(); ++i) {
    EXPECT_EQ(qdq.nodes()[i]->op(), expected.nodes()[i]->op()) << i;
    EXPECT_EQ(qdq.nodes()[i]->name(), expected.nodes()[i]->name()) << i;
  }
  expect_same_data(qdq, expected.parameters());
  expect_same_data(qdq, expected.constants());
  for (std::uint32_t s = 0; s < 3; ++s) {
    const Tensor x = randn(kInput, 400 + s, 1.5f);
    EXPECT_TRUE(bitwise_equal(run1(qdq, {x}), run1(expected, {x}))) << s;
  }
}

TEST(QatConvBn, ConvertFoldsIntoThePtqFormPerTensor) {
  expect_convert_equals_ptq_form(qat_quantizer(false), "per tensor");
}
TEST(QatConvBn, ConvertFoldsIntoThePtqFormPerChannel) {
  expect_convert_equals_ptq_form(qat_quantizer(true), "per channel");
}

// conv1's module left in float: its pattern gets no fake quant (not even on the helper
// nodes, which carry conv1's module), bn1 and relu1 are not a pattern of their own, and
// convert still folds conv1's batch norm (a pattern without a weight fake quant).
TEST(QatConvBn, FloatModuleIsFoldedWithoutFakeQuants) {
  XNNPACKQuantizer q = qat_quantizer(true);
  q.set_module_name("conv1", std::nullopt);
  const PreparedModel m = prepare_qat_pt2e(fp32_graph(), q);
  // x of conv2 (relu1's output), conv2's weight, bn2's output.
  EXPECT_EQ(count_nodes(m.graph(), OpKind::FakeQuantize), 3u);
  expect_convert_equals_ptq_form(q, "conv1 float");
}

// Convs left in float by operator type: the helper add / mul / div nodes are anchored on
// other operator types, yet stay float (torchao annotates before they exist).
TEST(QatConvBn, HelperNodesAreNeverQuantized) {
  XNNPACKQuantizer q = qat_quantizer(false);
  q.set_operator_type(OpKind::Conv2d, std::nullopt);
  const PreparedModel m = prepare_qat_pt2e(fp32_graph(), q);
  EXPECT_EQ(count_nodes(m.graph(), OpKind::FakeQuantize), 0u);
  EXPECT_EQ(count_nodes(m.graph(), OpKind::BatchNorm), 2u);
  const Graph converted = convert_pt2e(m);
  const Graph expected = folded_fp32_graph();
  expect_same_data(converted, expected.parameters());
  const Tensor x = randn(kInput, 450);
  EXPECT_TRUE(bitwise_equal(run1(converted, {x}), run1(expected, {x})));
}

TEST(QatConvBn, ConvertedModelLowersAndRunsWithoutFallbacks) {
  const Graph qdq = convert_pt2e(trained_qat_model(qat_quantizer(true)));
  LoweringStats stats;
  const Graph lowered = lower_to_fused_kernels(qdq, &stats);
  EXPECT_EQ(stats.conv2d, 2u);
  EXPECT_EQ(count_nodes(lowered, OpKind::Conv2d), 0u);
  const Tensor x = randn(kInput, 500);
  const Tensor expected = run1(lowered, {x});
  EXPECT_GT(testing::sqnr_db(run1(qdq, {x}), expected), 30.0);
  for (int threads : {1, 3}) {
    const runtime::Runtime rt(lowered, runtime::RuntimeOptions{threads});
    for (const std::string& label : rt.op_labels()) {
      EXPECT_EQ(label.find("(reference)"), std::string::npos) << label;
    }
    EXPECT_TRUE(bitwise_equal(rt.run(std::vector<Tensor>{x})[0], expected)) << threads;
  }
}

// Rewriting and folding back gives exactly PTQ's fold (fold_batch_norm): the same graph, the
// same float32 weights and biases (the conv without bias included).
TEST(QatConvBn, RewriteThenFoldEqualsThePtqFold) {
  Graph g = fp32_graph();
  EXPECT_EQ(fold_conv_bn_qat(g), 0u);  // nothing in QAT form yet
  EXPECT_EQ(rewrite_conv_bn_for_qat(g), 2u);
  const Tensor x = randn(kInput, 600);
  const Tensor fp = run1(g, {x});
  const Tensor ref = run1(fp32_graph(), {x});
  for (std::int64_t i = 0; i < ref.numel(); ++i) {
    EXPECT_NEAR(fp.data<float>()[i], ref.data<float>()[i], 1e-5f) << i;
  }
  EXPECT_EQ(fold_conv_bn_qat(g), 2u);
  const Graph expected = folded_fp32_graph();
  ASSERT_EQ(g.num_nodes(), expected.num_nodes());
  for (std::size_t i = 0; i < g.num_nodes(); ++i) {
    EXPECT_EQ(g.nodes()[i]->op(), expected.nodes()[i]->op()) << i;
    EXPECT_EQ(g.nodes()[i]->name(), expected.nodes()[i]->name()) << i;
  }
  ASSERT_EQ(g.parameters().size(), expected.parameters().size());
  expect_same_data(g, expected.parameters());
  EXPECT_TRUE(bitwise_equal(run1(g, {x}), run1(expected, {x})));
}

// A conv whose output has a second user cannot become the QAT form (the batch norm could
// not be folded back into it either, as in PTQ): it stays conv2d -> batch_norm, annotated
// as such, and convert keeps the batch norm.
TEST(QatConvBn, ConvWithTwoUsersIsNotRewritten) {
  graph::GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 2, 6, 6});
  Value* conv = b.conv2d(x, b.parameter("conv.weight", randn({3, 2, 3, 3}, 700)),
                         b.parameter("conv.bias", randn({3}, 701)));
  Value* bn = b.batch_norm(conv, b.parameter("bn.weight", randn({3}, 702)),
                           b.parameter("bn.bias", randn({3}, 703)),
                           b.parameter("bn.running_mean", randn({3}, 704)),
                           b.parameter("bn.running_var", Tensor::from_vector<float>({1, 2, 3})));
  b.output(b.add(bn, conv));
  const Graph g = std::move(b).build();
  Graph rewritten = g.clone();
  EXPECT_EQ(rewrite_conv_bn_for_qat(rewritten), 0u);
  PreparedModel m = prepare_qat_pt2e(g, qat_quantizer(false));
  EXPECT_EQ(count_nodes(m.graph(), OpKind::Sqrt), 0u);
  EXPECT_EQ(count_nodes(m.graph(), OpKind::BatchNorm), 1u);
  m.run({randn({1, 2, 6, 6}, 705)});
  const Graph qdq = convert_pt2e(m);
  EXPECT_EQ(count_nodes(qdq, OpKind::BatchNorm), 1u);
  EXPECT_EQ(count_nodes(qdq, OpKind::Conv2d), 1u);
}

// A dynamic batch (ONNX imports keep one) survives the rewrite: the helper reshapes are of
// parameters, the unscaling broadcasts over any batch; convert folds it as usual.
TEST(QatConvBn, DynamicBatchIsKept) {
  graph::GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 2, 6, 6}, {"N", "", "", ""});
  Value* conv = b.conv2d(x, b.parameter("conv.weight", randn({3, 2, 3, 3}, 800)));
  b.output(b.relu(b.batch_norm(conv, b.parameter("bn.weight", randn({3}, 801)),
                               b.parameter("bn.bias", randn({3}, 802)),
                               b.parameter("bn.running_mean", randn({3}, 803)),
                               b.parameter("bn.running_var", Tensor::from_vector<float>({1, 2, 3})))));
  PreparedModel m = prepare_qat_pt2e(std::move(b).build(), qat_quantizer(true));
  EXPECT_EQ(count_nodes(m.graph(), OpKind::Sqrt), 1u);
  EXPECT_EQ(m.graph().outputs()[0]->dim_names()[0], "N");
  m.run({randn({3, 2, 6, 6}, 804)});
  m.enable_observers(false);
  const Graph qdq = convert_pt2e(m);
  EXPECT_EQ(count_nodes(qdq, OpKind::BatchNorm), 0u);
  EXPECT_EQ(qdq.outputs()[0]->dim_names()[0], "N");
  const Tensor xi = randn({5, 2, 6, 6}, 805);
  const double step = m.place("activation_post_process_2").fake_quant->qparams().scale[0];
  EXPECT_GE(testing::equal_fraction_within_one_step(m({xi})[0], run1(qdq, {xi}), step), 0.99);
}

// Both passes validate the graph they are given.
TEST(QatConvBn, RefusesAnInvalidGraph) {
  graph::GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 2, 6, 6});
  b.output(b.relu(x));
  Graph g = std::move(b).build();
  g.set_outputs({});  // a graph without outputs does not verify
  EXPECT_THROW(rewrite_conv_bn_for_qat(g), Error);
  EXPECT_THROW(fold_conv_bn_qat(g), Error);
}

}  // namespace
}  // namespace quantkit::pt2e
