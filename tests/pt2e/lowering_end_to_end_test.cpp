// The lowering on graphs from the real flow (export → XNNPACKQuantizer → prepare →
// calibrate → convert): the fused ops round to nearest (kernels/requantize.h) and stay
// within one step of the Q/DQ graph without bias; the runtime gives the bits of the
// interpreter; the dynamic linear keeps torchao's reference-representation arithmetic.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <iostream>

#include "pt2e/pt2e_test_util.h"
#include "pt2e/qdq_graphs.h"
#include "pt2e/step_difference.h"
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
using quantkit::testing::step_difference;
using quantkit::testing::StepStats;

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

// Deployment arithmetic (kernels/requantize.h) against the Q/DQ float graph it replaces:
// within one output step everywhere, equal on >= 99% of elements, and unbiased (mean
// difference within +-0.01 step) -- the truncation of torchao's reference representation
// fails the last check (see TruncationWouldBeBiased below).
struct StaticCase {
  std::string name;
  Graph qdq;
  std::vector<Tensor> inputs;
};
std::vector<StaticCase> static_cases() {
  std::vector<StaticCase> cases;
  for (bool per_channel : {false, true}) {
    for (bool relu : {false, true}) {
      LayerSpec s;
      s.per_channel = per_channel;
      s.relu = relu;
      const std::string suffix =
          std::string(per_channel ? "_per_channel" : "_per_tensor") + (relu ? "_relu" : "");
      cases.push_back({"linear" + suffix,
                       quantkit::testing::static_linear(s, 64, 40, 24),
                       {random_ints<std::int8_t>({64, 40}, 1, -128, 127)}});
      cases.push_back({"conv" + suffix,
                       quantkit::testing::static_conv(s, {2, 3, 15, 15}, 16, 3,
                                                      graph::Conv2dOptions({2, 2}, {1, 1})),
                       {random_ints<std::int8_t>({2, 3, 15, 15}, 2, -128, 127)}});
    }
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
  return cases;
}

TEST(LoweringEndToEnd, FusedOpsAreWithinOneStepOfTheQdqGraphWithoutBias) {
  const std::vector<std::string> expected_names = {
      "linear_per_tensor",  "conv_per_tensor",       "linear_per_tensor_relu",
      "conv_per_tensor_relu", "linear_per_channel",  "conv_per_channel",
      "linear_per_channel_relu", "conv_per_channel_relu", "add", "add_relu"};
  std::vector<std::string> names;
  for (const StaticCase& c : static_cases()) {
    names.push_back(c.name);
    const Graph lowered = lower_to_fused_kernels(c.qdq);
    ASSERT_EQ(lowered.num_nodes(), 1u) << c.name;
    const Tensor got = run_graph(lowered, c.inputs)[0];
    const StepStats st = step_difference(got, run_graph(c.qdq, c.inputs)[0]);
    EXPECT_LE(st.max_abs, 1) << c.name;
    EXPECT_GE(static_cast<double>(st.equal), 0.99 * static_cast<double>(st.count)) << c.name;
    EXPECT_LE(std::abs(st.mean), 0.01) << c.name << " mean difference " << st.mean;
    std::cout << c.name << ": " << st.equal << "/" << st.count << " equal, mean " << st.mean
              << "\n";
    for (int threads : {1, 3}) {
      const runtime::Runtime rt(lowered, runtime::RuntimeOptions{threads});
      EXPECT_TRUE(identical(rt.run(c.inputs)[0], got)) << c.name << ", " << threads << " threads";
    }
  }
  EXPECT_EQ(names, expected_names);
}

// The check above can fail: torchao's reference representation truncates toward zero, so
// against the same Q/DQ graph its outputs are pulled toward the output zero point
// (|y - out_zp| one step smaller on many elements, never larger), where round-to-nearest
// is not.
double toward_zero_point(const Tensor& got, const Tensor& expected, std::int64_t zp) {
  double sum = 0;
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    const std::int64_t g = got.data<std::int8_t>()[i], e = expected.data<std::int8_t>()[i];
    sum += static_cast<double>(std::abs(g - zp) - std::abs(e - zp));
  }
  return sum / static_cast<double>(got.numel());
}

TEST(LoweringEndToEnd, TruncationWouldBeBiased) {
  LayerSpec s;  // int8, out_zero_point -5
  const Graph qdq = quantkit::testing::static_linear(s, 64, 40, 24);
  const std::vector<Tensor> x = {random_ints<std::int8_t>({64, 40}, 1, -128, 127)};
  const Tensor expected = run_graph(qdq, x)[0];
  const double truncated =
      toward_zero_point(run_graph(to_reference_representation(qdq), x)[0], expected, -5);
  const double rounded = toward_zero_point(run_graph(lower_to_fused_kernels(qdq), x)[0], expected, -5);
  std::cout << "toward the zero point: truncation " << truncated << ", rounding " << rounded
            << " steps\n";
  EXPECT_LT(truncated, -0.05) << "torchao's truncation is expected to pull toward the zero point";
  EXPECT_LT(std::abs(rounded), 0.01);
}

// The dynamic linear keeps torchao's arithmetic (its output is float): bit for bit with the
// reference representation.
TEST(LoweringEndToEnd, DynamicLinearEqualsTheReferenceRepresentationBitForBit) {
  for (bool per_channel : {false, true}) {
    const Graph qdq = quantkit::testing::dynamic_linear(5, 33, 9, per_channel, true);
    const std::vector<Tensor> x = {testing::randn({5, 33}, 3)};
    const Graph lowered = lower_to_fused_kernels(qdq);
    ASSERT_EQ(lowered.num_nodes(), 1u);
    EXPECT_TRUE(identical(run_graph(lowered, x)[0], run_graph(to_reference_representation(qdq), x)[0]))
        << (per_channel ? "per channel" : "per tensor");
  }
}

}  // namespace
}  // namespace quantkit::pt2e
