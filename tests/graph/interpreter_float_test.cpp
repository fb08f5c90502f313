// Interpreter numerics for the float ops against straightforward loop references.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "graph_test_util.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/interpreter.h"
#include "reference_loops.h"

namespace quantkit::graph {
namespace {

using testing::all_close;
using testing::conv_reference;
using testing::identical;
using testing::linear_reference;
using testing::max_pool_reference;
using testing::random_tensor;

// Runs a one-node graph built by `make` on `inputs` (graph inputs named in0, in1, ...).
template <class Make>
Tensor run_single(const std::vector<Tensor>& inputs, Make make) {
  GraphBuilder b;
  std::vector<Value*> values;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    values.push_back(b.input("in" + std::to_string(i), inputs[i].dtype(), inputs[i].shape()));
  }
  b.output(make(b, values));
  Graph g = std::move(b).build();
  return run_graph(g, inputs).at(0);
}

// ---- linear ----

TEST(InterpreterFloat, LinearAnyRankWithAndWithoutBias) {
  for (const Shape& xs : {Shape{5}, Shape{2, 5}, Shape{2, 3, 5}, Shape{1, 3, 3, 3, 5}}) {
    const Tensor x = random_tensor(xs, 1);
    const Tensor w = random_tensor({4, 5}, 2);
    const Tensor bias = random_tensor({4}, 3);
    Tensor y = run_single({x, w, bias},
                          [](GraphBuilder& b, auto v) { return b.linear(v[0], v[1], v[2]); });
    EXPECT_TRUE(all_close(y, linear_reference(x, w, &bias))) << shape_to_string(xs);
    Tensor y2 = run_single({x, w}, [](GraphBuilder& b, auto v) { return b.linear(v[0], v[1]); });
    EXPECT_TRUE(all_close(y2, linear_reference(x, w, nullptr))) << shape_to_string(xs);
  }
}

// ---- conv2d ----

struct ConvCase {
  std::int64_t n, c, h, w, o, kh, kw;
  Conv2dOptions options;
  bool bias;
};

TEST(InterpreterFloat, Conv2dStridePaddingDilationGroups) {
  const std::vector<ConvCase> cases = {
      {1, 3, 3, 3, 3, 3, 3, Conv2dOptions(), true},                            // the seed's conv
      {2, 3, 7, 6, 4, 3, 3, Conv2dOptions({1, 1}, {1, 1}), true},              // same padding
      {1, 4, 9, 9, 6, 3, 2, Conv2dOptions({2, 3}, {1, 0}, {1, 1}, 2), false},  // stride, groups
      {1, 2, 10, 8, 2, 3, 3, Conv2dOptions({1, 1}, {2, 2}, {2, 3}), true},     // dilation
      {2, 4, 5, 5, 4, 3, 3, Conv2dOptions({1, 1}, {1, 1}, {1, 1}, 4), true},   // depthwise
      {1, 5, 4, 6, 3, 1, 1, Conv2dOptions(), true},                            // pointwise
      {1, 2, 2, 2, 2, 1, 1, Conv2dOptions({2, 2}, {1, 1}), false},  // 1x1, strided, padded
  };
  std::uint32_t seed = 10;
  for (const ConvCase& cc : cases) {
    const Tensor x = random_tensor({cc.n, cc.c, cc.h, cc.w}, seed++);
    const Tensor w = random_tensor({cc.o, cc.c / cc.options.groups, cc.kh, cc.kw}, seed++);
    const Tensor bias = random_tensor({cc.o}, seed++);
    std::vector<Tensor> inputs{x, w};
    if (cc.bias) inputs.push_back(bias);
    Tensor y = run_single(inputs, [&](GraphBuilder& b, auto v) {
      return b.conv2d(v[0], v[1], cc.bias ? v[2] : nullptr, cc.options);
    });
    EXPECT_TRUE(
        all_close(y, conv_reference(x, w, cc.bias ? &bias : nullptr, cc.options), 1e-5f, 1e-4f))
        << "case with groups " << cc.options.groups << " stride " << cc.options.stride[0];
  }
}

// ---- elementwise ----

TEST(InterpreterFloat, BinaryOpsBroadcast) {
  const Tensor a = random_tensor({2, 1, 3}, 20);
  const Tensor b = random_tensor({4, 1}, 21, 0.5f, 2.0f);
  for (OpKind op : {OpKind::Add, OpKind::Sub, OpKind::Mul, OpKind::Div}) {
    Tensor y = run_single({a, b}, [&](GraphBuilder& gb, auto v) {
      return gb.node(op, {v[0], v[1]})->output();
    });
    ASSERT_EQ(y.shape(), (Shape{2, 4, 3}));
    for (std::int64_t i = 0; i < 2; ++i)
      for (std::int64_t j = 0; j < 4; ++j)
        for (std::int64_t k = 0; k < 3; ++k) {
          const float x = a.data<float>()[i * 3 + k];
          const float z = b.data<float>()[j];
          const float expected = op == OpKind::Add   ? x + z
                                 : op == OpKind::Sub ? x - z
                                 : op == OpKind::Mul ? x * z
                                                     : x / z;
          EXPECT_EQ(y.data<float>()[(i * 4 + j) * 3 + k], expected) << op_name(op);
        }
  }
}

TEST(InterpreterFloat, ScalarOperand) {
  const Tensor a = random_tensor({3, 2}, 22);
  Tensor y = run_single(
      {a}, [](GraphBuilder& b, auto v) { return b.mul(v[0], b.constant(Tensor::scalar(3.0f))); });
  for (std::int64_t i = 0; i < 6; ++i) EXPECT_EQ(y.data<float>()[i], a.data<float>()[i] * 3.0f);
}

TEST(InterpreterFloat, IntegerArithmeticWraps) {
  const Tensor a = Tensor::from_vector(std::vector<std::int8_t>{100, -100, 7});
  const Tensor b = Tensor::from_vector(std::vector<std::int8_t>{100, -100, -3});
  Tensor sum = run_single({a, b}, [](GraphBuilder& g, auto v) { return g.add(v[0], v[1]); });
  EXPECT_EQ(sum.to_vector<std::int8_t>(), (std::vector<std::int8_t>{-56, 56, 4}));
  const Tensor c = Tensor::from_vector(std::vector<std::int32_t>{65536, -5});
  const Tensor d = Tensor::from_vector(std::vector<std::int32_t>{65536, 3});
  Tensor prod = run_single({c, d}, [](GraphBuilder& g, auto v) { return g.mul(v[0], v[1]); });
  EXPECT_EQ(prod.to_vector<std::int32_t>(), (std::vector<std::int32_t>{0, -15}));
  Tensor diff = run_single({c, d}, [](GraphBuilder& g, auto v) { return g.sub(v[0], v[1]); });
  EXPECT_EQ(diff.to_vector<std::int32_t>(), (std::vector<std::int32_t>{0, -8}));
}

TEST(InterpreterFloat, ReluHardtanhClamp) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor x = Tensor::from_vector(std::vector<float>{-2.0f, -0.5f, 0.0f, 0.5f, 3.0f, nan});
  Tensor r = run_single({x}, [](GraphBuilder& b, auto v) { return b.relu(v[0]); });
  EXPECT_TRUE(identical(r, Tensor::from_vector(std::vector<float>{0, 0, 0, 0.5f, 3.0f, nan})));
  Tensor h = run_single({x}, [](GraphBuilder& b, auto v) { return b.hardtanh(v[0], -1, 1); });
  EXPECT_TRUE(identical(h, Tensor::from_vector(std::vector<float>{-1, -0.5f, 0, 0.5f, 1, nan})));
  Tensor lo =
      run_single({x}, [](GraphBuilder& b, auto v) { return b.clamp(v[0], 0.25, std::nullopt); });
  EXPECT_TRUE(
      identical(lo, Tensor::from_vector(std::vector<float>{0.25f, 0.25f, 0.25f, 0.5f, 3, nan})));
  const Tensor i = Tensor::from_vector(std::vector<std::int32_t>{-300, -5, 0, 5, 300});
  Tensor ci = run_single({i}, [](GraphBuilder& b, auto v) { return b.clamp(v[0], -128, 127); });
  EXPECT_EQ(ci.to_vector<std::int32_t>(), (std::vector<std::int32_t>{-128, -5, 0, 5, 127}));
  // Integer clamp bounds must be integers.
  GraphBuilder b;
  Value* in = b.input("i", DType::Int32, {5});
  EXPECT_THROW(b.clamp(in, 0.5, std::nullopt), Error);
}

// ---- pooling ----

TEST(InterpreterFloat, MaxPool2d) {
  struct Case {
    Shape x;
    MaxPool2dOptions o;
    Shape expected_shape;  // from torch.nn.MaxPool2d
  };
  const std::vector<Case> cases = {
      {{1, 2, 2, 2}, MaxPool2dOptions({1, 1}, {1, 1}), {1, 2, 2, 2}},  // ConvMaxPool2d
      {{2, 3, 8, 8}, MaxPool2dOptions({2, 2}), {2, 3, 4, 4}},
      {{1, 2, 5, 5}, MaxPool2dOptions({2, 2}, {2, 2}, {0, 0}, {1, 1}, true), {1, 2, 3, 3}},
      {{1, 1, 6, 7}, MaxPool2dOptions({3, 3}, {2, 2}, {1, 1}), {1, 1, 3, 4}},
      {{1, 1, 9, 9}, MaxPool2dOptions({3, 2}, {2, 1}, {1, 1}, {2, 2}), {1, 1, 4, 9}},
      // ceil mode whose last window would start in the padding: dropped (torch gives 3).
      {{1, 1, 5, 5}, MaxPool2dOptions({2, 2}, {2, 2}, {1, 1}, {1, 1}, true), {1, 1, 3, 3}},
  };
  std::uint32_t seed = 30;
  for (const Case& c : cases) {
    const Tensor x = random_tensor(c.x, seed++);
    Tensor y = run_single({x}, [&](GraphBuilder& b, auto v) { return b.max_pool2d(v[0], c.o); });
    ASSERT_EQ(y.shape(), c.expected_shape);
    MaxPool2dOptions o = c.o;
    if (o.stride.empty()) o.stride = o.kernel_size;
    EXPECT_TRUE(identical(y, max_pool_reference(x, o, y.size(2), y.size(3))));
  }
}

TEST(InterpreterFloat, MaxPool2dOnIntegersAndNaN) {
  const Tensor x =
      Tensor::from_vector(std::vector<std::int32_t>{-5, -7, -9, -1}, Shape{1, 1, 2, 2});
  Tensor y = run_single({x}, [](GraphBuilder& b, auto v) {
    return b.max_pool2d(v[0], MaxPool2dOptions({2, 2}, {}, {1, 1}));
  });
  // Padding never wins, even against negative values.
  EXPECT_EQ(y.to_vector<std::int32_t>(), (std::vector<std::int32_t>{-5, -7, -9, -1}));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor f = Tensor::from_vector(std::vector<float>{1, nan, 3, 2}, Shape{1, 1, 2, 2});
  Tensor m = run_single({f}, [](GraphBuilder& b, auto v) {
    return b.max_pool2d(v[0], MaxPool2dOptions({2, 2}));
  });
  EXPECT_TRUE(std::isnan(m.data<float>()[0]));  // NaN propagates as in torch
}

TEST(InterpreterFloat, AvgPool2dPaddingModes) {
  const Tensor ones = Tensor::from_vector(std::vector<float>(9, 1.0f), Shape{1, 1, 3, 3});
  AvgPool2dOptions o({2, 2}, {2, 2}, {1, 1});
  Tensor with_pad =
      run_single({ones}, [&](GraphBuilder& b, auto v) { return b.avg_pool2d(v[0], o); });
  EXPECT_EQ(with_pad.to_vector<float>(), (std::vector<float>{0.25f, 0.5f, 0.5f, 1.0f}));
  o.count_include_pad = false;
  Tensor without =
      run_single({ones}, [&](GraphBuilder& b, auto v) { return b.avg_pool2d(v[0], o); });
  EXPECT_EQ(without.to_vector<float>(), (std::vector<float>(4, 1.0f)));
  o.divisor_override = 2;
  Tensor divided =
      run_single({ones}, [&](GraphBuilder& b, auto v) { return b.avg_pool2d(v[0], o); });
  EXPECT_EQ(divided.to_vector<float>(), (std::vector<float>{0.5f, 1.0f, 1.0f, 2.0f}));

  // ceil mode on 5x5, kernel 2 stride 2: the last window covers one row/column only, and
  // torch divides by the part of the window inside input + padding (here 2 then 1).
  const Tensor x = random_tensor({1, 1, 5, 5}, 40);
  AvgPool2dOptions c({2, 2}, {2, 2}, {0, 0}, true);
  Tensor y = run_single({x}, [&](GraphBuilder& b, auto v) { return b.avg_pool2d(v[0], c); });
  ASSERT_EQ(y.shape(), (Shape{1, 1, 3, 3}));
  const float* p = x.data<float>();
  EXPECT_FLOAT_EQ(y.data<float>()[0], (p[0] + p[1] + p[5] + p[6]) / 4.0f);
  EXPECT_FLOAT_EQ(y.data<float>()[2], (p[4] + p[9]) / 2.0f);
  EXPECT_FLOAT_EQ(y.data<float>()[8], p[24]);
}

TEST(InterpreterFloat, AdaptiveAvgPool2d) {
  const Tensor x = random_tensor({2, 3, 5, 7}, 41);
  Tensor y = run_single({x}, [](GraphBuilder& b, auto v) {
    return b.adaptive_avg_pool2d(v[0], {3, 2});
  });
  ASSERT_EQ(y.shape(), (Shape{2, 3, 3, 2}));
  for (std::int64_t p = 0; p < 6; ++p)
    for (std::int64_t i = 0; i < 3; ++i)
      for (std::int64_t j = 0; j < 2; ++j) {
        const std::int64_t y0 = i * 5 / 3, y1 = ((i + 1) * 5 + 2) / 3;
        const std::int64_t x0 = j * 7 / 2, x1 = ((j + 1) * 7 + 1) / 2;
        double sum = 0;
        for (std::int64_t u = y0; u < y1; ++u)
          for (std::int64_t v = x0; v < x1; ++v) sum += x.data<float>()[(p * 5 + u) * 7 + v];
        EXPECT_NEAR(y.data<float>()[(p * 3 + i) * 2 + j], sum / double((y1 - y0) * (x1 - x0)),
                    1e-6);
      }
  // Global pooling is the mean of each plane.
  Tensor g = run_single({x}, [](GraphBuilder& b, auto v) {
    return b.adaptive_avg_pool2d(v[0], {1, 1});
  });
  double mean = 0;
  for (std::int64_t i = 0; i < 35; ++i) mean += x.data<float>()[i];
  EXPECT_NEAR(g.data<float>()[0], mean / 35, 1e-6);
}

// ---- normalization ----

TEST(InterpreterFloat, BatchNormUsesRunningStatistics) {
  const Tensor x = random_tensor({2, 3, 4, 5}, 50);
  const Tensor w = random_tensor({3}, 51);
  const Tensor bias = random_tensor({3}, 52);
  const Tensor mean = random_tensor({3}, 53);
  const Tensor var = random_tensor({3}, 54, 0.1f, 2.0f);
  Tensor y = run_single({x, w, bias, mean, var}, [](GraphBuilder& b, auto v) {
    return b.batch_norm(v[0], v[1], v[2], v[3], v[4], 1e-3);
  });
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const std::int64_t c = (i / 20) % 3;
    const double expected = (x.data<float>()[i] - mean.data<float>()[c]) /
                                std::sqrt(double{var.data<float>()[c]} + 1e-3) *
                                w.data<float>()[c] +
                            bias.data<float>()[c];
    EXPECT_NEAR(y.data<float>()[i], expected, 1e-5);
  }
}

TEST(InterpreterFloat, SoftmaxAlongEachDim) {
  const Tensor x = random_tensor({2, 3, 4}, 60, -30.0f, 30.0f);
  for (std::int64_t dim : {0, 1, 2, -1}) {
    Tensor y = run_single({x}, [&](GraphBuilder& b, auto v) { return b.softmax(v[0], dim); });
    const std::int64_t d = dim < 0 ? dim + 3 : dim;
    const Shape& s = x.shape();
    const std::int64_t strides[3] = {12, 4, 1};
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      const std::int64_t pos = (i / strides[d]) % s[static_cast<std::size_t>(d)];
      const std::int64_t base = i - pos * strides[d];
      double denom = 0;
      for (std::int64_t k = 0; k < s[static_cast<std::size_t>(d)]; ++k) {
        denom += std::exp(double{x.data<float>()[base + k * strides[d]]} - x.data<float>()[i]);
      }
      EXPECT_NEAR(y.data<float>()[i], 1.0 / denom, 1e-6) << "dim " << dim;
    }
  }
}

// ---- data movement ----

TEST(InterpreterFloat, CatFlattenReshapeTranspose) {
  const Tensor a = random_tensor({2, 2, 3}, 70);
  const Tensor b = random_tensor({2, 1, 3}, 71);
  Tensor c = run_single({a, b}, [](GraphBuilder& g, auto v) { return g.cat({v[0], v[1]}, 1); });
  ASSERT_EQ(c.shape(), (Shape{2, 3, 3}));
  for (std::int64_t i = 0; i < 2; ++i)
    for (std::int64_t j = 0; j < 3; ++j)
      for (std::int64_t k = 0; k < 3; ++k) {
        const float expected =
            j < 2 ? a.data<float>()[(i * 2 + j) * 3 + k] : b.data<float>()[i * 3 + k];
        EXPECT_EQ(c.data<float>()[(i * 3 + j) * 3 + k], expected);
      }
  Tensor c0 = run_single({a, a}, [](GraphBuilder& g, auto v) { return g.cat({v[0], v[1]}, -3); });
  ASSERT_EQ(c0.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(c0.data<float>()[12], a.data<float>()[0]);

  Tensor f = run_single({a}, [](GraphBuilder& g, auto v) { return g.flatten(v[0], 1); });
  EXPECT_EQ(f.shape(), (Shape{2, 6}));
  EXPECT_EQ(f.to_vector<float>(), a.to_vector<float>());
  Tensor f_all = run_single({a}, [](GraphBuilder& g, auto v) { return g.flatten(v[0]); });
  EXPECT_EQ(f_all.shape(), (Shape{12}));
  Tensor r = run_single({a}, [](GraphBuilder& g, auto v) { return g.reshape(v[0], {3, -1}); });
  EXPECT_EQ(r.shape(), (Shape{3, 4}));
  EXPECT_EQ(r.to_vector<float>(), a.to_vector<float>());

  Tensor t = run_single({a}, [](GraphBuilder& g, auto v) { return g.transpose(v[0], 0, 2); });
  ASSERT_EQ(t.shape(), (Shape{3, 2, 2}));
  for (std::int64_t i = 0; i < 2; ++i)
    for (std::int64_t j = 0; j < 2; ++j)
      for (std::int64_t k = 0; k < 3; ++k) {
        EXPECT_EQ(t.data<float>()[(k * 2 + j) * 2 + i], a.data<float>()[(i * 2 + j) * 3 + k]);
      }
}

TEST(InterpreterFloat, ShapeErrorsAreCaughtAtBuildTime) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3});
  EXPECT_THROW(b.reshape(x, {4, -1}), Error);
  EXPECT_THROW(b.reshape(x, {-1, -1}), Error);
  EXPECT_THROW(b.flatten(x, 1, 0), Error);
  EXPECT_THROW(b.transpose(x, 0, 2), Error);
  EXPECT_THROW(b.softmax(x, 2), Error);
  Value* y = b.input("y", DType::Float32, {2, 4});
  EXPECT_THROW(b.add(x, y), Error);
  EXPECT_THROW(b.cat({x, y}, 0), Error);
  EXPECT_NO_THROW(b.cat({x, y}, 1));
  Value* img = b.input("img", DType::Float32, {1, 1, 3, 3});
  EXPECT_THROW(b.max_pool2d(img, MaxPool2dOptions({2, 2}, {}, {2, 2})), Error);  // pad > k/2
  EXPECT_THROW(b.max_pool2d(img, MaxPool2dOptions({4, 4})), Error);
  EXPECT_THROW(b.avg_pool2d(img, AvgPool2dOptions({2, 2}, {}, {0, 0}, false, true, 0)), Error);
}

}  // namespace
}  // namespace quantkit::graph
