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
#include "quantkit/pt2e/prepare.h"
#include "quantkit/pt2e/reference_representation.h"
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
// bounds leave about 4-6 dB of margin, far less than a wrong scale or a dropped dequantize costs.
struct Expected {
  std::map<OpKind, std::size_t> ops;
  double min_sqnr_db;        // Q/DQ graph vs fp32, on unseen batches of the calibration data
  double min_fused_sqnr_db;  // the lowered graph on the runtime vs fp32
  std::size_t fused_conv2d, fused_linear, fused_dynamic_linear;  // lower_to_fused_kernels
};

// The low-bit configs: 4 activation quantize / dequantize pairs like int8-per-channel, and the
// 2 weights dequantized per channel (uniform-wN: N-bit codes) or as APoT codes + levels (both
// fused by the lowering: APoT levels are integers times one step, so the int8 kernels run them).
Expected low_bit_weights(std::size_t per_channel, std::size_t apot, double min_sqnr_db) {
  return {{{OpKind::QuantizePerTensor, 4},
           {OpKind::DequantizePerTensor, 4},
           {OpKind::DequantizePerChannel, per_channel},
           {OpKind::ChooseQParams, 0},
           {OpKind::ApotDequantize, apot}},
          min_sqnr_db,
          min_sqnr_db,
          1,
          1,
          0};
}
Expected low_bit_expectation(double min_sqnr_db) { return low_bit_weights(2, 0, min_sqnr_db); }
Expected apot_expectation(double min_sqnr_db) { return low_bit_weights(0, 2, min_sqnr_db); }

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
      // The paper's sets with alpha = max |w| per tensor (no trained clipping): 19-23 dB at 4
      // bits, 9-15 dB at 3 and 1.5-7 dB for the ternary 2-bit weights (most weights round to 0).
      {"apot-w4", apot_expectation(14.0)},
      {"apot-w3", apot_expectation(6.0)},
      {"apot-w2", apot_expectation(0.5)},
      {"apot-b4k2-signed", apot_expectation(14.0)},
      // 4-bit activations on top: 14-19 dB.
      {"apot-w4a4", apot_expectation(10.0)},
      {"uniform-w4a4", low_bit_expectation(10.0)},
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
    // Nothing left to float: every conv / linear fused, no APoT weight dequantized at run time.
    EXPECT_EQ(count_nodes(lowered, OpKind::ApotDequantize), 0u);
    if (e.fused_dynamic_linear == 0 && stats.dynamic_linear_per_token == 0) {
      EXPECT_EQ(count_nodes(lowered, OpKind::Conv2d), 0u);
      EXPECT_EQ(count_nodes(lowered, OpKind::Linear), 0u);
    }
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
      // The runtime executes the lowered graph exactly as its interpreter does.
      EXPECT_EQ(fused.to_vector<float>(), graph::run_graph(lowered, {x})[0].to_vector<float>());
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
                                           "apot-w3", "apot-w2", "apot-b4k2-signed", "uniform-w4",
                                           "uniform-w3", "uniform-w2", "apot-w4a4",
                                           "uniform-w4a4",
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
    // Every valid name is listed.
    EXPECT_NE(what.find("int8, int8-per-channel, int8-dynamic, apot-w4, apot-w3, apot-w2, "
                        "apot-b4k2-signed, uniform-w4, uniform-w3, uniform-w2, apot-w4a4, "
                        "uniform-w4a4"),
              std::string::npos)
        << what;
    EXPECT_THROW(config_by_name("int4", /*is_qat=*/true), Error);
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

// The APoT configs' Q/DQ graphs also rewrite to torchao's integer reference representation:
// the linear's APoT weight becomes int8 integers (its levels over one step) like an int8
// weight; the conv -> relu pattern stays Q/DQ, as it does for int8-per-channel (the rewrite
// has no conv + relu pattern). The integer graph requantizes by truncation: within about one
// activation step of the Q/DQ graph (35-39 dB with int8 activations, 12-13 dB with 4-bit ones).
TEST(QuantizeModel, ApotConfigsHaveAnIntegerReferenceRepresentation) {
  const std::map<std::string, double> min_sqnr_vs_qdq{
      {"apot-w4", 30.0}, {"apot-w3", 30.0}, {"apot-w2", 30.0}, {"apot-b4k2-signed", 30.0},
      {"apot-w4a4", 9.0}};
  for (const auto& [name, min_sqnr] : min_sqnr_vs_qdq) {
    SCOPED_TRACE(name);
    const Graph q = quantize_model(fp32_model(), name, calibration_batches());
    const Graph rep = pt2e::to_reference_representation(q);
    EXPECT_EQ(count_nodes(q, OpKind::ApotDequantize), 2u);
    EXPECT_EQ(count_nodes(rep, OpKind::Linear), 0u);
    EXPECT_EQ(count_nodes(rep, OpKind::ApotDequantize), 1u);  // the conv's
    EXPECT_EQ(count_nodes(rep, OpKind::Conv2d), 1u);
    for (std::uint32_t s = 0; s < 2; ++s) {
      const Tensor x = uniform_batch(950 + s);
      const double sqnr = sqnr_db(graph::run_graph(q, {x})[0], graph::run_graph(rep, {x})[0]);
      EXPECT_GT(sqnr, min_sqnr);
      EXPECT_LT(sqnr, 70.0);  // the rewrite happened: truncation differs from rounding
      std::cout << name << ": reference representation SQNR " << sqnr << " dB vs Q/DQ\n";
    }
  }
}

// The storage budget each name promises: wN weights use at most 2^N codes (sign included);
// PyTorch's b=4 k=2 scheme is the one that does not fit 4 bits.
TEST(QuantizeModel, WeightLevelsCountStorageCodes) {
  const std::map<std::string, std::pair<std::int64_t, std::int64_t>> want{
      {"int8", {255, 255}},       {"int8-per-channel", {255, 255}}, {"int8-dynamic", {255, 255}},
      {"apot-w4", {15, 15}},      {"apot-w3", {7, 7}},              {"apot-w2", {3, 3}},
      {"apot-b4k2-signed", {49, 39}}, {"uniform-w4", {16, 16}},     {"uniform-w3", {8, 8}},
      {"uniform-w2", {4, 4}},     {"apot-w4a4", {15, 15}},          {"uniform-w4a4", {16, 16}},
      {"int8-dynamic-per-token", {255, 255}}, {"8da4w", {16, 16}}};
  ASSERT_EQ(want.size(), config_names().size());
  for (const std::string_view name : config_names()) {
    SCOPED_TRACE(std::string(name));
    const WeightLevels w = weight_levels(name);
    const auto& [codes, distinct] = want.at(std::string(name));
    EXPECT_EQ(w.codes, codes);
    EXPECT_EQ(w.distinct, distinct);
  }
  EXPECT_THROW(weight_levels("apot-w5"), Error);
}

// 4-bit activations: static, per-tensor affine in int8 storage with the 16 codes [-8, 7].
TEST(QuantizeModel, W4A4ConfigsQuantizeActivationsToSixteenCodes) {
  for (const char* name : {"apot-w4a4", "uniform-w4a4"}) {
    SCOPED_TRACE(name);
    const pt2e::QuantizationConfig c = config_by_name(name);
    for (const auto& spec : {c.input_activation, c.output_activation}) {
      ASSERT_TRUE(spec.has_value());
      EXPECT_EQ(spec->dtype, DType::Int8);
      EXPECT_EQ(spec->quant_min, -8);
      EXPECT_EQ(spec->quant_max, 7);
      EXPECT_FALSE(spec->is_dynamic);
    }
    // Every activation quantize of the converted small CNN clamps to [-8, 7].
    const Graph q = quantize_model(fp32_model(), name, calibration_batches());
    std::size_t quantizes = 0;
    for (const graph::Node* n : q.nodes()) {
      if (n->op() != OpKind::QuantizePerTensor) continue;
      ++quantizes;
      EXPECT_EQ(n->attr_int("quant_min"), -8);
      EXPECT_EQ(n->attr_int("quant_max"), 7);
    }
    EXPECT_EQ(quantizes, 4u);
  }
}

// config_by_name(name, is_qat = true): the same ranges and weight kinds with fake quants in
// place of observers (torch.ao's XNNPACK QAT config), and prepare_qat_pt2e takes it.
TEST(QuantizeModel, QatConfigsGiveFakeQuantSpecs) {
  for (const std::string_view name : config_names()) {
    SCOPED_TRACE(std::string(name));
    if (name == "int8-dynamic-per-token" || name == "8da4w") {
      // No QAT form of the per-token dynamic configs yet (torchao has 8da4w QAT): refused.
      EXPECT_THROW(config_by_name(name, /*is_qat=*/true), Error);
      continue;
    }
    const pt2e::QuantizationConfig ptq = config_by_name(name);
    const pt2e::QuantizationConfig qat = config_by_name(name, /*is_qat=*/true);
    EXPECT_FALSE(ptq.is_qat);
    EXPECT_TRUE(qat.is_qat);
    ASSERT_TRUE(ptq.weight && qat.weight && qat.input_activation);
    EXPECT_FALSE(ptq.weight->fake_quant);
    EXPECT_FALSE(ptq.input_activation->fake_quant);
    EXPECT_TRUE(qat.weight->fake_quant);
    EXPECT_TRUE(qat.input_activation->fake_quant);
    EXPECT_EQ(qat.input_activation->observer, "moving-average-minmax");
    EXPECT_EQ(qat.input_activation->quant_min, ptq.input_activation->quant_min);
    EXPECT_EQ(qat.input_activation->quant_max, ptq.input_activation->quant_max);
    EXPECT_EQ(qat.input_activation->is_dynamic, ptq.input_activation->is_dynamic);
    EXPECT_EQ(qat.weight->apot, ptq.weight->apot);
    if (!qat.weight->apot) {
      EXPECT_EQ(qat.weight->quant_min, ptq.weight->quant_min);
      EXPECT_EQ(qat.weight->quant_max, ptq.weight->quant_max);
      EXPECT_EQ(qat.weight->qscheme, ptq.weight->qscheme);
      EXPECT_EQ(qat.weight->observer.rfind("moving-average", 0), 0u) << qat.weight->observer;
    }
    pt2e::XNNPACKQuantizer quantizer;
    quantizer.set_global(qat);
    pt2e::PreparedModel prepared = pt2e::prepare_qat_pt2e(fp32_model(), quantizer);
    EXPECT_EQ(count_nodes(prepared.graph(), OpKind::Observe), 0u);
    // The linear's input and weight at least (the dynamic config quantizes only those).
    EXPECT_GE(count_nodes(prepared.graph(), OpKind::FakeQuantize), 2u);
    const Tensor y = prepared({uniform_batch(7)})[0];
    EXPECT_EQ(y.shape(), (Shape{2, 10}));
  }
}

}  // namespace
}  // namespace quantkit::pipeline
