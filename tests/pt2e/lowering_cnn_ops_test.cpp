// The lowering of the rest of a CNN: quantized mul (SiLU, squeeze-excitation), concat,
// average and adaptive average pooling, and any pointwise op between a dequantize and a
// quantize (a 256-entry table). Each pattern becomes one fused op that is within one output
// step of the Q/DQ graph it replaces, equal on >= 99% of elements, without bias (the table:
// equal everywhere); the runtime gives the interpreter's bits at every ISA level and thread
// count, with no op left to the interpreter's kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "pt2e/qdq_graphs.h"
#include "pt2e/step_difference.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/kernels/cpu_features.h"
#include "quantkit/pt2e/lowering.h"
#include "quantkit/runtime/runtime.h"

namespace quantkit::pt2e {
namespace {

using graph::AttributeMap;
using graph::GraphBuilder;
using graph::OpKind;
using graph::QuantizeAttrs;
using graph::run_graph;
using graph::Value;
using graph::testing::identical;
using graph::testing::random_ints;
using quantkit::testing::act;
using quantkit::testing::step_difference;
using quantkit::testing::StepStats;

Value* input_dq(GraphBuilder& b, const std::string& name, DType dtype, Shape shape,
                const QuantizeAttrs& q) {
  return b.dequantize_per_tensor(b.input(name, dtype, std::move(shape)), q);
}

Tensor random_codes(DType dtype, Shape shape, std::uint32_t seed) {
  return dtype == DType::Int8 ? random_ints<std::int8_t>(std::move(shape), seed, -128, 127)
                              : random_ints<std::uint8_t>(std::move(shape), seed, 0, 255);
}

struct OpCase {
  std::string name;
  OpKind fused;  // the one op the lowering leaves
  Graph qdq;
  std::vector<Tensor> inputs;
  bool exact = false;  // equal to the Q/DQ graph everywhere (tables, copies)
};

OpCase binary_case(const std::string& name, DType dtype, Shape a, Shape c) {
  GraphBuilder b;
  Value* x = input_dq(b, "a", dtype, a, act(dtype, 0.07, 4));
  Value* y = input_dq(b, "b", dtype, c, act(dtype, 0.03, -9));
  b.output(b.quantize_per_tensor(b.mul(x, y), act(dtype, 0.05, 2)));
  return {name, OpKind::QuantizedMul, std::move(b).build(),
          {random_codes(dtype, a, 1), random_codes(dtype, c, 2)}};
}

OpCase cat_case(const std::string& name, std::vector<Shape> shapes, std::int64_t dim,
                bool shared) {
  GraphBuilder b;
  std::vector<Value*> xs;
  std::vector<Tensor> inputs;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const double scale = shared ? 0.05 : 0.03 + 0.02 * static_cast<double>(i);
    const std::int64_t zp = shared ? -3 : static_cast<std::int64_t>(i) * 7 - 5;
    xs.push_back(input_dq(b, "x" + std::to_string(i), DType::Int8, shapes[i],
                          act(DType::Int8, scale, zp)));
    inputs.push_back(random_codes(DType::Int8, shapes[i], 10 + static_cast<std::uint32_t>(i)));
  }
  b.output(b.quantize_per_tensor(b.cat(xs, dim), act(DType::Int8, 0.05, -3)));
  return {name, OpKind::QuantizedConcat, std::move(b).build(), std::move(inputs), shared};
}

OpCase pool_case(const std::string& name, DType dtype, Shape shape,
                 const std::function<Value*(GraphBuilder&, Value*)>& pool, OpKind fused) {
  GraphBuilder b;
  Value* x = input_dq(b, "x", dtype, shape, act(dtype, 0.04, 6));
  b.output(b.quantize_per_tensor(pool(b, x), act(dtype, 0.03, -1)));
  return {name, fused, std::move(b).build(), {random_codes(dtype, shape, 3)}};
}

OpCase pointwise_case(const std::string& name, DType dtype, OpKind op, AttributeMap attrs) {
  GraphBuilder b;
  // Every code of the input dtype, twice over in a [2, 256] tensor.
  Tensor codes = Tensor::empty({2, 256}, dtype);
  for (int i = 0; i < 512; ++i) static_cast<std::uint8_t*>(codes.raw_data())[i] =
      static_cast<std::uint8_t>(i);
  Value* x = input_dq(b, "x", dtype, {2, 256}, act(dtype, 0.06, 10));
  Value* y = b.node(op, {x}, std::move(attrs))->output();
  b.output(b.quantize_per_tensor(y, act(dtype, 0.011, -20)));
  return {name, OpKind::QuantizedLut, std::move(b).build(), {codes}, true};
}

// x · sigmoid(x) as convert_pt2e leaves it: q(mul(dq(x), dq(q(sigmoid(dq(x)))))).
Graph silu_qdq(DType dtype, Shape shape) {
  GraphBuilder b;
  const QuantizeAttrs xq = act(dtype, 0.06, 10), sq = act(dtype, 1.0 / 256, -128);
  Value* x = b.input("x", dtype, std::move(shape));
  Value* sig = b.node(OpKind::Sigmoid, {b.dequantize_per_tensor(x, xq)})->output();
  Value* s = b.dequantize_per_tensor(b.quantize_per_tensor(sig, sq), sq);
  b.output(b.quantize_per_tensor(b.mul(b.dequantize_per_tensor(x, xq), s), act(dtype, 0.04, -100)));
  return std::move(b).build();
}

std::vector<OpCase> op_cases() {
  std::vector<OpCase> cases;
  cases.push_back(binary_case("mul", DType::Int8, {4, 8, 16, 16}, {4, 8, 16, 16}));
  cases.push_back(binary_case("mul_uint8", DType::UInt8, {4, 8, 16, 16}, {4, 8, 16, 16}));
  cases.push_back(binary_case("mul_se_broadcast", DType::Int8, {4, 24, 9, 9}, {4, 24, 1, 1}));
  cases.push_back(binary_case("mul_rows", DType::Int8, {64, 40}, {1, 40}));
  cases.push_back(cat_case("cat_shared", {{2, 3, 5, 5}, {2, 17, 5, 5}, {2, 1, 5, 5}}, 1, true));
  cases.push_back(cat_case("cat_requantized", {{2, 30, 9, 9}, {2, 20, 9, 9}}, 1, false));
  cases.push_back(cat_case("cat_rows", {{64, 100}, {64, 60}}, -1, false));
  cases.push_back(cat_case("cat_batch", {{3, 4, 6, 6}, {2, 4, 6, 6}}, 0, false));
  using graph::AvgPool2dOptions;
  for (bool include_pad : {true, false}) {
    cases.push_back(pool_case(
        include_pad ? "avg_pool_3x3_s2_pad" : "avg_pool_3x3_s2_pad_excluded", DType::Int8,
        {4, 32, 29, 29},
        [include_pad](GraphBuilder& b, Value* x) {
          return b.avg_pool2d(x, AvgPool2dOptions({3, 3}, {2, 2}, {1, 1}, true, include_pad));
        },
        OpKind::QuantizedAvgPool2d));
  }
  cases.push_back(pool_case(
      "avg_pool_2x2_uint8", DType::UInt8, {4, 32, 28, 28},
      [](GraphBuilder& b, Value* x) { return b.avg_pool2d(x, AvgPool2dOptions({2, 2})); },
      OpKind::QuantizedAvgPool2d));
  cases.push_back(pool_case(
      "global_avg_pool", DType::Int8, {64, 64, 7, 7},
      [](GraphBuilder& b, Value* x) { return b.adaptive_avg_pool2d(x, {1, 1}); },
      OpKind::QuantizedAdaptiveAvgPool2d));
  cases.push_back(pool_case(
      "adaptive_avg_pool_3x3", DType::Int8, {16, 64, 7, 7},
      [](GraphBuilder& b, Value* x) { return b.adaptive_avg_pool2d(x, {3, 3}); },
      OpKind::QuantizedAdaptiveAvgPool2d));
  cases.push_back(pointwise_case("sigmoid", DType::Int8, OpKind::Sigmoid, {}));
  cases.push_back(pointwise_case("tanh_uint8", DType::UInt8, OpKind::Tanh, {}));
  cases.push_back(pointwise_case("hardswish", DType::Int8, OpKind::HardSwish, {}));
  cases.push_back(pointwise_case("hardsigmoid", DType::Int8, OpKind::HardSigmoid,
                                 {{"alpha", 1.0 / 6.0}, {"beta", 0.5}}));
  cases.push_back(
      pointwise_case("leaky_relu", DType::Int8, OpKind::LeakyRelu, {{"negative_slope", 0.1}}));
  for (DType dtype : {DType::Int8, DType::UInt8}) {
    Tensor codes = Tensor::empty({4, 256}, dtype);
    for (int i = 0; i < 1024; ++i) {
      static_cast<std::uint8_t*>(codes.raw_data())[i] = static_cast<std::uint8_t>(i * 7);
    }
    cases.push_back({dtype == DType::Int8 ? "silu" : "silu_uint8", OpKind::QuantizedLut,
                     silu_qdq(dtype, {4, 256}), {codes}});
  }
  // A relu with its own output qparams (no fused producer to fold it into).
  cases.push_back(pointwise_case("relu_requantized", DType::Int8, OpKind::Relu, {}));
  return cases;
}

// Every runtime kernel level this CPU has × 1 and 3 threads gives `expected`'s bits, and the
// plan runs no op through the interpreter's kernels.
void expect_runtime_bits(const Graph& lowered, const std::vector<Tensor>& inputs,
                         const Tensor& expected, const std::string& name) {
  using kernels::IsaLevel;
  for (IsaLevel isa : {IsaLevel::Portable, IsaLevel::Avx2, IsaLevel::Avx512}) {
    if (isa > kernels::detected_isa()) continue;
    kernels::set_isa_override(isa);
    for (int threads : {1, 3}) {
      const runtime::Runtime rt(lowered, runtime::RuntimeOptions{threads});
      for (const std::string& label : rt.op_labels()) {
        EXPECT_EQ(label.find("(reference)"), std::string::npos) << name << ": " << label;
        EXPECT_EQ(label.find("(fused)"), std::string::npos) << name << ": " << label;
      }
      EXPECT_TRUE(identical(rt.run(inputs)[0], expected))
          << name << ", " << kernels::isa_name(isa) << ", " << threads << " threads";
    }
  }
  kernels::clear_isa_override();
}

TEST(LoweringCnnOps, EachPatternIsOneFusedOpWithinOneStepOfTheQdqGraph) {
  for (const OpCase& c : op_cases()) {
    LoweringStats stats;
    const Graph lowered = lower_to_fused_kernels(c.qdq, &stats);
    ASSERT_EQ(lowered.num_nodes(), 1u) << c.name;
    EXPECT_EQ(graph::count_nodes(lowered, c.fused), 1u) << c.name;
    const Tensor got = run_graph(lowered, c.inputs)[0];
    const Tensor expected = run_graph(c.qdq, c.inputs)[0];
    if (c.exact) {
      EXPECT_TRUE(identical(got, expected)) << c.name;
    } else {
      const StepStats st = step_difference(got, expected);
      std::cout << c.name << ": " << st.equal << "/" << st.count << " equal, mean " << st.mean
                << "\n";
      EXPECT_LE(st.max_abs, 1) << c.name;
      EXPECT_GE(static_cast<double>(st.equal), 0.99 * static_cast<double>(st.count)) << c.name;
      EXPECT_LE(std::abs(st.mean), 0.01) << c.name << " mean difference " << st.mean;
    }
    expect_runtime_bits(lowered, c.inputs, got, c.name);
  }
}

TEST(LoweringCnnOps, StatsCountEachPattern) {
  const auto count = [](const OpCase& c) {
    LoweringStats stats;
    lower_to_fused_kernels(c.qdq, &stats);
    return stats;
  };
  EXPECT_EQ(count(binary_case("m", DType::Int8, {2, 3}, {2, 3})).mul, 1u);
  EXPECT_EQ(count(cat_case("c", {{2, 3}, {2, 3}}, 1, true)).concat, 1u);
  EXPECT_EQ(count(pointwise_case("s", DType::Int8, OpKind::Sigmoid, {})).lut, 1u);
  EXPECT_EQ(count(pool_case("p", DType::Int8, {1, 2, 4, 4},
                            [](GraphBuilder& b, Value* x) { return b.adaptive_avg_pool2d(x, {1, 1}); },
                            OpKind::QuantizedAdaptiveAvgPool2d))
                .avg_pool,
            1u);
}

// x · table(x) folds into one table that gives exactly the bits of the table and the
// multiply it replaces.
TEST(LoweringCnnOps, SiluFoldsIntoOneTableWithTheBitsOfTableThenMultiply) {
  const Graph qdq = silu_qdq(DType::Int8, {4, 256});
  LoweringStats stats;
  const Graph folded = lower_to_fused_kernels(qdq, &stats);
  EXPECT_EQ(stats.lut, 1u);
  EXPECT_EQ(stats.mul, 1u);
  EXPECT_EQ(stats.lut_binary, 1u);
  ASSERT_EQ(folded.num_nodes(), 1u);
  // The unfolded form: quantized_lut(x) with the sigmoid's table, then quantized_mul.
  GraphBuilder sb;
  sb.output(sb.quantize_per_tensor(
      sb.node(OpKind::Sigmoid, {sb.dequantize_per_tensor(sb.input("x", DType::Int8, {4, 256}),
                                                         act(DType::Int8, 0.06, 10))})
          ->output(),
      act(DType::Int8, 1.0 / 256, -128)));
  const Graph sigmoid = lower_to_fused_kernels(std::move(sb).build());
  ASSERT_EQ(sigmoid.num_nodes(), 1u);
  GraphBuilder ub;
  Value* x = ub.input("x", DType::Int8, {4, 256});
  Value* s = ub.node(OpKind::QuantizedLut, {x, ub.constant(sigmoid.nodes()[0]->input(1)->data())},
                     {{"dtype", DType::Int8}})
                 ->output();
  ub.output(ub.node(OpKind::QuantizedMul, {x, s},
                    {{"a_zero_point", std::int64_t{10}},
                     {"b_zero_point", std::int64_t{-128}},
                     {"multiplier", 0.06 * (1.0 / 256) / 0.04},
                     {"out_zero_point", std::int64_t{-100}},
                     {"quant_min", std::int64_t{-128}},
                     {"quant_max", std::int64_t{127}},
                     {"dtype", DType::Int8}})
                ->output());
  const Graph unfolded = std::move(ub).build();
  const std::vector<Tensor> in = {random_codes(DType::Int8, {4, 256}, 5)};
  EXPECT_TRUE(identical(run_graph(folded, in)[0], run_graph(unfolded, in)[0]));
}

// Patterns the kernels cannot take stay in Q/DQ form.
TEST(LoweringCnnOps, LeavesWhatTheKernelsCannotTake) {
  {  // a cat whose quantize narrows the range (the concat kernel saturates to the dtype)
    GraphBuilder b;
    Value* x = input_dq(b, "x", DType::Int8, {2, 3}, act(DType::Int8, 0.05, 0));
    Value* y = input_dq(b, "y", DType::Int8, {2, 3}, act(DType::Int8, 0.05, 0));
    b.output(b.quantize_per_tensor(b.cat({x, y}, 1), {0.05, 0, -127, 127, DType::Int8}));
    const Graph lowered = lower_to_fused_kernels(std::move(b).build());
    EXPECT_EQ(graph::count_nodes(lowered, OpKind::Cat), 1u);
  }
  {  // a pointwise op whose input is float (no dequantize before it)
    GraphBuilder b;
    Value* x = b.input("x", DType::Float32, {4});
    b.output(b.quantize_per_tensor(b.node(OpKind::Sigmoid, {x})->output(),
                                   act(DType::Int8, 0.01, 0)));
    const Graph lowered = lower_to_fused_kernels(std::move(b).build());
    EXPECT_EQ(graph::count_nodes(lowered, OpKind::Sigmoid), 1u);
  }
  {  // a mul whose output stays float
    GraphBuilder b;
    Value* x = input_dq(b, "x", DType::Int8, {4}, act(DType::Int8, 0.05, 0));
    b.output(b.mul(x, x));
    const Graph lowered = lower_to_fused_kernels(std::move(b).build());
    EXPECT_EQ(graph::count_nodes(lowered, OpKind::Mul), 1u);
  }
}

// q → dq: the Q/DQ pair convert_pt2e puts between two quantized ops.
Value* requant(GraphBuilder& b, Value* v, const QuantizeAttrs& q) {
  return b.dequantize_per_tensor(b.quantize_per_tensor(v, q), q);
}

// The blocks of mobilenet_v3 / efficientnet / regnet / squeezenet in the Q/DQ form
// convert_pt2e gives them: 1×1 conv → SiLU (x · sigmoid(x)) → depthwise 3×3 → squeeze-
// excitation (global pool → 1×1 conv → relu → 1×1 conv → hardsigmoid → channel-wise mul) →
// 1×1 conv → residual add → fire-style concat of two branches → average pool.
Graph cnn_blocks_qdq() {
  GraphBuilder b;
  using quantkit::testing::float_bias;
  using quantkit::testing::int8_weight;
  const auto q = [](double scale, std::int64_t zp) { return act(DType::Int8, scale, zp); };
  Value* x = input_dq(b, "x", DType::Int8, {1, 16, 14, 14}, q(0.05, 2));
  Value* e = requant(b, b.conv2d(x, int8_weight(b, {32, 16, 1, 1}, true, 1), float_bias(b, 32, 2)),
                     q(0.08, -3));
  Value* sig = requant(b, b.node(OpKind::Sigmoid, {e})->output(), q(1.0 / 256, -128));
  Value* silu = requant(b, b.mul(e, sig), q(0.06, -10));
  graph::Conv2dOptions dw({1, 1}, {1, 1});
  dw.groups = 32;
  Value* d = requant(b, b.conv2d(silu, int8_weight(b, {32, 1, 3, 3}, true, 3), float_bias(b, 32, 4), dw),
                     q(0.07, 1));
  Value* s = requant(b, b.adaptive_avg_pool2d(d, {1, 1}), q(0.07, 1));
  s = requant(b, b.relu(b.conv2d(s, int8_weight(b, {8, 32, 1, 1}, true, 5), float_bias(b, 8, 6))),
              q(0.02, -128));
  s = requant(b, b.conv2d(s, int8_weight(b, {32, 8, 1, 1}, true, 7), float_bias(b, 32, 8)),
              q(0.03, 5));
  s = requant(b, b.node(OpKind::HardSigmoid, {s}, {{"alpha", 1.0 / 6.0}, {"beta", 0.5}})->output(),
              q(1.0 / 256, -128));
  Value* se = requant(b, b.mul(d, s), q(0.05, 0));
  Value* p = requant(b, b.conv2d(se, int8_weight(b, {16, 32, 1, 1}, true, 9), float_bias(b, 16, 10)),
                     q(0.06, 3));
  Value* r = requant(b, b.add(p, x), q(0.07, 1));
  Value* left = requant(b, b.relu(b.conv2d(r, int8_weight(b, {8, 16, 1, 1}, true, 11))),
                        q(0.04, -128));
  Value* right = requant(b, b.relu(b.conv2d(r, int8_weight(b, {8, 16, 3, 3}, true, 12), nullptr,
                                            graph::Conv2dOptions({1, 1}, {1, 1}))),
                         q(0.05, -128));
  Value* fire = requant(b, b.cat({left, right}, 1), q(0.05, -128));
  Value* pooled = b.avg_pool2d(fire, graph::AvgPool2dOptions({2, 2}));
  b.output(b.quantize_per_tensor(pooled, q(0.05, -128)));
  return std::move(b).build();
}

TEST(LoweringCnnOps, ModernCnnBlocksRunWithoutFallbackAndMatchTheInterpreter) {
  const Graph qdq = cnn_blocks_qdq();
  LoweringStats stats;
  const Graph lowered = lower_to_fused_kernels(qdq, &stats);
  EXPECT_EQ(stats.lut, 2u);
  EXPECT_EQ(stats.mul, 2u);         // SiLU's and squeeze-excitation's
  EXPECT_EQ(stats.lut_binary, 1u);  // SiLU's x · sigmoid(x) became one table
  EXPECT_EQ(stats.concat, 1u);
  EXPECT_EQ(stats.avg_pool, 2u);
  for (const graph::Node* n : lowered.nodes()) {
    EXPECT_EQ(graph::op_schema(n->op()).traits.category, graph::OpCategory::FusedInteger)
        << n->name() << " (" << graph::op_name(n->op()) << ") was not lowered";
  }
  for (std::uint32_t seed : {21u, 22u}) {
    const std::vector<Tensor> x = {random_codes(DType::Int8, {1, 16, 14, 14}, seed)};
    const Tensor got = run_graph(lowered, x)[0];
    // One-step differences compound over a dozen layers (random weights with large gains
    // amplify some), so the block as a whole is held to mostly equal and unbiased; each op
    // is within one step (the test above).
    const StepStats st = step_difference(got, run_graph(qdq, x)[0]);
    std::cout << "cnn blocks: " << st.equal << "/" << st.count << " equal, max " << st.max_abs
              << ", mean " << st.mean << "\n";
    EXPECT_GE(static_cast<double>(st.equal), 0.9 * static_cast<double>(st.count));
    EXPECT_LE(std::abs(st.mean), 0.05);
    expect_runtime_bits(lowered, x, got, "cnn blocks");
  }
}

}  // namespace
}  // namespace quantkit::pt2e
