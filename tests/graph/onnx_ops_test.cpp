// The float ops added for ONNX import: sigmoid, tanh, hardsigmoid, hardswish, leaky_relu,
// matmul, pad2d — schemas (type inference, bad inputs) and reference kernels against
// independent double-precision formulas or loops.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "graph/graph_test_util.h"
#include "graph/single_op.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/interpreter.h"

namespace quantkit::graph {
namespace {

using testing::all_close;
using testing::map_double;
using testing::run_unary;
using testing::identical;
using testing::random_tensor;



TEST(OnnxActivations, SigmoidMatchesFormulaWithoutOverflow) {
  Tensor x = random_tensor({3, 50}, 1, -20.0f, 20.0f);
  x.data<float>()[0] = -1000.0f;  // exp(1000) would overflow in the naive form
  x.data<float>()[1] = 1000.0f;
  const Tensor y = run_unary(OpKind::Sigmoid, x);
  EXPECT_TRUE(all_close(y, map_double(x, [](double v) { return 1.0 / (1.0 + std::exp(-v)); }),
                        1e-7f, 1e-6f));
  EXPECT_EQ(y.data<float>()[0], 0.0f);
  EXPECT_EQ(y.data<float>()[1], 1.0f);
}

TEST(OnnxActivations, TanhMatchesFormula) {
  const Tensor x = random_tensor({64}, 2, -5.0f, 5.0f);
  EXPECT_TRUE(all_close(run_unary(OpKind::Tanh, x),
                        map_double(x, [](double v) { return std::tanh(v); }), 1e-7f, 1e-6f));
}

TEST(OnnxActivations, HardSigmoidUsesAlphaBetaAndSaturates) {
  const Tensor x = random_tensor({100}, 3, -8.0f, 8.0f);
  const Tensor y = run_unary(OpKind::HardSigmoid, x, {{"alpha", 0.2}, {"beta", 0.5}});
  // float32 arithmetic as ONNX specifies: alpha * x + beta, then clipped to [0, 1].
  Tensor expected = Tensor::empty(x.shape(), DType::Float32);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const float v = 0.2f * x.data<float>()[i] + 0.5f;
    expected.data<float>()[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
  }
  EXPECT_TRUE(identical(y, expected));
}

TEST(OnnxActivations, HardSwishIsTorchFormula) {
  Tensor x = Tensor::from_vector<float>({-4.0f, -3.0f, -1.5f, 0.0f, 1.0f, 3.0f, 5.0f});
  const Tensor y = run_unary(OpKind::HardSwish, x);
  EXPECT_TRUE(all_close(y, Tensor::from_vector<float>({0.0f, 0.0f, -0.375f, 0.0f, 2.0f / 3.0f,
                                                       3.0f, 5.0f}),
                        0.0f, 1e-7f));
}

TEST(OnnxActivations, LeakyReluScalesNegativesOnly) {
  const Tensor x = Tensor::from_vector<float>({-2.0f, -0.5f, 0.0f, 0.5f, 7.0f});
  const Tensor y = run_unary(OpKind::LeakyRelu, x, {{"negative_slope", 0.1}});
  EXPECT_TRUE(identical(y, Tensor::from_vector<float>({-2.0f * 0.1f, -0.5f * 0.1f, 0.0f, 0.5f,
                                                       7.0f})));
}

TEST(OnnxActivations, NanPassesThrough) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor x = Tensor::from_vector<float>({nan});
  for (OpKind op : {OpKind::Sigmoid, OpKind::Tanh, OpKind::HardSwish}) {
    EXPECT_TRUE(std::isnan(run_unary(op, x).data<float>()[0])) << op_name(op);
  }
  EXPECT_TRUE(std::isnan(
      run_unary(OpKind::HardSigmoid, x, {{"alpha", 0.2}, {"beta", 0.5}}).data<float>()[0]));
}

TEST(OnnxActivations, RejectIntegerInputs) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Int8, {4});
  EXPECT_THROW(b.node(OpKind::Sigmoid, {x}), Error);
  EXPECT_THROW(b.node(OpKind::LeakyRelu, {x}, {{"negative_slope", 0.1}}), Error);
}

// ---- matmul ----

Tensor matmul_loops(const Tensor& a, const Tensor& b, const Shape& out_shape) {
  // a [B?, M, K] (batch 1 or B), b [B?, K, N]; double accumulation.
  const auto& as = a.shape();
  const auto& bs = b.shape();
  const std::int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  const std::int64_t batch = shape_numel(out_shape) / (m * n);
  const std::int64_t a_batch = a.numel() / (m * k), b_batch = b.numel() / (k * n);
  Tensor out = Tensor::empty(out_shape, DType::Float32);
  for (std::int64_t t = 0; t < batch; ++t) {
    const float* pa = a.data<float>() + (a_batch == 1 ? 0 : t) * m * k;
    const float* pb = b.data<float>() + (b_batch == 1 ? 0 : t) * k * n;
    for (std::int64_t i = 0; i < m; ++i) {
      for (std::int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (std::int64_t r = 0; r < k; ++r) acc += double(pa[i * k + r]) * pb[r * n + j];
        out.data<float>()[(t * m + i) * n + j] = static_cast<float>(acc);
      }
    }
  }
  return out;
}

Tensor run_matmul(const Tensor& a, const Tensor& b) {
  GraphBuilder g;
  Value* va = g.input("a", DType::Float32, a.shape());
  Value* vb = g.input("b", DType::Float32, b.shape());
  g.output(g.node(OpKind::MatMul, {va, vb})->output());
  return run_graph(std::move(g).build(), {a, b})[0];
}

TEST(OnnxMatMul, TwoDimensional) {
  const Tensor a = random_tensor({5, 7}, 4), b = random_tensor({7, 3}, 5);
  const Tensor y = run_matmul(a, b);
  EXPECT_EQ(y.shape(), (Shape{5, 3}));
  EXPECT_TRUE(all_close(y, matmul_loops(a, b, {5, 3})));
}

TEST(OnnxMatMul, BatchedWithBroadcastOperand) {
  const Tensor a = random_tensor({4, 2, 6}, 6), b = random_tensor({6, 5}, 7);
  const Tensor y = run_matmul(a, b);
  EXPECT_EQ(y.shape(), (Shape{4, 2, 5}));
  EXPECT_TRUE(all_close(y, matmul_loops(a, b, {4, 2, 5})));
  const Tensor a1 = random_tensor({1, 3, 4}, 8), b3 = random_tensor({3, 4, 2}, 9);
  EXPECT_TRUE(all_close(run_matmul(a1, b3), matmul_loops(a1, b3, {3, 3, 2})));
}

TEST(OnnxMatMul, VectorOperandsDropTheirDim) {
  const Tensor v = random_tensor({4}, 10), m = random_tensor({4, 3}, 11);
  const Tensor y = run_matmul(v, m);
  EXPECT_EQ(y.shape(), (Shape{3}));
  EXPECT_TRUE(all_close(y.reshape({1, 3}), matmul_loops(v.reshape({1, 4}), m, {1, 3})));
  const Tensor m2 = random_tensor({2, 4}, 12);
  EXPECT_EQ(run_matmul(m2, v).shape(), (Shape{2}));
}

TEST(OnnxMatMul, RejectsMismatchedInnerDims) {
  GraphBuilder g;
  Value* a = g.input("a", DType::Float32, {2, 3});
  Value* b = g.input("b", DType::Float32, {4, 5});
  EXPECT_THROW(g.node(OpKind::MatMul, {a, b}), Error);
  Value* c = g.input("c", DType::Float32, {2, 3, 4});
  Value* d = g.input("d", DType::Float32, {3, 4, 5});
  EXPECT_THROW(g.node(OpKind::MatMul, {c, d}), Error);  // batch 2 vs 3
}

// ---- pad2d ----

TEST(OnnxPad2d, PadsLastTwoDimsWithValue) {
  const Tensor x = random_tensor({2, 3, 2, 3}, 13);
  const Tensor y = run_unary(OpKind::Pad2d, x,
                             {{"pads", std::vector<std::int64_t>{1, 0, 2, 3}}, {"value", -7.5}});
  ASSERT_EQ(y.shape(), (Shape{2, 3, 5, 6}));
  for (std::int64_t p = 0; p < 6; ++p) {
    for (std::int64_t i = 0; i < 5; ++i) {
      for (std::int64_t j = 0; j < 6; ++j) {
        const bool inside = i >= 1 && i < 3 && j < 3;
        const float expected = inside ? x.data<float>()[(p * 2 + i - 1) * 3 + j] : -7.5f;
        ASSERT_EQ(y.data<float>()[(p * 5 + i) * 6 + j], expected) << p << " " << i << " " << j;
      }
    }
  }
}

TEST(OnnxPad2d, IntegerFillAndValidation) {
  const Tensor x = testing::random_ints<std::int8_t>({1, 2, 2}, 14, -128, 127);
  const Tensor y = run_unary(OpKind::Pad2d, x,
                             {{"pads", std::vector<std::int64_t>{0, 1, 0, 0}}, {"value", -128.0}});
  EXPECT_TRUE(identical(y, Tensor::from_vector<std::int8_t>(
                               {-128, x.data<std::int8_t>()[0], x.data<std::int8_t>()[1], -128,
                                x.data<std::int8_t>()[2], x.data<std::int8_t>()[3]},
                               {1, 2, 3})));
  GraphBuilder b;
  Value* in = b.input("x", DType::Int8, {2, 2});
  // A fill that the dtype cannot hold, a negative pad, and the wrong number of pads.
  EXPECT_THROW(b.node(OpKind::Pad2d, {in}, {{"pads", std::vector<std::int64_t>{1, 1, 1, 1}},
                                            {"value", 300.0}}),
               Error);
  EXPECT_THROW(b.node(OpKind::Pad2d, {in}, {{"pads", std::vector<std::int64_t>{-1, 0, 0, 0}},
                                            {"value", 0.0}}),
               Error);
  EXPECT_THROW(b.node(OpKind::Pad2d, {in}, {{"pads", std::vector<std::int64_t>{1, 1}},
                                            {"value", 0.0}}),
               Error);
  Value* v = b.input("v", DType::Float32, {4});
  EXPECT_THROW(b.node(OpKind::Pad2d, {v}, {{"pads", std::vector<std::int64_t>{0, 0, 0, 0}},
                                           {"value", 0.0}}),
               Error);  // rank 1
}

}  // namespace
}  // namespace quantkit::graph
