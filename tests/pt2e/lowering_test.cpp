// lower_to_fused_kernels: which patterns become which fused ops, what stays, and that the
// lowered graph computes the runtime's requantization (kernels/requantize.h: int32 bias
// rounded to nearest, float32 multiply, round half to even), checked against a scalar
// computation written out here.
#include "quantkit/pt2e/lowering.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "qdq_graphs.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/graph/printer.h"
#include "quantkit/quant/affine.h"

namespace quantkit::pt2e {
namespace {

using graph::count_nodes;
using graph::OpKind;
using graph::QuantizeAttrs;
using graph::run_graph;
using graph::Value;
using graph::testing::identical;
using graph::testing::random_ints;
using graph::testing::random_tensor;
using quantkit::testing::LayerSpec;


// The weight's scales as the test graphs make them (qdq_graphs.h).
double weight_scale(bool per_channel, std::int64_t c) {
  return static_cast<double>(per_channel ? 0.01f + 0.003f * static_cast<float>(c) : 0.02f);
}

// The runtime's requantization of a linear layer, written out with plain loops.
Tensor reference_linear(const Graph& qdq, const Tensor& x, const LayerSpec& s) {
  const Tensor& w = qdq.constants()[0]->data();  // w_i8 (first constant)
  const Tensor* bias = s.bias ? &qdq.parameters()[0]->data() : nullptr;
  const std::int64_t m = x.shape()[0], k = x.shape()[1], n = w.shape()[0];
  const std::int64_t shift = s.dtype == DType::UInt8 ? 128 : 0;
  const std::int64_t x_zp = s.x_zero_point + shift, out_zp = s.out_zero_point + shift;
  const std::int64_t qmin = s.relu ? out_zp : -128 + shift, qmax = 127 + shift;
  Tensor out = Tensor::empty({m, n}, s.dtype);
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t c = 0; c < n; ++c) {
      std::int64_t acc = 0;
      for (std::int64_t j = 0; j < k; ++j) {
        const std::int64_t xv = s.dtype == DType::Int8 ? x.data<std::int8_t>()[i * k + j]
                                                       : x.data<std::uint8_t>()[i * k + j];
        acc += (xv - x_zp) * w.data<std::int8_t>()[c * k + j];
      }
      const double ws = weight_scale(s.per_channel, c);
      if (bias != nullptr) {
        // Round half to even in float64 (the test biases are far inside the int32 range).
        acc += static_cast<std::int64_t>(
            std::nearbyint(static_cast<double>(bias->data<float>()[c]) / (s.x_scale * ws)));
      }
      // The multiplier is float32(x_scale * w_scale / out_scale); float32(acc) times it in
      // float32, rounded half to even (the default rounding mode), then + out_zp and clamp.
      const auto mult = static_cast<float>(s.x_scale * ws / s.out_scale);
      const float product = static_cast<float>(acc) * mult;
      const std::int64_t v = std::clamp(
          static_cast<std::int64_t>(std::nearbyint(product)) + out_zp, qmin, qmax);
      if (s.dtype == DType::Int8) {
        out.data<std::int8_t>()[i * n + c] = static_cast<std::int8_t>(v);
      } else {
        out.data<std::uint8_t>()[i * n + c] = static_cast<std::uint8_t>(v);
      }
    }
  }
  return out;
}

Tensor random_act(DType dtype, Shape shape, std::uint32_t seed) {
  return dtype == DType::Int8 ? random_ints<std::int8_t>(std::move(shape), seed, -128, 127)
                              : random_ints<std::uint8_t>(std::move(shape), seed, 0, 255);
}

TEST(Lowering, StaticLinearEveryVariantEqualsTheScalarReference) {
  for (DType dtype : {DType::Int8, DType::UInt8}) {
    for (bool per_channel : {false, true}) {
      for (bool relu : {false, true}) {
        for (bool bias : {false, true}) {
          LayerSpec s;
          s.dtype = dtype;
          s.per_channel = per_channel;
          s.relu = relu;
          s.bias = bias;
          const Graph qdq = quantkit::testing::static_linear(s, 5, 37, 19);
          LoweringStats stats;
          const Graph lowered = lower_to_fused_kernels(qdq, &stats);
          EXPECT_EQ(stats.linear, 1u);
          EXPECT_EQ(count_nodes(lowered, OpKind::QuantizedLinear), 1u);
          EXPECT_EQ(count_nodes(lowered, OpKind::Linear), 0u);
          EXPECT_EQ(count_nodes(lowered, OpKind::Relu), 0u);
          EXPECT_EQ(count_nodes(lowered, OpKind::DequantizePerTensor), 0u);
          EXPECT_EQ(count_nodes(lowered, OpKind::DequantizePerChannel), 0u);
          EXPECT_EQ(lowered.num_nodes(), 1u);
          const Tensor x = random_act(dtype, {5, 37}, 7);
          EXPECT_TRUE(identical(run_graph(lowered, {x})[0], reference_linear(qdq, x, s)))
              << dtype_name(dtype) << " per_channel=" << per_channel << " relu=" << relu
              << " bias=" << bias;
        }
      }
    }
  }
}

TEST(Lowering, ReluFusionAtTheZeroPointEqualsQuantizeOfRelu) {
  // quantize(relu(y)) == max(quantize(y), zp): the identity the relu fusion relies on,
  // over a dense sweep including -0.0, tiny values and values far outside the range.
  std::vector<float> ys{-0.0f, 0.0f, -1e-30f, 1e-30f, -1e30f, 1e30f};
  for (int i = -4000; i <= 4000; ++i) ys.push_back(static_cast<float>(i) * 0.00731f);
  const Tensor y = Tensor::from_vector(ys);
  std::vector<float> r(ys.size());
  std::transform(ys.begin(), ys.end(), r.begin(), [](float v) { return v > 0 ? v : 0.0f; });
  for (std::int64_t zp : {-128, -5, 0, 77, 127}) {
    const QuantRange range = QuantRange::full(DType::Int8);
    const Tensor q = quantize_per_tensor(y, 0.0731, zp, range);
    const Tensor qr = quantize_per_tensor(Tensor::from_vector(r), 0.0731, zp, range);
    for (std::size_t i = 0; i < ys.size(); ++i) {
      ASSERT_EQ(qr.data<std::int8_t>()[i], std::max<std::int64_t>(q.data<std::int8_t>()[i], zp))
          << "y=" << ys[i] << " zp=" << zp;
    }
  }
}

TEST(Lowering, ConvAddDynamicAndPassthroughCounts) {
  LayerSpec s;
  s.per_channel = true;
  s.relu = true;
  LoweringStats stats;
  const Graph conv = lower_to_fused_kernels(
      quantkit::testing::static_conv(s, {1, 4, 9, 9}, 6, 3,
                                     graph::Conv2dOptions({2, 2}, {1, 1}, {1, 1}, 2)),
      &stats);
  EXPECT_EQ(stats.conv2d, 1u);
  EXPECT_EQ(count_nodes(conv, OpKind::QuantizedConv2d), 1u);
  EXPECT_EQ(conv.num_nodes(), 1u);

  for (bool relu : {false, true}) {
    const Graph add =
        lower_to_fused_kernels(quantkit::testing::static_add(DType::Int8, {2, 8}, relu), &stats);
    EXPECT_EQ(stats.add, 1u);
    ASSERT_EQ(add.num_nodes(), 1u);
    const graph::Node* n = add.nodes()[0];
    EXPECT_EQ(n->attr_string("rounding"), "half_even");  // add_relu does not truncate
    EXPECT_EQ(n->attr_int("quant_min"), relu ? -2 : -128);
  }

  const Graph dyn =
      lower_to_fused_kernels(quantkit::testing::dynamic_linear(3, 16, 8, true, true), &stats);
  EXPECT_EQ(stats.dynamic_linear, 1u);
  EXPECT_EQ(dyn.num_nodes(), 1u);
  EXPECT_EQ(count_nodes(dyn, OpKind::DynamicQuantizedLinear), 1u);
  EXPECT_EQ(count_nodes(dyn, OpKind::ChooseQParams), 0u);

  const Graph cnn = lower_to_fused_kernels(quantkit::testing::small_cnn(true, 8), &stats);
  EXPECT_EQ(stats.conv2d, 2u);
  EXPECT_EQ(stats.linear, 2u);
  EXPECT_EQ(stats.passthrough, 2u);  // max_pool2d and flatten on int8
  EXPECT_EQ(count_nodes(cnn, OpKind::MaxPool2d), 1u);
  EXPECT_EQ(count_nodes(cnn, OpKind::QuantizePerTensor), 1u);    // the f32 input
  EXPECT_EQ(count_nodes(cnn, OpKind::DequantizePerTensor), 1u);  // the f32 output
  EXPECT_EQ(cnn.num_nodes(), 8u);
}

TEST(Lowering, DynamicLinearEqualsTheScalarReference) {
  const Graph qdq = quantkit::testing::dynamic_linear(4, 23, 7, false, true);
  LoweringStats stats;
  const Graph lowered = lower_to_fused_kernels(qdq, &stats);
  ASSERT_EQ(stats.dynamic_linear, 1u);
  const Tensor x = random_tensor({4, 23}, 3, -2.0f, 3.0f);
  // choose_qparams (the interpreter's op), then torchao's decomposed arithmetic.
  const Tensor& w = qdq.constants()[0]->data();
  const Tensor& bias = qdq.parameters()[0]->data();
  graph::GraphBuilder b;
  auto [sv, zv] = b.choose_qparams(b.input("x", DType::Float32, {4, 23}), -128, 127,
                                   1.1920928955078125e-07, DType::Int8);
  b.output(sv);
  b.output(zv);
  const auto qp = run_graph(std::move(b).build(), {x});
  const double xs = qp[0].data<double>()[0];
  const std::int64_t zp = qp[1].data<std::int64_t>()[0];
  Tensor expected = Tensor::empty({4, 7}, DType::Float32);
  for (std::int64_t i = 0; i < 4; ++i) {
    for (std::int64_t c = 0; c < 7; ++c) {
      std::int64_t acc = 0;
      for (std::int64_t j = 0; j < 23; ++j) {
        const double r = std::nearbyint(static_cast<double>(x.data<float>()[i * 23 + j]) / xs);
        const std::int64_t q =
            std::clamp<std::int64_t>(static_cast<std::int64_t>(r) + zp, -128, 127);
        acc += (q - zp) * w.data<std::int8_t>()[c * 23 + j];
      }
      const double s = xs * static_cast<double>(0.02f);
      acc += static_cast<std::int64_t>(std::trunc(static_cast<double>(bias.data<float>()[c]) / s));
      expected.data<float>()[i * 7 + c] = static_cast<float>(static_cast<double>(acc) * s);
    }
  }
  const Tensor got = run_graph(lowered, {x})[0];
  EXPECT_TRUE(identical(got, expected));
  // The Q/DQ form differs by the bias quantization (truncated to a multiple of
  // x_scale * w_scale) plus float rounding.
  const auto bias_step = static_cast<float>(xs * static_cast<double>(0.02f));
  EXPECT_TRUE(graph::testing::all_close(got, run_graph(qdq, {x})[0], bias_step, 1e-5f));
}

TEST(Lowering, PassthroughOfEveryInt8ValueIsExact) {
  // dequantize → flatten → quantize with equal qparams == flatten on the integers, for all
  // 256 values and scales with inexact reciprocals.
  for (double scale : {0.1, 1.0 / 3, 0.0073, 17.5, 1e-5}) {
    for (std::int64_t zp : {-128, 0, 13, 127}) {
      graph::GraphBuilder b;
      const QuantizeAttrs q{scale, zp, -128, 127, DType::Int8};
      b.output(b.quantize_per_tensor(
          b.flatten(b.dequantize_per_tensor(b.input("x", DType::Int8, {2, 128}), q), 0), q));
      const Graph qdq = std::move(b).build();
      LoweringStats stats;
      const Graph lowered = lower_to_fused_kernels(qdq, &stats);
      ASSERT_EQ(stats.passthrough, 1u);
      ASSERT_EQ(lowered.num_nodes(), 1u);
      const Tensor x = random_ints<std::int8_t>({2, 128}, 1, -128, 127);
      std::vector<std::int8_t> all(256);
      for (int i = 0; i < 256; ++i)
        all[static_cast<std::size_t>(i)] = static_cast<std::int8_t>(i - 128);
      const Tensor every = Tensor::from_vector(all, {2, 128});
      EXPECT_TRUE(identical(run_graph(lowered, {every})[0], run_graph(qdq, {every})[0]))
          << "scale " << scale << " zp " << zp;
    }
  }
}

TEST(Lowering, UnmatchedPatternsStayAndTheInputIsNotModified) {
  LayerSpec s;
  // The linear's float output is also a graph output: the quantize is not its only user.
  graph::GraphBuilder b;
  const QuantizeAttrs xq{0.05, 3, -128, 127, DType::Int8};
  Value* x = b.dequantize_per_tensor(b.input("x", DType::Int8, {2, 8}), xq);
  Value* y = b.linear(x, quantkit::testing::int8_weight(b, {4, 8}, false, 1));
  b.output(b.quantize_per_tensor(y, xq));
  b.output(y);
  // A float weight (not a dequantized int8 constant).
  Value* z = b.linear(x, b.parameter("wf", random_tensor({4, 8}, 2)));
  b.output(b.quantize_per_tensor(z, xq));
  // Max pool whose quantize has other qparams.
  Value* p = b.dequantize_per_tensor(b.input("p", DType::Int8, {1, 1, 4, 4}), xq);
  b.output(b.quantize_per_tensor(b.max_pool2d(p, graph::MaxPool2dOptions({2, 2})),
                                 {0.1, 3, -128, 127, DType::Int8}));
  const Graph qdq = std::move(b).build();
  const std::string before = graph::to_string(qdq);
  LoweringStats stats;
  const Graph lowered = lower_to_fused_kernels(qdq, &stats);
  EXPECT_EQ(graph::to_string(qdq), before);
  EXPECT_EQ(stats.linear + stats.conv2d + stats.add + stats.dynamic_linear + stats.passthrough, 0u);
  EXPECT_EQ(graph::to_string(lowered), before);
  (void)s;
}

TEST(Lowering, WeightOutsideItsQuantRangeIsNotLowered) {
  // torchao's reference clamps the weight to [quant_min, quant_max]; the fused op does not,
  // so a weight holding -128 under a -127..127 dequantize stays in Q/DQ form.
  graph::GraphBuilder b;
  const QuantizeAttrs xq{0.05, 3, -128, 127, DType::Int8};
  Value* x = b.dequantize_per_tensor(b.input("x", DType::Int8, {1, 2}), xq);
  Value* w = b.dequantize_per_tensor(
      b.constant(Tensor::from_vector(std::vector<std::int8_t>{-128, 5}, {1, 2})),
      {0.02, 0, -127, 127, DType::Int8});
  b.output(b.quantize_per_tensor(b.linear(x, w), xq));
  LoweringStats stats;
  const Graph lowered = lower_to_fused_kernels(std::move(b).build(), &stats);
  EXPECT_EQ(stats.linear, 0u);
  EXPECT_EQ(count_nodes(lowered, OpKind::Linear), 1u);
}

}  // namespace
}  // namespace quantkit::pt2e

namespace quantkit::pt2e {
namespace {

// ONNX Runtime's quantizer writes a conv's bias as int32 behind a DequantizeLinear with
// scale x_scale · w_scale[c] and zero point 0: the lowering takes those int32 values as the
// fused op's bias (the same integers the float bias rounds to), and refuses a scale that is
// not x_scale · w_scale.
Graph conv_with_int32_bias(const std::vector<std::int32_t>& bias, double scale_factor) {
  graph::GraphBuilder b;
  const LayerSpec s;
  const QuantizeAttrs xq = quantkit::testing::act(s.dtype, s.x_scale, s.x_zero_point);
  Value* x = b.dequantize_per_tensor(b.input("x", s.dtype, {1, 3, 6, 6}), xq);
  Value* w = quantkit::testing::int8_weight(b, {4, 3, 3, 3}, true, 1);
  std::vector<float> scales;
  for (int c = 0; c < 4; ++c) {
    const float ws = 0.01f + 0.003f * static_cast<float>(c);
    scales.push_back(static_cast<float>(s.x_scale * static_cast<double>(ws) * scale_factor));
  }
  Value* bq = b.constant(Tensor::from_vector(bias), "bias_i32");
  Value* bs = b.constant(Tensor::from_vector(scales), "bias_scales");
  Value* bz = b.constant(Tensor::from_vector(std::vector<std::int64_t>(4, 0)), "bias_zp");
  Value* bias_f = b.dequantize_per_channel(bq, bs, bz, 0, -2147483648LL, 2147483647LL, DType::Int32);
  Value* y = b.conv2d(x, w, bias_f, graph::Conv2dOptions({1, 1}, {1, 1}));
  b.output(b.quantize_per_tensor(y, quantkit::testing::act(s.dtype, s.out_scale, s.out_zero_point)));
  return std::move(b).build();
}

TEST(Lowering, Int32BiasBehindADequantizeIsTheFusedOpsBias) {
  const std::vector<std::int32_t> bias{120, -3000, 0, 77777};
  const Graph qdq = conv_with_int32_bias(bias, 1.0);
  LoweringStats stats;
  const Graph lowered = lower_to_fused_kernels(qdq, &stats);
  ASSERT_EQ(stats.conv2d, 1u);
  ASSERT_EQ(lowered.num_nodes(), 1u);
  const graph::Node* fused = lowered.nodes()[0];
  const Tensor& got = fused->input(2)->data();
  EXPECT_EQ(std::vector<std::int32_t>(got.data<std::int32_t>(), got.data<std::int32_t>() + 4), bias);
  const Tensor x = random_act(DType::Int8, {1, 3, 6, 6}, 4);
  // Within one step of the Q/DQ graph (its float bias is bias_i32 · x_scale · w_scale).
  const Tensor a = run_graph(lowered, {x})[0], e = run_graph(qdq, {x})[0];
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    ASSERT_LE(std::abs(a.data<std::int8_t>()[i] - e.data<std::int8_t>()[i]), 1) << i;
  }
  // A bias scale that is not x_scale · w_scale is not an int32 bias of this op: left alone.
  LoweringStats other;
  lower_to_fused_kernels(conv_with_int32_bias(bias, 1.5), &other);
  EXPECT_EQ(other.conv2d, 0u);
}

// A Gemm whose C comes through a DequantizeLinear imports as linear(x, W) followed by an add
// of the dequantized int32 bias: the add is the fused linear's bias, on either side.
TEST(Lowering, Int32BiasAddedAfterALinearIsTheFusedOpsBias) {
  for (bool bias_first : {false, true}) {
    graph::GraphBuilder b;
    const LayerSpec s;
    const QuantizeAttrs xq = quantkit::testing::act(s.dtype, s.x_scale, s.x_zero_point);
    Value* x = b.dequantize_per_tensor(b.input("x", s.dtype, {2, 5}), xq);
    Value* w = quantkit::testing::int8_weight(b, {3, 5}, false, 1);
    const std::vector<std::int32_t> bias{-40, 9, 1234};
    Value* bias_f = b.dequantize_per_tensor(
        b.constant(Tensor::from_vector(bias), "bias_i32"),
        {static_cast<double>(static_cast<float>(s.x_scale * static_cast<double>(0.02f))), 0,
         -2147483648LL, 2147483647LL, DType::Int32});
    Value* y = b.linear(x, w);
    y = bias_first ? b.add(bias_f, y) : b.add(y, bias_f);
    b.output(b.quantize_per_tensor(y, quantkit::testing::act(s.dtype, s.out_scale, s.out_zero_point)));
    const Graph qdq = std::move(b).build();
    LoweringStats stats;
    const Graph lowered = lower_to_fused_kernels(qdq, &stats);
    ASSERT_EQ(stats.linear, 1u) << bias_first;
    ASSERT_EQ(lowered.num_nodes(), 1u) << bias_first;
    const Tensor& got = lowered.nodes()[0]->input(2)->data();
    EXPECT_EQ(std::vector<std::int32_t>(got.data<std::int32_t>(), got.data<std::int32_t>() + 3),
              bias);
    const Tensor xs = random_act(DType::Int8, {2, 5}, 4);
    const Tensor a = run_graph(lowered, {xs})[0], e = run_graph(qdq, {xs})[0];
    for (std::int64_t i = 0; i < a.numel(); ++i) {
      ASSERT_LE(std::abs(a.data<std::int8_t>()[i] - e.data<std::int8_t>()[i]), 1) << i;
    }
  }
}

}  // namespace
}  // namespace quantkit::pt2e
