// End to end: a small CNN (conv-bn-relu, max pool, flatten, linear) traced from modules,
// calibrated and converted to Q/DQ, tracks fp32 with SQNR > 30 dB on random inputs; and the
// APoT-weight config on a linear model.
#include <gtest/gtest.h>

#include <iostream>

#include "pt2e/pt2e_test_util.h"
#include "quantkit/apot/quantizer.h"
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

struct SmallCnn : graph::Module {
  graph::Sequential features;
  graph::Linear fc{8 * 4 * 4, 10};
  SmallCnn() : Module("SmallCnn") {
    features.emplace<graph::Conv2d>(3, 8, 3, Conv2dOptions({1, 1}, {1, 1}));
    auto& bn = features.emplace<graph::BatchNorm2d>(8);
    features.emplace<graph::ReLU>();
    features.emplace<graph::MaxPool2d>(2);
    register_module("features", features);
    register_module("fc", fc);
    reset_parameters(2024);
    bn.weight = randn({8}, 1, 0.2f);
    for (float& v : bn.weight.span<float>()) v += 1.0f;
    bn.bias = randn({8}, 2, 0.1f);
    bn.running_mean = randn({8}, 3, 0.1f);
    bn.running_var = randn({8}, 4, 0.2f);
    for (float& v : bn.running_var.span<float>()) v = 0.5f + std::fabs(v);
  }
  graph::Proxy forward(const graph::Proxy& x) override {
    return fc(graph::functional::flatten(features(x), 1));
  }
};

double cnn_sqnr(bool per_channel) {
  SmallCnn net;
  const Graph fp32 = graph::export_model(net, {Tensor::zeros({16, 3, 8, 8}, DType::Float32)});
  XNNPACKQuantizer quantizer;
  quantizer.set_global(get_symmetric_quantization_config(per_channel));
  PreparedModel prepared = prepare_pt2e(fp32, quantizer);
  for (std::uint32_t s = 0; s < 16; ++s) prepared.run({randn({16, 3, 8, 8}, 1000 + s)});
  const Graph qdq = convert_pt2e(prepared);
  // conv2d(+bn folded)+relu, pool and flatten share one group; fc weight per channel or not.
  EXPECT_EQ(count_nodes(qdq, OpKind::BatchNorm), 0u);
  EXPECT_EQ(count_nodes(qdq, OpKind::DequantizePerChannel), per_channel ? 2u : 0u);
  EXPECT_NE(qdq.find_node("conv2d"), nullptr);
  EXPECT_NE(qdq.find_node("linear"), nullptr);
  double worst = 1e9;
  for (std::uint32_t s = 0; s < 4; ++s) {
    const Tensor x = randn({16, 3, 8, 8}, 2000 + s);
    worst = std::min(worst, testing::sqnr_db(run1(fp32, {x}), run1(qdq, {x})));
  }
  return worst;
}

// Measured: 37.2 dB (per tensor) and 37.3 dB (per channel), worst of 4 test batches. The
// bound is the output quantization's clipping: with too little calibration data (32 samples)
// test outputs fall outside the calibrated range and the SQNR drops to ~27 dB, hence 256.
TEST(EndToEnd, SmallCnnStaticPerTensorSqnrAbove30dB) {
  const double sqnr = cnn_sqnr(false);
  std::cout << "small CNN, static per-tensor int8: SQNR " << sqnr << " dB\n";
  EXPECT_GT(sqnr, 30.0);
}

TEST(EndToEnd, SmallCnnStaticPerChannelSqnrAbove30dB) {
  const double sqnr = cnn_sqnr(true);
  std::cout << "small CNN, static per-channel int8: SQNR " << sqnr << " dB\n";
  EXPECT_GT(sqnr, 30.0);
}

struct Mlp : graph::Module {
  graph::Linear fc1{16, 32};
  graph::ReLU relu;
  graph::Linear fc2{32, 8};
  Mlp() : Module("Mlp") {
    register_module("fc1", fc1);
    register_module("relu", relu);
    register_module("fc2", fc2);
    reset_parameters(99);
  }
  graph::Proxy forward(const graph::Proxy& x) override { return fc2(relu(fc1(x))); }
};

// APoT b=4, k=2 weights (16-ish signed levels) with int8 activations: a coarse weight grid,
// so the bar is loose; measured 19.5 dB.
TEST(EndToEnd, ApotWeightConfigOnLinearModel) {
  Mlp mlp;
  const Graph fp32 = graph::export_model(mlp, {Tensor::zeros({8, 16}, DType::Float32)});
  XNNPACKQuantizer quantizer;
  quantizer.set_global(get_apot_weight_config(4, 2));
  PreparedModel prepared = prepare_pt2e(fp32, quantizer);
  for (std::uint32_t s = 0; s < 4; ++s) prepared.run({randn({8, 16}, 3000 + s)});
  const Graph q = convert_pt2e(prepared);
  EXPECT_EQ(count_nodes(q, OpKind::ApotDequantize), 2u);
  EXPECT_EQ(count_nodes(q, OpKind::DequantizePerChannel), 0u);
  EXPECT_EQ(count_nodes(q, OpKind::QuantizePerTensor), 3u);  // x, fc1/relu output, output
  // The weights are exactly APoT's quant-dequant of the fp32 weights.
  const Node* wdq = q.find_node("linear")->input(1)->producer();
  ASSERT_EQ(wdq->op(), OpKind::ApotDequantize);
  EXPECT_EQ(wdq->input(0)->dtype(), DType::Int32);
  const Tensor w = fp32.find_value("fc1.weight")->data();
  apot::ApotObserver obs(4, 2);
  obs.observe(w);
  const Tensor expected_w = apot::quant_dequant_apot(w, obs.calculate_qparams(true));
  const Tensor got_w = graph::evaluate_node(*wdq, std::vector<Tensor>{wdq->input(0)->data()})[0];
  EXPECT_TRUE(bitwise_equal(got_w, expected_w));
  double worst = 1e9;
  for (std::uint32_t s = 0; s < 4; ++s) {
    const Tensor x = randn({8, 16}, 4000 + s);
    worst = std::min(worst, testing::sqnr_db(run1(fp32, {x}), run1(q, {x})));
  }
  std::cout << "MLP, APoT b=4 k=2 weights + int8 activations: SQNR " << worst << " dB\n";
  EXPECT_GT(worst, 10.0);
}

}  // namespace
}  // namespace quantkit::pt2e
