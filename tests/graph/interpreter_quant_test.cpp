// Interpreter numerics for the quantization ops and the integer reference ops, the
// interpreter's own contract (input checks, no aliasing, observers), and a reference-
// representation linear built from the integer ops next to its Q/DQ counterpart.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "graph_test_util.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/quant/affine.h"
#include "quantkit/quant/choose_qparams.h"

namespace quantkit::graph {
namespace {

using testing::identical;
using testing::random_ints;
using testing::random_tensor;

template <class Make>
std::vector<Tensor> run_nodes(const std::vector<Tensor>& inputs, Make make) {
  GraphBuilder b;
  std::vector<Value*> values;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    values.push_back(b.input("in" + std::to_string(i), inputs[i].dtype(), inputs[i].shape()));
  }
  for (Value* out : make(b, values)) b.output(out);
  Graph g = std::move(b).build();
  return run_graph(g, inputs);
}

template <class Make>
Tensor run_single(const std::vector<Tensor>& inputs, Make make) {
  return run_nodes(inputs,
                   [&](GraphBuilder& b, auto v) { return std::vector<Value*>{make(b, v)}; })[0];
}

// ---- quantize / dequantize ----

TEST(InterpreterQuant, QuantizePerTensorHandExample) {
  const Tensor x = Tensor::from_vector(std::vector<float>{1.3f, -0.25f, 0.75f, 100.0f, -100.0f});
  Tensor q = run_single({x}, [](GraphBuilder& b, auto v) {
    return b.quantize_per_tensor(v[0], QuantizeAttrs{0.5, 1, -128, 127, DType::Int8});
  });
  // 2.6 -> 3, -0.5 -> -0 (half to even), 1.5 -> 2, then + 1 and clamp.
  EXPECT_EQ(q.to_vector<std::int8_t>(), (std::vector<std::int8_t>{4, 1, 3, 127, -128}));
  Tensor d = run_single({q}, [](GraphBuilder& b, auto v) {
    return b.dequantize_per_tensor(v[0], QuantizeAttrs{0.5, 1, -128, 127, DType::Int8});
  });
  EXPECT_EQ(d.to_vector<float>(), (std::vector<float>{1.5f, 0.0f, 1.0f, 63.0f, -64.5f}));
}

TEST(InterpreterQuant, QParamsAsAttributesOrInputsAgreeWithAffine) {
  const Tensor x = random_tensor({3, 4}, 1, -3.0f, 3.0f);
  const QuantizeAttrs qa{0.0234, 5, 0, 255, DType::UInt8};
  auto outs = run_nodes({x}, [&](GraphBuilder& b, auto v) {
    Value* s = b.constant(Tensor::from_vector(std::vector<double>{qa.scale}, Shape{1}), "s");
    Value* z =
        b.constant(Tensor::from_vector(std::vector<std::int64_t>{qa.zero_point}, Shape{1}), "z");
    Value* by_attr = b.quantize_per_tensor(v[0], qa);
    Value* by_input = b.quantize_per_tensor(v[0], s, z, 0, 255, DType::UInt8);
    Value* dq_attr = b.dequantize_per_tensor(by_attr, qa);
    Value* dq_input = b.dequantize_per_tensor(by_input, s, z, 0, 255, DType::UInt8);
    return std::vector<Value*>{by_attr, by_input, dq_attr, dq_input};
  });
  const Tensor expected =
      quantize_per_tensor(x, qa.scale, qa.zero_point, QuantRange::full(DType::UInt8));
  EXPECT_TRUE(identical(outs[0], expected));
  EXPECT_TRUE(identical(outs[1], expected));
  const Tensor expected_dq = dequantize_per_tensor(expected, qa.scale, qa.zero_point);
  EXPECT_TRUE(identical(outs[2], expected_dq));
  EXPECT_TRUE(identical(outs[3], expected_dq));
}

TEST(InterpreterQuant, PerChannelAgreesWithAffine) {
  const Tensor w = random_tensor({2, 3, 4}, 2, -2.0f, 2.0f);
  const std::vector<float> scales{0.01f, 0.02f, 0.03f};
  const std::vector<std::int32_t> zps{0, 3, -2};
  auto outs = run_nodes({w}, [&](GraphBuilder& b, auto v) {
    Value* s = b.constant(Tensor::from_vector(scales), "scales");
    Value* z = b.constant(Tensor::from_vector(zps), "zero_points");
    Value* q = b.quantize_per_channel(v[0], s, z, 1, -127, 127, DType::Int8);
    return std::vector<Value*>{q, b.dequantize_per_channel(q, s, z, -2, -127, 127, DType::Int8)};
  });
  const std::vector<double> s64(scales.begin(), scales.end());
  const std::vector<std::int64_t> z64(zps.begin(), zps.end());
  const Tensor expected =
      quantize_per_channel(w, s64, z64, 1, QuantRange::of(DType::Int8, -127, 127));
  EXPECT_TRUE(identical(outs[0], expected));
  EXPECT_TRUE(identical(outs[1], dequantize_per_channel(expected, s64, z64, 1)));
}

TEST(InterpreterQuant, PerChannelQParamsMustMatchTheAxis) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3});
  Value* s = b.constant(Tensor::from_vector(std::vector<float>{0.1f, 0.1f}), "s");
  Value* z = b.constant(Tensor::from_vector(std::vector<std::int64_t>{0, 0}), "z");
  EXPECT_NO_THROW(b.quantize_per_channel(x, s, z, 0, -128, 127, DType::Int8));
  EXPECT_THROW(b.quantize_per_channel(x, s, z, 1, -128, 127, DType::Int8), Error);
  EXPECT_THROW(b.quantize_per_channel(x, s, z, 2, -128, 127, DType::Int8), Error);
}

TEST(InterpreterQuant, ChooseQParamsThenQuantize) {
  // Range [-1, 2]: scale = 3 / 255, zero point = -128 - round(-1 / scale) = -43.
  const Tensor x = Tensor::from_vector(std::vector<float>{-1.0f, 0.5f, 2.0f, 0.0f}, Shape{2, 2});
  auto outs = run_nodes({x}, [](GraphBuilder& b, auto v) {
    auto [s, z] = b.choose_qparams(v[0], -128, 127, 1.1920928955078125e-07, DType::Int8);
    return std::vector<Value*>{s, z, b.quantize_per_tensor(v[0], s, z, -128, 127, DType::Int8)};
  });
  ASSERT_EQ(outs[0].dtype(), DType::Float64);
  EXPECT_NEAR(outs[0].data<double>()[0], 3.0 / 255.0, 1e-7);
  EXPECT_EQ(outs[1].data<std::int64_t>()[0], -43);
  const float lo = -1.0f, hi = 2.0f;
  const QParams q = calculate_qparams(std::span<const float>(&lo, 1),
                                      std::span<const float>(&hi, 1), QScheme::PerTensorAffine,
                                      QuantRange::full(DType::Int8), 1.1920928955078125e-07f);
  EXPECT_EQ(outs[0].data<double>()[0], q.scale[0]);
  EXPECT_TRUE(identical(
      outs[2], quantize_per_tensor(x, q.scale[0], q.zero_point[0], QuantRange::full(DType::Int8))));
}

TEST(InterpreterQuant, ChooseQParamsRejectsEmptyInput) {
  const Tensor x = Tensor::empty({0, 3}, DType::Float32);
  EXPECT_THROW(run_nodes({x},
                         [](GraphBuilder& b, auto v) {
                           auto [s, z] = b.choose_qparams(v[0], -128, 127, 1e-7, DType::Int8);
                           return std::vector<Value*>{s, z};
                         }),
               Error);
}

// ---- integer reference ops ----

TEST(InterpreterQuant, CastTruncatesSaturatesAndWraps) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor f = Tensor::from_vector(std::vector<float>{2.9f, -2.9f, 300.0f, -300.0f, nan,
                                                          std::numeric_limits<float>::infinity()});
  Tensor i8 = run_single({f}, [](GraphBuilder& b, auto v) { return b.cast(v[0], DType::Int8); });
  EXPECT_EQ(i8.to_vector<std::int8_t>(), (std::vector<std::int8_t>{2, -2, 127, -128, 0, 127}));
  const Tensor i = Tensor::from_vector(std::vector<std::int32_t>{200, -129, 65537});
  Tensor wrapped =
      run_single({i}, [](GraphBuilder& b, auto v) { return b.cast(v[0], DType::Int8); });
  EXPECT_EQ(wrapped.to_vector<std::int8_t>(), (std::vector<std::int8_t>{-56, 127, 1}));
  Tensor back =
      run_single({i}, [](GraphBuilder& b, auto v) { return b.cast(v[0], DType::Float32); });
  EXPECT_EQ(back.to_vector<float>(), (std::vector<float>{200.0f, -129.0f, 65537.0f}));
}

TEST(InterpreterQuant, RoundHalfToEven) {
  const Tensor f = Tensor::from_vector(std::vector<float>{0.5f, 1.5f, 2.5f, -2.5f, -0.4f, 2.6f});
  Tensor r = run_single({f}, [](GraphBuilder& b, auto v) { return b.round(v[0]); });
  EXPECT_EQ(r.to_vector<float>(), (std::vector<float>{0.0f, 2.0f, 2.0f, -2.0f, -0.0f, 3.0f}));
  GraphBuilder b;
  Value* i = b.input("i", DType::Int32, {2});
  EXPECT_THROW(b.round(i), Error);
}

Tensor integer_linear_reference(const Tensor& x, const Tensor& w, const Tensor* bias) {
  const Tensor x64 = x.to(DType::Int64), w64 = w.to(DType::Int64);
  const std::int64_t k = w.size(1), n = w.size(0), rows = x.numel() / k;
  Shape shape = x.shape();
  shape.back() = n;
  Tensor out = Tensor::empty(shape, DType::Int32);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < n; ++j) {
      std::int64_t acc = bias ? bias->data<std::int32_t>()[j] : 0;
      for (std::int64_t i = 0; i < k; ++i)
        acc += x64.data<std::int64_t>()[r * k + i] * w64.data<std::int64_t>()[j * k + i];
      out.data<std::int32_t>()[r * n + j] = static_cast<std::int32_t>(acc);
    }
  return out;
}

TEST(InterpreterQuant, IntegerLinearAccumulatesInInt32) {
  const Tensor x = random_ints<std::int16_t>({2, 3, 7}, 3, -255, 255);
  const Tensor w = random_ints<std::int8_t>({5, 7}, 4, -127, 127);
  const Tensor bias = random_ints<std::int32_t>({5}, 5, -10000, 10000);
  Tensor y = run_single({x, w, bias},
                        [](GraphBuilder& b, auto v) { return b.integer_linear(v[0], v[1], v[2]); });
  EXPECT_TRUE(identical(y, integer_linear_reference(x, w, &bias)));
  const Tensor xu = random_ints<std::uint8_t>({4, 7}, 6, 0, 255);
  Tensor yu =
      run_single({xu, w}, [](GraphBuilder& b, auto v) { return b.integer_linear(v[0], v[1]); });
  EXPECT_TRUE(identical(yu, integer_linear_reference(xu, w, nullptr)));
  // Overflow wraps modulo 2^32 like torch's int32 arithmetic: 2^20 * 2^12 = 2^32 -> 0.
  const Tensor big = Tensor::from_vector(std::vector<std::int32_t>{1 << 20, 1}, Shape{1, 2});
  const Tensor wb = Tensor::from_vector(std::vector<std::int32_t>{1 << 12, 5}, Shape{1, 2});
  Tensor yw =
      run_single({big, wb}, [](GraphBuilder& b, auto v) { return b.integer_linear(v[0], v[1]); });
  EXPECT_EQ(yw.to_vector<std::int32_t>(), (std::vector<std::int32_t>{5}));
}

TEST(InterpreterQuant, IntegerConv2dMatchesLoops) {
  const Tensor x = random_ints<std::int16_t>({2, 4, 6, 5}, 7, -128, 127);
  const Tensor w = random_ints<std::int8_t>({6, 2, 3, 3}, 8, -127, 127);
  const Tensor bias = random_ints<std::int32_t>({6}, 9, -1000, 1000);
  const Conv2dOptions o({2, 1}, {1, 2}, {1, 2}, 2);
  Tensor y = run_single(
      {x, w, bias}, [&](GraphBuilder& b, auto v) { return b.integer_conv2d(v[0], v[1], v[2], o); });
  const std::int64_t oh = (6 + 2 - 2 - 1) / 2 + 1, ow = (5 + 4 - 4 - 1) / 1 + 1;
  ASSERT_EQ(y.shape(), (Shape{2, 6, oh, ow}));
  for (std::int64_t n = 0; n < 2; ++n)
    for (std::int64_t k = 0; k < 6; ++k)
      for (std::int64_t i = 0; i < oh; ++i)
        for (std::int64_t j = 0; j < ow; ++j) {
          std::int64_t acc = bias.data<std::int32_t>()[k];
          const std::int64_t g = k / 3;
          for (std::int64_t c = 0; c < 2; ++c)
            for (std::int64_t u = 0; u < 3; ++u)
              for (std::int64_t v = 0; v < 3; ++v) {
                const std::int64_t yy = i * 2 - 1 + u, xx = j - 2 + v * 2;
                if (yy < 0 || yy >= 6 || xx < 0 || xx >= 5) continue;
                acc +=
                    std::int64_t{x.data<std::int16_t>()[((n * 4 + g * 2 + c) * 6 + yy) * 5 + xx]} *
                    w.data<std::int8_t>()[((k * 2 + c) * 3 + u) * 3 + v];
              }
          EXPECT_EQ(y.data<std::int32_t>()[((n * 6 + k) * oh + i) * ow + j], acc);
        }
}

// ---- interpreter contract ----

TEST(Interpreter, ChecksInputs) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3});
  b.output(b.relu(x));
  Graph g = std::move(b).build();
  Interpreter run(g);
  EXPECT_THROW(run({}), Error);
  EXPECT_THROW(run({Tensor::zeros({3, 2}, DType::Float32)}), Error);
  EXPECT_THROW(run({Tensor::zeros({2, 3}, DType::Int32)}), Error);
  try {
    run({Tensor::zeros({2, 4}, DType::Float32)});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("graph input 'x'"), std::string::npos) << e.what();
  }
}

TEST(Interpreter, RefusesBrokenGraphs) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2});
  Value* y = b.relu(x);
  b.output(b.relu(y));
  Graph g = std::move(b).build();
  g.nodes()[0]->set_input(0, g.nodes()[1]->output());
  EXPECT_THROW(Interpreter{g}, Error);
}

TEST(Interpreter, OutputsNeverAliasInputsOrParameters) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3});
  Value* p = b.parameter("p", Tensor::zeros({6}, DType::Float32));
  b.output(b.reshape(x, {6}));
  b.output(p);
  b.output(x);
  Graph g = std::move(b).build();
  const Tensor in = random_tensor({2, 3}, 11);
  auto outs = run_graph(g, {in});
  EXPECT_EQ(outs[0].to_vector<float>(), in.to_vector<float>());
  EXPECT_NE(outs[0].raw_data(), in.raw_data());
  EXPECT_NE(outs[1].raw_data(), g.find_value("p")->data().raw_data());
  EXPECT_NE(outs[2].raw_data(), in.raw_data());
}

TEST(Interpreter, ObserverSeesEveryNodeInOrderAndRunsRepeat) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {4});
  Value* y = b.relu(x);
  Value* z = b.mul(y, y);
  b.output(b.add(z, y));
  Graph g = std::move(b).build();
  Interpreter run(g);
  std::vector<std::string> seen;
  run.set_observer([&](const Node& n, std::span<const Tensor> outs) {
    seen.push_back(n.name());
    EXPECT_EQ(outs.size(), 1u);
  });
  const Tensor in = Tensor::from_vector(std::vector<float>{-1, 2, -3, 4});
  const auto first = run({in});
  const auto second = run({in});
  EXPECT_EQ(seen, (std::vector<std::string>{"relu", "mul", "add", "relu", "mul", "add"}));
  EXPECT_EQ(first[0].to_vector<float>(), (std::vector<float>{0, 6, 0, 20}));
  EXPECT_TRUE(identical(first[0], second[0]));
  EXPECT_EQ(in.to_vector<float>(), (std::vector<float>{-1, 2, -3, 4}));  // untouched
}

// ---- the integer reference representation of a static linear ----

TEST(Interpreter, ReferenceLinearMatchesQdqWithinTwoOutputScales) {
  const Tensor x = random_tensor({2, 5}, 20);
  const Tensor w = random_tensor({4, 5}, 21, -0.5f, 0.5f);
  const Tensor bias = random_tensor({4}, 22, -0.2f, 0.2f);
  const QuantizeAttrs xq{2.0 / 255, 0, -128, 127, DType::Int8};
  const QuantizeAttrs wq{0.5 / 127, 0, -127, 127, DType::Int8};
  const QuantizeAttrs yq{3.0 / 255, -3, -128, 127, DType::Int8};
  const Tensor w_int8 = quantize_per_tensor(w, wq.scale, 0, QuantRange::of(DType::Int8, -127, 127));

  // Q/DQ form: dq(q(x)) -> linear with dq(w) -> q -> dq.
  GraphBuilder qdq;
  {
    Value* in = qdq.input("x", DType::Float32, {2, 5});
    Value* xdq = qdq.dequantize_per_tensor(qdq.quantize_per_tensor(in, xq), xq);
    Value* wdq = qdq.dequantize_per_tensor(qdq.constant(w_int8, "w_int8"), wq);
    Value* y = qdq.linear(xdq, wdq, qdq.parameter("bias", bias));
    qdq.output(qdq.dequantize_per_tensor(qdq.quantize_per_tensor(y, yq), yq));
  }
  // Integer form (torchao's _reference_quantized_linear): int16 operands minus zero
  // points, int32 accumulation, bias quantized with x_scale * w_scale, requantize.
  GraphBuilder ref;
  {
    Value* in = ref.input("x", DType::Float32, {2, 5});
    Value* x_i8 = ref.quantize_per_tensor(in, xq);
    Value* x_i16 =
        ref.sub(ref.cast(x_i8, DType::Int16),
                ref.constant(Tensor::scalar(static_cast<std::int16_t>(xq.zero_point)), "x_zp"));
    Value* w_i16 = ref.cast(ref.constant(w_int8, "w_int8"), DType::Int16);
    Value* acc = ref.integer_linear(x_i16, w_i16);
    const float bias_scale = static_cast<float>(xq.scale * wq.scale);
    Value* bias_i32 = ref.cast(ref.div(ref.parameter("bias", bias),
                                       ref.constant(Tensor::scalar(bias_scale), "bias_scale")),
                               DType::Int32);
    // Requantize as the reference representation does: float64 product, truncated to
    // int32, + zero point, clamp, cast to int8.
    const double multiplier = xq.scale * wq.scale / yq.scale;
    Value* scaled = ref.cast(ref.mul(ref.cast(ref.add(acc, bias_i32), DType::Float64),
                                     ref.constant(Tensor::scalar(multiplier), "multiplier")),
                             DType::Int32);
    Value* shifted = ref.add(
        scaled, ref.constant(Tensor::scalar(static_cast<std::int32_t>(yq.zero_point)), "out_zp"));
    Value* out_q = ref.cast(ref.clamp(shifted, -128, 127), DType::Int8);
    ref.output(ref.dequantize_per_tensor(out_q, yq));
  }
  const Graph g_qdq = std::move(qdq).build();
  const Graph g_ref = std::move(ref).build();
  EXPECT_EQ(count_nodes(g_ref, OpKind::IntegerLinear), 1u);
  EXPECT_EQ(count_nodes(g_ref, OpKind::Linear), 0u);
  const Tensor a = run_graph(g_qdq, {x})[0];
  const Tensor r = run_graph(g_ref, {x})[0];
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    EXPECT_LE(std::fabs(a.data<float>()[i] - r.data<float>()[i]), 2 * yq.scale + 1e-5) << i;
  }
}

}  // namespace
}  // namespace quantkit::graph
