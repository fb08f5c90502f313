// XNNPACKQuantizer: configuration defaults (get_symmetric_quantization_config), pattern
// annotation, and scope precedence (module name > object type > operator type > global).
#include "quantkit/pt2e/xnnpack_quantizer.h"

#include <gtest/gtest.h>

#include "pt2e/pt2e_test_util.h"
#include "quantkit/core/error.h"

namespace quantkit::pt2e {
namespace {

using graph::Conv2dOptions;
using graph::GraphBuilder;
using graph::MaxPool2dOptions;
using graph::OpKind;
using testing::randn;

const QuantizationSpec& plain(const QuantizationSpecBase& s) {
  const auto* p = std::get_if<QuantizationSpec>(&s);
  EXPECT_NE(p, nullptr) << describe(s);
  static const QuantizationSpec kNone;
  return p ? *p : kNone;
}

TEST(SymmetricConfig, StaticDefaultsAreXnnpacks) {
  const QuantizationConfig c = get_symmetric_quantization_config();
  ASSERT_TRUE(c.input_activation && c.output_activation && c.weight);
  EXPECT_FALSE(c.bias);
  EXPECT_FALSE(c.is_qat);
  const QuantizationSpec& act = *c.input_activation;
  EXPECT_EQ(act.dtype, DType::Int8);
  EXPECT_EQ(act.quant_min, -128);
  EXPECT_EQ(act.quant_max, 127);
  EXPECT_EQ(act.qscheme, QScheme::PerTensorAffine);
  EXPECT_FALSE(act.is_dynamic);
  EXPECT_EQ(act.observer, "histogram");
  EXPECT_EQ(act.observer_options.eps, 1.0f / 4096.0f);
  EXPECT_FALSE(act.fake_quant);
  EXPECT_EQ(c.output_activation->observer, "histogram");
  const QuantizationSpec& w = *c.weight;
  EXPECT_EQ(w.dtype, DType::Int8);
  EXPECT_EQ(w.quant_min, -127);
  EXPECT_EQ(w.quant_max, 127);
  EXPECT_EQ(w.qscheme, QScheme::PerTensorSymmetric);
  EXPECT_EQ(w.observer, "minmax");
  EXPECT_EQ(w.ch_axis, 0);
  EXPECT_EQ(w.observer_options.eps, 1.0f / 4096.0f);
  // The observers the specs build carry those settings.
  auto obs = act.make_observer();
  EXPECT_EQ(obs->kind(), "histogram");
  EXPECT_EQ(obs->quant_range().dtype, DType::Int8);
  EXPECT_EQ(obs->quant_range().quant_min, -128);
  EXPECT_EQ(obs->options().eps, 1.0f / 4096.0f);
  EXPECT_EQ(w.make_observer()->quant_range().quant_min, -127);
}

TEST(SymmetricConfig, PerChannelDynamicAndQat) {
  const QuantizationConfig pc = get_symmetric_quantization_config(/*is_per_channel=*/true);
  EXPECT_EQ(pc.weight->qscheme, QScheme::PerChannelSymmetric);
  EXPECT_EQ(pc.weight->observer, "per-channel-minmax");
  EXPECT_EQ(pc.weight->make_observer()->kind(), "per-channel-minmax");

  const QuantizationConfig dyn = get_symmetric_quantization_config(false, false, true);
  EXPECT_TRUE(dyn.input_activation->is_dynamic);
  EXPECT_EQ(dyn.input_activation->observer, "placeholder");
  EXPECT_FALSE(dyn.output_activation);

  const QuantizationConfig qat = get_symmetric_quantization_config(true, true);
  EXPECT_TRUE(qat.is_qat);
  EXPECT_TRUE(qat.input_activation->fake_quant);
  EXPECT_EQ(qat.input_activation->observer, "moving-average-minmax");
  EXPECT_EQ(qat.weight->observer, "moving-average-per-channel-minmax");
  EXPECT_TRUE(qat.weight->fake_quant);
  EXPECT_EQ(get_symmetric_quantization_config(false, true).weight->observer,
            "moving-average-minmax");
  // QAT dynamic: every batch's own range (averaging constant 1).
  const QuantizationConfig qat_dyn = get_symmetric_quantization_config(false, true, true);
  EXPECT_EQ(qat_dyn.input_activation->observer_options.averaging_constant, 1.0f);

  const QuantizationConfig narrow =
      get_symmetric_quantization_config(false, false, false, -64, 63, -7, 7);
  EXPECT_EQ(narrow.input_activation->quant_min, -64);
  EXPECT_EQ(narrow.weight->quant_max, 7);
  EXPECT_THROW(get_symmetric_quantization_config(false, false, false, -129, 127), Error);
  EXPECT_THROW(get_symmetric_quantization_config(false, false, false, -128, 127, 5, 4), Error);
}

TEST(ApotConfig, ApotWeightsUniformActivations) {
  const QuantizationConfig c = get_apot_weight_config(4, 2);
  ASSERT_TRUE(c.weight && c.weight->apot);
  EXPECT_EQ(*c.weight->apot, (ApotSpec{4, 2, true}));
  EXPECT_EQ(c.input_activation->observer, "histogram");
  EXPECT_EQ(c.output_activation->dtype, DType::Int8);
  EXPECT_THROW(get_apot_weight_config(5, 2), Error);  // b must be a multiple of k
  EXPECT_FALSE(c.is_qat);
  EXPECT_FALSE(c.weight->fake_quant);
  const QuantizationConfig qat = get_apot_weight_config(4, 2, /*is_qat=*/true);
  EXPECT_TRUE(qat.is_qat);
  EXPECT_TRUE(qat.weight->fake_quant);
  EXPECT_TRUE(qat.input_activation->fake_quant);
  EXPECT_EQ(qat.input_activation->observer, "moving-average-minmax");
}

TEST(ApotConfig, PaperWeightsWithAnyActivationRange) {
  const QuantizationConfig c = get_apot_paper_weight_config(3);
  ASSERT_TRUE(c.weight && c.weight->apot);
  EXPECT_EQ(*c.weight->apot, (ApotSpec{3, 1, true, apot::ApotLevelSet::PaperSigned}));
  EXPECT_EQ(describe(*c.weight), "apot paper signed 3-bit");
  EXPECT_EQ(c.input_activation->quant_min, -128);
  const QuantizationConfig a4 = get_apot_paper_weight_config(4, true, -8, 7);
  EXPECT_EQ(a4.input_activation->quant_min, -8);
  EXPECT_EQ(a4.output_activation->quant_max, 7);
  EXPECT_TRUE(a4.is_qat);
  EXPECT_TRUE(a4.weight->fake_quant);
  EXPECT_TRUE(a4.output_activation->fake_quant);
  EXPECT_THROW(get_apot_paper_weight_config(1), Error);
  EXPECT_THROW(get_apot_paper_weight_config(8), Error);
  EXPECT_THROW(get_apot_paper_weight_config(4, false, -200, 7), Error);
}

// x -> linear -> relu -> output, with module sources like a traced model.
Graph linear_relu_graph(bool relu_also_output = false) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 4});
  b.set_source({"fc", "Linear"});
  Value* y = b.linear(x, b.parameter("fc.weight", randn({3, 4}, 1)),
                      b.parameter("fc.bias", randn({3}, 2)));
  b.set_source({});
  b.output(b.relu(y));
  if (relu_also_output) b.output(y);
  return std::move(b).build();
}

TEST(Annotate, LinearReluIsFused) {
  Graph g = linear_relu_graph();
  const Annotations a =
      XNNPACKQuantizer().set_global(get_symmetric_quantization_config()).annotate(g);
  const Node* linear = g.find_node("linear");
  const Node* relu = g.find_node("relu");
  ASSERT_TRUE(a.contains(linear) && a.contains(relu));
  const QuantizationAnnotation& la = a.at(linear);
  EXPECT_EQ(la.input_qspec_map.size(), 2u);  // x and weight; bias stays float
  EXPECT_EQ(plain(la.input_qspec_map.at(linear->input(0))).observer, "histogram");
  EXPECT_EQ(plain(la.input_qspec_map.at(linear->input(1))).qscheme, QScheme::PerTensorSymmetric);
  EXPECT_FALSE(la.output_qspec);  // the pattern's output is relu's
  ASSERT_TRUE(a.at(relu).output_qspec);
  EXPECT_EQ(plain(*a.at(relu).output_qspec).observer, "histogram");
  EXPECT_TRUE(la.annotated && a.at(relu).annotated);
}

TEST(Annotate, LinearWithTwoUsersIsNotFusedWithRelu) {
  Graph g = linear_relu_graph(/*relu_also_output=*/true);
  const Annotations a =
      XNNPACKQuantizer().set_global(get_symmetric_quantization_config()).annotate(g);
  const Node* linear = g.find_node("linear");
  const Node* relu = g.find_node("relu");
  ASSERT_TRUE(a.at(linear).output_qspec);
  // relu shares the linear output's observer (propagate_annotation).
  ASSERT_TRUE(a.contains(relu));
  const auto* shared = std::get_if<SharedQuantizationSpec>(&*a.at(relu).output_qspec);
  ASSERT_NE(shared, nullptr);
  EXPECT_EQ(std::get<const Node*>(shared->edge_or_node), linear);
}

Graph conv_pool_cat_graph() {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 2, 6, 6});
  Value* c = b.conv2d(x, b.parameter("conv.weight", randn({4, 2, 3, 3}, 3)),
                      b.parameter("conv.bias", randn({4}, 4)), Conv2dOptions({1, 1}, {1, 1}));
  Value* r = b.relu(c);
  Value* p = b.max_pool2d(r, MaxPool2dOptions({2, 2}));
  Value* q = b.max_pool2d(x, MaxPool2dOptions({2, 2}));
  Value* cat = b.cat({p, q}, 1);
  b.output(b.flatten(cat, 1));
  return std::move(b).build();
}

TEST(Annotate, ConvReluPoolCatFlatten) {
  Graph g = conv_pool_cat_graph();
  const Annotations a =
      XNNPACKQuantizer().set_global(get_symmetric_quantization_config()).annotate(g);
  const Node* conv = g.find_node("conv2d");
  const Node* relu = g.find_node("relu");
  const Node* pool = g.find_node("max_pool2d");
  const Node* pool_x = g.find_node("max_pool2d_1");
  const Node* cat = g.find_node("cat");
  const Node* flatten = g.find_node("flatten");
  // conv2d + relu fused; bias left in float.
  EXPECT_EQ(a.at(conv).input_qspec_map.size(), 2u);
  EXPECT_FALSE(a.at(conv).output_qspec);
  EXPECT_TRUE(a.at(relu).output_qspec);
  // max_pool2d after an annotated producer shares its observer; on a graph input it gets
  // the activation spec. Outputs share the input edge.
  const auto& pin = a.at(pool).input_qspec_map.at(relu->output());
  ASSERT_TRUE(std::holds_alternative<SharedQuantizationSpec>(pin));
  EXPECT_EQ(std::get<const Node*>(std::get<SharedQuantizationSpec>(pin).edge_or_node), relu);
  EXPECT_EQ(plain(a.at(pool_x).input_qspec_map.at(g.find_value("x"))).observer, "histogram");
  const auto& pout = std::get<SharedQuantizationSpec>(*a.at(pool).output_qspec);
  EXPECT_EQ(std::get<Edge>(pout.edge_or_node), (Edge{relu->output(), pool}));
  // cat: first input concrete, second input and output shared with the first edge.
  EXPECT_EQ(plain(a.at(cat).input_qspec_map.at(pool->output())).observer, "histogram");
  const auto& second =
      std::get<SharedQuantizationSpec>(a.at(cat).input_qspec_map.at(pool_x->output()));
  EXPECT_EQ(std::get<Edge>(second.edge_or_node), (Edge{pool->output(), cat}));
  // flatten shares cat's output.
  const auto& fl = std::get<SharedQuantizationSpec>(*a.at(flatten).output_qspec);
  EXPECT_EQ(std::get<const Node*>(fl.edge_or_node), cat);
}

TEST(Annotate, ConvBatchNormReluWhenNotFolded) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 2, 4, 4});
  Value* c = b.conv2d(x, b.parameter("w", randn({3, 2, 1, 1}, 5)));
  Value* bn = b.batch_norm(c, b.parameter("g", randn({3}, 6)), b.parameter("be", randn({3}, 7)),
                           b.parameter("m", randn({3}, 8)),
                           b.parameter("v", Tensor::from_vector<float>({1, 2, 3})));
  b.output(b.relu(bn));
  Graph g = std::move(b).build();
  const Annotations a =
      XNNPACKQuantizer().set_global(get_symmetric_quantization_config()).annotate(g);
  EXPECT_EQ(a.at(g.find_node("conv2d")).input_qspec_map.size(), 2u);
  EXPECT_FALSE(a.at(g.find_node("conv2d")).output_qspec);
  EXPECT_FALSE(a.at(g.find_node("batch_norm")).output_qspec);
  EXPECT_TRUE(a.at(g.find_node("relu")).output_qspec);
}

TEST(Annotate, AddReluMulAndNonFloatOperands) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3});
  Value* y = b.input("y", DType::Float32, {2, 3});
  Value* s = b.relu(b.add(x, y));
  Value* m = b.mul(s, y);
  Value* i = b.input("i", DType::Int32, {2, 3});
  Value* ii = b.add(i, i);
  b.output(m);
  b.output(ii);
  Graph g = std::move(b).build();
  const Annotations a =
      XNNPACKQuantizer().set_global(get_symmetric_quantization_config()).annotate(g);
  const Node* add = g.find_node("add");
  EXPECT_EQ(a.at(add).input_qspec_map.size(), 2u);
  EXPECT_FALSE(a.at(add).output_qspec);
  EXPECT_TRUE(a.at(g.find_node("relu")).output_qspec);
  EXPECT_EQ(a.at(g.find_node("mul")).input_qspec_map.size(), 2u);
  EXPECT_TRUE(a.at(g.find_node("mul")).output_qspec);
  EXPECT_FALSE(a.contains(g.find_node("add_1")));  // int32 add stays as it is
}

TEST(Annotate, DynamicConfigQuantizesLinearOnly) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 4});
  Value* y = b.relu(b.linear(x, b.parameter("w", randn({4, 4}, 9))));
  b.output(b.add(y, x));
  Graph g = std::move(b).build();
  const Annotations a = XNNPACKQuantizer()
                            .set_global(get_symmetric_quantization_config(false, false, true))
                            .annotate(g);
  const Node* linear = g.find_node("linear");
  ASSERT_TRUE(a.contains(linear));
  EXPECT_TRUE(plain(a.at(linear).input_qspec_map.at(x)).is_dynamic);
  EXPECT_FALSE(a.at(linear).output_qspec);
  EXPECT_FALSE(a.contains(g.find_node("relu")));
  EXPECT_FALSE(a.contains(g.find_node("add")));
}

// Three linears from different modules plus a conv2d: each scope level picks its own.
Graph scoped_graph() {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 4});
  b.set_source({"blocks.0.fc", "Linear"});
  Value* a = b.linear(x, b.parameter("blocks.0.fc.weight", randn({4, 4}, 10)));
  b.set_source({"blocks2.fc", "Linear"});
  Value* c = b.linear(a, b.parameter("blocks2.fc.weight", randn({4, 4}, 11)));
  b.set_source({"head", "Head"});
  Value* d = b.linear(c, b.parameter("head.weight", randn({4, 4}, 12)));
  Value* e = b.add(d, c);
  b.set_source({});
  b.output(e);
  return std::move(b).build();
}

int act_qmax_of(const Annotations& a, const Node* n) {
  auto it = a.find(n);
  if (it == a.end() || it->second.input_qspec_map.empty()) return 0;  // not quantized
  return static_cast<int>(plain(it->second.input_qspec_map.at(n->input(0))).quant_max);
}

TEST(Annotate, ScopePrecedence) {
  Graph g = scoped_graph();
  auto cfg = [](int qmax) {
    return get_symmetric_quantization_config(false, false, false, -qmax - 1, qmax);
  };
  XNNPACKQuantizer q;
  q.set_global(cfg(127))
      .set_operator_type(OpKind::Linear, cfg(63))
      .set_object_type("Linear", cfg(31))
      .set_module_name("blocks", cfg(15));
  Annotations a = q.annotate(g);
  EXPECT_EQ(act_qmax_of(a, g.find_node("linear")), 15);    // module name "blocks" (prefix)
  EXPECT_EQ(act_qmax_of(a, g.find_node("linear_1")), 31);  // "blocks2" is not under "blocks"
  EXPECT_EQ(act_qmax_of(a, g.find_node("linear_2")), 63);  // Head module: operator type
  EXPECT_EQ(act_qmax_of(a, g.find_node("add")), 127);      // global

  // The most specific module name wins; nullopt leaves a scope in float.
  q.set_module_name("blocks.0", std::nullopt).set_object_type("Head", std::nullopt);
  a = q.annotate(g);
  EXPECT_EQ(act_qmax_of(a, g.find_node("linear")), 0);
  EXPECT_EQ(act_qmax_of(a, g.find_node("linear_2")), 0);
  EXPECT_EQ(act_qmax_of(a, g.find_node("add")), 0);  // traced in Head too
  EXPECT_EQ(act_qmax_of(a, g.find_node("linear_1")), 31);

  // Nothing configured: nothing annotated.
  EXPECT_TRUE(XNNPACKQuantizer().annotate(g).empty());
  EXPECT_THROW(q.set_module_name("", cfg(1)), Error);
  EXPECT_THROW(q.set_object_type("", cfg(1)), Error);
}

TEST(Annotate, OperatorTypeScopeCoversFusedPattern) {
  Graph g = conv_pool_cat_graph();
  const Annotations a = XNNPACKQuantizer()
                            .set_operator_type(OpKind::Conv2d, get_symmetric_quantization_config())
                            .annotate(g);
  // conv2d -> relu is annotated as one pattern under the conv2d entry; pooling and cat have
  // no config, but max_pool2d still shares relu's observer (propagation).
  EXPECT_FALSE(a.at(g.find_node("conv2d")).output_qspec);
  EXPECT_TRUE(a.at(g.find_node("relu")).output_qspec);
  EXPECT_FALSE(a.contains(g.find_node("cat")));
  EXPECT_FALSE(a.contains(g.find_node("max_pool2d_1")));
}

TEST(Annotate, RejectsPerChannelActivationSpecs) {
  Graph g = linear_relu_graph();
  QuantizationConfig bad = get_symmetric_quantization_config();
  bad.input_activation->qscheme = QScheme::PerChannelAffine;
  EXPECT_THROW(XNNPACKQuantizer().set_global(bad).annotate(g), Error);
}

}  // namespace
}  // namespace quantkit::pt2e
