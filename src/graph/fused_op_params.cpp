// Kernel parameters of the fused integer ops (quantkit/graph/fused_op_params.h).
#include "quantkit/graph/fused_op_params.h"

#include <string>

#include "quantkit/core/error.h"

namespace quantkit::graph {
namespace {

std::int32_t int_attr(const Node& node, std::string_view name) {
  return static_cast<std::int32_t>(node.attr_int(name));
}

}  // namespace

kernels::BinaryParams binary_params(const Node& node) {
  kernels::BinaryParams p;
  p.dtype = node.attr_dtype("dtype");
  p.a_zero_point = int_attr(node, "a_zero_point");
  p.b_zero_point = int_attr(node, "b_zero_point");
  p.out_zero_point = int_attr(node, "out_zero_point");
  p.qmin = int_attr(node, "quant_min");
  p.qmax = int_attr(node, "quant_max");
  if (node.op() == OpKind::QuantizedMul) {
    p.op = kernels::BinaryOp::Mul;
    p.a_multiplier = static_cast<float>(node.attr_float("multiplier"));
  } else {
    check_argument(node.op() == OpKind::QuantizedAdd, "binary_params", "node",
                   std::string(op_name(node.op())), "quantized_add or quantized_mul");
    p.op = kernels::BinaryOp::Add;
    p.a_multiplier = static_cast<float>(node.attr_float("a_multiplier"));
    p.b_multiplier = static_cast<float>(node.attr_float("b_multiplier"));
  }
  return p;
}

kernels::PoolParams pool_params(const Node& node) {
  const Shape& x = node.input(0)->shape();
  kernels::PoolParams p;
  p.dtype = node.input(0)->dtype();
  p.channels = x[x.size() - 3];
  const OpKind op = node.op();
  if (op == OpKind::QuantizedAdaptiveAvgPool2d) {
    p.kind = kernels::PoolKind::AdaptiveAverage;
    const auto& size = node.attr_ints("output_size");
    p.out_h = size[0];
    p.out_w = size[1];
  } else {
    check_argument(op == OpKind::MaxPool2d || op == OpKind::QuantizedAvgPool2d, "pool_params",
                   "node", std::string(op_name(op)),
                   "max_pool2d, quantized_avg_pool2d or quantized_adaptive_avg_pool2d");
    p.kind = op == OpKind::MaxPool2d ? kernels::PoolKind::Max : kernels::PoolKind::Average;
    const auto& kernel = node.attr_ints("kernel_size");
    const auto& stride = node.attr_ints("stride");
    const auto& padding = node.attr_ints("padding");
    p.kernel_h = static_cast<int>(kernel[0]);
    p.kernel_w = static_cast<int>(kernel[1]);
    p.stride_h = static_cast<int>(stride[0]);
    p.stride_w = static_cast<int>(stride[1]);
    p.pad_top = p.pad_bottom = static_cast<int>(padding[0]);
    p.pad_left = p.pad_right = static_cast<int>(padding[1]);
    p.ceil_mode = node.attr_int("ceil_mode") != 0;
    if (op == OpKind::MaxPool2d) {
      const auto& dilation = node.attr_ints("dilation");
      p.dilation_h = static_cast<int>(dilation[0]);
      p.dilation_w = static_cast<int>(dilation[1]);
      p.qmin = static_cast<std::int32_t>(dtype_min(p.dtype));
      p.qmax = static_cast<std::int32_t>(dtype_max(p.dtype));
      return p;  // exact: no requantization
    }
    p.count_include_pad = node.attr_int("count_include_pad") != 0;
    p.divisor_override = node.has_attr("divisor_override") ? node.attr_int("divisor_override") : 0;
  }
  p.in_scale = node.attr_float("in_scale");
  p.in_zero_point = int_attr(node, "in_zero_point");
  p.out_scale = node.attr_float("out_scale");
  p.out_zero_point = int_attr(node, "out_zero_point");
  p.qmin = int_attr(node, "quant_min");
  p.qmax = int_attr(node, "quant_max");
  return p;
}

kernels::ConcatParams concat_params(const Node& node) {
  kernels::ConcatParams p;
  p.dtype = node.attr_dtype("dtype");
  p.out_scale = node.attr_float("out_scale");
  p.out_zero_point = int_attr(node, "out_zero_point");
  const auto& scales = node.attr_floats("scales");
  const auto& zero_points = node.attr_ints("zero_points");
  for (std::size_t i = 0; i < scales.size(); ++i) {
    kernels::ConcatInput in;
    in.scale = scales[i];
    in.zero_point = static_cast<std::int32_t>(zero_points[i]);
    p.inputs.push_back(in);
  }
  return p;
}

std::array<std::int64_t, 4> padded_shape4(const Shape& shape) {
  check_argument(shape.size() <= 4, "padded_shape4", "shape.size()", shape.size(), "<= 4");
  std::array<std::int64_t, 4> out{1, 1, 1, 1};
  for (std::size_t i = 0; i < shape.size(); ++i) out[4 - shape.size() + i] = shape[i];
  return out;
}

}  // namespace quantkit::graph
