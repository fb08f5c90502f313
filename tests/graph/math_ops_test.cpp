// The float math ops transformers need: erf, exp, neg, sqrt (pointwise) and pow (binary) —
// reference kernels against double-precision formulas, IEEE edge cases, and the exact forms
// ONNX Runtime uses for the exponents 2 and 0.5.
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


// pow(x, exponent) with the exponent a constant (the form torch exports).
Tensor run_pow(const Tensor& x, const Tensor& exponent) {
  GraphBuilder b;
  Value* in = b.input("x", x.dtype(), x.shape());
  b.output(b.node(OpKind::Pow, {in, b.constant(exponent, "exponent")})->output());
  return run_graph(std::move(b).build(), {x})[0];
}


TEST(MathOps, ErfExpNegSqrtMatchDoubleFormulas) {
  const Tensor x = random_tensor({4, 33}, 3, -5.0f, 5.0f);
  EXPECT_TRUE(all_close(run_unary(OpKind::Erf, x),
                        map_double(x, [](double v) { return std::erf(v); }), 1e-7f, 1e-6f));
  EXPECT_TRUE(all_close(run_unary(OpKind::Exp, x),
                        map_double(x, [](double v) { return std::exp(v); }), 0.0f, 1e-6f));
  EXPECT_TRUE(identical(run_unary(OpKind::Neg, x), map_double(x, [](double v) { return -v; })));
  const Tensor positive = random_tensor({4, 33}, 4, 0.0f, 100.0f);
  EXPECT_TRUE(all_close(run_unary(OpKind::Sqrt, positive),
                        map_double(positive, [](double v) { return std::sqrt(v); }), 0.0f, 1e-7f));
}

TEST(MathOps, IeeeEdgeCases) {
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor x = Tensor::from_vector<float>({-1.0f, -0.0f, inf, -inf, 100.0f});
  const Tensor s = run_unary(OpKind::Sqrt, x);
  EXPECT_TRUE(std::isnan(s.data<float>()[0]));  // below zero: NaN, no error
  EXPECT_TRUE(std::signbit(s.data<float>()[1]));
  EXPECT_EQ(s.data<float>()[2], inf);
  const Tensor e = run_unary(OpKind::Exp, x);
  EXPECT_EQ(e.data<float>()[2], inf);
  EXPECT_EQ(e.data<float>()[3], 0.0f);
  EXPECT_EQ(e.data<float>()[4], inf);  // overflows to inf in float32
  const Tensor r = run_unary(OpKind::Erf, x);
  EXPECT_EQ(r.data<float>()[2], 1.0f);
  EXPECT_EQ(r.data<float>()[3], -1.0f);
  EXPECT_FALSE(std::signbit(run_unary(OpKind::Neg, x).data<float>()[1]));
}

TEST(MathOps, Float64StaysFloat64) {
  const Tensor x = Tensor::from_vector<double>({0.5, 2.0});
  const Tensor y = run_unary(OpKind::Exp, x);
  ASSERT_EQ(y.dtype(), DType::Float64);
  EXPECT_EQ(y.data<double>()[0], std::exp(0.5));
  EXPECT_EQ(y.data<double>()[1], std::exp(2.0));
}

TEST(MathOps, PowSquareAndSquareRootAreOnnxRuntimesExactForms) {
  const Tensor x = random_tensor({5, 7}, 5, 0.0f, 10.0f);
  Tensor square = Tensor::empty(x.shape(), DType::Float32);
  Tensor root = Tensor::empty(x.shape(), DType::Float32);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const float v = x.data<float>()[i];
    square.data<float>()[i] = v * v;
    root.data<float>()[i] = std::sqrt(v);
  }
  EXPECT_TRUE(identical(run_pow(x, Tensor::scalar(2.0f)), square));
  EXPECT_TRUE(identical(run_pow(x, Tensor::scalar(0.5f)), root));
  EXPECT_TRUE(all_close(run_pow(x, Tensor::scalar(3.0f)),
                        map_double(x, [](double v) { return v * v * v; }), 1e-6f, 1e-6f));
  // A negative base with a fractional exponent is NaN; with an integral one it is defined.
  const Tensor neg = Tensor::from_vector<float>({-2.0f});
  EXPECT_TRUE(std::isnan(run_pow(neg, Tensor::scalar(0.5f)).data<float>()[0]));
  EXPECT_EQ(run_pow(neg, Tensor::scalar(3.0f)).data<float>()[0], -8.0f);
}

TEST(MathOps, PowBroadcastsBothWays) {
  // [2, 1] ** [3] -> [2, 3]
  GraphBuilder b;
  Value* base = b.input("base", DType::Float32, {2, 1});
  Value* exponent = b.input("exponent", DType::Float32, {3});
  Node* n = b.node(OpKind::Pow, {base, exponent});
  EXPECT_EQ(n->output()->shape(), (Shape{2, 3}));
  b.output(n->output());
  const Tensor y =
      run_graph(std::move(b).build(), {Tensor::from_vector<float>({2.0f, 3.0f}).reshape({2, 1}),
                                       Tensor::from_vector<float>({0.0f, 1.0f, 3.0f})})[0];
  EXPECT_TRUE(identical(y, Tensor::from_vector<float>({1, 2, 8, 1, 3, 27}).reshape({2, 3})));
}

TEST(MathOps, RejectIntegerAndMixedDtypes) {
  GraphBuilder b;
  Value* i = b.input("i", DType::Int32, {4});
  Value* f = b.input("f", DType::Float32, {4});
  for (OpKind op : {OpKind::Erf, OpKind::Exp, OpKind::Neg, OpKind::Sqrt}) {
    EXPECT_THROW(b.node(op, {i}), Error) << op_name(op);
  }
  EXPECT_THROW(b.node(OpKind::Pow, {i, i}), Error);
  EXPECT_THROW(b.node(OpKind::Pow, {f, i}), Error);
}

}  // namespace
}  // namespace quantkit::graph
