// The lowering on graphs from the real flow (export → XNNPACKQuantizer → prepare →
// calibrate → convert) and against the integer reference representation: the fused ops
// must give the bits of pt2e::to_reference_representation, and the runtime the bits of the
// interpreter.
#include <gtest/gtest.h>

#include <cmath>

#include "pt2e/pt2e_test_util.h"
#include "pt2e/qdq_graphs.h"
#include "quantkit/graph/export.h"
#include "quantkit/graph/functional.h"
#include "quantkit/graph/nn.h"
#include "quantkit/pt2e/convert.h"
#include "quantkit/pt2e/lowering.h"
#include "quantkit/pt2e/reference_representation.h"
#include "quantkit/pt2e/xnnpack_quantizer.h"
#include "quantkit/runtime/runtime.h"

namespace quantkit::pt2e {
namespace {

using graph::count_nodes;
using graph::OpKind;
using graph::run_graph;
using graph::testing::identical;
using graph::testing::random_ints;
using quantkit::testing::LayerSpec;

struct Cnn : graph::Module {
  graph::Sequential features;
  graph::Linear fc1{16 * 4 * 4, 32};
  graph::ReLU relu;
  graph::Linear fc2{32, 10};
  Cnn() : Module("Cnn") {
    features.emplace<graph::Conv2d>(1, 8, 3, graph::Conv2dOptions({1, 1}, {1, 1}));
    features.emplace<graph::BatchNorm2d>(8);
    features.emplace<graph::ReLU>();
    features.emplace<graph::Conv2d>(8, 16, 3, graph::Conv2dOptions({1, 1}, {1, 1}));
    features.emplace<graph::ReLU>();
    features.emplace<graph::MaxPool2d>(2);
    register_module("features", features);
    register_module("fc1", fc1);
    register_module("relu", relu);
    register_module("fc2", fc2);
    reset_parameters(7);
  }
  graph::Proxy forward(const graph::Proxy& x) override {
    return fc2(relu(fc1(graph::functional::flatten(features(x), 1))));
  }
};

Graph converted_cnn(bool per_channel, bool dynamic) {
  Cnn net;
  const Graph fp32 = graph::export_model(net, {Tensor::zeros({2, 1, 8, 8}, DType::Float32)});
  XNNPACKQuantizer quantizer;
  quantizer.set_global(get_symmetric_quantization_config(per_channel, false, dynamic));
  PreparedModel prepared = prepare_pt2e(fp32, quantizer);
  for (std::uint32_t s = 0; s < 8; ++s) prepared.run({testing::randn({2, 1, 8, 8}, 100 + s)});
  return convert_pt2e(prepared);
}

void expect_runtime_equals_interpreter(const Graph& g, const Tensor& x) {
  const Tensor expected = run_graph(g, {x})[0];
  for (int threads : {1, 3}) {
    const runtime::Runtime rt(g, runtime::RuntimeOptions{threads});
    EXPECT_TRUE(identical(rt.run(std::vector<Tensor>{x})[0], expected)) << threads << " threads";
  }
}

TEST(LoweringEndToEnd, ConvertedStaticCnnLowersAndMatchesTheReferenceRepresentation) {
  for (bool per_channel : {false, true}) {
    const Graph qdq = converted_cnn(per_channel, false);
    LoweringStats stats;
    const Graph lowered = lower_to_fused_kernels(qdq, &stats);
    EXPECT_EQ(stats.conv2d, 2u);
    EXPECT_EQ(stats.linear, 2u);
    EXPECT_EQ(count_nodes(lowered, OpKind::Conv2d), 0u);
    EXPECT_EQ(count_nodes(lowered, OpKind::Linear), 0u);
    const Graph reference = to_reference_representation(qdq);
    for (std::uint32_t s = 0; s < 3; ++s) {
      const Tensor x = testing::randn({2, 1, 8, 8}, 500 + s);
      const Tensor got = run_graph(lowered, {x})[0];
      // torchao has no conv/linear + relu pattern (those stay Q/DQ in the reference
      // representation) while the lowering fuses the relu, so whole-model outputs are
      // compared by SQNR; the op-level bit-exact check is the next test.
      EXPECT_GT(testing::sqnr_db(run_graph(qdq, {x})[0], got), 30.0);
      EXPECT_GT(testing::sqnr_db(run_graph(reference, {x})[0], got), 30.0);
      expect_runtime_equals_interpreter(lowered, x);
    }
  }
}

TEST(LoweringEndToEnd, ConvertedDynamicModelLowers) {
  const Graph qdq = converted_cnn(true, true);
  LoweringStats stats;
  const Graph lowered = lower_to_fused_kernels(qdq, &stats);
  EXPECT_EQ(stats.dynamic_linear, 2u);
  EXPECT_EQ(count_nodes(lowered, OpKind::ChooseQParams), 0u);
  const Tensor x = testing::randn({2, 1, 8, 8}, 9);
  EXPECT_GT(testing::sqnr_db(run_graph(qdq, {x})[0], run_graph(lowered, {x})[0]), 40.0);
  expect_runtime_equals_interpreter(lowered, x);
}

// Each fused op against the reference representation of the same Q/DQ pattern. Every case
// is named and every one must be rewritten into integer arithmetic and compared: a case that
// loses its reference pattern fails instead of being skipped.
TEST(LoweringEndToEnd, FusedOpsEqualTheReferenceRepresentationBitForBit) {
  struct Case {
    std::string name;
    Graph qdq;
    std::vector<Tensor> inputs;
  };
  std::vector<Case> cases;
  for (bool per_channel : {false, true}) {
    LayerSpec s;
    s.per_channel = per_channel;
    const std::string suffix = per_channel ? "_per_channel" : "_per_tensor";
    cases.push_back({"linear" + suffix,
                     quantkit::testing::static_linear(s, 6, 40, 12),
                     {random_ints<std::int8_t>({6, 40}, 1, -128, 127)}});
    cases.push_back({"conv" + suffix,
                     quantkit::testing::static_conv(s, {1, 3, 7, 7}, 5, 3,
                                                    graph::Conv2dOptions({2, 2}, {1, 1})),
                     {random_ints<std::int8_t>({1, 3, 7, 7}, 2, -128, 127)}});
    cases.push_back({"dynamic" + suffix,
                     quantkit::testing::dynamic_linear(5, 33, 9, per_channel, true),
                     {testing::randn({5, 33}, 3)}});
  }
  Tensor a = Tensor::empty({65536}, DType::Int8), b = Tensor::empty({65536}, DType::Int8);
  for (int i = 0; i < 65536; ++i) {
    a.data<std::int8_t>()[i] = static_cast<std::int8_t>(i & 255);
    b.data<std::int8_t>()[i] = static_cast<std::int8_t>(i >> 8);
  }
  for (bool relu : {false, true}) {
    cases.push_back({relu ? "add_relu" : "add",
                     quantkit::testing::static_add(DType::Int8, {65536}, relu),
                     {a, b}});
  }
  std::vector<std::string> names;
  for (const Case& c : cases) names.push_back(c.name);
  ASSERT_EQ(names,
            (std::vector<std::string>{"linear_per_tensor", "conv_per_tensor", "dynamic_per_tensor",
                                      "linear_per_channel", "conv_per_channel",
                                      "dynamic_per_channel", "add", "add_relu"}));
  std::size_t compared = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Graph reference = to_reference_representation(c.qdq);
    const Graph lowered = lower_to_fused_kernels(c.qdq);
    ASSERT_EQ(lowered.num_nodes(), 1u);
    // Where torchao has no pattern the reference keeps the float op (Q/DQ form).
    bool rewritten = true;
    for (const graph::Node* n : reference.nodes()) {
      const bool float_op = n->op() == OpKind::Linear || n->op() == OpKind::Conv2d ||
                            (n->op() == OpKind::Add && n->output()->dtype() == DType::Float32);
      if (float_op) rewritten = false;
    }
    EXPECT_TRUE(rewritten) << "no reference pattern: the reference keeps the float op";
    if (!rewritten) continue;
    ++compared;
    EXPECT_TRUE(identical(run_graph(lowered, c.inputs)[0], run_graph(reference, c.inputs)[0]));
  }
  EXPECT_EQ(compared, names.size());
}

}  // namespace
}  // namespace quantkit::pt2e
