// pipeline::quantize_model with every named configuration, end to end on a small CNN: quantize
// on random calibration batches, check the Q/DQ ops each configuration must insert and what the
// lowering fuses, run the Q/DQ graph (interpreter) and the lowered graph (runtime) and require
// both outputs to stay close to fp32 (SQNR bounds per configuration). Then the configuration
// names and the argument errors.
#include "quantkit/pipeline/quantize_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/export.h"
#include "quantkit/graph/functional.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/graph/nn.h"
#include "quantkit/pt2e/lowering.h"
#include "quantkit/runtime/runtime.h"

namespace quantkit::pipeline {
namespace {

using graph::count_nodes;
using graph::Graph;
using graph::OpKind;

// conv (1 -> 4 channels, 3x3, padding 1) -> relu -> flatten -> linear(4*6*6 -> 10).
struct SmallCnn : graph::Module {
  graph::Conv2d conv{1, 4, 3, graph::Conv2dOptions({1, 1}, {1, 1})};
  graph::ReLU relu;
  graph::Linear fc{4 * 6 * 6, 10};
  SmallCnn() : Module("SmallCnn") {
    register_module("conv", conv);
    register_module("relu", relu);
    register_module("fc", fc);
    reset_parameters(11);
  }
  graph::Proxy forward(const graph::Proxy& x) override {
    return fc(graph::functional::flatten(relu(conv(x)), 1));
  }
};

const Shape kInputShape{2, 1, 6, 6};

Graph fp32_model() {
  SmallCnn net;
  return graph::export_model(net, {Tensor::zeros(kInputShape, DType::Float32)});
}

Tensor uniform_batch(std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  Tensor t = Tensor::empty(kInputShape, DType::Float32);
  for (float& v : t.span<float>()) v = dist(rng);
  return t;
}

std::vector<Tensor> calibration_batches() {
  std::vector<Tensor> out;
  for (std::uint32_t s = 0; s < 64; ++s) out.push_back(uniform_batch(100 + s));
  return out;
}

double sqnr_db(const Tensor& ref, const Tensor& q) {
  double signal = 0, noise = 0;
  for (std::int64_t i = 0; i < ref.numel(); ++i) {
    const double r = ref.data<float>()[i], e = r - static_cast<double>(q.data<float>()[i]);
    signal += r * r;
    noise += e * e;
  }
  return 10.0 * std::log10(signal / noise);
}

// What each configuration must leave in the graph of SmallCnn. The static ones quantize 4
// activations — the input, the fused conv+relu output, the flatten output (sharing the relu's
// qparams) and the linear output: 4 quantize / dequantize pairs — and dequantize each of the
// 2 weights once (int8: per tensor; per-channel: per channel; APoT: apot_dequantize). The
// dynamic one quantizes only the linear's input, at run time (choose_qparams -> quantize ->
// dequantize), and leaves the conv in fp32. SQNR of the Q/DQ graph on these batches: int8
// 39-43 dB (4 quantized activations), dynamic 44-49 dB, 4-bit APoT weights 17-24 dB; the
// bounds leave about 6 dB of margin, far less than a wrong scale or a dropped dequantize costs.
struct Expected {
  std::map<OpKind, std::size_t> ops;
  double min_sqnr_db;        // Q/DQ graph vs fp32, on unseen batches of the calibration data
  double min_fused_sqnr_db;  // the lowered graph on the runtime vs fp32
  std::size_t fused_conv2d, fused_linear, fused_dynamic_linear;  // lower_to_fused_kernels
};

// uniform-wN: int8-per-channel's graph with N-bit weight codes (the same fused ops).
Expected low_bit_expectation(double min_sqnr_db) {
  return {{{OpKind::QuantizePerTensor, 4},
           {OpKind::DequantizePerTensor, 4},
           {OpKind::DequantizePerChannel, 2},
           {OpKind::ChooseQParams, 0},
           {OpKind::ApotDequantize, 0}},
          min_sqnr_db,
          min_sqnr_db,
          1,
          1,
          0};
}

Expected per_token_expectation() {
  return {{{OpKind::QuantizePerTensor, 0},
           {OpKind::ChooseQParamsPerToken, 1},
           {OpKind::QuantizePerGroup, 1},
           {OpKind::DequantizePerGroup, 1},
           {OpKind::DequantizePerChannel, 1},
           {OpKind::ChooseQParams, 0}},
          38.0,
          38.0,
          0,
          0,
          0};
}

std::map<std::string, Expected> expectations() {
  return {
      {"int8",
       {{{OpKind::QuantizePerTensor, 4},
         {OpKind::DequantizePerTensor, 6},
         {OpKind::DequantizePerChannel, 0},
         {OpKind::ChooseQParams, 0},
         {OpKind::ApotDequantize, 0}},
        33.0,
        27.0,
        1,
        1,
        0}},
      {"int8-per-channel",
       {{{OpKind::QuantizePerTensor, 4},
         {OpKind::DequantizePerTensor, 4},
         {OpKind::DequantizePerChannel, 2},
         {OpKind::ChooseQParams, 0},
         {OpKind::ApotDequantize, 0}},
        33.0,
        27.0,
        1,
        1,
        0}},
      {"int8-dynamic",
       {{{OpKind::QuantizePerTensor, 1},
         {OpKind::DequantizePerTensor, 1},
         {OpKind::DequantizePerChannel, 1},
         {OpKind::ChooseQParams, 1},
         {OpKind::ApotDequantize, 0}},
        38.0,
        38.0,
        0,
        0,
        1}},
      {"apot-w4",
       {{{OpKind::QuantizePerTensor, 4},
         {OpKind::DequantizePerTensor, 4},
         {OpKind::DequantizePerChannel, 0},
         {OpKind::ChooseQParams, 0},
         {OpKind::ApotDequantize, 2}},
        14.0,
        14.0,
        1,  // APoT levels are integers times one step: the int8 kernels run them
        1,
        0}},
      // Per-token dynamic activations of the linear (one choose / quantize / dequantize per
      // row), per-channel int8 weights; 8da4w's default group of 256 does not divide the
      // linear's 144 inputs, so it falls back to the same graph.
      {"int8-dynamic-per-token", per_token_expectation()},
      {"8da4w", per_token_expectation()},
      {"uniform-w4", low_bit_expectation(14.0)},
      {"uniform-w3", low_bit_expectation(8.0)},
      {"uniform-w2", low_bit_expectation(3.0)},
  };
}

TEST(QuantizeModel, EveryNamedConfigurationRunsEndToEnd) {
  const Graph fp32 = fp32_model();
  const std::vector<Tensor> calibration = calibration_batches();
  const auto expected = expectations();
  ASSERT_EQ(config_names().size(), expected.size());
  for (const std::string_view name : config_names()) {
    SCOPED_TRACE(std::string(name));
    const auto it = expected.find(std::string(name));
    ASSERT_NE(it, expected.end()) << "no expectation for this configuration";
    const Expected& e = it->second;
    std::size_t progress_calls = 0;
    const Graph q = quantize_model(fp32, name, calibration, [&](std::size_t done, std::size_t n) {
      ++progress_calls;
      EXPECT_EQ(done, progress_calls);
      EXPECT_EQ(n, calibration.size());
    });
    EXPECT_EQ(progress_calls, calibration.size());
    for (const auto& [op, count] : e.ops) {
      EXPECT_EQ(count_nodes(q, op), count) << graph::op_name(op);
    }
    EXPECT_EQ(count_nodes(q, OpKind::Observe), 0u);
    // The runtime path of `quantkit run`: the static configurations fuse the conv and the
    // linear, the dynamic one the linear; APoT weights stay in the Q/DQ form.
    pt2e::LoweringStats stats;
    const Graph lowered = pt2e::lower_to_fused_kernels(q, &stats);
    EXPECT_EQ(stats.conv2d, e.fused_conv2d);
    EXPECT_EQ(stats.linear, e.fused_linear);
    EXPECT_EQ(stats.dynamic_linear, e.fused_dynamic_linear);
    EXPECT_EQ(stats.dynamic_linear_per_token, count_nodes(q, OpKind::ChooseQParamsPerToken));
    const runtime::Runtime rt(lowered, runtime::RuntimeOptions{2});
    for (std::uint32_t s = 0; s < 4; ++s) {
      SCOPED_TRACE("batch " + std::to_string(s));
      const Tensor x = uniform_batch(900 + s);
      const Tensor want = graph::run_graph(fp32, {x})[0];
      const Tensor got = graph::run_graph(q, {x})[0];
      ASSERT_EQ(got.shape(), want.shape());
      const double sqnr = sqnr_db(want, got);
      EXPECT_GT(sqnr, e.min_sqnr_db);
      EXPECT_LT(sqnr, 70.0);  // it did quantize
      std::cout << name << ": SQNR " << sqnr << " dB vs fp32 (batch " << s << ")\n";
      // The fused ops requantize by truncation (torchao's reference representation, see
      // pt2e/reference_representation.h), about half a step of bias at each of the two fused
      // layers: measured 32-36 dB where the float Q/DQ graph gives 39-43 dB.
      const Tensor fused = rt.run(std::vector<Tensor>{x})[0];
      const double fused_sqnr = sqnr_db(want, fused);
      EXPECT_GT(fused_sqnr, e.min_fused_sqnr_db);
      std::cout << name << ": runtime SQNR " << fused_sqnr << " dB vs fp32\n";
    }
  }
}

TEST(QuantizeModel, DoesNotModifyTheModel) {
  const Graph fp32 = fp32_model();
  const std::size_t nodes = fp32.num_nodes();
  const Tensor x = uniform_batch(1);
  const Tensor before = graph::run_graph(fp32, {x})[0];
  (void)quantize_model(fp32, "int8", calibration_batches());
  EXPECT_EQ(fp32.num_nodes(), nodes);
  EXPECT_TRUE(bitwise_equal(graph::run_graph(fp32, {x})[0], before));
}

TEST(QuantizeModel, ConfigNamesAreTheDocumentedOnesInOrder) {
  const std::vector<std::string_view> names(config_names().begin(), config_names().end());
  EXPECT_EQ(names,
            (std::vector<std::string_view>{"int8", "int8-per-channel", "int8-dynamic", "apot-w4",
                                           "uniform-w4", "uniform-w3", "uniform-w2",
                                           "int8-dynamic-per-token", "8da4w"}));
  for (const std::string_view name : names) EXPECT_NO_THROW(config_by_name(name)) << name;
}

TEST(QuantizeModel, RejectsBadArguments) {
  const Graph fp32 = fp32_model();
  const std::vector<Tensor> calibration = calibration_batches();
  try {
    config_by_name("int4");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("config_by_name"), std::string::npos) << what;
    EXPECT_NE(what.find("int4"), std::string::npos) << what;
    EXPECT_NE(what.find("int8, int8-per-channel, int8-dynamic, apot-w4, uniform-w4"),
              std::string::npos)
        << what;
  }
  EXPECT_THROW(quantize_model(fp32, "int4", calibration), Error);
  // A static configuration needs calibration; the dynamic one does not.
  EXPECT_THROW(quantize_model(fp32, "int8", {}), Error);
  EXPECT_NO_THROW(quantize_model(fp32, "int8-dynamic", {}));
  EXPECT_NO_THROW(quantize_model(fp32, "int8-dynamic-per-token", {}));
  EXPECT_NO_THROW(quantize_model(fp32, "8da4w", {}));
  // A batch that does not fit the model's input.
  const std::vector<Tensor> wrong{Tensor::zeros({2, 1, 5, 5}, DType::Float32)};
  EXPECT_THROW(quantize_model(fp32, "int8", wrong), Error);
  // Two inputs.
  graph::GraphBuilder b;
  b.output(b.add(b.input("a", DType::Float32, {2}), b.input("b", DType::Float32, {2})));
  const Graph two_inputs = std::move(b).build();
  EXPECT_THROW(quantize_model(two_inputs, "int8", calibration), Error);
}

}  // namespace
}  // namespace quantkit::pipeline
