// mean (ONNX ReduceMean) and layer_norm (ONNX LayerNormalization): type inference and the
// reference kernels against hand-computed values and double-precision loops.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "graph/graph_test_util.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/interpreter.h"

namespace quantkit::graph {
namespace {

using testing::all_close;
using testing::identical;
using testing::random_tensor;
using Ints = std::vector<std::int64_t>;

Tensor run_mean(const Tensor& x, Ints dims, bool keepdim) {
  GraphBuilder b;
  Value* in = b.input("x", x.dtype(), x.shape());
  b.output(
      b.node(OpKind::Mean, {in}, {{"dims", dims}, {"keepdim", std::int64_t{keepdim}}})->output());
  return run_graph(std::move(b).build(), {x})[0];
}

Tensor run_layer_norm(const Tensor& x, const Tensor& w, const Tensor* bias, std::int64_t axis,
                      double eps) {
  GraphBuilder b;
  std::vector<Value*> in{b.input("x", x.dtype(), x.shape()), b.constant(w, "weight")};
  if (bias != nullptr) in.push_back(b.constant(*bias, "bias"));
  b.output(b.node(OpKind::LayerNorm, in, {{"axis", axis}, {"eps", eps}})->output());
  return run_graph(std::move(b).build(), {x})[0];
}

TEST(Mean, HandComputedOverEachDim) {
  // [[1, 2, 3], [4, 5, 6]]
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_TRUE(identical(run_mean(x, {0}, false), Tensor::from_vector<float>({2.5f, 3.5f, 4.5f})));
  EXPECT_TRUE(identical(run_mean(x, {-1}, true), Tensor::from_vector<float>({2, 5}, {2, 1})));
  EXPECT_TRUE(identical(run_mean(x, {1, 0}, false), Tensor::scalar(3.5f)));
}

TEST(Mean, NonTrailingDimSetsMatchLoops) {
  const Tensor x = random_tensor({3, 4, 5, 2}, 21, -3.0f, 3.0f);
  const Tensor y = run_mean(x, {0, 2}, true);
  ASSERT_EQ(y.shape(), (Shape{1, 4, 1, 2}));
  Tensor expected = Tensor::empty({1, 4, 1, 2}, DType::Float32);
  for (std::int64_t j = 0; j < 4; ++j) {
    for (std::int64_t l = 0; l < 2; ++l) {
      double sum = 0;
      for (std::int64_t i = 0; i < 3; ++i) {
        for (std::int64_t k = 0; k < 5; ++k) sum += x.data<float>()[((i * 4 + j) * 5 + k) * 2 + l];
      }
      expected.data<float>()[j * 2 + l] = static_cast<float>(sum / 15.0);
    }
  }
  EXPECT_TRUE(identical(y, expected));
  EXPECT_EQ(run_mean(x, {0, 2}, false).shape(), (Shape{4, 2}));
}

TEST(Mean, EmptyReductionIsNanAndFloat64StaysFloat64) {
  const Tensor empty = Tensor::empty({2, 0}, DType::Float32);
  const Tensor y = run_mean(empty, {1}, false);
  ASSERT_EQ(y.shape(), (Shape{2}));
  EXPECT_TRUE(std::isnan(y.data<float>()[0]));
  const Tensor d = run_mean(Tensor::from_vector<double>({0.1, 0.2, 0.4}), {0}, false);
  ASSERT_EQ(d.dtype(), DType::Float64);
  EXPECT_DOUBLE_EQ(d.data<double>()[0], (0.1 + 0.2 + 0.4) / 3.0);
}

TEST(Mean, InferenceRejectsBadDims) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3});
  Value* i = b.input("i", DType::Int32, {2, 3});
  EXPECT_THROW(b.node(OpKind::Mean, {x}, {{"dims", Ints{1, -1}}, {"keepdim", std::int64_t{0}}}),
               Error);  // the same dim twice
  EXPECT_THROW(b.node(OpKind::Mean, {x}, {{"dims", Ints{2}}, {"keepdim", std::int64_t{0}}}), Error);
  EXPECT_THROW(b.node(OpKind::Mean, {x}, {{"dims", Ints{}}, {"keepdim", std::int64_t{0}}}), Error);
  EXPECT_THROW(b.node(OpKind::Mean, {i}, {{"dims", Ints{0}}, {"keepdim", std::int64_t{0}}}), Error);
}

TEST(LayerNorm, HandComputedRow) {
  // mean 2.5, variance (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4});
  const Tensor w = Tensor::from_vector<float>({1, 1, 2, 1});
  const Tensor b = Tensor::from_vector<float>({0, 0, 0, 10});
  const Tensor y = run_layer_norm(x, w, &b, -1, 0.0);
  const double s = std::sqrt(1.25);
  EXPECT_TRUE(all_close(y,
                        Tensor::from_vector<float>(
                            {static_cast<float>(-1.5 / s), static_cast<float>(-0.5 / s),
                             static_cast<float>(2 * 0.5 / s), static_cast<float>(1.5 / s + 10)}),
                        0.0f, 1e-6f));
}

TEST(LayerNorm, SeveralNormalizedDimsMatchDoubleLoops) {
  const Tensor x = random_tensor({2, 3, 4, 5}, 22, -2.0f, 4.0f);
  const Tensor w = random_tensor({4, 5}, 23), bias = random_tensor({4, 5}, 24);
  const double eps = 1e-3;
  for (const Tensor* b : {&bias, static_cast<const Tensor*>(nullptr)}) {
    const Tensor y = run_layer_norm(x, w, b, 2, eps);
    Tensor expected = Tensor::empty(x.shape(), DType::Float32);
    for (std::int64_t r = 0; r < 6; ++r) {
      const float* xr = x.data<float>() + r * 20;
      double mean = 0, var = 0;
      for (std::int64_t h = 0; h < 20; ++h) mean += xr[h];
      mean /= 20;
      for (std::int64_t h = 0; h < 20; ++h) var += (xr[h] - mean) * (xr[h] - mean);
      var /= 20;
      for (std::int64_t h = 0; h < 20; ++h) {
        expected.data<float>()[r * 20 + h] =
            static_cast<float>((xr[h] - mean) / std::sqrt(var + eps) * w.data<float>()[h] +
                               (b != nullptr ? b->data<float>()[h] : 0.0f));
      }
    }
    EXPECT_TRUE(all_close(y, expected, 1e-5f, 1e-5f)) << (b != nullptr ? "bias" : "no bias");
  }
}

// A row with a large mean and a small spread: E[x^2] - E[x]^2 in float32 loses the variance
// entirely (1e8 has a float32 spacing of 8), the mean of squared deviations keeps it.
TEST(LayerNorm, LargeMeanKeepsItsVariance) {
  const Tensor x = Tensor::from_vector<float>({10000.0f, 10001.0f, 10002.0f, 10003.0f});
  const Tensor w = Tensor::from_vector<float>({1, 1, 1, 1});
  const Tensor y = run_layer_norm(x, w, nullptr, 0, 0.0);
  const double s = std::sqrt(1.25);
  EXPECT_TRUE(all_close(
      y,
      Tensor::from_vector<float>({static_cast<float>(-1.5 / s), static_cast<float>(-0.5 / s),
                                  static_cast<float>(0.5 / s), static_cast<float>(1.5 / s)}),
      0.0f, 1e-6f));
}

TEST(LayerNorm, InferenceRejectsMismatchedParameters) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3, 4});
  Value* w4 = b.input("w4", DType::Float32, {4});
  Value* w3 = b.input("w3", DType::Float32, {3});
  Value* w34 = b.input("w34", DType::Float32, {3, 4});
  const AttributeMap last{{"axis", std::int64_t{-1}}, {"eps", 1e-5}};
  EXPECT_NO_THROW(b.node(OpKind::LayerNorm, {x, w4, w4}, last));
  EXPECT_THROW(b.node(OpKind::LayerNorm, {x, w3}, last), Error);
  EXPECT_THROW(b.node(OpKind::LayerNorm, {x, w4, w3}, last), Error);
  EXPECT_NO_THROW(b.node(OpKind::LayerNorm, {x, w34}, {{"axis", std::int64_t{1}}, {"eps", 0.0}}));
  EXPECT_THROW(b.node(OpKind::LayerNorm, {x, w4}, {{"axis", std::int64_t{3}}, {"eps", 0.0}}),
               Error);
  EXPECT_THROW(b.node(OpKind::LayerNorm, {x, w4}, {{"axis", std::int64_t{-1}}, {"eps", -1.0}}),
               Error);
}

}  // namespace
}  // namespace quantkit::graph
