// The transformer configs end to end on a linear-only MLP (quantize_model → convert → lower →
// runtime): int8-dynamic-per-token and 8da4w quantize every linear; the lowered graph runs
// every quantized op fused (no interpreter fallback) and gives the same bits as the
// interpreter, at every ISA level and 1 and 3 threads, and as the integer reference
// representation (the fused op's contract); the Q/DQ graph is within float rounding of it and
// close to fp32; 8da4w's group-size fallback is reported; bad group sizes are refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/graph/export.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/graph/nn.h"
#include "quantkit/pipeline/quantize_model.h"
#include "quantkit/pt2e/lowering.h"
#include "quantkit/pt2e/reference_representation.h"
#include "quantkit/runtime/runtime.h"
#include "pt2e/pt2e_test_util.h"
#include "support/kernel_configs.h"

namespace quantkit::pipeline {
namespace {

using graph::count_nodes;
using graph::Graph;
using graph::OpKind;

// linear(64 -> 96) -> relu -> linear(96 -> 32): with groups of 64 the first layer is
// grouped and the second (96 inputs) falls back to per-channel int8 weights.
Graph mlp() {
  graph::Sequential net;
  net.emplace<graph::Linear>(64, 96);
  net.emplace<graph::ReLU>();
  net.emplace<graph::Linear>(96, 32);
  net.reset_parameters(3);
  return graph::export_model(net, {Tensor::zeros({5, 64}, DType::Float32)});
}

Tensor tokens(std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Tensor t = Tensor::empty({5, 64}, DType::Float32);
  for (float& v : t.span<float>()) v = dist(rng);
  t.data<float>()[7] = 0.0f;  // a row with mixed signs and an exact zero
  return t;
}

using pt2e::testing::sqnr_db;

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

void expect_lowered_runs_like_its_contract(const Graph& qdq, const Graph& fp32,
                                           double min_sqnr) {
  pt2e::LoweringStats stats;
  const Graph lowered = pt2e::lower_to_fused_kernels(qdq, &stats);
  EXPECT_EQ(stats.dynamic_linear_per_token, 2u);
  EXPECT_EQ(count_nodes(lowered, OpKind::Linear), 0u);
  const Graph reference = pt2e::to_reference_representation(qdq);
  EXPECT_EQ(count_nodes(reference, OpKind::IntegerLinearGrouped), 2u);
  const runtime::Runtime one(lowered, runtime::RuntimeOptions{1});
  const runtime::Runtime three(lowered, runtime::RuntimeOptions{3});
  // Every quantized op runs fused; only the float relu between the layers (dynamic configs
  // leave the rest of the model in float) uses the interpreter's kernel.
  std::size_t fused = 0;
  for (const std::string& label : one.op_labels()) {
    if (label.find("(fused)") != std::string::npos) ++fused;
    if (label.find("(reference)") != std::string::npos) {
      EXPECT_EQ(label.rfind("relu ", 0), 0u) << label;
    }
  }
  EXPECT_EQ(fused, 2u);
  for (std::uint32_t seed = 0; seed < 3; ++seed) {
    const Tensor x = tokens(seed);
    const Tensor fused = one.run(std::vector<Tensor>{x})[0];
    // Every ISA level (kernels planned at construction dispatch at run time), 1 and 3 threads.
    for (const auto& c : quantkit::testing::kernel_configs_reported()) {
      quantkit::testing::ScopedKernel scoped(c);
      EXPECT_TRUE(same_bits(fused, one.run(std::vector<Tensor>{x})[0])) << c.name;
      EXPECT_TRUE(same_bits(fused, three.run(std::vector<Tensor>{x})[0])) << c.name << ", 3 threads";
    }
    EXPECT_TRUE(same_bits(fused, graph::run_graph(lowered, {x})[0])) << "interpreter";
    EXPECT_TRUE(same_bits(fused, graph::run_graph(reference, {x})[0]))
        << "reference representation";
    // The Q/DQ graph computes the same quantized values in float (dequantized operands,
    // float32 sums): it differs from the integer form only by float rounding.
    const Tensor qdq_out = graph::run_graph(qdq, {x})[0];
    float max_abs = 0.0f, max_diff = 0.0f;
    for (std::int64_t i = 0; i < fused.numel(); ++i) {
      max_abs = std::max(max_abs, std::fabs(fused.data<float>()[i]));
      max_diff = std::max(max_diff, std::fabs(fused.data<float>()[i] - qdq_out.data<float>()[i]));
    }
    EXPECT_LE(max_diff, 1e-4f * max_abs) << "Q/DQ vs reference representation";
    const Tensor want = graph::run_graph(fp32, {x})[0];
    EXPECT_GT(sqnr_db(want, qdq_out), min_sqnr);
    EXPECT_GT(sqnr_db(want, fused), min_sqnr);
  }
}

TEST(TransformerConfigs, Int8DynamicPerTokenQuantizesEveryLinear) {
  const Graph fp32 = mlp();
  QuantizeReport report;
  const Graph qdq = quantize_model(fp32, "int8-dynamic-per-token", {}, {}, &report);
  EXPECT_TRUE(report.group_size_fallbacks.empty());
  EXPECT_EQ(count_nodes(qdq, OpKind::ChooseQParamsPerToken), 2u);
  EXPECT_EQ(count_nodes(qdq, OpKind::DequantizePerChannel), 2u);
  expect_lowered_runs_like_its_contract(qdq, fp32, 30.0);
}

TEST(TransformerConfigs, EightDa4wGroupsWhereItCanAndReportsTheRest) {
  const Graph fp32 = mlp();
  QuantizeReport report;
  const Graph qdq = quantize_model(fp32, "8da4w", {}, QuantizeOptions{64}, &report);
  ASSERT_EQ(report.group_size_fallbacks.size(), 1u);
  const graph::Node* second = nullptr;
  for (const graph::Node* n : fp32.nodes()) {
    if (n->op() == OpKind::Linear) second = n;
  }
  EXPECT_EQ(report.group_size_fallbacks[0], second->name());
  // Activations: 2 per-token groups; weights: one 4-bit grouped, one per-channel int8.
  EXPECT_EQ(count_nodes(qdq, OpKind::DequantizePerGroup), 3u);
  EXPECT_EQ(count_nodes(qdq, OpKind::DequantizePerChannel), 1u);
  for (const graph::Node* n : qdq.nodes()) {
    if (n->op() == OpKind::DequantizePerGroup && n->input(0)->has_data()) {
      EXPECT_EQ(n->attr_int("group_size"), 64);
      EXPECT_EQ(n->attr_int("quant_min"), -8);
      EXPECT_EQ(n->attr_int("quant_max"), 7);
      EXPECT_EQ(n->input(1)->shape(), (Shape{96, 1}));
    }
  }
  expect_lowered_runs_like_its_contract(qdq, fp32, 15.0);
  // Groups of 32 divide both layers: nothing falls back.
  QuantizeReport all;
  (void)quantize_model(fp32, "8da4w", {}, QuantizeOptions{32}, &all);
  EXPECT_TRUE(all.group_size_fallbacks.empty());
}

TEST(TransformerConfigs, RefusesGroupSizesTheKernelCannotRun) {
  const Graph fp32 = mlp();
  for (std::int64_t g : {0, -32, 48}) {
    try {
      (void)quantize_model(fp32, "8da4w", {}, QuantizeOptions{g}, nullptr);
      FAIL() << g;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("group_size"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace quantkit::pipeline
