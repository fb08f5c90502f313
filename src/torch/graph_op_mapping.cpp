// Graph IR op -> LibTorch op, with the reference kernels' attribute semantics. Each case says
// where the semantics could differ and why it does not.
#include "graph_op_mapping.h"

#include <ATen/Functions.h>

#include <cstdint>
#include <string>

#include "../graph/type_inference.h"  // slice_range: ONNX Slice's range rule, shared
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

[[noreturn]] void unmapped_attr(const Node& node, const char* attr, const char* what) {
  throw Error("QatModule: node '" + node.name() + "' (" + std::string(graph::op_name(node.op())) +
              "): attribute '" + attr + "' has " + what + ", which has no LibTorch mapping");
}

std::int64_t dim_of(std::int64_t d, std::int64_t rank) { return d < 0 ? d + rank : d; }

// ONNX Slice through the reference kernel's own range rule; a negative step picks its
// elements with index_select (at::slice takes positive steps only).
at::Tensor slice(const Node& n, const at::Tensor& x) {
  const auto& dims = n.attr_ints("dims");
  const auto& starts = n.attr_ints("starts");
  const auto& ends = n.attr_ints("ends");
  const auto& steps = n.attr_ints("steps");
  at::Tensor y = x;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    const std::int64_t d = dim_of(dims[i], y.dim());
    const graph::infer::SliceRange r = graph::infer::slice_range(y.size(d), starts[i], ends[i], steps[i]);
    if (r.step > 0) {
      y = y.slice(d, r.first, r.first + (r.count > 0 ? (r.count - 1) * r.step + 1 : 0), r.step);
    } else {
      y = y.index_select(d, at::arange(r.first, r.first + r.count * r.step, r.step, at::kLong));
    }
  }
  return y;
}

at::Tensor gather(const Node& n, const at::Tensor& x) {
  const std::int64_t d = dim_of(n.attr_int("dim"), x.dim());
  std::vector<std::int64_t> idx = n.attr_ints("indices");
  for (std::int64_t& i : idx) i = i < 0 ? i + x.size(d) : i;
  return x.index_select(d, at::tensor(idx, at::kLong));
}

// ONNX Expand: the bidirectional numpy broadcast of x's shape and the attribute.
at::Tensor expand(const Node& n, const at::Tensor& x) {
  const auto& shape = n.attr_ints("shape");
  const std::size_t rank = std::max<std::size_t>(shape.size(), static_cast<std::size_t>(x.dim()));
  std::vector<std::int64_t> out(rank, 1);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::int64_t a = i + x.dim() >= rank ? x.size(static_cast<std::int64_t>(i + x.dim() - rank)) : 1;
    const std::int64_t b = i + shape.size() >= rank ? shape[i + shape.size() - rank] : 1;
    out[i] = a == 1 ? b : a;
  }
  return x.expand(out);
}

// ONNX ConvTranspose: torch pads symmetrically, so run it unpadded and crop each side.
at::Tensor conv_transpose2d(const Node& n, const std::vector<at::Tensor>& in) {
  const auto& pads = n.attr_ints("pads");  // top, left, bottom, right
  for (std::int64_t p : pads) {
    if (p < 0) unmapped_attr(n, "pads", "a negative pad (an output larger than the full one)");
  }
  const at::Tensor full = at::conv_transpose2d(
      in[0], in[1], optional_input(in, 2), n.attr_ints("stride"), {0, 0},
      n.attr_ints("output_padding"), n.attr_int("groups"), n.attr_ints("dilation"));
  const std::int64_t h = full.size(2), w = full.size(3);
  return full.slice(2, pads[0], h - pads[2]).slice(3, pads[1], w - pads[3]);
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
    case OpKind::Slice:
    case OpKind::Gather:
    case OpKind::Expand:
    case OpKind::ConvTranspose2d:
    case OpKind::Observe:
    case OpKind::FakeQuantize:
      return true;
    case OpKind::Resize:  // ONNX's coordinate modes have no exact ATen counterpart
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
    case OpKind::ChooseQParamsPerToken:
    case OpKind::QuantizePerGroup:
    case OpKind::DequantizePerGroup:
    case OpKind::IntegerLinearGrouped:
    case OpKind::Sum:  // the reference representation's sum over groups, not a model op
    case OpKind::DynamicQuantizedLinearPerToken:
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
    case OpKind::Slice:
      return slice(n, in[0]);
    case OpKind::Gather:
      return gather(n, in[0]);
    case OpKind::Expand:
      return expand(n, in[0]);
    case OpKind::ConvTranspose2d:
      return conv_transpose2d(n, in);
    case OpKind::Observe:
      return in[0];  // identity: the observer of an observe node only records in calibration
    case OpKind::FakeQuantize:
      return stateful.fake_quantize(n, in[0]);
    default:  // is_mapped's switch is the exhaustive list; check_mapped refused the rest
      break;
  }
  unmapped(n);
}

}  // namespace quantkit::torch::detail
