// The per-token / groupwise ops (docs/graph.md): choose_qparams_per_token and quantize /
// dequantize_per_group on hand-computed values, integer_linear_grouped against plain sums,
// sum's in-order float32 accumulation, dynamic_quantized_linear_per_token's reference kernel
// against its definition, and the type inference errors.
#include <gtest/gtest.h>

#include <cfloat>
#include <cstdint>
#include <string>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/interpreter.h"

namespace quantkit::graph {
namespace {

using Attrs = AttributeMap;

Attrs int8_attrs() {
  return {{"quant_min", std::int64_t{-128}}, {"quant_max", std::int64_t{127}}, {"dtype", DType::Int8}};
}

TEST(PerTokenOps, ChooseQuantizeDequantizePerRow) {
  // Row 0: lo = -1, hi = 3 -> scale 4/255, zp -64. Row 1: all zero -> eps, zp -128.
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 4});
  Attrs choose = int8_attrs();
  choose.emplace("eps", static_cast<double>(FLT_EPSILON));
  Node* c = b.node(OpKind::ChooseQParamsPerToken, {x}, choose);
  Attrs group = int8_attrs();
  group.emplace("group_size", std::int64_t{4});
  Value* q = b.node(OpKind::QuantizePerGroup, {x, c->output(0), c->output(1)}, group)->output();
  Value* dq = b.node(OpKind::DequantizePerGroup, {q, c->output(0), c->output(1)}, group)->output();
  b.output(c->output(0));
  b.output(c->output(1));
  b.output(q);
  b.output(dq);
  const Graph g = std::move(b).build();
  EXPECT_EQ(g.nodes()[0]->output(0)->shape(), (Shape{2, 1}));
  const Tensor in = Tensor::from_vector(
      std::vector<float>{-1.0f, 0.0f, 2.0f, 3.0f, 0.0f, 0.0f, 0.0f, 0.0f}, {2, 4});
  const auto out = run_graph(g, {in});
  EXPECT_EQ(out[0].to_vector<float>(), (std::vector<float>{4.0f / 255.0f, FLT_EPSILON}));
  EXPECT_EQ(out[1].to_vector<std::int32_t>(), (std::vector<std::int32_t>{-64, -128}));
  // 1 / scale = 63.749996f: -1 -> -64 -> -128; 2 -> 127.49999 -> 127 -> 63 (torch 1.13's
  // tensor ops give the same codes).
  const std::vector<std::int8_t> q0(out[2].data<std::int8_t>(), out[2].data<std::int8_t>() + 4);
  EXPECT_EQ(q0, (std::vector<std::int8_t>{-128, -64, 63, 127}));
  EXPECT_EQ(out[3].data<float>()[4], 0.0f);
}

TEST(PerTokenOps, IntegerLinearGroupedSumsEachGroup) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Int16, {1, 4});
  Value* w = b.constant(Tensor::from_vector(std::vector<std::int8_t>{1, 2, 3, 4, -1, 0, 2, -3}, {2, 4}));
  b.output(b.node(OpKind::IntegerLinearGrouped, {x, w}, {{"group_size", std::int64_t{2}}})->output());
  const Graph g = std::move(b).build();
  const Tensor in = Tensor::from_vector(std::vector<std::int16_t>{7, 17, -8, 4}, {1, 4});
  const Tensor y = run_graph(g, {in})[0];
  EXPECT_EQ(y.shape(), (Shape{1, 2, 2}));
  // ch0: 7 + 34, -24 + 16; ch1: -7, -16 - 12.
  EXPECT_EQ(y.to_vector<std::int32_t>(), (std::vector<std::int32_t>{41, -8, -7, -28}));
}

TEST(PerTokenOps, SumAccumulatesInOrderInFloat32) {
  // 1 + 2^-24 rounds back to 1 at each step in float32; in double the sum would differ.
  const float tiny = 1.0f / 16777216.0f;
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3});
  b.output(b.node(OpKind::Sum, {x}, {{"dim", std::int64_t{-1}}})->output());
  const Graph g = std::move(b).build();
  const Tensor in = Tensor::from_vector(std::vector<float>{1.0f, tiny, tiny, 1.0f, 2.0f, 3.0f}, {2, 3});
  const Tensor y = run_graph(g, {in})[0];
  EXPECT_EQ(y.shape(), (Shape{2}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1.0f, 6.0f}));
}

TEST(PerTokenOps, FusedLinearMatchesItsDefinition) {
  // x = [-1, 0, 2, 3] -> q = [-128, -64, 63, 127] (above), zp -64: x - zp = -64, 0, 127, 191.
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 4});
  Value* w = b.constant(Tensor::from_vector(std::vector<std::int8_t>{1, 2, 3, 4, -1, 0, 2, -3}, {2, 4}));
  Value* s = b.constant(Tensor::from_vector(std::vector<float>{0.5f, 0.25f, 2.0f, 1.0f}, {2, 2}));
  Value* bias = b.constant(Tensor::from_vector(std::vector<float>{1.0f, -1.0f}));
  Attrs attrs{{"group_size", std::int64_t{2}},
              {"quant_min", std::int64_t{-128}},
              {"quant_max", std::int64_t{127}},
              {"eps", static_cast<double>(FLT_EPSILON)}};
  b.output(b.node(OpKind::DynamicQuantizedLinearPerToken, {x, w, s, bias}, attrs)->output());
  const Graph g = std::move(b).build();
  const Tensor y =
      run_graph(g, {Tensor::from_vector(std::vector<float>{-1.0f, 0.0f, 2.0f, 3.0f}, {1, 4})})[0];
  const float xs = 4.0f / 255.0f;
  // ch0: g0 = -64, g1 = 381 + 764 = 1145; ch1: g0 = 64, g1 = 254 - 573 = -319.
  const float ch0 = ((-64.0f * 0.5f + 1145.0f * 0.25f) * xs) + 1.0f;
  const float ch1 = ((64.0f * 2.0f + -319.0f * 1.0f) * xs) - 1.0f;
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{ch0, ch1}));
}

TEST(PerTokenOps, FusedLinearWithoutBiasReadsInput2AsScales) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {3, 4});
  Value* w = b.constant(Tensor::from_vector(std::vector<std::int8_t>(20, 1), {5, 4}));
  Value* s = b.constant(Tensor::from_vector(std::vector<float>(5, 0.5f), {5, 1}));
  Attrs attrs{{"group_size", std::int64_t{4}},
              {"quant_min", std::int64_t{-128}},
              {"quant_max", std::int64_t{127}},
              {"eps", static_cast<double>(FLT_EPSILON)}};
  Node* n = b.node(OpKind::DynamicQuantizedLinearPerToken, {x, w, s}, attrs);
  EXPECT_EQ(n->output()->shape(), (Shape{3, 5}));
  b.output(n->output());
  const Graph g = std::move(b).build();
  // Rows of zeros: every code is the zero point, so every accumulator and output is 0.
  const Tensor y = run_graph(g, {Tensor::zeros({3, 4}, DType::Float32)})[0];
  EXPECT_EQ(y.to_vector<float>(), std::vector<float>(15, 0.0f));
}

TEST(PerTokenOps, InferenceRejectsMismatchedGroups) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 6});
  Value* s = b.constant(Tensor::zeros({2, 2}, DType::Float32));
  Value* z = b.constant(Tensor::zeros({2, 2}, DType::Int32));
  Attrs group = int8_attrs();
  group.emplace("group_size", std::int64_t{4});  // 6 % 4 != 0
  try {
    b.node(OpKind::QuantizePerGroup, {x, s, z}, group);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("group_size"), std::string::npos) << e.what();
  }
  Value* w = b.constant(Tensor::zeros({3, 6}, DType::Int8));
  Value* ws = b.constant(Tensor::zeros({3, 2}, DType::Float32));  // groups of 3: fine
  Attrs attrs{{"group_size", std::int64_t{2}},  // but scales say 2 groups, not 3
              {"quant_min", std::int64_t{-128}},
              {"quant_max", std::int64_t{127}},
              {"eps", 1e-7}};
  EXPECT_THROW(b.node(OpKind::DynamicQuantizedLinearPerToken, {x, w, ws}, attrs), Error);
}

}  // namespace
}  // namespace quantkit::graph
