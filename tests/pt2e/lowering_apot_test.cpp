// APoT weights on the int8 kernels: an APoT level is γ times a sum of powers of two, so a
// layer's levels are small integers times one step (apot_integer_levels), and
// apot_dequantize(codes) → conv / linear lowers to the same fused integer ops as int8
// weights — within one output step of the Q/DQ graph with float levels, and the runtime
// gives the interpreter's bits.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

#include "quantkit/apot/integer_levels.h"
#include "pt2e/qdq_graphs.h"
#include "pt2e/step_difference.h"
#include "quantkit/apot/qparams.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/pt2e/lowering.h"
#include "quantkit/pt2e/reference_representation.h"
#include "quantkit/runtime/runtime.h"

namespace quantkit::pt2e {
namespace {

using graph::GraphBuilder;
using graph::OpKind;
using graph::run_graph;
using graph::Value;
using graph::testing::identical;
using graph::testing::random_ints;
using quantkit::testing::act;
using quantkit::testing::step_difference;

std::vector<double> levels_of(int b, int k, bool is_signed, float alpha) {
  const apot::ApotQParams q = apot::make_apot_qparams(apot::ApotScheme{b, k, is_signed}, alpha);
  return {q.levels.begin(), q.levels.end()};
}

TEST(LoweringApot, LevelsOfEverySmallSchemeAreIntegersTimesOneStep) {
  for (auto [b, k] : {std::pair{4, 2}, std::pair{4, 1}, std::pair{3, 1}, std::pair{2, 1},
                      std::pair{2, 2}}) {
    for (bool is_signed : {false, true}) {
      for (float alpha : {0.37f, 1.0f, 5.5f}) {
        const std::vector<double> levels = levels_of(b, k, is_signed, alpha);
        const auto integer = apot::integer_levels(levels);
        ASSERT_TRUE(integer) << "b=" << b << " k=" << k << " signed=" << is_signed;
        for (std::size_t i = 0; i < levels.size(); ++i) {
          const double approx = integer->integers[i] * integer->scale;
          // The levels are float32 roundings of γ · integer · step.
          EXPECT_NEAR(approx, levels[i], 2e-7 * std::abs(levels[i]) + 1e-12)
              << "b=" << b << " k=" << k << " level " << i;
        }
      }
    }
  }
}

// Wider schemes need integers beyond int8 (b = 6, k = 2: up to 448 steps; b = 4, k = 4: one
// power-of-two term, 2^14 steps): they are left
// to the Q/DQ form (an int16 GEMM would take them; not built).
TEST(LoweringApot, SchemesBeyondInt8AreRefused) {
  EXPECT_FALSE(apot::integer_levels(levels_of(6, 2, false, 1.0f)));
  EXPECT_FALSE(apot::integer_levels(levels_of(8, 2, true, 1.0f)));
  EXPECT_FALSE(apot::integer_levels(levels_of(4, 4, false, 1.0f)));  // 2^0 … 2^-14
}

TEST(LoweringApot, LevelsThatAreNotSmallIntegerMultiplesAreRefused) {
  EXPECT_FALSE(apot::integer_levels(std::vector<double>{0.1, 0.3, 0.37}));  // 0.37 / 0.1 is not dyadic
  EXPECT_FALSE(apot::integer_levels(std::vector<double>{0.0, 0.0}));         // nothing to scale
  EXPECT_FALSE(apot::integer_levels(std::vector<double>{1.0, 200.0}));       // beyond int8
  const auto ok = apot::integer_levels(std::vector<double>{-0.75, 0.0, 0.25, 0.5});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->integers, (std::vector<std::int8_t>{-3, 0, 1, 2}));
  EXPECT_DOUBLE_EQ(ok->scale, 0.25);
}

// dequantize(x) → conv2d / linear(apot_dequantize(codes), f32 bias) → quantize, the form
// convert_pt2e gives an apot-w4 layer.
struct ApotLayer {
  Graph qdq;
  Tensor x;
};
ApotLayer apot_layer(bool conv, std::int64_t groups, std::uint32_t seed) {
  const std::vector<double> levels = levels_of(4, 2, true, 0.8f);
  GraphBuilder b;
  const Shape x_shape = conv ? Shape{2, 8, 11, 11} : Shape{16, 40};
  const Shape w_shape = conv ? Shape{8, 8 / groups, 3, 3} : Shape{24, 40};
  Value* x = b.dequantize_per_tensor(b.input("x", DType::Int8, x_shape), act(DType::Int8, 0.05, 3));
  Value* codes = b.constant(random_ints<std::int32_t>(w_shape, seed, 0,
                                                      static_cast<std::int64_t>(levels.size()) - 1),
                            "codes");
  Value* w = b.node(OpKind::ApotDequantize, {codes}, {{"levels", levels}})->output();
  Value* bias = quantkit::testing::float_bias(b, w_shape[0], seed + 1);
  Value* y = conv ? b.conv2d(x, w, bias, graph::Conv2dOptions({1, 1}, {1, 1}, {1, 1}, groups))
                  : b.linear(x, w, bias);
  b.output(b.quantize_per_tensor(y, act(DType::Int8, 0.2, -4)));
  return {std::move(b).build(), random_ints<std::int8_t>(x_shape, seed + 2, -128, 127)};
}

TEST(LoweringApot, ApotLayersRunOnTheInt8KernelsWithinOneStep) {
  struct Case {
    const char* name;
    bool conv;
    std::int64_t groups;
  };
  for (const Case& c : {Case{"linear", false, 1}, Case{"conv", true, 1},
                        Case{"grouped_conv", true, 2}, Case{"depthwise_conv", true, 8}}) {
    const ApotLayer layer = apot_layer(c.conv, c.groups, 3);
    LoweringStats stats;
    const Graph lowered = lower_to_fused_kernels(layer.qdq, &stats);
    ASSERT_EQ(lowered.num_nodes(), 1u) << c.name;
    EXPECT_EQ(graph::count_nodes(lowered, c.conv ? OpKind::QuantizedConv2d : OpKind::QuantizedLinear),
              1u)
        << c.name;
    const std::vector<Tensor> in = {layer.x};
    const Tensor got = run_graph(lowered, in)[0];
    const auto st = step_difference(got, run_graph(layer.qdq, in)[0]);
    std::cout << c.name << ": " << st.equal << "/" << st.count << " equal, mean " << st.mean << "\n";
    EXPECT_LE(st.max_abs, 1) << c.name;
    EXPECT_GE(static_cast<double>(st.equal), 0.99 * static_cast<double>(st.count)) << c.name;
    EXPECT_LE(std::abs(st.mean), 0.01) << c.name;
    for (int threads : {1, 3}) {
      const runtime::Runtime rt(lowered, runtime::RuntimeOptions{threads});
      EXPECT_TRUE(identical(rt.run(in)[0], got)) << c.name << ", " << threads << " threads";
    }
  }
}

// The reference representation spells the APoT-weight pattern in integers (int16 weights of
// the level integers, int32 accumulation, torchao's truncating requantization): the fused
// op (round to nearest) is within one step of it, and nothing float is left.
TEST(LoweringApot, ReferenceRepresentationSpellsTheApotPatternInIntegers) {
  for (bool conv : {false, true}) {
    const ApotLayer layer = apot_layer(conv, 1, 9);
    const Graph reference = to_reference_representation(layer.qdq);
    EXPECT_EQ(graph::count_nodes(reference, OpKind::ApotDequantize), 0u);
    EXPECT_EQ(graph::count_nodes(reference, conv ? OpKind::IntegerConv2d : OpKind::IntegerLinear),
              1u);
    const std::vector<Tensor> in = {layer.x};
    const auto st = step_difference(run_graph(lower_to_fused_kernels(layer.qdq), in)[0],
                                    run_graph(reference, in)[0]);
    EXPECT_LE(st.max_abs, 1) << conv;
    // Truncation vs rounding: equal on most elements, never more than a step apart.
    EXPECT_GE(static_cast<double>(st.equal), 0.4 * static_cast<double>(st.count)) << conv;
  }
}

}  // namespace
}  // namespace quantkit::pt2e
