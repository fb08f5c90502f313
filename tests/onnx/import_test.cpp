// ONNX import: small models written with the ONNX protobuf API (checked against loops),
// torch.onnx.export models (tests/data/onnx, made by tools/onnx/make_test_models.py,
// checked against torch's outputs), and malformed / hostile files (Errors, never crashes).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "graph/graph_test_util.h"
#include "onnx/model_writer.h"
#include "quantkit/core/npy.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/graph/printer.h"
#include "quantkit/onnx/onnx_import.h"
#include "quantkit/pipeline/quantize_model.h"
#include "quantkit/pt2e/lowering.h"
#include "quantkit/runtime/runtime.h"
#include "pt2e/pt2e_test_util.h"

namespace {

using quantkit::DType;
using quantkit::Error;
using quantkit::Shape;
using quantkit::Tensor;
using quantkit::graph::count_nodes;
using quantkit::graph::Graph;
using quantkit::graph::OpKind;
using quantkit::graph::run_graph;
using quantkit::graph::testing::all_close;
using quantkit::graph::testing::random_tensor;
using ::testing::HasSubstr;
using quantkit::onnx::testing::ModelWriter;

using Ints = std::vector<std::int64_t>;

// Direct convolution with explicit (top, left, bottom, right) zero padding.
Tensor conv_loops(const Tensor& x, const Tensor& w, const Tensor* b, Ints stride, Ints pads,
                  Ints dil, std::int64_t groups) {
  const auto& xs = x.shape();
  const auto& ws = w.shape();
  const std::int64_t n = xs[0], c = xs[1], h = xs[2], wd = xs[3], o = ws[0], kh = ws[2],
                     kw = ws[3];
  const std::int64_t oh = (h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) / stride[0] + 1;
  const std::int64_t ow = (wd + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) / stride[1] + 1;
  Tensor y = Tensor::zeros({n, o, oh, ow}, DType::Float32);
  const std::int64_t cg = c / groups, og = o / groups;
  for (std::int64_t in = 0; in < n; ++in)
    for (std::int64_t oc = 0; oc < o; ++oc)
      for (std::int64_t i = 0; i < oh; ++i)
        for (std::int64_t j = 0; j < ow; ++j) {
          double acc = b ? b->data<float>()[oc] : 0.0;
          const std::int64_t g = oc / og;
          for (std::int64_t ic = 0; ic < cg; ++ic)
            for (std::int64_t r = 0; r < kh; ++r)
              for (std::int64_t s = 0; s < kw; ++s) {
                const std::int64_t yy = i * stride[0] - pads[0] + r * dil[0];
                const std::int64_t xx = j * stride[1] - pads[1] + s * dil[1];
                if (yy < 0 || yy >= h || xx < 0 || xx >= wd) continue;
                acc += double(x.data<float>()[((in * c + g * cg + ic) * h + yy) * wd + xx]) *
                       w.data<float>()[((oc * cg + ic) * kh + r) * kw + s];
              }
          y.data<float>()[((in * o + oc) * oh + i) * ow + j] = static_cast<float>(acc);
        }
  return y;
}

TEST(OnnxImportConv, GroupsDilationsAndAsymmetricPads) {
  const Tensor x = random_tensor({2, 4, 7, 6}, 1);
  const Tensor w = random_tensor({6, 2, 3, 2}, 2);
  const Tensor b = random_tensor({6}, 3);
  ModelWriter m;
  m.input("x", x.shape());
  m.initializer("w", w);
  m.initializer("b", b);
  m.node("Conv", {"x", "w", "b"}, {"y"},
         {{"group", std::int64_t{2}}, {"dilations", Ints{2, 1}}, {"strides", Ints{1, 2}},
          {"pads", Ints{1, 0, 2, 1}}});
  m.output("y");
  const Graph g = m.import();
  EXPECT_EQ(count_nodes(g, OpKind::Pad2d), 1u);
  EXPECT_EQ(g.find_value("w")->kind(), quantkit::graph::ValueKind::Parameter);
  EXPECT_TRUE(all_close(run_graph(g, {x})[0],
                        conv_loops(x, w, &b, {1, 2}, {1, 0, 2, 1}, {2, 1}, 2), 1e-5f, 1e-5f));
}

TEST(OnnxImportConv, AutoPadSameUpperAndLower) {
  const Tensor x = random_tensor({1, 2, 6, 5}, 4);
  const Tensor w = random_tensor({3, 2, 4, 3}, 5);
  for (const std::string mode : {"SAME_UPPER", "SAME_LOWER"}) {
    ModelWriter m;
    m.input("x", x.shape());
    m.initializer("w", w);
    m.node("Conv", {"x", "w"}, {"y"}, {{"auto_pad", mode}, {"strides", Ints{2, 2}}});
    m.output("y");
    // out = ceil(in / stride) = 3 x 3; total pad (3 - 1) * 2 + 4 - 6 = 2 rows and
    // (3 - 1) * 2 + 3 - 5 = 2 cols: even totals split 1/1 in both modes.
    const Graph g = m.import();
    const Tensor y = run_graph(g, {x})[0];
    ASSERT_EQ(y.shape(), (Shape{1, 3, 3, 3})) << mode;
    EXPECT_TRUE(all_close(y, conv_loops(x, w, nullptr, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1)));
  }
  const Tensor x2 = random_tensor({1, 1, 5, 5}, 6);
  const Tensor w2 = random_tensor({1, 1, 2, 2}, 7);
  for (const std::string mode : {"SAME_UPPER", "SAME_LOWER"}) {
    ModelWriter m;
    m.input("x", x2.shape());
    m.initializer("w", w2);
    m.node("Conv", {"x", "w"}, {"y"}, {{"auto_pad", mode}});
    m.output("y");
    // Total pad 1 per dim: SAME_UPPER puts it at the end, SAME_LOWER at the beginning.
    const Ints pads = mode == "SAME_UPPER" ? Ints{0, 0, 1, 1} : Ints{1, 1, 0, 0};
    EXPECT_TRUE(all_close(run_graph(m.import(), {x2})[0],
                          conv_loops(x2, w2, nullptr, {1, 1}, pads, {1, 1}, 1)))
        << mode;
  }
}

Tensor matmul_loops(const Tensor& a, const Tensor& b, bool ta, bool tb, float alpha) {
  const std::int64_t m = ta ? a.shape()[1] : a.shape()[0];
  const std::int64_t k = ta ? a.shape()[0] : a.shape()[1];
  const std::int64_t n = tb ? b.shape()[0] : b.shape()[1];
  Tensor y = Tensor::empty({m, n}, DType::Float32);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (std::int64_t r = 0; r < k; ++r) {
        const float av = ta ? a.data<float>()[r * m + i] : a.data<float>()[i * k + r];
        const float bv = tb ? b.data<float>()[j * k + r] : b.data<float>()[r * n + j];
        acc += double(av) * bv;
      }
      y.data<float>()[i * n + j] = static_cast<float>(alpha * acc);
    }
  return y;
}

TEST(OnnxImportGemm, ConstantBBecomesLinearWithBias) {
  const Tensor a = random_tensor({3, 5}, 8), b = random_tensor({4, 5}, 9), c = random_tensor({4}, 10);
  ModelWriter m;
  m.input("a", a.shape());
  m.initializer("fc.weight", b);
  m.initializer("fc.bias", c);
  m.node("Gemm", {"a", "fc.weight", "fc.bias"}, {"y"}, {{"transB", std::int64_t{1}}});
  m.output("y");
  const Graph g = m.import();
  EXPECT_EQ(count_nodes(g, OpKind::Linear), 1u);
  EXPECT_EQ(g.num_nodes(), 1u);
  ASSERT_NE(g.find_value("fc.weight"), nullptr);  // the parameter keeps its name
  Tensor expected = matmul_loops(a, b, false, true, 1.0f);
  for (std::int64_t i = 0; i < 12; ++i) expected.data<float>()[i] += c.data<float>()[i % 4];
  EXPECT_TRUE(all_close(run_graph(g, {a})[0], expected));
}

TEST(OnnxImportGemm, AlphaBetaTransAAndRuntimeB) {
  const Tensor a = random_tensor({5, 3}, 11), b = random_tensor({5, 4}, 12),
               c = random_tensor({3, 4}, 13);
  ModelWriter m;
  m.input("a", a.shape());
  m.input("b", b.shape());
  m.initializer("c", c);
  m.node("Gemm", {"a", "b", "c"}, {"y"},
         {{"transA", std::int64_t{1}}, {"alpha", 0.5f}, {"beta", 2.0f}});
  m.output("y");
  const Graph g = m.import();
  // A run-time B stays linear's weight (transposed to [N, K]) so that QDQ models keep the
  // dequantize -> linear pattern the PT2E passes look for.
  EXPECT_EQ(count_nodes(g, OpKind::Linear), 1u) << quantkit::graph::to_string(g);
  Tensor expected = matmul_loops(a, b, true, false, 0.5f);
  for (std::int64_t i = 0; i < 12; ++i) expected.data<float>()[i] += 2.0f * c.data<float>()[i];
  EXPECT_TRUE(all_close(run_graph(g, {a, b})[0], expected));
}

// A computed [N] C (an int32 bias through DequantizeLinear, as ORT's quantizer and our
// exporter write it) is linear's bias too, so dequantize → linear(bias) → quantize stays one
// pattern for the lowering.
TEST(OnnxImportGemm, ComputedBiasIsLinearsBias) {
  const Tensor a = random_tensor({3, 5}, 14), b = random_tensor({4, 5}, 15);
  const Tensor c_i32 = Tensor::from_vector<std::int32_t>({7, -3, 0, 12});
  ModelWriter m;
  m.input("a", a.shape());
  m.initializer("fc.weight", b);
  m.initializer("bias_i32", c_i32);
  m.initializer("bias_scale", Tensor::scalar<float>(0.25f));
  m.initializer("bias_zp", Tensor::scalar<std::int32_t>(0));
  m.node("DequantizeLinear", {"bias_i32", "bias_scale", "bias_zp"}, {"bias"});
  m.node("Gemm", {"a", "fc.weight", "bias"}, {"y"}, {{"transB", std::int64_t{1}}});
  m.output("y");
  const Graph g = m.import();
  EXPECT_EQ(count_nodes(g, OpKind::Linear), 1u);
  EXPECT_EQ(count_nodes(g, OpKind::Add), 0u) << quantkit::graph::to_string(g);
  Tensor expected = matmul_loops(a, b, false, true, 1.0f);
  for (std::int64_t i = 0; i < 12; ++i) {
    expected.data<float>()[i] += 0.25f * static_cast<float>(c_i32.data<std::int32_t>()[i % 4]);
  }
  EXPECT_TRUE(all_close(run_graph(g, {a})[0], expected));
}

TEST(OnnxImportMatMul, ConstantTwoDimBIsALinearWithTransposedWeight) {
  const Tensor a = random_tensor({2, 3, 5}, 14), b = random_tensor({5, 4}, 15);
  ModelWriter m;
  m.input("a", a.shape());
  m.initializer("B", b);
  m.node("MatMul", {"a", "B"}, {"y"});
  m.output("y");
  const Graph g = m.import();
  EXPECT_EQ(count_nodes(g, OpKind::Linear), 1u);
  EXPECT_EQ(count_nodes(g, OpKind::Transpose), 0u);
  const Tensor y = run_graph(g, {a})[0];
  ASSERT_EQ(y.shape(), (Shape{2, 3, 4}));
  EXPECT_TRUE(all_close(y.reshape({6, 4}), matmul_loops(a.reshape({6, 5}), b, false, false, 1.0f)));
}

// One self-attention head as transformers export it: the four projections are MatMul with
// initializers (imported as linear), scores and context are MatMul of two activations, then
// Softmax. Every dynamic config quantizes exactly the four projections (x, read by three of
// them, is quantized once and its dequantize duplicated per user, as PyTorch shares the
// observer); the activation × activation matmuls and the softmax stay float; the lowered
// graph fuses all four.
TEST(OnnxImportMatMul, DynamicConfigsQuantizeConstantWeightMatMulsOnly) {
  ModelWriter m;
  m.input("x", {1, 8, 64});
  for (const char* w : {"Wq", "Wk", "Wv", "Wo"}) {
    m.initializer(w, random_tensor({64, 64}, static_cast<std::uint32_t>(w[1])));
  }
  m.node("MatMul", {"x", "Wq"}, {"q"});
  m.node("MatMul", {"x", "Wk"}, {"k"});
  m.node("MatMul", {"x", "Wv"}, {"v"});
  m.node("Transpose", {"k"}, {"kt"}, {{"perm", Ints{0, 2, 1}}});
  m.node("MatMul", {"q", "kt"}, {"scores"});
  m.node("Softmax", {"scores"}, {"p"}, {{"axis", std::int64_t{-1}}});
  m.node("MatMul", {"p", "v"}, {"context"});
  m.node("MatMul", {"context", "Wo"}, {"y"});
  m.output("y");
  const Graph fp32 = m.import();
  EXPECT_EQ(count_nodes(fp32, OpKind::Linear), 4u);
  EXPECT_EQ(count_nodes(fp32, OpKind::MatMul), 2u);
  const Tensor x = random_tensor({1, 8, 64}, 99);
  const Tensor want = run_graph(fp32, {x})[0];
  for (const char* config : {"int8-dynamic", "int8-dynamic-per-token", "8da4w"}) {
    SCOPED_TRACE(config);
    const Graph q = quantkit::pipeline::quantize_model(
        fp32, config, {}, quantkit::pipeline::QuantizeOptions{32}, nullptr);
    EXPECT_EQ(count_nodes(q, OpKind::ChooseQParams) + count_nodes(q, OpKind::ChooseQParamsPerToken),
              2u);
    EXPECT_EQ(count_nodes(q, OpKind::Linear), 4u);
    EXPECT_EQ(count_nodes(q, OpKind::MatMul), 2u);
    EXPECT_EQ(count_nodes(q, OpKind::Softmax), 1u);
    quantkit::pt2e::LoweringStats stats;
    const Graph lowered = quantkit::pt2e::lower_to_fused_kernels(q, &stats);
    EXPECT_EQ(stats.dynamic_linear + stats.dynamic_linear_per_token, 4u);
    const Tensor got = quantkit::runtime::Runtime(lowered).run(std::vector<Tensor>{x})[0];
    using quantkit::pt2e::testing::sqnr_db;
    // The fused graph computes the Q/DQ graph's values up to float rounding.
    EXPECT_GT(sqnr_db(run_graph(q, {x})[0], got), 60.0);
    // Against fp32: 4-bit weights in four layers, with random 64-wide attention scores that
    // the softmax sharpens, keep about 9 dB (8da4w); int8 weights more than 15.
    EXPECT_GT(sqnr_db(want, got), std::string(config) == "8da4w" ? 6.0 : 15.0);
  }
}

TEST(OnnxImportElementwise, ScalarConstantsAndBroadcasting) {
  const Tensor x = random_tensor({2, 3, 4}, 16), bias = random_tensor({3, 1}, 17);
  ModelWriter m;
  m.input("x", x.shape());
  m.initializer("two", Tensor::from_vector<float>({2.0f}));  // [1]: becomes a 0-d constant
  m.initializer("bias", bias);
  m.node("Mul", {"x", "two"}, {"t"});
  m.node("Sub", {"t", "bias"}, {"u"});
  m.node("Div", {"u", "two"}, {"y"});
  m.output("y");
  const Graph g = m.import();
  bool saw_scalar = false;
  for (const auto* c : g.constants()) saw_scalar |= c->shape().empty();
  EXPECT_TRUE(saw_scalar);
  Tensor expected = Tensor::empty(x.shape(), DType::Float32);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    expected.data<float>()[i] = (x.data<float>()[i] * 2.0f - bias.data<float>()[(i / 4) % 3]) / 2.0f;
  }
  EXPECT_TRUE(quantkit::graph::testing::identical(run_graph(g, {x})[0], expected));
}

TEST(OnnxImportActivations, ClipFormsAndActivations) {
  const Tensor x = random_tensor({2, 8}, 18, -4.0f, 4.0f);
  ModelWriter m(13);
  m.input("x", x.shape());
  m.initializer("lo", Tensor::scalar(0.0f));
  m.initializer("hi", Tensor::scalar(6.0f));
  m.node("Clip", {"x", "lo", "hi"}, {"relu6"});
  m.node("Clip", {"x", "", "hi"}, {"upper"});
  m.node("LeakyRelu", {"upper"}, {"leaky"}, {{"alpha", 0.25f}});
  m.node("HardSigmoid", {"relu6"}, {"hs"}, {{"alpha", 0.5f}});
  m.node("Add", {"leaky", "hs"}, {"y"});
  m.output("y");
  const Graph g = m.import();
  EXPECT_EQ(count_nodes(g, OpKind::Hardtanh), 1u);  // ReLU6
  EXPECT_EQ(count_nodes(g, OpKind::Clamp), 1u);
  Tensor expected = Tensor::empty(x.shape(), DType::Float32);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const float v = x.data<float>()[i];
    const float upper = std::min(v, 6.0f);
    const float leaky = upper > 0 ? upper : upper * 0.25f;
    const float r6 = std::clamp(v, 0.0f, 6.0f);
    expected.data<float>()[i] = leaky + std::clamp(0.5f * r6 + 0.5f, 0.0f, 1.0f);
  }
  EXPECT_TRUE(quantkit::graph::testing::identical(run_graph(g, {x})[0], expected));
}

// torch's exact GELU (x * 0.5 * (1 + erf(x / sqrt(2)))) and the LayerNorm decomposition's
// Pow(2) / Sqrt, with the exponent an int64 constant (ONNX's T1) converted to the base's dtype.
TEST(OnnxImportMath, GeluErfAndMixedDtypePow) {
  const Tensor x = random_tensor({2, 6}, 19, -3.0f, 3.0f);
  ModelWriter m(13);
  m.input("x", x.shape());
  m.initializer("sqrt2", Tensor::scalar(1.41421356f));
  m.initializer("one", Tensor::scalar(1.0f));
  m.initializer("half", Tensor::scalar(0.5f));
  m.initializer("two", Tensor::from_vector<std::int64_t>({2}));
  m.node("Div", {"x", "sqrt2"}, {"scaled"});
  m.node("Erf", {"scaled"}, {"erf"});
  m.node("Add", {"erf", "one"}, {"shifted"});
  m.node("Mul", {"x", "shifted"}, {"xs"});
  m.node("Mul", {"xs", "half"}, {"gelu"});
  m.node("Pow", {"gelu", "two"}, {"square"});
  m.node("Exp", {"square"}, {"e"});
  m.node("Neg", {"e"}, {"n"});
  m.node("Neg", {"n"}, {"p"});
  m.node("Sqrt", {"p"}, {"y"});
  m.output("y");
  const Graph g = m.import();
  EXPECT_EQ(count_nodes(g, OpKind::Erf), 1u);
  EXPECT_EQ(count_nodes(g, OpKind::Pow), 1u);
  Tensor expected = Tensor::empty(x.shape(), DType::Float32);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const double v = x.data<float>()[i];
    const double gelu = v * 0.5 * (1.0 + std::erf(v / std::sqrt(2.0)));
    expected.data<float>()[i] = static_cast<float>(std::sqrt(std::exp(gelu * gelu)));
  }
  EXPECT_TRUE(all_close(run_graph(g, {x})[0], expected, 1e-6f, 1e-5f));
}

// ReduceMean: axes as an attribute (opset 13) over a non-trailing set, as an input (18) with
// negative axes and keepdims 0, and noop_with_empty_axes.
TEST(OnnxImportReduceMean, AxesAttributeInputAndNoop) {
  const Tensor x = random_tensor({2, 3, 4}, 25);
  auto mean_of = [&](std::int64_t i, std::int64_t k) {  // over dim 1
    double sum = 0;
    for (std::int64_t j = 0; j < 3; ++j) sum += x.data<float>()[(i * 3 + j) * 4 + k];
    return static_cast<float>(sum / 3);
  };
  {
    ModelWriter m(13);
    m.input("x", x.shape());
    m.node("ReduceMean", {"x"}, {"y"}, {{"axes", Ints{1}}});
    m.output("y");
    const Graph g = m.import();
    EXPECT_EQ(count_nodes(g, OpKind::Mean), 1u);
    const Tensor y = run_graph(g, {x})[0];
    ASSERT_EQ(y.shape(), (Shape{2, 1, 4}));
    for (std::int64_t i = 0; i < 2; ++i)
      for (std::int64_t k = 0; k < 4; ++k) EXPECT_EQ(y.data<float>()[i * 4 + k], mean_of(i, k));
  }
  {
    ModelWriter m(18);
    m.input("x", x.shape());
    m.initializer("axes", Tensor::from_vector<std::int64_t>({-2}));
    m.node("ReduceMean", {"x", "axes"}, {"y"}, {{"keepdims", std::int64_t{0}}});
    m.node("ReduceMean", {"x"}, {"z"}, {{"noop_with_empty_axes", std::int64_t{1}}});
    m.output("y");
    m.output("z");
    const auto y = run_graph(m.import(), {x});
    ASSERT_EQ(y[0].shape(), (Shape{2, 4}));
    EXPECT_EQ(y[0].data<float>()[5], mean_of(1, 1));
    EXPECT_TRUE(quantkit::graph::testing::identical(y[1], x));
  }
}

// LayerNormalization with torch's form (Scale and B of the last dim) and with a Scale written
// [1, D] (it broadcasts in ONNX): one layer_norm node either way.
TEST(OnnxImportLayerNorm, OneNodeWithBroadcastScale) {
  const Tensor x = random_tensor({2, 3, 4}, 26, -2.0f, 2.0f);
  const Tensor scale = random_tensor({1, 4}, 27), bias = random_tensor({4}, 28);
  ModelWriter m(17);
  m.input("x", x.shape());
  m.initializer("scale", scale);
  m.initializer("bias", bias);
  m.node("LayerNormalization", {"x", "scale", "bias"}, {"y"}, {{"epsilon", 1e-3f}});
  m.output("y");
  const Graph g = m.import();
  EXPECT_EQ(count_nodes(g, OpKind::LayerNorm), 1u);
  // The [1, 4] scale (a parameter: initializers stay quantizable) reads through a reshape view.
  EXPECT_EQ(count_nodes(g, OpKind::Reshape), 1u);
  EXPECT_EQ(g.nodes().size(), 2u);
  Tensor expected = Tensor::empty(x.shape(), DType::Float32);
  for (std::int64_t r = 0; r < 6; ++r) {
    const float* xr = x.data<float>() + r * 4;
    double mean = 0, var = 0;
    for (int h = 0; h < 4; ++h) mean += xr[h] / 4.0;
    for (int h = 0; h < 4; ++h) var += (xr[h] - mean) * (xr[h] - mean) / 4.0;
    for (int h = 0; h < 4; ++h) {
      expected.data<float>()[r * 4 + h] = static_cast<float>(
          (xr[h] - mean) / std::sqrt(var + static_cast<double>(1e-3f)) * scale.data<float>()[h] +
          bias.data<float>()[h]);
    }
  }
  EXPECT_TRUE(all_close(run_graph(g, {x})[0], expected, 1e-5f, 1e-5f));
}

// torch.onnx.export before opset 17 writes LayerNorm as nine ops; they import as one
// layer_norm, unless an intermediate is used elsewhere (then the ops stay as they are).
void write_layer_norm_pattern(ModelWriter& m, bool extra_use) {
  m.input("x", {2, 3, 4});
  m.initializer("two", Tensor::scalar(2.0f));
  m.initializer("eps", Tensor::scalar(1e-5f));
  m.initializer("w", random_tensor({4}, 29));
  m.initializer("b", random_tensor({4}, 30));
  m.node("ReduceMean", {"x"}, {"mean"}, {{"axes", Ints{-1}}});
  m.node("Sub", {"x", "mean"}, {"d"});
  m.node("Pow", {"d", "two"}, {"sq"});
  m.node("ReduceMean", {"sq"}, {"var"}, {{"axes", Ints{-1}}});
  m.node("Add", {"var", "eps"}, {"ve"});
  m.node("Sqrt", {"ve"}, {"std"});
  m.node("Div", {"d", "std"}, {"n"});
  m.node("Mul", {"n", "w"}, {"nw"});
  m.node("Add", {"nw", "b"}, {"y"});
  m.output("y");
  if (extra_use) m.output("var");
}

TEST(OnnxImportLayerNorm, PreOpset17PatternFusesIntoOneNode) {
  const Tensor x = random_tensor({2, 3, 4}, 31, -3.0f, 3.0f);
  ModelWriter fused(13), kept(13);
  write_layer_norm_pattern(fused, false);
  write_layer_norm_pattern(kept, true);
  const Graph g = fused.import();
  EXPECT_EQ(count_nodes(g, OpKind::LayerNorm), 1u);
  EXPECT_EQ(g.nodes().size(), 1u);
  const Graph k = kept.import();
  EXPECT_EQ(count_nodes(k, OpKind::LayerNorm), 0u);
  EXPECT_EQ(count_nodes(k, OpKind::Mean), 2u);
  const Tensor y = run_graph(g, {x})[0];
  // The unfused ops compute ONNX's definition op by op (each tested on its own).
  EXPECT_TRUE(all_close(y, run_graph(k, {x})[0], 1e-6f, 1e-5f));
}

TEST(OnnxImportLayerNorm, RefusesOtherStashTypesAndBroadcasts) {
  for (int which = 0; which < 2; ++which) {
    ModelWriter m(17);
    m.input("x", {2, 4});
    m.initializer("scale", which == 0 ? random_tensor({4}, 1) : random_tensor({2, 1}, 1));
    std::vector<ModelWriter::Attr> attrs;
    if (which == 0) attrs.push_back({"stash_type", std::int64_t{0}});
    m.node("LayerNormalization", {"x", "scale"}, {"y"}, attrs, "my_ln");
    m.output("y");
    EXPECT_THROW(m.import(), Error) << which;
  }
}

// torch's shape arithmetic divides int64 sizes (chunk: (size + 2) / 3); it folds at import,
// truncating toward zero as ONNX Runtime does (-7 / 2 is -3, not numpy's floor -4).
TEST(OnnxImportElementwise, IntegerDivOfKnownSizesFoldsTruncating) {
  ModelWriter m(13);
  m.input("x", {3});
  m.initializer("n", Tensor::from_vector<std::int64_t>({-7, 7, 8}));
  m.initializer("d", Tensor::from_vector<std::int64_t>({2}));
  m.node("Div", {"n", "d"}, {"q"});
  m.node("Cast", {"q"}, {"qf"}, {{"to", std::int64_t{onnx::TensorProto::FLOAT}}});
  m.node("Add", {"x", "qf"}, {"y"});
  m.output("y");
  const Tensor y = run_graph(m.import(), {Tensor::from_vector<float>({0, 0, 0})})[0];
  EXPECT_TRUE(quantkit::graph::testing::identical(y, Tensor::from_vector<float>({-3, 3, 4})));
  ModelWriter zero(13);
  zero.input("x", {1});
  zero.initializer("n", Tensor::from_vector<std::int64_t>({1}));
  zero.initializer("d", Tensor::from_vector<std::int64_t>({0}));
  zero.node("Div", {"n", "d"}, {"q"});
  zero.node("Cast", {"q"}, {"qf"}, {{"to", std::int64_t{onnx::TensorProto::FLOAT}}});
  zero.node("Add", {"x", "qf"}, {"y"});
  zero.output("y");
  EXPECT_THROW(zero.import(), Error);
}

TEST(OnnxImportPooling, MaxPoolAsymmetricPadsAndAveragePool) {
  const Tensor x = random_tensor({1, 2, 5, 5}, 19);
  ModelWriter m;
  m.input("x", x.shape());
  m.node("MaxPool", {"x"}, {"mp"}, {{"kernel_shape", Ints{2, 2}}, {"pads", Ints{0, 0, 1, 1}}, {"strides", Ints{2, 2}}});
  m.node("AveragePool", {"x"}, {"ap"},
         {{"kernel_shape", Ints{3, 3}}, {"pads", Ints{1, 1, 1, 1}}, {"count_include_pad", std::int64_t{0}}});
  m.node("GlobalAveragePool", {"x"}, {"gap"});
  m.output("mp");
  m.output("ap");
  m.output("gap");
  const Graph g = m.import();
  const auto y = run_graph(g, {x});
  ASSERT_EQ(y[0].shape(), (Shape{1, 2, 3, 3}));
  auto at = [&](std::int64_t c, std::int64_t i, std::int64_t j) {
    return x.data<float>()[(c * 5 + i) * 5 + j];
  };
  for (std::int64_t c = 0; c < 2; ++c)
    for (std::int64_t i = 0; i < 3; ++i)
      for (std::int64_t j = 0; j < 3; ++j) {
        float best = -std::numeric_limits<float>::infinity();
        for (std::int64_t r = 0; r < 2; ++r)
          for (std::int64_t s = 0; s < 2; ++s)
            if (2 * i + r < 5 && 2 * j + s < 5) best = std::max(best, at(c, 2 * i + r, 2 * j + s));
        EXPECT_EQ(y[0].data<float>()[(c * 3 + i) * 3 + j], best);
      }
  ASSERT_EQ(y[1].shape(), (Shape{1, 2, 5, 5}));
  for (std::int64_t c = 0; c < 2; ++c)
    for (std::int64_t i = 0; i < 5; ++i)
      for (std::int64_t j = 0; j < 5; ++j) {
        double sum = 0;
        int count = 0;
        for (std::int64_t r = i - 1; r <= i + 1; ++r)
          for (std::int64_t s = j - 1; s <= j + 1; ++s)
            if (r >= 0 && r < 5 && s >= 0 && s < 5) {
              sum += at(c, r, s);
              ++count;
            }
        EXPECT_NEAR(y[1].data<float>()[(c * 5 + i) * 5 + j], sum / count, 1e-6);
      }
  ASSERT_EQ(y[2].shape(), (Shape{1, 2, 1, 1}));
}

TEST(OnnxImportShapes, TorchViewChainFoldsToOneReshape) {
  // x.view(x.size(0), -1) as torch.onnx.export writes it.
  const Tensor x = random_tensor({3, 2, 4}, 20);
  ModelWriter m(11);
  m.input("x", x.shape());
  m.node("Shape", {"x"}, {"shape"});
  m.node("Constant", {}, {"zero"}, {})->add_attribute();
  auto* c = m.proto().mutable_graph()->mutable_node(1);
  c->clear_attribute();
  auto* value = c->add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  ModelWriter::fill(value->mutable_t(), "", Tensor::scalar<std::int64_t>(0));
  m.node("Gather", {"shape", "zero"}, {"n"}, {{"axis", std::int64_t{0}}});
  m.node("Unsqueeze", {"n"}, {"n1"}, {{"axes", Ints{0}}});
  m.initializer("minus_one", Tensor::from_vector<std::int64_t>({-1}));
  m.node("Concat", {"n1", "minus_one"}, {"target"}, {{"axis", std::int64_t{0}}});
  m.node("Reshape", {"x", "target"}, {"flat"});
  m.node("Transpose", {"x"}, {"t"}, {{"perm", Ints{2, 0, 1}}});
  m.node("Reshape", {"t", "zero_copy"}, {"r"});
  m.initializer("zero_copy", Tensor::from_vector<std::int64_t>({0, -1}));
  m.output("flat");
  m.output("r");
  const Graph g = m.import();
  EXPECT_EQ(count_nodes(g, OpKind::Reshape), 2u);
  EXPECT_EQ(g.parameters().size(), 0u);  // shape-only initializers never become parameters
  const auto y = run_graph(g, {x});
  EXPECT_EQ(y[0].shape(), (Shape{3, 8}));
  EXPECT_EQ(y[0].to_vector<float>(), x.to_vector<float>());
  ASSERT_EQ(y[1].shape(), (Shape{4, 6}));
  for (std::int64_t k = 0; k < 4; ++k)
    for (std::int64_t i = 0; i < 3; ++i)
      for (std::int64_t j = 0; j < 2; ++j)
        EXPECT_EQ(y[1].data<float>()[k * 6 + i * 2 + j], x.data<float>()[(i * 2 + j) * 4 + k]);
}

TEST(OnnxImportSoftmax, OpsetElevenNormalizesTheFlattenedTail) {
  const Tensor x = random_tensor({2, 3, 4}, 21);
  ModelWriter m(11);
  m.input("x", x.shape());
  m.node("Softmax", {"x"}, {"y"}, {{"axis", std::int64_t{1}}});
  m.output("y");
  const Tensor y = run_graph(m.import(), {x})[0];
  for (std::int64_t n = 0; n < 2; ++n) {
    double total = 0;
    for (std::int64_t i = 0; i < 12; ++i) total += std::exp(double(x.data<float>()[n * 12 + i]));
    for (std::int64_t i = 0; i < 12; ++i) {
      EXPECT_NEAR(y.data<float>()[n * 12 + i], std::exp(double(x.data<float>()[n * 12 + i])) / total,
                  1e-6);
    }
  }
}

TEST(OnnxImportInputs, SymbolicDimsDefaultToOneOrComeFromOptions) {
  ModelWriter m;
  auto* in = m.proto().mutable_graph()->add_input();
  in->set_name("x");
  auto* t = in->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  t->mutable_shape()->add_dim()->set_dim_param("batch");
  t->mutable_shape()->add_dim()->set_dim_value(3);
  m.node("Relu", {"x"}, {"y"});
  m.output("y");
  EXPECT_EQ(m.import().inputs()[0]->shape(), (Shape{1, 3}));
  quantkit::onnx::ImportOptions options;
  options.input_shapes = {{"x", {5, 3}}};
  EXPECT_EQ(m.import(options).inputs()[0]->shape(), (Shape{5, 3}));
  options.input_shapes = {{"nope", {5, 3}}};
  EXPECT_THROW(m.import(options), Error);
}

// ---- dynamic dims ----

// An input whose dims are `dims`: a number is a dim_value, a name a dim_param, "" unknown.
void dynamic_input(ModelWriter& m, const std::string& name, const std::vector<std::string>& dims) {
  auto* t = m.proto().mutable_graph()->add_input();
  t->set_name(name);
  auto* tt = t->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (const std::string& d : dims) {
    auto* dim = tt->mutable_shape()->add_dim();
    if (!d.empty() && std::isdigit(static_cast<unsigned char>(d[0]))) {
      dim->set_dim_value(std::stoll(d));
    } else if (!d.empty()) {
      dim->set_dim_param(d);
    }
  }
}

void constant_node(ModelWriter& m, const std::string& output, const Tensor& value) {
  auto* c = m.node("Constant", {}, {output});
  auto* a = c->add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  ModelWriter::fill(a->mutable_t(), "", value);
}

Tensor first_rows(const Tensor& x, std::int64_t n) {
  Shape shape = x.shape();
  shape[0] = n;
  Tensor out = Tensor::empty(shape, x.dtype());
  std::memcpy(out.raw_data(), x.raw_data(), out.nbytes());
  return out;
}

TEST(OnnxImportDynamic, TorchViewChainHoldsForAnyBatch) {
  // x.view(x.size(0), -1) with x [batch, 2, 4], then torch.flatten(y, 1) of an unsqueeze.
  ModelWriter m(13);
  dynamic_input(m, "x", {"batch", "2", "4"});
  m.node("Shape", {"x"}, {"shape"});
  constant_node(m, "zero", Tensor::scalar<std::int64_t>(0));
  m.node("Gather", {"shape", "zero"}, {"n"}, {{"axis", std::int64_t{0}}});
  constant_node(m, "axes", Tensor::from_vector<std::int64_t>({0}));
  m.node("Unsqueeze", {"n", "axes"}, {"n1"});
  m.initializer("minus_one", Tensor::from_vector<std::int64_t>({-1}));
  m.node("Concat", {"n1", "minus_one"}, {"target"}, {{"axis", std::int64_t{0}}});
  m.node("Reshape", {"x", "target"}, {"flat"});
  constant_node(m, "axis2", Tensor::from_vector<std::int64_t>({2}));
  m.node("Unsqueeze", {"flat", "axis2"}, {"u"});                  // [batch, 8, 1]
  m.node("Squeeze", {"u", "axis2"}, {"sq"});                      // [batch, 8]
  m.node("Flatten", {"x"}, {"f2"}, {{"axis", std::int64_t{2}}});  // [batch * 2, 4]
  m.output("sq");
  m.output("f2");
  const Graph g = m.import();
  ASSERT_TRUE(g.has_dynamic_dims());
  EXPECT_EQ(g.inputs()[0]->type_string(), "f32[batch, 2, 4]");
  EXPECT_EQ(g.outputs()[0]->type_string(), "f32[batch, 8]");
  EXPECT_EQ(g.outputs()[1]->type_string(), "f32[?, 4]");
  const Tensor x = random_tensor({5, 2, 4}, 30);
  for (std::int64_t batch : {1, 3, 5}) {
    const auto y = run_graph(g, {first_rows(x, batch)});
    ASSERT_EQ(y[0].shape(), (Shape{batch, 8}));
    ASSERT_EQ(y[1].shape(), (Shape{batch * 2, 4}));
    EXPECT_EQ(y[0].to_vector<float>(), first_rows(x, batch).to_vector<float>());
    EXPECT_EQ(y[1].to_vector<float>(), first_rows(x, batch).to_vector<float>());
  }
}

TEST(OnnxImportDynamic, UnknownDimsAreUnnamedAndOptionsPinThem) {
  ModelWriter m;
  dynamic_input(m, "x", {"", "3"});
  m.node("Relu", {"x"}, {"y"});
  m.output("y");
  EXPECT_EQ(m.import().inputs()[0]->type_string(), "f32[?, 3]");
  quantkit::onnx::ImportOptions options;
  options.input_shapes = {{"x", {4, 3}}};
  EXPECT_FALSE(m.import(options).has_dynamic_dims());
}

TEST(OnnxImportDynamic, AShapeUsedAsDataPinsTheSymbolicDimsToOne) {
  // x + float(shape(x)): the batch would be baked into the graph, so the import pins it.
  ModelWriter m;
  dynamic_input(m, "x", {"batch", "2"});
  m.node("Shape", {"x"}, {"s"});
  m.node("Cast", {"s"}, {"sf"}, {{"to", std::int64_t{onnx::TensorProto::FLOAT}}});
  m.node("Add", {"x", "sf"}, {"y"});
  m.output("y");
  const Graph g = m.import();
  EXPECT_FALSE(g.has_dynamic_dims());
  EXPECT_EQ(g.inputs()[0]->shape(), (Shape{1, 2}));
  const Tensor x = random_tensor({1, 2}, 31);
  const Tensor y = run_graph(g, {x})[0];
  EXPECT_EQ(y.data<float>()[0], x.data<float>()[0] + 1.0f);
  EXPECT_EQ(y.data<float>()[1], x.data<float>()[1] + 2.0f);
}

TEST(OnnxImportDynamic, OpsetElevenSoftmaxKeepsTheBatchDynamic) {
  ModelWriter m(11);
  dynamic_input(m, "x", {"N", "3", "4"});
  m.node("Softmax", {"x"}, {"y"}, {{"axis", std::int64_t{1}}});
  m.output("y");
  const Graph g = m.import();
  EXPECT_EQ(g.outputs()[0]->type_string(), "f32[N, 3, 4]");
  const Tensor x = random_tensor({3, 3, 4}, 32);
  const Tensor y = run_graph(g, {x})[0];
  ASSERT_EQ(y.shape(), (Shape{3, 3, 4}));
  for (std::int64_t n = 0; n < 3; ++n) {
    double total = 0;
    for (std::int64_t i = 0; i < 12; ++i) total += y.data<float>()[n * 12 + i];
    EXPECT_NEAR(total, 1.0, 1e-5) << n;  // each sample normalizes over its own 12 values
  }
}

// ---- quantization ops with constant qparams ----

// ONNX's QuantizeLinear: saturate(round_half_even(x / scale) + zero_point), float32.
Tensor onnx_quantize(const Tensor& x, float scale, std::uint8_t zp) {
  Tensor q = Tensor::empty(x.shape(), DType::UInt8);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const float v = std::nearbyint(x.data<float>()[i] / scale) + static_cast<float>(zp);
    q.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(std::clamp(v, 0.0f, 255.0f));
  }
  return q;
}

ModelWriter quantize_model(float scale) {
  ModelWriter m;
  m.input("x", {1000});
  m.initializer("s", Tensor::scalar(scale));
  m.initializer("z", Tensor::scalar<std::uint8_t>(128));
  m.node("QuantizeLinear", {"x", "s", "z"}, {"q"});
  m.node("DequantizeLinear", {"q", "s", "z"}, {"y"});
  m.output("q");
  m.output("y");
  return m;
}

TEST(OnnxImportQuant, QuantizeLinearIsExactOnnxDivision) {
  Tensor x = random_tensor({1000}, 30, -10.0f, 10.0f);
  // 0.1: x * (1 / 0.1) and x / 0.1 round differently for some x (-9.15f / 0.1f rounds to
  // -91, -9.15f * 10 to -92), so the import spells the division out instead of using the
  // graph's (PyTorch's) quantize op.
  x.data<float>()[0] = -9.15f;
  x.data<float>()[1] = -8.15f;
  const Graph g = quantize_model(0.1f).import();
  EXPECT_EQ(count_nodes(g, OpKind::QuantizePerTensor), 0u);
  EXPECT_EQ(count_nodes(g, OpKind::DequantizePerTensor), 1u);
  const auto out = run_graph(g, {x});
  const Tensor expected = onnx_quantize(x, 0.1f, 128);
  EXPECT_TRUE(quantkit::graph::testing::identical(out[0], expected));
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    ASSERT_EQ(out[1].data<float>()[i],
              static_cast<float>(expected.data<std::uint8_t>()[i] - 128) * 0.1f);
  }
  // A power-of-two scale makes both forms identical: the graph's quantize op is used.
  const Graph pow2 = quantize_model(0.125f).import();
  EXPECT_EQ(count_nodes(pow2, OpKind::QuantizePerTensor), 1u);
  EXPECT_TRUE(quantkit::graph::testing::identical(run_graph(pow2, {x})[0],
                                                  onnx_quantize(x, 0.125f, 128)));
  // On request, PyTorch's numerics (what PT2E passes expect).
  quantkit::onnx::ImportOptions torch_numerics;
  torch_numerics.torch_quantize_numerics = true;
  const Graph torch_graph = quantize_model(0.1f).import(torch_numerics);
  EXPECT_EQ(count_nodes(torch_graph, OpKind::QuantizePerTensor), 1u);
  const Tensor torch_q = run_graph(torch_graph, {x})[0];
  EXPECT_EQ(expected.data<std::uint8_t>()[0], 128 - 91);
  EXPECT_EQ(torch_q.data<std::uint8_t>()[0], 128 - 92);
}

// QuantizeLinear → Clip on its integers (how an exporter writes a sub-range such as the 16
// codes of 4-bit activations) reads back as one quantize with the narrowed range, and the
// DequantizeLinear of it keeps that range: no clamp on integers is left for the lowering.
TEST(OnnxImportQuant, ClipOfAQuantizeNarrowsItsRange) {
  ModelWriter m;
  m.input("x", {1000});
  m.initializer("s", Tensor::scalar(0.125f));
  m.initializer("z", Tensor::scalar<std::uint8_t>(128));
  m.initializer("lo", Tensor::scalar<std::uint8_t>(120));
  m.initializer("hi", Tensor::scalar<std::uint8_t>(135));
  m.node("QuantizeLinear", {"x", "s", "z"}, {"q"});
  m.node("Clip", {"q", "lo", "hi"}, {"c"});
  m.node("DequantizeLinear", {"c", "s", "z"}, {"y"});
  m.output("c");
  m.output("y");
  const Graph g = m.import();
  EXPECT_EQ(count_nodes(g, OpKind::Clamp), 0u);
  ASSERT_EQ(count_nodes(g, OpKind::QuantizePerTensor), 1u);
  for (const quantkit::graph::Node* n : g.nodes()) {
    if (n->op() != OpKind::QuantizePerTensor && n->op() != OpKind::DequantizePerTensor) continue;
    EXPECT_EQ(n->attr_int("quant_min"), 120) << n->name();
    EXPECT_EQ(n->attr_int("quant_max"), 135) << n->name();
  }
  const Tensor x = random_tensor({1000}, 33, -4.0f, 4.0f);
  const auto out = run_graph(g, {x});
  Tensor expected = onnx_quantize(x, 0.125f, 128);
  for (std::uint8_t& v : expected.span<std::uint8_t>()) v = std::clamp<std::uint8_t>(v, 120, 135);
  EXPECT_TRUE(quantkit::graph::testing::identical(out[0], expected));
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    ASSERT_EQ(out[1].data<float>()[i],
              static_cast<float>(expected.data<std::uint8_t>()[i] - 128) * 0.125f);
  }
}

TEST(OnnxImportQuant, PerChannelDequantizeLinearWithConstantQParams) {
  const Tensor w = quantkit::graph::testing::random_ints<std::int8_t>({3, 4}, 31, -128, 127);
  ModelWriter m;
  m.input("x", {2, 4});
  m.initializer("w_q", w);
  m.initializer("w_s", Tensor::from_vector<float>({0.5f, 0.02f, 0.3f}));
  m.initializer("w_z", Tensor::from_vector<std::int8_t>({0, 3, -2}));
  m.node("DequantizeLinear", {"w_q", "w_s", "w_z"}, {"w"}, {{"axis", std::int64_t{0}}});
  m.node("Gemm", {"x", "w"}, {"y"}, {{"transB", std::int64_t{1}}});
  m.output("y");
  const Graph g = m.import();
  EXPECT_EQ(count_nodes(g, OpKind::DequantizePerChannel), 1u);
  const Tensor x = random_tensor({2, 4}, 32);
  const Tensor y = run_graph(g, {x})[0];
  const float s[3] = {0.5f, 0.02f, 0.3f};
  const int z[3] = {0, 3, -2};
  for (std::int64_t i = 0; i < 2; ++i)
    for (std::int64_t o = 0; o < 3; ++o) {
      double acc = 0;
      for (std::int64_t k = 0; k < 4; ++k) {
        acc += double(x.data<float>()[i * 4 + k]) *
               static_cast<float>(w.data<std::int8_t>()[o * 4 + k] - z[o]) * s[o];
      }
      EXPECT_NEAR(y.data<float>()[i * 3 + o], acc, 1e-5);
    }
}

// ---- errors ----

std::string import_error(const std::string& bytes) {
  try {
    quantkit::onnx::import_onnx_bytes(bytes, "bad.onnx");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

ModelWriter relu_model() {
  ModelWriter m;
  m.input("x", {1, 4});
  m.node("Relu", {"x"}, {"y"}, {}, "act");
  m.output("y");
  return m;
}

TEST(OnnxImportErrors, UnsupportedOpNamesOpNodeAndModel) {
  ModelWriter m;
  m.input("x", {1, 4});
  m.node("Hardmax", {"x"}, {"y"}, {}, "my_hardmax");
  m.output("y");
  const std::string e = import_error(m.bytes());
  EXPECT_THAT(e, HasSubstr("bad.onnx"));
  EXPECT_THAT(e, HasSubstr("my_hardmax"));
  EXPECT_THAT(e, HasSubstr("Hardmax"));
}

TEST(OnnxImportMath, PowWithARunTimeExponentOfAnotherDtypeIsRefused) {
  ModelWriter m(13);
  m.input("x", {3});
  m.input("e", {3}, onnx::TensorProto::INT64);
  m.node("Pow", {"x", "e"}, {"y"}, {}, "my_pow");
  m.output("y");
  const std::string e = import_error(m.bytes());
  EXPECT_THAT(e, HasSubstr("my_pow"));
  EXPECT_THAT(e, HasSubstr("must be a constant"));
}

TEST(OnnxImportErrors, UnsupportedAttribute) {
  ModelWriter m = relu_model();
  m.proto().mutable_graph()->mutable_node(0)->set_op_type("LeakyRelu");
  auto* a = m.proto().mutable_graph()->mutable_node(0)->add_attribute();
  a->set_name("flavour");
  a->set_type(onnx::AttributeProto::INT);
  EXPECT_THAT(import_error(m.bytes()), HasSubstr("attribute 'flavour' is not supported"));
  ModelWriter p;
  p.input("x", {1, 1, 4, 4});
  p.node("MaxPool", {"x"}, {"y", "indices"}, {{"kernel_shape", Ints{2, 2}}});
  p.output("y");
  EXPECT_THAT(import_error(p.bytes()), HasSubstr("output 1 ('indices') is not supported"));
}

TEST(OnnxImportErrors, MalformedFiles) {
  const std::string good = relu_model().bytes();
  EXPECT_NO_THROW(quantkit::onnx::import_onnx_bytes(good, "ok.onnx"));
  for (std::size_t cut : {std::size_t{1}, good.size() / 2, good.size() - 1}) {
    EXPECT_THAT(import_error(good.substr(0, cut)), HasSubstr("bad.onnx")) << cut;
  }
  EXPECT_THAT(import_error("this is not a model"), HasSubstr("bad.onnx"));
  EXPECT_THAT(import_error(""), HasSubstr("no graph"));
  EXPECT_THROW(quantkit::onnx::import_onnx("/nonexistent/model.onnx"), Error);
}

TEST(OnnxImportErrors, DanglingNamesAndCycles) {
  ModelWriter m;
  m.input("x", {4});
  m.node("Relu", {"b"}, {"a"});  // reads b before it is defined: a cycle
  m.node("Relu", {"a"}, {"b"});
  m.output("b");
  EXPECT_THAT(import_error(m.bytes()), HasSubstr("'b' is not a graph input"));
  ModelWriter d = relu_model();
  d.node("Add", {"y", "missing_weight"}, {"z"});
  d.output("z");
  EXPECT_THAT(import_error(d.bytes()), HasSubstr("missing_weight"));
  ModelWriter o = relu_model();
  o.output("nowhere");
  EXPECT_THAT(import_error(o.bytes()), HasSubstr("nowhere"));
  ModelWriter twice = relu_model();
  twice.node("Relu", {"x"}, {"y"});
  EXPECT_THAT(import_error(twice.bytes()), HasSubstr("already defined"));
}

TEST(OnnxImportErrors, BadTensorsAndShapes) {
  ModelWriter m = relu_model();
  m.initializer("w", random_tensor({2, 3}, 22));
  m.proto().mutable_graph()->mutable_initializer(0)->set_dims(0, 1000000);  // dims lie
  EXPECT_THAT(import_error(m.bytes()), HasSubstr("raw_data"));
  ModelWriter huge;
  huge.input("x", {std::int64_t{1} << 40, std::int64_t{1} << 40});
  huge.node("Relu", {"x"}, {"y"});
  huge.output("y");
  EXPECT_THAT(import_error(huge.bytes()), HasSubstr("dim"));
  ModelWriter negative = relu_model();
  negative.initializer("w", random_tensor({2}, 23));
  negative.proto().mutable_graph()->mutable_initializer(0)->set_dims(0, -2);
  EXPECT_THAT(import_error(negative.bytes()), HasSubstr("negative dim"));
  ModelWriter conv;
  conv.input("x", {1, 3, 4, 4});
  conv.initializer("w", random_tensor({2, 5, 3, 3}, 24));  // wrong input channels
  conv.node("Conv", {"x", "w"}, {"y"});
  conv.output("y");
  EXPECT_THAT(import_error(conv.bytes()), HasSubstr("Conv"));
}

TEST(OnnxImportErrors, UnsupportedOpsetAndDomain) {
  ModelWriter m(22);
  m.input("x", {4});
  m.node("Relu", {"x"}, {"y"});
  m.output("y");
  EXPECT_THAT(import_error(m.bytes()), HasSubstr("opset 22"));
  ModelWriter d = relu_model();
  d.proto().mutable_graph()->mutable_node(0)->set_domain("com.microsoft");
  EXPECT_THAT(import_error(d.bytes()), HasSubstr("com.microsoft"));
  // Gather by indices computed at run time (constant indices are supported).
  ModelWriter g;
  g.input("x", {4});
  g.input("i", {1}, onnx::TensorProto::INT64);
  g.node("Gather", {"x", "i"}, {"y"});
  g.output("y");
  EXPECT_THAT(import_error(g.bytes()), HasSubstr("(indices) must be a constant"));
}

// Opsets 18 to 21: what changed for the ops the importer reads is handled or refused by
// name — ReduceMax/Min take axes as an input (18) with noop_with_empty_axes, AveragePool got
// dilations (19), Q/DQ got blocked quantization (21), and INT4 initializers (21) read into
// int8 with the 4-bit range.
TEST(OnnxImportOpset21, ReduceAxesInputDilationsBlocksAndInt4) {
  const Tensor x = random_tensor({2, 3, 4}, 7);
  {
    ModelWriter m(18);
    m.input("x", x.shape());
    m.initializer("axes", Tensor::from_vector<std::int64_t>({-1}));
    m.node("ReduceMax", {"x", "axes"}, {"y"}, {{"keepdims", std::int64_t{0}}});
    m.node("ReduceMin", {"x"}, {"z"}, {{"noop_with_empty_axes", std::int64_t{1}}});
    m.output("y");
    m.output("z");
    const auto y = run_graph(m.import(), {x});
    ASSERT_EQ(y[0].shape(), (Shape{2, 3}));
    for (std::int64_t r = 0; r < 6; ++r) {
      float best = -std::numeric_limits<float>::infinity();
      for (std::int64_t k = 0; k < 4; ++k) best = std::max(best, x.data<float>()[r * 4 + k]);
      EXPECT_EQ(y[0].data<float>()[r], best);
    }
    EXPECT_TRUE(quantkit::graph::testing::identical(y[1], x));  // no axes and noop_with_empty_axes: the identity
  }
  {
    ModelWriter m(19);
    m.input("x", {1, 1, 6, 6});
    m.node("AveragePool", {"x"}, {"y"},
           {{"kernel_shape", Ints{2, 2}}, {"dilations", Ints{2, 2}}});
    m.output("y");
    EXPECT_THAT(import_error(m.bytes()), HasSubstr("dilations"));
  }
  {
    ModelWriter m(21);
    m.input("x", {4});
    m.initializer("s", Tensor::scalar<float>(0.5f));
    m.initializer("z", Tensor::scalar<std::int8_t>(0));
    m.node("QuantizeLinear", {"x", "s", "z"}, {"y"}, {{"block_size", std::int64_t{2}}});
    m.output("y");
    EXPECT_THAT(import_error(m.bytes()), HasSubstr("block_size 2"));
  }
  {
    // INT4 weights [-8, 7, 3, -1, 5] (5 values: the last high nibble is padding).
    ModelWriter m(21);
    m.input("x", {1});
    auto* w = m.proto().mutable_graph()->add_initializer();
    w->set_name("w");
    w->set_data_type(22);
    w->add_dims(5);
    const std::string packed{static_cast<char>(0x78), static_cast<char>(0xF3),
                             static_cast<char>(0x05)};
    w->set_raw_data(packed);
    m.initializer("s", Tensor::scalar<float>(0.25f));
    auto* z = m.proto().mutable_graph()->add_initializer();
    z->set_name("z");
    z->set_data_type(22);
    z->set_raw_data(std::string(1, '\0'));
    m.node("DequantizeLinear", {"w", "s", "z"}, {"y"});
    m.node("Add", {"y", "x"}, {"out"});
    m.output("out");
    const Graph g = m.import();
    const auto y = run_graph(g, {Tensor::from_vector<float>({0.0f})});
    EXPECT_EQ(y[0].to_vector<float>(), (std::vector<float>{-2.0f, 1.75f, 0.75f, -0.25f, 1.25f}));
    bool four_bit_range = false;
    for (const quantkit::graph::Node* n : g.nodes()) {
      if (n->op() == OpKind::DequantizePerTensor) {
        four_bit_range = n->attr_int("quant_min") == -8 && n->attr_int("quant_max") == 7;
      }
    }
    EXPECT_TRUE(four_bit_range);
  }
}

// DequantizeLinear of a DynamicQuantizeLinear's three outputs is read back as PyTorch's
// dynamic quantization (choose_qparams → quantize → dequantize, int8), the form the lowering
// fuses; a DequantizeLinear with other qparams, and the quantized tensor's other readers, keep
// ONNX's function body.
TEST(OnnxImportQuant, DynamicQuantizeThenDequantizeIsChooseQParams) {
  const Tensor x = random_tensor({2, 6}, 21);
  ModelWriter m;
  m.input("x", x.shape());
  m.node("DynamicQuantizeLinear", {"x"}, {"xq", "xs", "xz"});
  m.node("DequantizeLinear", {"xq", "xs", "xz"}, {"y"});
  m.output("y");
  const Graph g = m.import();
  EXPECT_EQ(count_nodes(g, OpKind::ChooseQParams), 1u) << quantkit::graph::to_string(g);
  EXPECT_EQ(count_nodes(g, OpKind::QuantizePerTensor), 1u);
  EXPECT_EQ(count_nodes(g, OpKind::DequantizePerTensor), 1u);
  // Within half a step (range / 255) of x: a real quantize → dequantize round trip.
  float lo = 0.0f, hi = 0.0f;
  for (float v : x.span<const float>()) lo = std::min(lo, v), hi = std::max(hi, v);
  const Tensor y = run_graph(g, {x})[0];
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    EXPECT_LE(std::fabs(y.data<float>()[i] - x.data<float>()[i]),
              0.5f * (hi - lo) / 255.0f * 1.001f);
  }

  ModelWriter other;  // dequantized with a constant scale: ONNX's body, no choose_qparams
  other.input("x", x.shape());
  other.initializer("s", Tensor::scalar<float>(0.5f));
  other.node("DynamicQuantizeLinear", {"x"}, {"xq", "xs", "xz"});
  other.node("DequantizeLinear", {"xq", "s", "xz"}, {"y"});
  other.output("y");
  EXPECT_EQ(count_nodes(other.import(), OpKind::ChooseQParams), 0u);
}

// Gather from a constant 1-D float table by constant indices of rank > 1 (the exporter's APoT
// weights: uint8 codes → Cast → Gather) is apot_dequantize over int32 codes, not a folded
// float constant; negative indices count from the end, as in ONNX.
TEST(OnnxImportGather, TableLookupByCodesIsApotDequantize) {
  ModelWriter m;
  m.input("x", {1, 3});
  m.initializer("levels", Tensor::from_vector<float>({-0.5f, 0.0f, 0.25f, 1.0f}));
  m.initializer("codes_u8", Tensor::from_vector<std::uint8_t>({3, 0, 1, 2, 2, 0}, {2, 3}));
  m.node("Cast", {"codes_u8"}, {"codes"}, {{"to", std::int64_t{onnx::TensorProto::INT32}}});
  m.node("Gather", {"levels", "codes"}, {"w"}, {{"axis", std::int64_t{0}}});
  m.node("Transpose", {"w"}, {"w_t"}, {{"perm", std::vector<std::int64_t>{1, 0}}});
  m.node("MatMul", {"x", "w_t"}, {"y"});
  m.output("y");
  const Graph g = m.import();
  ASSERT_EQ(count_nodes(g, OpKind::ApotDequantize), 1u) << quantkit::graph::to_string(g);
  const quantkit::graph::Node* lookup = nullptr;
  for (const quantkit::graph::Node* n : g.nodes()) {
    if (n->op() == OpKind::ApotDequantize) lookup = n;
  }
  EXPECT_EQ(lookup->input(0)->data().to_vector<std::int32_t>(),
            (std::vector<std::int32_t>{3, 0, 1, 2, 2, 0}));
  EXPECT_EQ(lookup->attr_floats("levels"), (std::vector<double>{-0.5, 0.0, 0.25, 1.0}));
  const Tensor x = Tensor::from_vector<float>({1.0f, 2.0f, 4.0f}, {1, 3});
  // w = [[1, -0.5, 0], [0.25, 0.25, -0.5]]: y = x · wᵀ
  EXPECT_EQ(run_graph(g, {x})[0].to_vector<float>(), (std::vector<float>{0.0f, -1.25f}));

  ModelWriter negative;
  negative.input("x", {1});
  negative.initializer("levels", Tensor::from_vector<float>({-0.5f, 0.0f, 0.25f}));
  negative.initializer("codes", Tensor::from_vector<std::int64_t>({-1, 0, -3, 1}, {2, 2}));
  negative.node("Gather", {"levels", "codes"}, {"w"});
  negative.node("Mul", {"w", "x"}, {"y"});
  negative.output("y");
  const Graph n = negative.import();
  EXPECT_EQ(count_nodes(n, OpKind::ApotDequantize), 1u);
  EXPECT_EQ(run_graph(n, {Tensor::from_vector<float>({2.0f})})[0].to_vector<float>(),
            (std::vector<float>{0.5f, -1.0f, -1.0f, 0.0f}));

  ModelWriter bad;
  bad.input("x", {1});
  bad.initializer("levels", Tensor::from_vector<float>({-0.5f, 0.0f, 0.25f}));
  bad.initializer("codes", Tensor::from_vector<std::int32_t>({0, 3}, {1, 2}));
  bad.node("Gather", {"levels", "codes"}, {"w"});
  bad.node("Mul", {"w", "x"}, {"y"});
  bad.output("y");
  EXPECT_THAT(import_error(bad.bytes()), HasSubstr("index 3 is out of range for a dim of 3"));
}

// ---- torch.onnx.export models ----

struct TorchModel {
  const char* name;
  std::size_t min_nodes;
};

class OnnxImportTorchModel : public ::testing::TestWithParam<TorchModel> {};

TEST_P(OnnxImportTorchModel, MatchesTorchWithin1e4Relative) {
  const std::string base = std::string(QUANTKIT_TEST_DATA_DIR) + "/onnx/" + GetParam().name;
  const Graph g = quantkit::onnx::import_onnx(base + ".onnx");
  EXPECT_GE(g.num_nodes(), GetParam().min_nodes);
  const Tensor x = quantkit::read_npy(base + ".input.npy");
  const Tensor expected = quantkit::read_npy(base + ".output.npy");
  const Tensor y = run_graph(g, {x})[0];
  ASSERT_EQ(y.shape(), expected.shape());
  float scale = 0, max_err = 0;
  for (std::int64_t i = 0; i < y.numel(); ++i) {
    scale = std::max(scale, std::fabs(expected.data<float>()[i]));
    max_err = std::max(max_err, std::fabs(y.data<float>()[i] - expected.data<float>()[i]));
  }
  RecordProperty("max_abs_error", std::to_string(max_err));
  std::printf("%s: %zu nodes, max |error| %.3g (max |y| %.3g)\n", GetParam().name, g.num_nodes(),
              double(max_err), double(scale));
  EXPECT_TRUE(all_close(y, expected, 1e-4f * scale, 1e-4f));
}

INSTANTIATE_TEST_SUITE_P(Torch, OnnxImportTorchModel,
                         ::testing::Values(TorchModel{"resnet_small", 15},
                                           TorchModel{"mobilenet_v2_small", 30},
                                           TorchModel{"ops_mix", 20}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
