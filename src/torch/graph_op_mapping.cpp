// Graph IR op -> LibTorch op, with the reference kernels' attribute semantics. Each case says
// where the semantics could differ and why it does not.
#include "graph_op_mapping.h"

#include <ATen/Functions.h>

#include <cstdint>
#include <string>

#include "quantkit/core/error.h"

namespace quantkit::torch::detail {
namespace {

using graph::Node;
using graph::OpKind;

at::Tensor optional_input(const std::vector<at::Tensor>& in, std::size_t i) {
  return i < in.size() ? in[i] : at::Tensor();
}

c10::optional<at::Scalar> optional_scalar(const Node& node, std::string_view attr) {
  if (!node.has_attr(attr)) return c10::nullopt;
  return at::Scalar(node.attr_float(attr));
}

at::Tensor max_pool2d(const Node& n, const at::Tensor& x) {
  return at::max_pool2d(x, n.attr_ints("kernel_size"), n.attr_ints("stride"),
                        n.attr_ints("padding"), n.attr_ints("dilation"),
                        n.attr_int("ceil_mode") != 0);
}

at::Tensor avg_pool2d(const Node& n, const at::Tensor& x) {
  c10::optional<std::int64_t> divisor;
  if (n.has_attr("divisor_override")) divisor = n.attr_int("divisor_override");
  return at::avg_pool2d(x, n.attr_ints("kernel_size"), n.attr_ints("stride"),
                        n.attr_ints("padding"), n.attr_int("ceil_mode") != 0,
                        n.attr_int("count_include_pad") != 0, divisor);
}

// pads are (top, left, bottom, right) on the last two dims; constant_pad_nd takes pairs from
// the last dim backwards: (left, right, top, bottom).
at::Tensor pad2d(const Node& n, const at::Tensor& x) {
  const auto& p = n.attr_ints("pads");
  return at::constant_pad_nd(x, {p[1], p[3], p[0], p[2]}, n.attr_float("value"));
}

// The reference kernel computes float32(alpha) * x + float32(beta), clamped to [0, 1] (the
// ONNX form; torch's hardsigmoid is alpha 1/6, beta 1/2), so does this.
at::Tensor hardsigmoid(const Node& n, const at::Tensor& x) {
  return at::clamp(at::add(at::mul(x, n.attr_float("alpha")), n.attr_float("beta")), 0.0, 1.0);
}

// ONNX LayerNormalization: normalize over the dims from `axis` (negative counts from the end).
at::Tensor layer_norm(const Node& n, const std::vector<at::Tensor>& in) {
  const at::Tensor& x = in[0];
  std::int64_t axis = n.attr_int("axis");
  if (axis < 0) axis += x.dim();
  return at::layer_norm(x, x.sizes().slice(static_cast<std::size_t>(axis)), in[1],
                        optional_input(in, 2), n.attr_float("eps"), /*cudnn_enable=*/false);
}

// A 0-d exponent is a scalar for torch, which then takes the reference kernel's special forms
// (b = 2: a * a, b = 0.5: sqrt) and no gradient through log(a).
at::Tensor power(const at::Tensor& a, const at::Tensor& b) {
  if (b.dim() == 0 && !b.requires_grad()) return at::pow(a, b.item());
  return at::pow(a, b);
}

[[noreturn]] void unmapped(const Node& node) {
  throw Error("QatModule: node '" + node.name() + "' applies op '" +
              std::string(graph::op_name(node.op())) +
              "', which has no LibTorch mapping (only float ops, observe and fake_quantize "
              "train; quantize the graph after training with convert_pt2e)");
}

bool is_mapped(OpKind op) {
  switch (op) {
    case OpKind::Linear:
    case OpKind::Conv2d:
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div:
    case OpKind::Relu:
    case OpKind::Hardtanh:
    case OpKind::Clamp:
    case OpKind::MaxPool2d:
    case OpKind::AvgPool2d:
    case OpKind::AdaptiveAvgPool2d:
    case OpKind::BatchNorm:
    case OpKind::Flatten:
    case OpKind::Reshape:
    case OpKind::Transpose:
    case OpKind::Cat:
    case OpKind::Softmax:
    case OpKind::Sigmoid:
    case OpKind::Tanh:
    case OpKind::HardSigmoid:
    case OpKind::HardSwish:
    case OpKind::LeakyRelu:
    case OpKind::MatMul:
    case OpKind::Pad2d:
    case OpKind::Erf:
    case OpKind::Exp:
    case OpKind::Neg:
    case OpKind::Sqrt:
    case OpKind::Pow:
    case OpKind::Mean:
    case OpKind::LayerNorm:
    case OpKind::Observe:
    case OpKind::FakeQuantize:
      return true;
    case OpKind::QuantizePerTensor:
    case OpKind::DequantizePerTensor:
    case OpKind::QuantizePerChannel:
    case OpKind::DequantizePerChannel:
    case OpKind::ChooseQParams:
    case OpKind::Cast:
    case OpKind::Round:
    case OpKind::IntegerLinear:
    case OpKind::IntegerConv2d:
    case OpKind::ApotDequantize:
    case OpKind::QuantizedLinear:
    case OpKind::QuantizedConv2d:
    case OpKind::QuantizedAdd:
    case OpKind::QuantizedMul:
    case OpKind::QuantizedLut:
    case OpKind::QuantizedConcat:
    case OpKind::QuantizedAvgPool2d:
    case OpKind::QuantizedAdaptiveAvgPool2d:
    case OpKind::DynamicQuantizedLinear:
      return false;
  }
  return false;
}

}  // namespace

void check_mapped(const Node& node) {
  if (!is_mapped(node.op())) unmapped(node);
}

at::Tensor run_node(const Node& n, const std::vector<at::Tensor>& in, StatefulOps& stateful) {
  check_mapped(n);
  switch (n.op()) {
    case OpKind::Linear:
      return at::linear(in[0], in[1], optional_input(in, 2));
    case OpKind::Conv2d:
      return at::conv2d(in[0], in[1], optional_input(in, 2), n.attr_ints("stride"),
                        n.attr_ints("padding"), n.attr_ints("dilation"), n.attr_int("groups"));
    case OpKind::Add:
      return at::add(in[0], in[1]);
    case OpKind::Sub:
      return at::sub(in[0], in[1]);
    case OpKind::Mul:
      return at::mul(in[0], in[1]);
    case OpKind::Div:
      return at::div(in[0], in[1]);
    case OpKind::Relu:
      return at::relu(in[0]);
    case OpKind::Hardtanh:
      return at::hardtanh(in[0], n.attr_float("min_val"), n.attr_float("max_val"));
    case OpKind::Clamp:
      return at::clamp(in[0], optional_scalar(n, "min"), optional_scalar(n, "max"));
    case OpKind::MaxPool2d:
      return max_pool2d(n, in[0]);
    case OpKind::AvgPool2d:
      return avg_pool2d(n, in[0]);
    case OpKind::AdaptiveAvgPool2d:
      return at::adaptive_avg_pool2d(in[0], n.attr_ints("output_size"));
    case OpKind::BatchNorm:
      return stateful.batch_norm(n, in);
    case OpKind::Flatten:
      return at::flatten(in[0], n.attr_int("start_dim"), n.attr_int("end_dim"));
    case OpKind::Reshape:
      return at::reshape(in[0], n.attr_ints("shape"));
    case OpKind::Transpose:
      return at::transpose(in[0], n.attr_int("dim0"), n.attr_int("dim1"));
    case OpKind::Cat:
      return at::cat(in, n.attr_int("dim"));
    case OpKind::Softmax:
      return at::softmax(in[0], n.attr_int("dim"));
    case OpKind::Sigmoid:
      return at::sigmoid(in[0]);
    case OpKind::Tanh:
      return at::tanh(in[0]);
    case OpKind::HardSigmoid:
      return hardsigmoid(n, in[0]);
    case OpKind::HardSwish:
      return at::hardswish(in[0]);
    case OpKind::LeakyRelu:
      return at::leaky_relu(in[0], n.attr_float("negative_slope"));
    case OpKind::MatMul:
      return at::matmul(in[0], in[1]);
    case OpKind::Pad2d:
      return pad2d(n, in[0]);
    case OpKind::Erf:
      return at::erf(in[0]);
    case OpKind::Exp:
      return at::exp(in[0]);
    case OpKind::Neg:
      return at::neg(in[0]);
    case OpKind::Sqrt:
      return at::sqrt(in[0]);
    case OpKind::Pow:
      return power(in[0], in[1]);
    case OpKind::Mean:
      return at::mean(in[0], n.attr_ints("dims"), n.attr_int("keepdim") != 0);
    case OpKind::LayerNorm:
      return layer_norm(n, in);
    case OpKind::Observe:
      return in[0];  // identity: the observer of an observe node only records in calibration
    case OpKind::FakeQuantize:
      return stateful.fake_quantize(n, in[0]);
    case OpKind::QuantizePerTensor:
    case OpKind::DequantizePerTensor:
    case OpKind::QuantizePerChannel:
    case OpKind::DequantizePerChannel:
    case OpKind::ChooseQParams:
    case OpKind::Cast:
    case OpKind::Round:
    case OpKind::IntegerLinear:
    case OpKind::IntegerConv2d:
    case OpKind::ApotDequantize:
    case OpKind::QuantizedLinear:
    case OpKind::QuantizedConv2d:
    case OpKind::QuantizedAdd:
    case OpKind::QuantizedMul:
    case OpKind::QuantizedLut:
    case OpKind::QuantizedConcat:
    case OpKind::QuantizedAvgPool2d:
    case OpKind::QuantizedAdaptiveAvgPool2d:
    case OpKind::DynamicQuantizedLinear:
      break;
  }
  unmapped(n);
}

}  // namespace quantkit::torch::detail
