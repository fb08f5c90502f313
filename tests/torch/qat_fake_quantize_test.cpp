// QatModule's fake_quantize nodes: in train mode they observe and fake-quantize exactly as the
// prepared model's own forward (PreparedModel::run, the interpreter with the FakeQuantize
// modules) does, leaving the same observer state; the switches freeze observers / bypass fake
// quantization; dynamic places use each batch's own qparams, as the converted graph's
// choose_qparams does; APoT weight places train through the straight-through estimator.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "quantkit/graph/builder.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/pt2e/convert.h"
#include "quantkit/pt2e/prepare.h"
#include "quantkit/pt2e/xnnpack_quantizer.h"
#include "quantkit/torch/qat_module.h"
#include "torch/qat_test_support.h"

namespace quantkit {
namespace {

using graph::GraphBuilder;
using graph::Value;
using torch_test::from_quantkit;
using torch_test::max_relative_difference;
using torch_test::uniform;

// x [N, 8] -> linear(16) -> relu -> linear(4), batch dim dynamic.
graph::Graph mlp() {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 8}, {"N", ""});
  Value* h = b.relu(b.linear(x, b.parameter("fc1.weight", uniform({16, 8}, 1, -0.5f, 0.5f)),
                             b.parameter("fc1.bias", uniform({16}, 2, -0.1f, 0.1f))));
  b.output(b.linear(h, b.parameter("fc2.weight", uniform({4, 16}, 3, -0.5f, 0.5f)),
                    b.parameter("fc2.bias", uniform({4}, 4, -0.1f, 0.1f))));
  return std::move(b).build();
}

pt2e::PreparedModel prepare(const graph::Graph& g, const pt2e::QuantizationConfig& config) {
  pt2e::XNNPACKQuantizer quantizer;
  quantizer.set_global(config);
  return pt2e::prepare_qat_pt2e(g, quantizer);
}

// Every uniform place's qparams in `a` equal those in `b` (scales to float32 rounding).
void expect_same_qparams(const pt2e::PreparedModel& a, const pt2e::PreparedModel& b) {
  std::size_t compared = 0;
  for (const auto& [name, place] : a.places()) {
    if (!place.fake_quant) continue;
    const QParams& qa = place.fake_quant->qparams();
    const QParams& qb = b.place(name).fake_quant->qparams();
    ASSERT_EQ(qa.scale.size(), qb.scale.size()) << name;
    for (std::size_t i = 0; i < qa.scale.size(); ++i) {
      EXPECT_NEAR(qa.scale[i], qb.scale[i], 1e-6 * qb.scale[i]) << name << " channel " << i;
      EXPECT_EQ(qa.zero_point[i], qb.zero_point[i]) << name << " channel " << i;
    }
    ++compared;
  }
  EXPECT_GE(compared, 4u);  // input, two weights, hidden and output activations
}

// The scale of the place that fake-quantizes the graph output.
double output_scale(const pt2e::PreparedModel& prepared) {
  const graph::Node* last = prepared.graph().outputs()[0]->producer();
  return prepared.place(last->attr_string("module")).fake_quant->qparams().scale[0];
}

TEST(QatFakeQuantize, TrainForwardMatchesThePreparedModelsOwnForward) {
  const pt2e::QuantizationConfig config = pt2e::get_symmetric_quantization_config(true, true);
  const graph::Graph g = mlp();
  pt2e::PreparedModel ours = prepare(g, config);
  pt2e::PreparedModel reference = prepare(g, config);
  torch::QatModule module(ours);
  for (std::uint32_t batch = 0; batch < 3; ++batch) {
    const Tensor x = uniform({32, 8}, 10 + batch, -2.0f - batch, 2.0f + batch);
    const at::Tensor got = module.forward(from_quantkit(x));
    const at::Tensor expected = from_quantkit(reference.run({x})[0]);
    expect_same_qparams(ours, reference);
    // Float summation order differs (LibTorch vs OpenBLAS), so a code can flip at a rounding
    // tie: within one output step.
    EXPECT_LE((got - expected).abs().max().item<double>(), output_scale(reference) * 1.001);
  }
}

TEST(QatFakeQuantize, SwitchesFreezeObserversAndBypassFakeQuantization) {
  const graph::Graph g = mlp();
  pt2e::PreparedModel prepared = prepare(g, pt2e::get_symmetric_quantization_config(true, true));
  torch::QatModule module(prepared);
  module.forward(from_quantkit(uniform({16, 8}, 20)));
  const QParams before = prepared.place("activation_post_process_0").fake_quant->qparams();

  module.enable_observers(false);  // a wider batch would widen the input range
  module.forward(from_quantkit(uniform({16, 8}, 21, -5.0f, 5.0f)));
  EXPECT_EQ(prepared.place("activation_post_process_0").fake_quant->qparams().scale, before.scale);
  module.enable_observers(true);
  module.eval();  // eval freezes observers too
  module.forward(from_quantkit(uniform({16, 8}, 21, -5.0f, 5.0f)));
  EXPECT_EQ(prepared.place("activation_post_process_0").fake_quant->qparams().scale, before.scale);
  module.train();
  module.forward(from_quantkit(uniform({16, 8}, 21, -5.0f, 5.0f)));
  EXPECT_GT(prepared.place("activation_post_process_0").fake_quant->qparams().scale[0],
            before.scale[0]);

  // Fake quant off: the fp32 graph's function.
  module.enable_fake_quant(false);
  const Tensor x = uniform({16, 8}, 22);
  const at::Tensor fp32 = from_quantkit(graph::run_graph(g, {x})[0]);
  EXPECT_LE(max_relative_difference(module.forward(from_quantkit(x)), fp32), 1e-5);
  module.enable_fake_quant(true);
  EXPECT_GT(max_relative_difference(module.forward(from_quantkit(x)), fp32), 1e-3);
}

TEST(QatFakeQuantize, StaticPlacesWithoutQParamsAreAnErrorInEvalMode) {
  pt2e::PreparedModel prepared = prepare(mlp(), pt2e::get_symmetric_quantization_config(true, true));
  torch::QatModule module(prepared);
  module.eval();
  try {
    module.forward(at::ones({2, 8}));
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no qparams yet"), std::string::npos) << e.what();
  }
}

TEST(QatFakeQuantize, DynamicPlacesUseEachBatchsQParamsLikeTheConvertedGraph) {
  pt2e::PreparedModel prepared =
      prepare(mlp(), pt2e::get_symmetric_quantization_config(true, true, /*is_dynamic=*/true));
  torch::QatModule module(prepared);
  module.forward(from_quantkit(uniform({16, 8}, 30)));  // observes the weights
  module.eval();
  const graph::Graph converted = pt2e::convert_pt2e(prepared);
  ASSERT_GT(graph::count_nodes(converted, graph::OpKind::ChooseQParams), 0u);
  for (float range : {0.5f, 4.0f}) {  // per-batch qparams: both ranges must match
    const Tensor x = uniform({16, 8}, 31, -range, range);
    const at::Tensor expected = from_quantkit(graph::run_graph(converted, {x})[0]);
    EXPECT_LE(max_relative_difference(module.forward(from_quantkit(x)), expected), 1e-5)
        << "range " << range;
  }
}

TEST(QatFakeQuantize, ApotWeightsMatchThePreparedModelAndPassGradients) {
  pt2e::QuantizationConfig config = pt2e::get_apot_weight_config(4, 2);
  const pt2e::QuantizationConfig qat = pt2e::get_symmetric_quantization_config(false, true);
  config.input_activation = qat.input_activation;
  config.output_activation = qat.output_activation;
  config.weight->fake_quant = true;
  config.is_qat = true;
  const graph::Graph g = mlp();
  pt2e::PreparedModel ours = prepare(g, config);
  pt2e::PreparedModel reference = prepare(g, config);
  std::size_t apot_places = 0;
  for (const auto& [name, place] : ours.places()) apot_places += place.apot ? 1 : 0;
  ASSERT_EQ(apot_places, 2u);
  torch::QatModule module(ours);
  const Tensor x = uniform({32, 8}, 40, -2.0f, 2.0f);
  const at::Tensor got = module.forward(from_quantkit(x));
  const at::Tensor expected = from_quantkit(reference.run({x})[0]);
  EXPECT_LE((got - expected).abs().max().item<double>(), output_scale(reference) * 1.001);
  got.sum().backward();
  for (const at::Tensor& p : module.parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_GT(p.grad().abs().sum().item<double>(), 0.0);
  }
}

}  // namespace
}  // namespace quantkit
