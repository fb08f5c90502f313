// ONNX export: the ModelProto written for fp32 and Q/DQ graphs (ops, attributes,
// initializers, types), every op's ONNX form, the errors for graphs without one, and the
// atomic write.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "export_test_models.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/builder.h"
#include "quantkit/kernels/requantize.h"
#include "quantkit/onnx/onnx_export.h"

namespace quantkit::onnx {
namespace {

using graph::GraphBuilder;
using graph::OpKind;
using graph::Value;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

::onnx::ModelProto parse(const std::string& bytes) {
  ::onnx::ModelProto model;
  EXPECT_TRUE(model.ParseFromString(bytes));
  return model;
}

::onnx::ModelProto export_model(const graph::Graph& g, const ExportOptions& options = {}) {
  return parse(export_onnx_bytes(g, options));
}

std::vector<std::string> op_types(const ::onnx::ModelProto& m) {
  std::vector<std::string> out;
  for (const auto& n : m.graph().node()) out.push_back(n.op_type());
  return out;
}

const ::onnx::NodeProto& node_named(const ::onnx::ModelProto& m, const std::string& name) {
  for (const auto& n : m.graph().node()) {
    if (n.name() == name) return n;
  }
  throw Error("no node " + name);
}

const ::onnx::NodeProto& first_of(const ::onnx::ModelProto& m, const std::string& op_type) {
  for (const auto& n : m.graph().node()) {
    if (n.op_type() == op_type) return n;
  }
  throw Error("no " + op_type + " node");
}

const ::onnx::NodeProto& producer_of(const ::onnx::ModelProto& m, const std::string& value) {
  for (const auto& n : m.graph().node()) {
    for (const auto& out : n.output()) {
      if (out == value) return n;
    }
  }
  throw Error("no node writes " + value);
}

const ::onnx::AttributeProto& attr(const ::onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute()) {
    if (a.name() == name) return a;
  }
  throw Error("node " + n.name() + " has no attribute " + name);
}

std::vector<std::int64_t> ints(const ::onnx::NodeProto& n, const std::string& name) {
  const auto& a = attr(n, name);
  return {a.ints().begin(), a.ints().end()};
}

const ::onnx::TensorProto& initializer(const ::onnx::ModelProto& m, const std::string& name) {
  for (const auto& t : m.graph().initializer()) {
    if (t.name() == name) return t;
  }
  throw Error("no initializer " + name);
}

template <class T>
std::vector<T> values_of(const ::onnx::TensorProto& t) {
  std::vector<T> out(t.raw_data().size() / sizeof(T));
  std::memcpy(out.data(), t.raw_data().data(), out.size() * sizeof(T));
  return out;
}

std::vector<std::int64_t> dims_of(const ::onnx::ValueInfoProto& v) {
  std::vector<std::int64_t> out;
  for (const auto& d : v.type().tensor_type().shape().dim()) out.push_back(d.dim_value());
  return out;
}

TEST(OnnxExport, Fp32CnnModelHeaderInputsOutputsAndInitializers) {
  const testing::CnnWeights w;
  const graph::Graph g = testing::float_cnn(2, w);
  const auto m = export_model(g);
  EXPECT_EQ(m.ir_version(), 8);
  ASSERT_EQ(m.opset_import_size(), 1);
  EXPECT_EQ(m.opset_import(0).domain(), "");
  EXPECT_EQ(m.opset_import(0).version(), 17);
  EXPECT_EQ(m.producer_name(), "quantkit");

  ASSERT_EQ(m.graph().input_size(), 1);
  EXPECT_EQ(m.graph().input(0).name(), "input");
  EXPECT_EQ(m.graph().input(0).type().tensor_type().elem_type(),
            ::onnx::TensorProto_DataType_FLOAT);
  EXPECT_THAT(dims_of(m.graph().input(0)), ElementsAre(2, 1, 12, 12));
  ASSERT_EQ(m.graph().output_size(), 1);
  EXPECT_EQ(m.graph().output(0).name(), g.outputs()[0]->name());
  EXPECT_THAT(dims_of(m.graph().output(0)), ElementsAre(2, 10));

  EXPECT_THAT(op_types(m), ElementsAre("Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool",
                                       "Flatten", "Gemm", "Relu", "Gemm"));
  // Parameters keep their names and bytes.
  const auto& conv1 = initializer(m, "conv1.weight");
  EXPECT_EQ(conv1.data_type(), ::onnx::TensorProto_DataType_FLOAT);
  EXPECT_THAT(std::vector<std::int64_t>(conv1.dims().begin(), conv1.dims().end()),
              ElementsAre(4, 1, 3, 3));
  EXPECT_EQ(values_of<float>(conv1), w.conv1_w.to_vector<float>());
  EXPECT_EQ(values_of<float>(initializer(m, "fc2.bias")), w.fc2_b.to_vector<float>());
  EXPECT_EQ(m.graph().initializer_size(), 8);
  // Every intermediate value is typed.
  EXPECT_EQ(m.graph().value_info_size(), 9);
}

TEST(OnnxExport, ConvAndPoolAttributes) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 4, 9, 9});
  Value* y = b.conv2d(x, b.parameter("w", testing::uniform_tensor({6, 2, 3, 2}, 1, -1, 1)), nullptr,
                      graph::Conv2dOptions({2, 1}, {1, 0}, {1, 2}, 2));
  y = b.max_pool2d(y, graph::MaxPool2dOptions({3, 2}, {2, 1}, {1, 1}, {1, 1}, true));
  y = b.avg_pool2d(y, graph::AvgPool2dOptions({2, 2}, {1, 1}, {1, 0}, false, false));
  b.output(y);
  const auto m = export_model(std::move(b).build());
  const auto& conv = first_of(m, "Conv");
  EXPECT_EQ(conv.input_size(), 2);  // no bias
  EXPECT_THAT(ints(conv, "kernel_shape"), ElementsAre(3, 2));
  EXPECT_THAT(ints(conv, "strides"), ElementsAre(2, 1));
  EXPECT_THAT(ints(conv, "pads"), ElementsAre(1, 0, 1, 0));
  EXPECT_THAT(ints(conv, "dilations"), ElementsAre(1, 2));
  EXPECT_EQ(attr(conv, "group").i(), 2);
  const auto& pool = first_of(m, "MaxPool");
  EXPECT_THAT(ints(pool, "kernel_shape"), ElementsAre(3, 2));
  EXPECT_THAT(ints(pool, "strides"), ElementsAre(2, 1));
  EXPECT_THAT(ints(pool, "pads"), ElementsAre(1, 1, 1, 1));
  EXPECT_EQ(attr(pool, "ceil_mode").i(), 1);
  const auto& avg = first_of(m, "AveragePool");
  EXPECT_THAT(ints(avg, "pads"), ElementsAre(1, 0, 1, 0));
  EXPECT_EQ(attr(avg, "count_include_pad").i(), 0);
}

TEST(OnnxExport, LinearOfRank3IsTransposeMatMulAdd) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3, 4});
  b.output(b.linear(x, b.parameter("w", testing::uniform_tensor({5, 4}, 1, -1, 1)),
                    b.parameter("b", testing::uniform_tensor({5}, 2, -1, 1))));
  const auto m = export_model(std::move(b).build());
  EXPECT_THAT(op_types(m), ElementsAre("Transpose", "MatMul", "Add"));
  EXPECT_THAT(ints(first_of(m, "Transpose"), "perm"), ElementsAre(1, 0));
  EXPECT_EQ(first_of(m, "Add").output(0), m.graph().output(0).name());
}

TEST(OnnxExport, ElementwiseActivationsAndShapeOps) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3, 4, 4});
  Value* c = b.constant(Tensor::scalar<float>(2.0f), "two");
  Value* y = b.div(b.mul(b.sub(b.add(x, c), c), c), c);
  y = b.hardtanh(y, -0.5, 0.5);
  y = b.clamp(y, std::nullopt, 0.25);
  y = b.node(OpKind::LeakyRelu, {y}, {{"negative_slope", 0.125}})->output();
  y = b.node(OpKind::HardSwish, {b.node(OpKind::Sigmoid, {y})->output()})->output();
  y = b.node(OpKind::HardSigmoid, {y}, {{"alpha", 0.2}, {"beta", 0.5}})->output();
  y = b.node(OpKind::Tanh, {y})->output();
  y = b.node(OpKind::Pad2d, {y}, {{"pads", std::vector<std::int64_t>{1, 2, 0, 1}}, {"value", 0.5}})
          ->output();  // [2, 3, 5, 7]
  y = b.batch_norm(y, b.parameter("bn.w", testing::uniform_tensor({3}, 1, 0.5, 1)),
                   b.parameter("bn.b", testing::uniform_tensor({3}, 2, -1, 1)),
                   b.parameter("bn.m", testing::uniform_tensor({3}, 3, -1, 1)),
                   b.parameter("bn.v", testing::uniform_tensor({3}, 4, 0.5, 1)), 1e-3);
  y = b.adaptive_avg_pool2d(y, {1, 1});  // [2, 3, 1, 1]
  y = b.flatten(y, 0, 2);                // [6, 1]
  y = b.transpose(y, 0, -1);             // [1, 6]
  y = b.reshape(y, {3, -1});             // [3, 2]
  y = b.cat({y, y}, -1);                 // [3, 4]
  y = b.softmax(y, 1);
  b.output(y);
  const auto m = export_model(std::move(b).build());
  EXPECT_THAT(op_types(m), ElementsAre("Add", "Sub", "Mul", "Div", "Clip", "Clip", "LeakyRelu",
                                       "Sigmoid", "HardSwish", "HardSigmoid", "Tanh", "Pad",
                                       "BatchNormalization", "GlobalAveragePool", "Reshape",
                                       "Transpose", "Reshape", "Concat", "Softmax"));
  const auto& hardtanh = first_of(m, "Clip");
  EXPECT_EQ(values_of<float>(initializer(m, hardtanh.input(1))), std::vector<float>{-0.5f});
  EXPECT_EQ(values_of<float>(initializer(m, hardtanh.input(2))), std::vector<float>{0.5f});
  const auto& clamp = m.graph().node(5);
  ASSERT_EQ(clamp.input_size(), 3);
  EXPECT_EQ(clamp.input(1), "");  // no lower bound
  EXPECT_FLOAT_EQ(attr(first_of(m, "LeakyRelu"), "alpha").f(), 0.125f);
  EXPECT_FLOAT_EQ(attr(first_of(m, "HardSigmoid"), "alpha").f(), 0.2f);
  const auto& pad = first_of(m, "Pad");
  EXPECT_THAT(values_of<std::int64_t>(initializer(m, pad.input(1))),
              ElementsAre(0, 0, 1, 2, 0, 0, 0, 1));
  EXPECT_EQ(values_of<float>(initializer(m, pad.input(2))), std::vector<float>{0.5f});
  EXPECT_EQ(attr(pad, "mode").s(), "constant");
  EXPECT_FLOAT_EQ(attr(first_of(m, "BatchNormalization"), "epsilon").f(), 1e-3f);
  EXPECT_THAT(values_of<std::int64_t>(initializer(m, first_of(m, "Reshape").input(1))),
              ElementsAre(6, 1));
  EXPECT_THAT(ints(first_of(m, "Transpose"), "perm"), ElementsAre(1, 0));
  EXPECT_EQ(attr(first_of(m, "Concat"), "axis").i(), 1);
  EXPECT_EQ(attr(first_of(m, "Softmax"), "axis").i(), 1);
}

TEST(OnnxExport, PoolsOfRank3InputsGetABatchDim) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {3, 8, 8});
  b.output(b.adaptive_avg_pool2d(b.max_pool2d(x, graph::MaxPool2dOptions({2, 2})), {2, 2}));
  const auto m = export_model(std::move(b).build());
  EXPECT_THAT(op_types(m), ElementsAre("Unsqueeze", "MaxPool", "Squeeze", "Unsqueeze",
                                       "AveragePool", "Squeeze"));
  EXPECT_THAT(ints(m.graph().node(4), "kernel_shape"), ElementsAre(2, 2));
}

TEST(OnnxExport, StaticQdqGraphUsesQuantizeLinearAndPerChannelDequantize) {
  const graph::Graph g = testing::static_qdq_cnn(1, testing::cnn_input(8, 11));
  const auto m = export_model(g);
  const auto types = op_types(m);
  EXPECT_EQ(std::count(types.begin(), types.end(), "QuantizeLinear"), 7);
  // 7 activations + 4 weights + 3 int32 biases (fc1 reads a Flatten, not a dequantize: its
  // bias has no input scale and stays float).
  EXPECT_EQ(std::count(types.begin(), types.end(), "DequantizeLinear"), 14);
  EXPECT_EQ(initializer(m, node_named(m, "linear").input(2)).data_type(),
            ::onnx::TensorProto_DataType_FLOAT);
  EXPECT_EQ(std::count(types.begin(), types.end(), "Conv"), 2);
  EXPECT_EQ(std::count(types.begin(), types.end(), "Gemm"), 2);
  EXPECT_EQ(std::count(types.begin(), types.end(), "Clip"), 0);  // full int8 range

  // The input's quantize: f32 scale and a uint8 zero point, 0-d, equal to the graph's int8
  // one + 128 (uint8 activations), as is the dequantize reading it.
  const graph::Node* q = g.nodes()[0];
  ASSERT_EQ(q->op(), OpKind::QuantizePerTensor);
  const auto& quantize = node_named(m, q->name());
  EXPECT_EQ(quantize.op_type(), "QuantizeLinear");
  const auto& scale = initializer(m, quantize.input(1));
  EXPECT_EQ(scale.data_type(), ::onnx::TensorProto_DataType_FLOAT);
  EXPECT_EQ(scale.dims_size(), 0);
  EXPECT_EQ(values_of<float>(scale),
            std::vector<float>{static_cast<float>(q->attr_float("scale"))});
  const auto& zp = initializer(m, quantize.input(2));
  EXPECT_EQ(zp.data_type(), ::onnx::TensorProto_DataType_UINT8);
  EXPECT_EQ(values_of<std::uint8_t>(zp),
            std::vector<std::uint8_t>{static_cast<std::uint8_t>(q->attr_int("zero_point") + 128)});
  for (const auto& n : m.graph().node()) {
    if (n.op_type() == "DequantizeLinear" && n.input(0) == quantize.output(0)) {
      EXPECT_EQ(initializer(m, n.input(2)).data_type(), ::onnx::TensorProto_DataType_UINT8);
      EXPECT_EQ(values_of<std::uint8_t>(initializer(m, n.input(2))), values_of<std::uint8_t>(zp));
    }
  }
  for (const auto& info : m.graph().value_info()) {  // typed as written, not as in the graph
    if (info.name() == quantize.output(0)) {
      EXPECT_EQ(info.type().tensor_type().elem_type(), ::onnx::TensorProto_DataType_UINT8);
    }
  }

  // conv1's weight: int8 initializer, per-channel f32 scales, int8 zero points, axis 0.
  const auto& conv = first_of(m, "Conv");
  const auto& dq_w = producer_of(m, conv.input(1));
  EXPECT_EQ(dq_w.op_type(), "DequantizeLinear");
  EXPECT_EQ(attr(dq_w, "axis").i(), 0);
  const auto& w = initializer(m, dq_w.input(0));
  EXPECT_EQ(w.data_type(), ::onnx::TensorProto_DataType_INT8);
  EXPECT_EQ(w.dims_size(), 4);
  const Value* w_value = g.find_value(dq_w.input(0));
  ASSERT_NE(w_value, nullptr);
  EXPECT_EQ(values_of<std::int8_t>(w), w_value->data().to_vector<std::int8_t>());
  const auto& scales = initializer(m, dq_w.input(1));
  EXPECT_EQ(scales.data_type(), ::onnx::TensorProto_DataType_FLOAT);
  EXPECT_THAT(std::vector<std::int64_t>(scales.dims().begin(), scales.dims().end()),
              ElementsAre(4));
  const auto& zps = initializer(m, dq_w.input(2));
  EXPECT_EQ(zps.data_type(), ::onnx::TensorProto_DataType_INT8);  // the graph's are int64
  EXPECT_THAT(values_of<std::int8_t>(zps), ElementsAre(0, 0, 0, 0));
  // The float bias becomes int32 round(bias / (x_scale · w_scale)) behind a per-channel
  // DequantizeLinear (scale float32(x_scale · w_scale), zero point 0, axis 0): the layout ORT
  // fuses into QLinearConv, with the integers the lowering computes.
  const graph::Node* conv_node = g.find_value(conv.output(0))->producer();
  const double x_scale = conv_node->input(0)->producer()->attr_float("scale");
  const std::vector<double> w_scales =
      conv_node->input(1)->producer()->input(1)->data().to(DType::Float64).to_vector<double>();
  const std::vector<float> bias = conv_node->input(2)->data().to_vector<float>();
  const auto& dq_b = producer_of(m, conv.input(2));
  EXPECT_EQ(dq_b.op_type(), "DequantizeLinear");
  EXPECT_EQ(attr(dq_b, "axis").i(), 0);
  const auto& b_i32 = initializer(m, dq_b.input(0));
  ASSERT_EQ(b_i32.data_type(), ::onnx::TensorProto_DataType_INT32);
  const std::vector<std::int32_t> bias_i32 = values_of<std::int32_t>(b_i32);
  const std::vector<float> b_scales = values_of<float>(initializer(m, dq_b.input(1)));
  const auto& b_zps = initializer(m, dq_b.input(2));
  EXPECT_EQ(b_zps.data_type(), ::onnx::TensorProto_DataType_INT32);
  EXPECT_THAT(values_of<std::int32_t>(b_zps), ElementsAre(0, 0, 0, 0));
  ASSERT_EQ(bias_i32.size(), 4u);
  ASSERT_EQ(b_scales.size(), 4u);
  for (std::size_t c = 0; c < bias_i32.size(); ++c) {
    const double step = x_scale * w_scales[c];
    EXPECT_EQ(b_scales[c], static_cast<float>(step)) << c;
    EXPECT_EQ(bias_i32[c], kernels::quantize_bias(bias[c], x_scale, w_scales[c])) << c;
    EXPECT_LE(std::fabs(bias_i32[c] * step - bias[c]), 0.5 * step) << c;  // the nearest integer
  }
  EXPECT_THAT(bias_i32, ::testing::Contains(::testing::Ne(0)));  // a real bias, not all zeros
}

// A bias whose activation is not statically quantized (here a float input) stays float: no
// integer layout exists without an input scale.
TEST(OnnxExport, BiasOfAFloatActivationStaysFloat) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 2});
  Value* w = b.constant(Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2}), "w");
  Value* bias = b.constant(Tensor::from_vector<float>({0.5f, -0.25f}, {2}), "bias");
  b.output(b.linear(x, w, bias));
  const auto m = export_model(std::move(b).build());
  EXPECT_THAT(op_types(m), ElementsAre("Gemm"));
  EXPECT_EQ(initializer(m, first_of(m, "Gemm").input(2)).data_type(),
            ::onnx::TensorProto_DataType_FLOAT);
}

TEST(OnnxExport, NarrowQuantRangeIsClipped) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {4});
  const graph::QuantizeAttrs attrs{0.5, 3, -100, 90, DType::Int8};
  b.output(b.dequantize_per_tensor(b.quantize_per_tensor(x, attrs), attrs));
  const graph::Graph g = std::move(b).build();
  {  // as uint8 (the default): every bound and zero point shifted by 128
    const auto m = export_model(g);
    EXPECT_THAT(op_types(m), ElementsAre("QuantizeLinear", "Clip", "DequantizeLinear"));
    const auto& clip = first_of(m, "Clip");
    EXPECT_THAT(values_of<std::uint8_t>(initializer(m, clip.input(1))), ElementsAre(28));
    EXPECT_THAT(values_of<std::uint8_t>(initializer(m, clip.input(2))), ElementsAre(218));
    EXPECT_THAT(values_of<std::uint8_t>(initializer(m, first_of(m, "QuantizeLinear").input(2))),
                ElementsAre(131));
    EXPECT_EQ(first_of(m, "DequantizeLinear").input(0), clip.output(0));
  }
  {  // as the graph has it
    const auto m = export_model(g, {.uint8_activations = false});
    EXPECT_THAT(op_types(m), ElementsAre("QuantizeLinear", "Clip", "DequantizeLinear"));
    const auto& clip = first_of(m, "Clip");
    EXPECT_THAT(values_of<std::int8_t>(initializer(m, clip.input(1))), ElementsAre(-100));
    EXPECT_THAT(values_of<std::int8_t>(initializer(m, clip.input(2))), ElementsAre(90));
    EXPECT_THAT(values_of<std::int8_t>(initializer(m, first_of(m, "QuantizeLinear").input(2))),
                ElementsAre(3));
    EXPECT_EQ(first_of(m, "DequantizeLinear").input(0), clip.output(0));
  }
}

// Relu / hardtanh before a quantize that clamps as much is left out (ORT then sees
// DQ → Conv → Q), and kept where the quantize's range reaches past it.
TEST(OnnxExport, ActivationsTheClosingQuantizeClampsAnywayAreFolded) {
  const auto export_with = [](OpKind act, graph::AttributeMap act_attrs,
                              const graph::QuantizeAttrs& out) {
    GraphBuilder b;
    Value* x = b.input("x", DType::Float32, {1, 4});
    Value* w = b.constant(Tensor::from_vector<float>({1, 2, 3, 4, -1, -2, -3, -4}, {2, 4}), "w");
    Value* y = b.node(act, {b.linear(x, w)}, std::move(act_attrs), "act")->output();
    b.output(b.dequantize_per_tensor(b.quantize_per_tensor(y, out), out));
    return export_model(std::move(b).build());
  };
  // Relu, zero point at quant_min: Q(0) = quant_min already.
  auto m = export_with(OpKind::Relu, {}, {0.05, -128, -128, 127, DType::Int8});
  EXPECT_THAT(op_types(m), ElementsAre("Gemm", "QuantizeLinear", "DequantizeLinear"));
  EXPECT_EQ(first_of(m, "QuantizeLinear").input(0), first_of(m, "Gemm").output(0));
  // Relu with room below zero in the range: kept.
  m = export_with(OpKind::Relu, {}, {0.05, -100, -128, 127, DType::Int8});
  EXPECT_THAT(op_types(m), ElementsAre("Gemm", "Relu", "QuantizeLinear", "DequantizeLinear"));
  // ReLU6 before a [0, 6] range (scale 6 / 255): 0 and 6 are quant_min and quant_max.
  const graph::AttributeMap relu6{{"min_val", 0.0}, {"max_val", 6.0}};
  m = export_with(OpKind::Hardtanh, relu6, {6.0 / 255.0, -128, -128, 127, DType::Int8});
  EXPECT_THAT(op_types(m), ElementsAre("Gemm", "QuantizeLinear", "DequantizeLinear"));
  // A range reaching past 6 (scale 8 / 255): kept, or values in (6, 8] would survive.
  m = export_with(OpKind::Hardtanh, relu6, {8.0 / 255.0, -128, -128, 127, DType::Int8});
  EXPECT_THAT(op_types(m), ElementsAre("Gemm", "Clip", "QuantizeLinear", "DequantizeLinear"));
}

// An int8 tensor the graph declares (an output, or read by something other than a per-tensor
// dequantize) keeps its dtype: only a tensor that lives between a quantize and its dequantizes
// is the file's choice.
TEST(OnnxExport, Int8GraphOutputsStayInt8) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {4});
  const graph::QuantizeAttrs attrs{0.5, 3, -128, 127, DType::Int8};
  Value* q = b.quantize_per_tensor(x, attrs);
  b.output(b.dequantize_per_tensor(q, attrs));
  b.output(q);
  const auto m = export_model(std::move(b).build());
  const auto& quantize = first_of(m, "QuantizeLinear");
  EXPECT_EQ(initializer(m, quantize.input(2)).data_type(), ::onnx::TensorProto_DataType_INT8);
  EXPECT_EQ(initializer(m, first_of(m, "DequantizeLinear").input(2)).data_type(),
            ::onnx::TensorProto_DataType_INT8);
  for (const auto& out : m.graph().output()) {
    if (out.name() == quantize.output(0)) {
      EXPECT_EQ(out.type().tensor_type().elem_type(), ::onnx::TensorProto_DataType_INT8);
    }
  }
}

TEST(OnnxExport, PerChannelQuantizeWithF64ScalesAndUint8) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3});
  Value* s = b.constant(Tensor::from_vector<double>({0.1, 0.2, 0.3}, {3}), "s");
  Value* z = b.constant(Tensor::from_vector<std::int32_t>({1, 128, 255}, {3}), "z");
  b.output(b.dequantize_per_channel(b.quantize_per_channel(x, s, z, 1, 0, 255, DType::UInt8), s, z,
                                    1, 0, 255, DType::UInt8));
  const auto m = export_model(std::move(b).build());
  EXPECT_THAT(op_types(m), ElementsAre("QuantizeLinear", "DequantizeLinear"));
  const auto& q = first_of(m, "QuantizeLinear");
  EXPECT_EQ(attr(q, "axis").i(), 1);
  EXPECT_THAT(values_of<float>(initializer(m, q.input(1))), ElementsAre(0.1f, 0.2f, 0.3f));
  EXPECT_THAT(values_of<std::uint8_t>(initializer(m, q.input(2))), ElementsAre(1, 128, 255));
}

TEST(OnnxExport, DynamicQuantizationBecomesDynamicQuantizeLinear) {
  const graph::Graph g = testing::dynamic_qdq_cnn(1);
  const auto m = export_model(g);
  const auto types = op_types(m);
  EXPECT_EQ(std::count(types.begin(), types.end(), "DynamicQuantizeLinear"), 2);
  EXPECT_EQ(std::count(types.begin(), types.end(), "QuantizeLinear"), 0);
  // Each DynamicQuantizeLinear's three outputs feed one DequantizeLinear, which feeds Gemm.
  for (const auto& n : m.graph().node()) {
    if (n.op_type() != "DynamicQuantizeLinear") continue;
    ASSERT_EQ(n.output_size(), 3);
    int readers = 0;
    for (const auto& user : m.graph().node()) {
      if (user.op_type() == "DequantizeLinear" && user.input(0) == n.output(0)) {
        EXPECT_EQ(user.input(1), n.output(1));
        EXPECT_EQ(user.input(2), n.output(2));
        ++readers;
      }
    }
    EXPECT_EQ(readers, 1);
  }
}

TEST(OnnxExport, DynamicQparamsOutsideThePatternAreRejected) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {4});
  auto [s, zp] = b.choose_qparams(x, -128, 127, 1e-7, DType::Int8);
  Value* q = b.quantize_per_tensor(x, s, zp, -128, 127, DType::Int8);
  b.output(q);  // the int8 tensor itself has no ONNX form here
  EXPECT_THAT([&] { (void)export_onnx_bytes(std::move(b).build()); },
              ::testing::ThrowsMessage<Error>(HasSubstr("graph output")));

  GraphBuilder narrow;
  Value* y = narrow.input("y", DType::Float32, {4});
  auto [s2, zp2] = narrow.choose_qparams(y, -127, 127, 1e-7, DType::Int8);
  narrow.output(
      narrow.dequantize_per_tensor(narrow.quantize_per_tensor(y, s2, zp2, -127, 127, DType::Int8),
                                   s2, zp2, -127, 127, DType::Int8));
  EXPECT_THAT([&] { (void)export_onnx_bytes(std::move(narrow).build()); },
              ::testing::ThrowsMessage<Error>(HasSubstr("full 8-bit range")));
}

// Codes as uint8 (a byte per weight) → Cast(int32) → Gather(levels): ONNX Gather only takes
// int32/int64 indices.
TEST(OnnxExport, ApotDequantizeIsAGatherFromTheLevelsByUint8Codes) {
  GraphBuilder b;
  Value* codes = b.constant(Tensor::from_vector<std::int32_t>({0, 2, 1, 2}, {2, 2}), "codes");
  Value* w =
      b.node(OpKind::ApotDequantize, {codes}, {{"levels", std::vector<double>{-0.5, 0.0, 0.75}}})
          ->output();
  Value* x = b.input("x", DType::Float32, {1, 2});
  b.output(b.linear(x, w));
  const auto m = export_model(std::move(b).build());
  EXPECT_THAT(op_types(m), ElementsAre("Cast", "Gather", "Gemm"));
  const auto& gather = first_of(m, "Gather");
  EXPECT_THAT(values_of<float>(initializer(m, gather.input(0))), ElementsAre(-0.5f, 0.0f, 0.75f));
  const auto& cast = first_of(m, "Cast");
  EXPECT_EQ(cast.output(0), gather.input(1));
  EXPECT_EQ(attr(cast, "to").i(), ::onnx::TensorProto_DataType_INT32);
  const auto& stored = initializer(m, cast.input(0));
  EXPECT_EQ(stored.data_type(), ::onnx::TensorProto_DataType_UINT8);
  EXPECT_THAT(std::vector<std::int64_t>(stored.dims().begin(), stored.dims().end()),
              ElementsAre(2, 2));
  EXPECT_THAT(values_of<std::uint8_t>(stored), ElementsAre(0, 2, 1, 2));
  for (const auto& t : m.graph().initializer()) {  // no int32 copy of the codes
    EXPECT_NE(t.data_type(), ::onnx::TensorProto_DataType_INT32) << t.name();
  }
}

// More than 256 levels do not fit a byte: the codes stay int32 indices of the Gather.
TEST(OnnxExport, ApotCodesBeyondAByteStayInt32) {
  GraphBuilder b;
  Value* codes = b.constant(Tensor::from_vector<std::int32_t>({0, 300, 299, 1}, {2, 2}), "codes");
  std::vector<double> levels(301);
  for (std::size_t i = 0; i < levels.size(); ++i) levels[i] = 0.01 * static_cast<double>(i);
  b.output(b.node(OpKind::ApotDequantize, {codes}, {{"levels", levels}})->output());
  const auto m = export_model(std::move(b).build());
  EXPECT_THAT(op_types(m), ElementsAre("Gather"));
  const auto& indices = initializer(m, first_of(m, "Gather").input(1));
  EXPECT_EQ(indices.data_type(), ::onnx::TensorProto_DataType_INT32);
  EXPECT_THAT(values_of<std::int32_t>(indices), ElementsAre(0, 300, 299, 1));
}

TEST(OnnxExport, ApotCodeOutsideTheLevelsIsAnErrorNamingTheNode) {
  GraphBuilder b;
  Value* codes = b.constant(Tensor::from_vector<std::int32_t>({0, 3}, {1, 2}), "codes");
  b.output(b.node(OpKind::ApotDequantize, {codes}, {{"levels", std::vector<double>{0.0, 1.0, 2.0}}},
                  "weight_levels")
               ->output());
  const graph::Graph g = std::move(b).build();
  EXPECT_THAT([&] { (void)export_onnx_bytes(g); },
              ::testing::ThrowsMessage<Error>(
                  AllOf(HasSubstr("weight_levels"),
                        HasSubstr("code 3 is not a level index (there are 3 levels)"))));
}

TEST(OnnxExport, CastsExportOnlyWhereExact) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {3});
  b.output(b.cast(b.cast(b.round(x), DType::Int8), DType::Float32));
  const auto m = export_model(std::move(b).build());
  // float → int8 saturates: a Clip to [-128, 127] before the Cast.
  EXPECT_THAT(op_types(m), ElementsAre("Round", "Clip", "Cast", "Cast"));
  EXPECT_EQ(attr(m.graph().node(2), "to").i(), ::onnx::TensorProto_DataType_INT8);

  GraphBuilder wide;
  Value* y = wide.input("y", DType::Float32, {3});
  wide.output(wide.cast(y, DType::Int32));
  EXPECT_THAT([&] { (void)export_onnx_bytes(std::move(wide).build()); },
              ::testing::ThrowsMessage<Error>(HasSubstr("cast")));
}

TEST(OnnxExport, OpsWithoutAnOnnxFormAreErrorsNamingTheNode) {
  {
    GraphBuilder b;
    Value* x = b.input("x", DType::Int8, {2, 4});
    b.output(b.integer_linear(x, b.constant(Tensor::zeros({3, 4}, DType::Int8), "w")));
    EXPECT_THAT([&] { (void)export_onnx_bytes(std::move(b).build()); },
                ::testing::ThrowsMessage<Error>(
                    HasSubstr("node 'integer_linear' (integer_linear): the integer reference")));
  }
  {
    GraphBuilder b;
    Value* x = b.input("x", DType::Float32, {2});
    b.output(b.node(OpKind::Observe, {x}, {{"observer", "obs"}})->output());
    EXPECT_THAT([&] { (void)export_onnx_bytes(std::move(b).build()); },
                ::testing::ThrowsMessage<Error>(HasSubstr("run convert_pt2e first")));
  }
  {
    GraphBuilder b;
    Value* x = b.input("x", DType::Float32, {2});
    const graph::QuantizeAttrs attrs{0.1, 0, -32768, 32767, DType::Int16};
    b.output(b.dequantize_per_tensor(b.quantize_per_tensor(x, attrs), attrs));
    EXPECT_THAT([&] { (void)export_onnx_bytes(std::move(b).build()); },
                ::testing::ThrowsMessage<Error>(HasSubstr("only have int8 and uint8, not int16")));
  }
  {
    GraphBuilder b;
    Value* x = b.input("x", DType::Float32, {1, 1, 4, 4});
    b.output(b.avg_pool2d(x, graph::AvgPool2dOptions({2, 2}, {2, 2}, {0, 0}, false, true, 3)));
    EXPECT_THAT([&] { (void)export_onnx_bytes(std::move(b).build()); },
                ::testing::ThrowsMessage<Error>(HasSubstr("divisor_override")));
  }
  {
    GraphBuilder b;
    Value* x = b.input("x", DType::Float32, {1, 1, 5, 5});
    b.output(b.adaptive_avg_pool2d(x, {2, 2}));
    EXPECT_THAT([&] { (void)export_onnx_bytes(std::move(b).build()); },
                ::testing::ThrowsMessage<Error>(HasSubstr("unequal windows")));
  }
}

TEST(OnnxExport, OptionsAreValidated) {
  const graph::Graph g = testing::float_cnn(1);
  EXPECT_THAT([&] { (void)export_onnx_bytes(g, {.opset = 12}); },
              ::testing::ThrowsMessage<Error>(HasSubstr("options.opset")));
  EXPECT_THAT([&] { (void)export_onnx_bytes(g, {.producer_name = ""}); },
              ::testing::ThrowsMessage<Error>(HasSubstr("options.producer_name")));
  const auto m = export_model(g, {.producer_name = "me", .opset = 13});
  EXPECT_EQ(m.opset_import(0).version(), 13);
  EXPECT_EQ(m.ir_version(), 7);
  EXPECT_EQ(m.producer_name(), "me");
}

TEST(OnnxExport, InputsWeightsAndRepeatedValuesAsOutputsGoThroughIdentity) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2});
  Value* w = b.parameter("w", Tensor::from_vector<float>({1, 2}, {2}));
  Value* r = b.relu(x);
  b.output(r);
  b.output(r);
  b.output(x);
  b.output(w);
  const auto m = export_model(std::move(b).build());
  EXPECT_THAT(op_types(m), ElementsAre("Relu", "Identity", "Identity", "Identity"));
  ASSERT_EQ(m.graph().output_size(), 4);
  EXPECT_EQ(m.graph().output(0).name(), "relu");
  std::set<std::string> names;
  for (const auto& o : m.graph().output()) names.insert(o.name());
  EXPECT_EQ(names.size(), 4u);
  EXPECT_EQ(m.graph().node(3).input(0), "w");
  EXPECT_NO_THROW(initializer(m, "w"));
}

TEST(OnnxExport, HelperNamesNeverCollideWithGraphNames) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3, 4});
  // A parameter named like the helper the rank-3 linear would create.
  Value* w = b.parameter("linear_weight_t", testing::uniform_tensor({5, 4}, 1, -1, 1));
  b.output(b.linear(x, w));
  const auto m = export_model(std::move(b).build());
  std::set<std::string> outputs;
  for (const auto& n : m.graph().node()) {
    for (const auto& o : n.output()) EXPECT_TRUE(outputs.insert(o).second) << o;
  }
  for (const auto& t : m.graph().initializer()) EXPECT_EQ(outputs.count(t.name()), 0u) << t.name();
}

class OnnxExportFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("quantkit_export_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_F(OnnxExportFile, WritesTheSerializedModel) {
  const graph::Graph g = testing::float_cnn(1);
  const auto path = dir_ / "cnn.onnx";
  export_onnx(g, path);
  EXPECT_EQ(read_all(path), export_onnx_bytes(g));
  // Only the model is left in the folder (the temporary file was renamed).
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_),
                          std::filesystem::directory_iterator()),
            1);
}

TEST_F(OnnxExportFile, AFailedExportLeavesTheExistingFileUntouched) {
  const auto path = dir_ / "model.onnx";
  { std::ofstream(path) << "previous"; }
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2});
  b.output(b.node(OpKind::Observe, {x}, {{"observer", "obs"}})->output());
  EXPECT_THROW(export_onnx(std::move(b).build(), path), Error);
  EXPECT_EQ(read_all(path), "previous");
  EXPECT_THROW(export_onnx(testing::float_cnn(1), dir_ / "missing" / "model.onnx"), Error);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "missing"));
}

}  // namespace
}  // namespace quantkit::onnx
