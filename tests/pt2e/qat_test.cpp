// prepare_qat_pt2e (issue 4 item 7): fake quants instead of observers, and the prepared
// graph's forward equals the Q/DQ graph convert_pt2e makes from the same qparams (up to the
// float rounding of the batch norm QAT keeps and convert folds: qat_conv_bn_test.cpp).
#include <gtest/gtest.h>

#include "pt2e/pt2e_test_util.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/export.h"
#include "quantkit/graph/functional.h"
#include "quantkit/graph/nn.h"
#include "quantkit/pt2e/convert.h"
#include "quantkit/pt2e/xnnpack_quantizer.h"

namespace quantkit::pt2e {
namespace {

using graph::Conv2dOptions;
using graph::OpKind;
using testing::randn;
using testing::run1;

XNNPACKQuantizer qat_quantizer(bool per_channel, bool dynamic = false) {
  XNNPACKQuantizer q;
  q.set_global(get_symmetric_quantization_config(per_channel, /*is_qat=*/true, dynamic));
  return q;
}

struct Net : graph::Module {
  graph::Conv2d conv{2, 4, 3, Conv2dOptions({1, 1}, {1, 1})};
  graph::BatchNorm2d bn{4};
  graph::ReLU relu;
  graph::MaxPool2d pool{2};
  graph::Linear fc{4 * 2 * 2, 3};
  Net() : Module("Net") {
    register_module("conv", conv);
    register_module("bn", bn);
    register_module("relu", relu);
    register_module("pool", pool);
    register_module("fc", fc);
    reset_parameters(7);
    bn.running_mean = randn({4}, 70, 0.1f);
    bn.running_var = Tensor::from_vector<float>({0.5f, 0.8f, 1.2f, 2.0f});
  }
  graph::Proxy forward(const graph::Proxy& x) override {
    return fc(graph::functional::flatten(pool(relu(bn(conv(x)))), 1));
  }
};

Graph net_graph() {
  Net net;
  return graph::export_model(net, {Tensor::zeros({2, 2, 4, 4}, DType::Float32)});
}

TEST(PrepareQat, InsertsFakeQuants) {
  const PreparedModel m = prepare_qat_pt2e(net_graph(), qat_quantizer(true));
  EXPECT_TRUE(m.is_qat());
  EXPECT_EQ(count_nodes(m.graph(), OpKind::Observe), 0u);
  // x, conv weight, relu output (shared by pool and flatten: 3 nodes), fc weight, fc output.
  EXPECT_EQ(count_nodes(m.graph(), OpKind::FakeQuantize), 7u);
  EXPECT_EQ(m.places().size(), 5u);
  for (const auto& [name, place] : m.places()) EXPECT_NE(place.fake_quant, nullptr) << name;
  // Kept, in torchao's QAT conv-bn form (qat_conv_bn.h); PTQ folds it.
  EXPECT_EQ(count_nodes(m.graph(), OpKind::BatchNorm), 1u);
  EXPECT_EQ(count_nodes(m.graph(), OpKind::Sqrt), 1u);
  // Without the model's fake quants the graph cannot run.
  EXPECT_THROW(run1(m.graph(), {randn({2, 2, 4, 4}, 1)}), Error);
}

void expect_forward_equals_qdq(bool per_channel) {
  PreparedModel m = prepare_qat_pt2e(net_graph(), qat_quantizer(per_channel));
  for (std::uint32_t s = 0; s < 3; ++s) m.run({randn({2, 2, 4, 4}, 100 + s)});  // "training"
  m.enable_observers(false);
  const Graph qdq = convert_pt2e(m);
  // The QAT graph runs conv -> unscale -> batch_norm where the converted graph has the folded
  // conv, so equal up to float rounding: within one step of the output fake quant (place 4:
  // x, conv weight, relu, fc weight, fc output), nearly all elements bit-equal.
  const double step = m.place("activation_post_process_4").fake_quant->qparams().scale[0];
  for (std::uint32_t s = 0; s < 3; ++s) {
    const Tensor x = randn({2, 2, 4, 4}, 200 + s, 1.5f);
    EXPECT_GE(testing::equal_fraction_within_one_step(m({x})[0], run1(qdq, {x}), step), 0.99)
        << "per_channel " << per_channel;
  }
}

TEST(PrepareQat, ForwardEqualsQdqSimulationPerTensor) { expect_forward_equals_qdq(false); }
TEST(PrepareQat, ForwardEqualsQdqSimulationPerChannel) { expect_forward_equals_qdq(true); }

TEST(PrepareQat, ObserverAndFakeQuantSwitches) {
  const Graph g = net_graph();
  PreparedModel m = prepare_qat_pt2e(g, qat_quantizer(false));
  const Tensor x = randn({2, 2, 4, 4}, 300);
  m.run({x});
  m.enable_observers(false);
  const Tensor before = m({x})[0];
  m.run({randn({2, 2, 4, 4}, 301, 50.0f)});  // observers off: qparams do not move
  EXPECT_TRUE(bitwise_equal(m({x})[0], before));
  // Fake quant off: the fp32 function (batch norm in the QAT form, so within rounding).
  m.enable_fake_quant(false);
  const Tensor fp = m({x})[0];
  const Tensor ref = run1(g, {x});
  for (std::int64_t i = 0; i < ref.numel(); ++i) {
    EXPECT_NEAR(fp.data<float>()[i], ref.data<float>()[i], 1e-4f) << i;
  }
}

TEST(PrepareQat, DynamicLinearForwardEqualsChooseQParamsGraph) {
  graph::GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {3, 6});
  b.output(b.linear(x, b.parameter("fc.weight", randn({4, 6}, 400)),
                    b.parameter("fc.bias", randn({4}, 401))));
  PreparedModel m = prepare_qat_pt2e(std::move(b).build(), qat_quantizer(false, true));
  EXPECT_EQ(count_nodes(m.graph(), OpKind::FakeQuantize), 2u);  // x and weight
  m.run({randn({3, 6}, 402)});
  const Graph qdq = convert_pt2e(m);
  EXPECT_EQ(count_nodes(qdq, OpKind::ChooseQParams), 1u);
  // With observers on, the activation fake quant uses each batch's own range (averaging
  // constant 1): exactly what choose_qparams computes at run time.
  for (std::uint32_t s = 0; s < 3; ++s) {
    const Tensor xi = randn({3, 6}, 410 + s, 1.0f + static_cast<float>(s));
    EXPECT_TRUE(bitwise_equal(m({xi})[0], run1(qdq, {xi}))) << s;
  }
}

// APoT weights under QAT: the weight's fake_quantize node applies APoT quant-dequant, and
// the forward equals the converted graph (int32 codes -> apot_dequantize). Returns the
// converted weight's level table.
std::vector<double> apot_qat_forward_equals_converted(const QuantizationConfig& config,
                                                      std::uint32_t seed) {
  XNNPACKQuantizer q;
  q.set_global(config);
  graph::GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {4, 8});
  b.output(b.linear(x, b.parameter("fc.weight", randn({6, 8}, seed)),
                    b.parameter("fc.bias", randn({6}, seed + 1))));
  PreparedModel m = prepare_qat_pt2e(std::move(b).build(), q);
  EXPECT_EQ(count_nodes(m.graph(), OpKind::FakeQuantize), 3u);
  m.run({randn({4, 8}, seed + 2)});
  m.enable_observers(false);
  const Graph qdq = convert_pt2e(m);
  EXPECT_EQ(count_nodes(qdq, OpKind::ApotDequantize), 1u);
  const Tensor xi = randn({4, 8}, seed + 3);
  EXPECT_TRUE(bitwise_equal(m({xi})[0], run1(qdq, {xi})));
  for (const Node* n : qdq.nodes()) {
    if (n->op() == OpKind::ApotDequantize) return n->attr_floats("levels");
  }
  return {};
}

// PyTorch's signed b=4, k=2 set: 49 codes.
TEST(PrepareQat, ApotWeightFakeQuantEqualsConvertedCodes) {
  const QuantizationConfig config = get_apot_weight_config(4, 2, /*is_qat=*/true);
  EXPECT_TRUE(config.is_qat);
  EXPECT_EQ(apot_qat_forward_equals_converted(config, 500).size(), 49u);
}

// The paper's signed 3-bit weights (get_apot_paper_weight_config(3, is_qat)): 7 levels.
TEST(PrepareQat, PaperApotWeightFakeQuantEqualsConvertedCodes) {
  const QuantizationConfig config = get_apot_paper_weight_config(3, /*is_qat=*/true);
  EXPECT_EQ(apot_qat_forward_equals_converted(config, 510).size(), 7u);
}

}  // namespace
}  // namespace quantkit::pt2e
