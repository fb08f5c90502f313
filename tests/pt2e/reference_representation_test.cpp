// to_reference_representation on hand-built Q/DQ graphs, one pattern at a time:
// the nodes the rewrite produces, its exact integer outputs against a scalar
// transcription of the arithmetic in reference_representation.h, closeness to
// the Q/DQ graph it replaces, patterns that must not match, and the pass's
// contract (input untouched, output verifies).
#include "quantkit/pt2e/reference_representation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <vector>

#include "graph/graph_test_util.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/graph/printer.h"
#include "quantkit/graph/verifier.h"
#include "quantkit/quant/choose_qparams.h"

namespace quantkit::pt2e {
namespace {

using graph::count_nodes;
using graph::Graph;
using graph::GraphBuilder;
using graph::OpKind;
using graph::QuantizeAttrs;
using graph::Value;
using graph::testing::identical;
using graph::testing::random_ints;
using graph::testing::random_tensor;

// ---- scalar transcription of the header's arithmetic ----

std::int32_t trunc32(double v) {
  if (std::isnan(v)) return 0;
  if (v >= 2147483647.0) return std::numeric_limits<std::int32_t>::max();
  if (v <= -2147483648.0) return std::numeric_limits<std::int32_t>::min();
  return static_cast<std::int32_t>(v);
}

std::int32_t wrap32(std::int64_t v) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(static_cast<std::uint64_t>(v)));
}

std::int64_t clamp64(std::int64_t v, std::int64_t lo, std::int64_t hi) {
  return std::min(std::max(v, lo), hi);
}

std::int8_t requant(std::int32_t acc, double m, std::int64_t zp, std::int64_t lo, std::int64_t hi) {
  const std::int32_t shifted = wrap32(std::int64_t{trunc32(static_cast<double>(acc) * m)} + zp);
  return static_cast<std::int8_t>(clamp64(shifted, lo, hi));
}

// Static linear: x [rows, in] int8, w [out, in] int8 with per-channel (or one)
// qparams.
std::vector<std::int8_t> reference_linear(const Tensor& x, const QuantizeAttrs& xq, const Tensor& w,
                                          const std::vector<double>& w_scales,
                                          const std::vector<std::int64_t>& w_zps,
                                          std::int64_t w_qmin, std::int64_t w_qmax,
                                          const Tensor* bias, const QuantizeAttrs& out) {
  const std::int64_t in = w.shape()[1], n_out = w.shape()[0];
  const std::int64_t rows = x.numel() / in;
  const auto* px = x.data<std::int8_t>();
  const auto* pw = w.data<std::int8_t>();
  std::vector<std::int8_t> y;
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < n_out; ++c) {
      const std::size_t k = w_scales.size() == 1 ? 0 : static_cast<std::size_t>(c);
      std::int64_t acc = 0;
      for (std::int64_t i = 0; i < in; ++i) {
        const std::int64_t xv = clamp64(px[r * in + i], xq.quant_min, xq.quant_max) - xq.zero_point;
        const std::int64_t wv = clamp64(pw[c * in + i], w_qmin, w_qmax) - w_zps[k];
        acc += xv * wv;
      }
      const double combined = xq.scale * w_scales[k];
      std::int32_t acc32 = wrap32(acc);
      if (bias != nullptr) {
        const float q = bias->data<float>()[c] / static_cast<float>(combined);
        acc32 = wrap32(std::int64_t{acc32} + trunc32(q));
      }
      y.push_back(
          requant(acc32, combined / out.scale, out.zero_point, out.quant_min, out.quant_max));
    }
  }
  return y;
}

std::vector<std::int8_t> int8s(const Tensor& t) { return t.to_vector<std::int8_t>(); }

// |a - b| in quantization steps of two int8 tensors.
int max_step_difference(const Tensor& a, const Tensor& b) {
  int worst = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    worst =
        std::max(worst, std::abs(int{a.data<std::int8_t>()[i]} - int{b.data<std::int8_t>()[i]}));
  }
  return worst;
}

float max_abs_difference(const Tensor& a, const Tensor& b) {
  float worst = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    worst = std::max(worst, std::fabs(a.data<float>()[i] - b.data<float>()[i]));
  }
  return worst;
}

// Every node of the rewritten graph is one of `allowed`.
::testing::AssertionResult only_ops(const Graph& g, std::initializer_list<OpKind> allowed) {
  for (const graph::Node* n : g.nodes()) {
    if (std::find(allowed.begin(), allowed.end(), n->op()) == allowed.end()) {
      return ::testing::AssertionFailure() << "unexpected node " << graph::to_string(*n);
    }
  }
  return ::testing::AssertionSuccess();
}

// Rewrites, checks the result verifies and that `qdq` is unchanged.
Graph rewrite(const Graph& qdq) {
  const std::string before = graph::to_string(qdq);
  Graph ref = to_reference_representation(qdq);
  EXPECT_EQ(graph::to_string(qdq), before) << "the input graph was modified";
  EXPECT_NO_THROW(graph::verify(ref));
  return ref;
}

// ---- static linear ----

struct LinearCase {
  QuantizeAttrs x{0.02, 3, -128, 127, DType::Int8};
  QuantizeAttrs out{0.05, -4, -128, 127, DType::Int8};
  std::int64_t w_qmin = -127, w_qmax = 127;
};

Graph static_linear_graph(const LinearCase& lc, const Tensor& w, const Tensor* bias,
                          const std::vector<double>& w_scales,
                          const std::vector<std::int64_t>& w_zps, Shape x_shape) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Int8, std::move(x_shape));
  Value* wq = b.constant(w, "w_i8");
  Value* wdq = nullptr;
  if (w_scales.size() == 1) {
    wdq = b.dequantize_per_tensor(wq, {w_scales[0], w_zps[0], lc.w_qmin, lc.w_qmax, DType::Int8});
  } else {
    Value* s = b.constant(Tensor::from_vector(std::vector<float>(w_scales.begin(), w_scales.end())),
                          "w_scales");
    Value* z = b.constant(Tensor::from_vector(w_zps), "w_zero_points");
    wdq = b.dequantize_per_channel(wq, s, z, 0, lc.w_qmin, lc.w_qmax, DType::Int8);
  }
  Value* bv = bias != nullptr ? b.parameter("linear.bias", *bias) : nullptr;
  Value* y = b.linear(b.dequantize_per_tensor(x, lc.x), wdq, bv);
  b.output(b.quantize_per_tensor(y, lc.out));
  return std::move(b).build();
}

TEST(ReferenceRepresentation, StaticLinearPerTensorNodesAndExactOutputs) {
  LinearCase lc;
  const Tensor w = random_ints<std::int8_t>({4, 6}, 1, -127, 127);
  const Tensor bias = random_tensor({4}, 2, -1.0f, 1.0f);
  const Graph qdq = static_linear_graph(lc, w, &bias, {0.011}, {0}, {3, 6});
  const Graph ref = rewrite(qdq);

  EXPECT_EQ(count_nodes(ref, OpKind::Linear), 0u);
  EXPECT_EQ(count_nodes(ref, OpKind::QuantizePerTensor), 0u);
  EXPECT_EQ(count_nodes(ref, OpKind::DequantizePerTensor), 0u);
  EXPECT_EQ(count_nodes(ref, OpKind::IntegerLinear), 1u);
  // x and w: clamp, cast, sub each; bias: div, cast; requantize: cast, mul,
  // cast, add, clamp, cast; plus integer_linear and the bias add.
  EXPECT_EQ(ref.num_nodes(), 16u);
  EXPECT_EQ(count_nodes(ref, OpKind::Clamp), 3u);
  EXPECT_EQ(count_nodes(ref, OpKind::Cast), 6u);
  EXPECT_EQ(count_out_dtype_mul(ref), 1u);
  EXPECT_TRUE(only_ops(ref, {OpKind::Clamp, OpKind::Cast, OpKind::Sub, OpKind::IntegerLinear,
                             OpKind::Div, OpKind::Add, OpKind::Mul}));

  // Inputs reaching the clamps: values outside [quant_min, quant_max] included.
  const Tensor x = random_ints<std::int8_t>({3, 6}, 3, -128, 127);
  const Tensor y = graph::run_graph(ref, {x})[0];
  EXPECT_EQ(int8s(y),
            reference_linear(x, lc.x, w, {0.011}, {0}, lc.w_qmin, lc.w_qmax, &bias, lc.out));
  // Q/DQ rounds where the reference truncates (and quantizes the bias): at most
  // 2 steps, PyTorch's test_representation criterion.
  EXPECT_LE(max_step_difference(y, graph::run_graph(qdq, {x})[0]), 2);
}

TEST(ReferenceRepresentation, StaticLinearPerChannelAndBatchedInput) {
  LinearCase lc;
  lc.x = {0.03, -7, -128, 127, DType::Int8};
  const Tensor w = random_ints<std::int8_t>({3, 5}, 4, -127, 127);
  const Tensor bias = random_tensor({3}, 5, -2.0f, 2.0f);
  const std::vector<double> scales{0.004, 0.02, 0.0123};
  const std::vector<std::int64_t> zps{0, 2, -3};
  const Graph qdq = static_linear_graph(lc, w, &bias, scales, zps, {2, 2, 5});
  const Graph ref = rewrite(qdq);
  EXPECT_EQ(count_nodes(ref, OpKind::DequantizePerChannel), 0u);
  EXPECT_EQ(count_nodes(ref, OpKind::IntegerLinear), 1u);
  EXPECT_EQ(ref.num_nodes(), 16u);

  // torch stores per-channel scales as float32: the reference reads the float32
  // values.
  std::vector<double> f32_scales;
  for (double s : scales) f32_scales.push_back(static_cast<float>(s));
  const Tensor x = random_ints<std::int8_t>({2, 2, 5}, 6, -128, 127);
  const Tensor y = graph::run_graph(ref, {x})[0];
  EXPECT_EQ(y.shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(int8s(y),
            reference_linear(x, lc.x, w, f32_scales, zps, lc.w_qmin, lc.w_qmax, &bias, lc.out));
  EXPECT_LE(max_step_difference(y, graph::run_graph(qdq, {x})[0]), 2);
}

TEST(ReferenceRepresentation, StaticLinearWithoutBias) {
  LinearCase lc;
  const Tensor w = random_ints<std::int8_t>({2, 4}, 7, -127, 127);
  const Graph ref = rewrite(static_linear_graph(lc, w, nullptr, {0.02}, {0}, {3, 4}));
  EXPECT_EQ(count_nodes(ref, OpKind::Div), 0u);
  EXPECT_EQ(ref.num_nodes(), 13u);
  const Tensor x = random_ints<std::int8_t>({3, 4}, 8, -128, 127);
  EXPECT_EQ(int8s(graph::run_graph(ref, {x})[0]),
            reference_linear(x, lc.x, w, {0.02}, {0}, lc.w_qmin, lc.w_qmax, nullptr, lc.out));
}

TEST(ReferenceRepresentation, RequantizeMultipliesInFloat64) {
  // s_x = 1, s_w = 0.7, s_out = 0.1: m = 1 * 0.7 / 0.1 = 6.999999999999999 in
  // float64, so acc = 1 requantizes to trunc(6.99…) = 6; a float32 multiplier
  // (f32(m) = 7) would give 7.
  LinearCase lc;
  lc.x = {1.0, 0, -128, 127, DType::Int8};
  lc.out = {0.1, 0, -128, 127, DType::Int8};
  ASSERT_EQ(1.0 * 0.7 / 0.1, 6.999999999999999);
  ASSERT_EQ(static_cast<float>(1.0 * 0.7 / 0.1), 7.0f);
  const Tensor one = Tensor::from_vector(std::vector<std::int8_t>{1}, Shape{1, 1});
  const Graph ref = rewrite(static_linear_graph(lc, one, nullptr, {0.7}, {0}, {1, 1}));
  EXPECT_EQ(int8s(graph::run_graph(ref, {one})[0]), (std::vector<std::int8_t>{6}));
}

// ---- conv2d ----

TEST(ReferenceRepresentation, Conv2dWithPaddingStrideAndPerChannelWeights) {
  const QuantizeAttrs xq{0.05, 10, -128, 127, DType::Int8};
  const QuantizeAttrs out{0.08, -3, -128, 127, DType::Int8};
  const Tensor w = random_ints<std::int8_t>({4, 2, 3, 3}, 9, -127, 127);
  const Tensor bias = random_tensor({4}, 10, -1.0f, 1.0f);
  const std::vector<float> scales{0.003f, 0.005f, 0.002f, 0.004f};
  const graph::Conv2dOptions options({2, 1}, {1, 1});
  for (bool per_channel : {false, true}) {
    GraphBuilder b;
    Value* x = b.input("x", DType::Int8, {1, 2, 5, 4});
    Value* wq = b.constant(w, "w_i8");
    Value* wdq = per_channel
                     ? b.dequantize_per_channel(
                           wq, b.constant(Tensor::from_vector(scales), "scales"),
                           b.constant(Tensor::from_vector(std::vector<std::int64_t>(4, 0)), "zps"),
                           0, -127, 127, DType::Int8)
                     : b.dequantize_per_tensor(wq, {scales[0], 0, -127, 127, DType::Int8});
    Value* y =
        b.conv2d(b.dequantize_per_tensor(x, xq), wdq, b.parameter("conv.bias", bias), options);
    b.output(b.quantize_per_tensor(y, out));
    const Graph qdq = std::move(b).build();
    const Graph ref = rewrite(qdq);
    EXPECT_EQ(count_nodes(ref, OpKind::Conv2d), 0u);
    EXPECT_EQ(count_nodes(ref, OpKind::IntegerConv2d), 1u);
    EXPECT_EQ(count_nodes(ref, OpKind::Reshape),
              1u);  // bias_i32.unsqueeze(-1).unsqueeze(-1)
    EXPECT_EQ(ref.num_nodes(), 17u);

    const Tensor xv = random_ints<std::int8_t>({1, 2, 5, 4}, 11, -128, 127);
    const Tensor yv = graph::run_graph(ref, {xv})[0];
    ASSERT_EQ(yv.shape(), (Shape{1, 4, 3, 4}));
    // Direct convolution over (x - zp) with zero padding.
    const auto* px = xv.data<std::int8_t>();
    const auto* pw = w.data<std::int8_t>();
    for (std::int64_t o = 0; o < 4; ++o) {
      const double ws = per_channel ? double{scales[o]} : double{scales[0]};
      const double combined = xq.scale * ws;
      for (std::int64_t oh = 0; oh < 3; ++oh) {
        for (std::int64_t ow = 0; ow < 4; ++ow) {
          std::int64_t acc = 0;
          for (std::int64_t c = 0; c < 2; ++c) {
            for (std::int64_t kh = 0; kh < 3; ++kh) {
              for (std::int64_t kw = 0; kw < 3; ++kw) {
                const std::int64_t ih = oh * 2 - 1 + kh, iw = ow - 1 + kw;
                if (ih < 0 || ih >= 5 || iw < 0 || iw >= 4) continue;
                acc += (px[(c * 5 + ih) * 4 + iw] - xq.zero_point) *
                       pw[((o * 2 + c) * 3 + kh) * 3 + kw];
              }
            }
          }
          const std::int32_t b32 = trunc32(bias.data<float>()[o] / static_cast<float>(combined));
          const std::int32_t total = wrap32(acc + b32);
          EXPECT_EQ(yv.data<std::int8_t>()[(o * 3 + oh) * 4 + ow],
                    requant(total, combined / out.scale, out.zero_point, -128, 127))
              << "per_channel=" << per_channel << " o=" << o << " oh=" << oh << " ow=" << ow;
        }
      }
    }
    EXPECT_LE(max_step_difference(yv, graph::run_graph(qdq, {xv})[0]), 2);
  }
}

// ---- dynamic linear ----

TEST(ReferenceRepresentation, DynamicLinearExactOutputs) {
  const Tensor w = random_ints<std::int8_t>({3, 5}, 12, -127, 127);
  const Tensor bias = random_tensor({3}, 13, -1.0f, 1.0f);
  // Linear(5, 5)-like weight scales, as in the seed test; float32 like torch's observers.
  const std::vector<float> w_scales{0.0035f, 0.002f, 0.0041f};
  const double eps = std::numeric_limits<float>::epsilon();
  for (bool per_channel : {false, true}) {
    SCOPED_TRACE(per_channel ? "per channel" : "per tensor");
    GraphBuilder b;
    Value* x = b.input("x", DType::Float32, {2, 5});
    auto [s, zp] = b.choose_qparams(x, -128, 127, eps, DType::Int8);
    Value* xdq = b.dequantize_per_tensor(b.quantize_per_tensor(x, s, zp, -128, 127, DType::Int8), s,
                                         zp, -128, 127, DType::Int8);
    Value* wq = b.constant(w, "w_i8");
    Value* wdq = per_channel
                     ? b.dequantize_per_channel(
                           wq, b.constant(Tensor::from_vector(w_scales), "scales"),
                           b.constant(Tensor::from_vector(std::vector<std::int64_t>(3, 0)), "zps"),
                           0, -127, 127, DType::Int8)
                     : b.dequantize_per_tensor(wq, {w_scales[0], 0, -127, 127, DType::Int8});
    b.output(b.linear(xdq, wdq, b.parameter("linear.bias", bias)));
    const Graph qdq = std::move(b).build();
    const Graph ref = rewrite(qdq);
    EXPECT_EQ(count_nodes(ref, OpKind::Linear), 0u);
    EXPECT_EQ(count_nodes(ref, OpKind::IntegerLinear), 1u);
    EXPECT_EQ(count_nodes(ref, OpKind::ChooseQParams), 1u);
    EXPECT_EQ(count_nodes(ref, OpKind::QuantizePerTensor), 0u);
    EXPECT_EQ(count_nodes(ref, OpKind::DequantizePerTensor), 0u);
    EXPECT_EQ(count_nodes(ref, OpKind::DequantizePerChannel), 0u);
    EXPECT_EQ(ref.outputs()[0]->dtype(), DType::Float32);

    const Tensor xv = random_tensor({2, 5}, 14, -2.0f, 2.0f);
    const Tensor y = graph::run_graph(ref, {xv})[0];
    // choose_qparams as the graph op computes it (min/max, then the observer formula).
    const auto px = xv.span<float>();
    const float lo = *std::min_element(px.begin(), px.end());
    const float hi = *std::max_element(px.begin(), px.end());
    const QParams qp = calculate_qparams(
        std::span<const float>(&lo, 1), std::span<const float>(&hi, 1), QScheme::PerTensorAffine,
        QuantRange::of(DType::Int8, -128, 127), static_cast<float>(eps));
    const double xs = qp.scale[0];
    const std::int64_t xz = qp.zero_point[0];
    for (std::int64_t r = 0; r < 2; ++r) {
      for (std::int64_t c = 0; c < 3; ++c) {
        const double sw = xs * double{w_scales[per_channel ? c : 0]};
        std::int64_t acc = 0;
        for (std::int64_t i = 0; i < 5; ++i) {
          const std::int64_t q = clamp64(
              std::int64_t{trunc32(std::nearbyint(double{px[r * 5 + i]} / xs))} + xz, -128, 127);
          acc += (q - xz) * w.data<std::int8_t>()[c * 5 + i];
        }
        const std::int32_t total =
            wrap32(std::int64_t{wrap32(acc)} + trunc32(double{bias.data<float>()[c]} / sw));
        EXPECT_EQ(y.data<float>()[r * 3 + c], static_cast<float>(static_cast<double>(total) * sw))
            << r << "," << c;
      }
    }
    // PyTorch's criterion for dynamic linear (the bias truncation alone may cost one
    // x_scale * w_scale, here below 7e-5).
    EXPECT_LE(max_abs_difference(y, graph::run_graph(qdq, {xv})[0]), 1e-4f);
  }
}

// ---- add / add_relu / max_pool2d ----

Graph add_graph(const QuantizeAttrs& a, const QuantizeAttrs& bq, const QuantizeAttrs& out,
                bool relu, Shape shape) {
  GraphBuilder b;
  Value* x = b.input("a", DType::Int8, shape);
  Value* y = b.input("b", DType::Int8, shape);
  Value* sum = b.add(b.dequantize_per_tensor(x, a), b.dequantize_per_tensor(y, bq));
  if (relu) sum = b.relu(sum);
  b.output(b.quantize_per_tensor(sum, out));
  return std::move(b).build();
}

TEST(ReferenceRepresentation, AddReluTruncatesAndAddRounds) {
  const QuantizeAttrs a{0.03, 5, -128, 127, DType::Int8};
  const QuantizeAttrs bq{0.021, -9, -128, 127, DType::Int8};
  const QuantizeAttrs out{0.04, -20, -128, 127, DType::Int8};
  const Tensor xa = random_ints<std::int8_t>({2, 3, 4}, 15, -128, 127);
  const Tensor xb = random_ints<std::int8_t>({2, 3, 4}, 16, -128, 127);
  for (bool relu : {true, false}) {
    const Graph qdq = add_graph(a, bq, out, relu, {2, 3, 4});
    const Graph ref = rewrite(qdq);
    EXPECT_EQ(count_nodes(ref, OpKind::Relu), 0u);
    EXPECT_EQ(count_nodes(ref, OpKind::DequantizePerTensor), 0u);
    // PyTorch's test_add_relu: out_dtype occurs twice; the plain add uses
    // torch.round.
    EXPECT_EQ(count_out_dtype_mul(ref), relu ? 2u : 0u);
    EXPECT_EQ(count_nodes(ref, OpKind::Round), relu ? 0u : 2u);
    const Tensor y = graph::run_graph(ref, {xa, xb})[0];
    for (std::int64_t i = 0; i < y.numel(); ++i) {
      auto rescale = [&](std::int8_t q, const QuantizeAttrs& p) {
        const double v = static_cast<double>(q - p.zero_point) * (p.scale / out.scale);
        return trunc32(relu ? v : std::nearbyint(v));
      };
      const std::int32_t sum = wrap32(std::int64_t{rescale(xa.data<std::int8_t>()[i], a)} +
                                      rescale(xb.data<std::int8_t>()[i], bq) + out.zero_point);
      EXPECT_EQ(y.data<std::int8_t>()[i], clamp64(sum, relu ? out.zero_point : -128, 127))
          << "relu=" << relu << " i=" << i;
    }
    EXPECT_LE(max_step_difference(y, graph::run_graph(qdq, {xa, xb})[0]), 2);
  }
}

TEST(ReferenceRepresentation, MaxPool2dPoolsIntegers) {
  const QuantizeAttrs xq{0.05, -2, -128, 127, DType::Int8};
  const QuantizeAttrs out{0.1, 4, -128, 127, DType::Int8};
  GraphBuilder b;
  Value* x = b.input("x", DType::Int8, {1, 2, 4, 4});
  Value* p = b.max_pool2d(b.dequantize_per_tensor(x, xq), graph::MaxPool2dOptions({2, 2}));
  b.output(b.quantize_per_tensor(p, out));
  const Graph qdq = std::move(b).build();
  const Graph ref = rewrite(qdq);
  EXPECT_EQ(count_nodes(ref, OpKind::MaxPool2d), 1u);
  EXPECT_EQ(count_nodes(ref, OpKind::DequantizePerTensor), 0u);
  EXPECT_EQ(ref.num_nodes(), 9u);
  const Tensor xv = random_ints<std::int8_t>({1, 2, 4, 4}, 17, -128, 127);
  const Tensor y = graph::run_graph(ref, {xv})[0];
  ASSERT_EQ(y.shape(), (Shape{1, 2, 2, 2}));
  const auto* px = xv.data<std::int8_t>();
  for (std::int64_t c = 0; c < 2; ++c) {
    for (std::int64_t oh = 0; oh < 2; ++oh) {
      for (std::int64_t ow = 0; ow < 2; ++ow) {
        std::int64_t m = std::numeric_limits<std::int64_t>::min();
        for (std::int64_t i = 0; i < 2; ++i) {
          for (std::int64_t j = 0; j < 2; ++j) {
            m = std::max<std::int64_t>(m,
                                       px[(c * 4 + oh * 2 + i) * 4 + ow * 2 + j] - xq.zero_point);
          }
        }
        const double v =
            std::clamp(static_cast<double>(m) * (xq.scale / out.scale) + 4.0, -128.0, 127.0);
        EXPECT_EQ(y.data<std::int8_t>()[(c * 2 + oh) * 2 + ow], static_cast<std::int8_t>(v));
      }
    }
  }
  EXPECT_LE(max_step_difference(y, graph::run_graph(qdq, {xv})[0]), 2);
}

// ---- quantize / dequantize ----

TEST(ReferenceRepresentation, QuantizeDequantizePerTensor) {
  const QuantizeAttrs qa{0.037, 6, -100, 120, DType::Int8};
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {3, 7});
  Value* q = b.quantize_per_tensor(x, qa);
  b.output(q);
  b.output(b.dequantize_per_tensor(q, qa));
  const Graph qdq = std::move(b).build();
  const Graph ref = rewrite(qdq);
  EXPECT_EQ(count_nodes(ref, OpKind::QuantizePerTensor), 0u);
  EXPECT_EQ(count_nodes(ref, OpKind::DequantizePerTensor), 0u);
  EXPECT_EQ(ref.num_nodes(), 6u + 4u);
  const Tensor xv = random_tensor({3, 7}, 18, -6.0f, 6.0f);
  const auto outs = graph::run_graph(ref, {xv});
  for (std::int64_t i = 0; i < xv.numel(); ++i) {
    const float t = xv.data<float>()[i] / static_cast<float>(qa.scale);
    const auto expected = static_cast<std::int8_t>(
        clamp64(wrap32(std::int64_t{trunc32(std::nearbyint(t))} + qa.zero_point), -100, 120));
    ASSERT_EQ(outs[0].data<std::int8_t>()[i], expected) << i;
    EXPECT_EQ(outs[1].data<float>()[i], (static_cast<float>(expected) - 6.0f) * 0.037f) << i;
  }
  // Division vs the Q/DQ multiplication by 1/scale: at most one step apart.
  EXPECT_LE(max_step_difference(outs[0], graph::run_graph(qdq, {xv})[0]), 1);
}

TEST(ReferenceRepresentation, QuantizeDequantizePerChannelAnyAxis) {
  const std::vector<float> scales{0.02f, 0.05f, 0.011f};
  const std::vector<std::int64_t> zps{0, -4, 9};
  for (std::int64_t axis : {0, 1, 3, -1}) {
    Shape shape{2, 3, 2, 3};
    if (axis == 0) shape = {3, 2, 2, 2};
    GraphBuilder b;
    Value* x = b.input("x", DType::Float32, shape);
    Value* s = b.constant(Tensor::from_vector(scales), "scales");
    Value* z = b.constant(Tensor::from_vector(zps), "zps");
    Value* q = b.quantize_per_channel(x, s, z, axis, -128, 127, DType::Int8);
    b.output(q);
    b.output(b.dequantize_per_channel(q, s, z, axis, -128, 127, DType::Int8));
    const Graph qdq = std::move(b).build();
    const Graph ref = rewrite(qdq);
    EXPECT_EQ(count_nodes(ref, OpKind::QuantizePerChannel), 0u);
    EXPECT_EQ(count_nodes(ref, OpKind::DequantizePerChannel), 0u);

    const Tensor xv = random_tensor(shape, 19, -4.0f, 4.0f);
    const auto outs = graph::run_graph(ref, {xv});
    const std::size_t rank = shape.size();
    const std::size_t ax =
        static_cast<std::size_t>(axis < 0 ? axis + static_cast<std::int64_t>(rank) : axis);
    std::int64_t inner = 1;
    for (std::size_t d = ax + 1; d < rank; ++d) inner *= shape[d];
    for (std::int64_t i = 0; i < xv.numel(); ++i) {
      const std::size_t c = static_cast<std::size_t>((i / inner) % shape[ax]);
      const std::int64_t q =
          clamp64(std::int64_t{trunc32(std::nearbyint(xv.data<float>()[i] / scales[c]))} + zps[c],
                  -128, 127);
      ASSERT_EQ(outs[0].data<std::int8_t>()[i], q) << "axis " << axis << " i " << i;
      EXPECT_EQ(outs[1].data<float>()[i], static_cast<float>(q - zps[c]) * scales[c]);
    }
    EXPECT_LE(max_step_difference(outs[0], graph::run_graph(qdq, {xv})[0]), 1);
  }
}

// ---- what must not match ----

TEST(ReferenceRepresentation, SharedDequantizeBlocksTheLinearPattern) {
  // dequantize(x) feeds two linears: no fused match (a node inside a pattern
  // may not have outside users), so both linears stay float and only the Q/DQ
  // ops are spelled out.
  const QuantizeAttrs xq{0.02, 0, -128, 127, DType::Int8};
  const QuantizeAttrs wq{0.01, 0, -127, 127, DType::Int8};
  GraphBuilder b;
  Value* x = b.input("x", DType::Int8, {2, 3});
  Value* xdq = b.dequantize_per_tensor(x, xq);
  Value* w = b.constant(random_ints<std::int8_t>({2, 3}, 20, -127, 127), "w");
  b.output(b.quantize_per_tensor(b.linear(xdq, b.dequantize_per_tensor(w, wq)), xq));
  b.output(b.linear(xdq, b.dequantize_per_tensor(w, wq)));
  const Graph ref = rewrite(std::move(b).build());
  EXPECT_EQ(count_nodes(ref, OpKind::Linear), 2u);
  EXPECT_EQ(count_nodes(ref, OpKind::IntegerLinear), 0u);
  EXPECT_EQ(count_nodes(ref, OpKind::DequantizePerTensor), 0u);
  EXPECT_EQ(count_nodes(ref, OpKind::QuantizePerTensor), 0u);
}

TEST(ReferenceRepresentation, NonInt8AndTensorQParamsStayQDQ) {
  // torchao's patterns are int8-only: uint8 Q/DQ and an add over uint8 stay as
  // they are, as does a quantize with run-time qparams that no dynamic linear
  // consumes.
  const QuantizeAttrs u{0.02, 128, 0, 255, DType::UInt8};
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3});
  Value* dq = b.dequantize_per_tensor(b.quantize_per_tensor(x, u), u);
  Value* sum = b.add(dq, b.dequantize_per_tensor(b.quantize_per_tensor(x, u), u));
  b.output(b.quantize_per_tensor(sum, u));
  auto [s, zp] = b.choose_qparams(x, -128, 127, 1e-6, DType::Int8);
  b.output(b.quantize_per_tensor(x, s, zp, -128, 127, DType::Int8));
  const Graph qdq = std::move(b).build();
  const Graph ref = rewrite(qdq);
  EXPECT_EQ(graph::to_string(ref), graph::to_string(qdq));
}

TEST(ReferenceRepresentation, GraphWithoutQuantizationIsUnchanged) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3});
  b.output(b.relu(b.linear(x, b.parameter("w", random_tensor({4, 3}, 21)))));
  const Graph g = std::move(b).build();
  EXPECT_EQ(graph::to_string(rewrite(g)), graph::to_string(g));
}

TEST(ReferenceRepresentation, RejectsAGraphThatDoesNotVerify) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3});
  Value* r = b.relu(x);
  Value* r2 = b.relu(r);
  b.output(r2);
  Graph g = std::move(b).build();
  // Make the first relu read the second one's output: a cycle.
  g.nodes()[0]->set_input(0, r2);
  EXPECT_THROW(to_reference_representation(g), Error);
}

TEST(ReferenceRepresentation, NewNodesKeepThePatternsSource) {
  LinearCase lc;
  GraphBuilder b;
  Value* x = b.input("x", DType::Int8, {1, 2});
  b.set_source({"fc", "Linear"});
  Value* y =
      b.linear(b.dequantize_per_tensor(x, lc.x),
               b.dequantize_per_tensor(b.constant(random_ints<std::int8_t>({2, 2}, 22, -127, 127)),
                                       {0.01, 0, -127, 127, DType::Int8}));
  b.output(b.quantize_per_tensor(y, lc.out));
  const Graph ref = rewrite(std::move(b).build());
  for (const graph::Node* n : ref.nodes()) {
    EXPECT_EQ(n->source().module_path, "fc") << graph::to_string(*n);
  }
}

}  // namespace
}  // namespace quantkit::pt2e
