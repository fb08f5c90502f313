// ONNX forms of the float (and dtype-generic) ops of the graph IR.
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "export_context.h"

namespace quantkit::onnx::export_detail {
namespace {

using graph::Node;
using graph::OpKind;

// A 0-d tensor of `dtype` holding `value` (integral values for integer dtypes).
Tensor scalar_of(DType dtype, double value) {
  return visit_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    return Tensor::scalar<T>(static_cast<T>(value));
  });
}

Tensor int64_vector(const std::vector<std::int64_t>& values) {
  return Tensor::from_vector(values, Shape{static_cast<std::int64_t>(values.size())});
}

std::int64_t normalize_dim(const ExportContext& ctx, const Node& node, std::int64_t dim,
                           std::size_t rank) {
  const auto r = static_cast<std::int64_t>(rank);
  const std::int64_t d = dim < 0 ? dim + r : dim;
  if (d < 0 || d >= r) ctx.fail(node, "dim " + std::to_string(dim) + " is out of range");
  return d;
}

// The node's single output, named after the graph value, with its type recorded.
std::string output_of(ExportContext& ctx, const Node& node) {
  ctx.add_value_info(node.output());
  return node.output()->name();
}

// ONNX pads [top, left, bottom, right] from torch's symmetric [padH, padW].
std::vector<std::int64_t> symmetric_pads(const std::vector<std::int64_t>& padding) {
  return {padding[0], padding[1], padding[0], padding[1]};
}

// ONNX pooling needs a batch dim: graph pools also accept [C, H, W]. Emits `op_type` on a
// [1, C, H, W] view when needed and returns the node for its attributes.
::onnx::NodeProto* emit_pool(ExportContext& ctx, const Node& node, std::string_view op_type) {
  const std::string x = ctx.use(node.input(0));
  const std::string out = output_of(ctx, node);
  if (node.input(0)->shape().size() == 4) return ctx.add_node(op_type, {x}, {out}, node.name());
  const std::string axes = ctx.add_initializer(int64_vector({0}), node.name() + "_batch_axis");
  const std::string batched = ctx.fresh_name(node.name() + "_batched");
  const std::string pooled = ctx.fresh_name(node.name() + "_pooled");
  ctx.add_node("Unsqueeze", {x, axes}, {batched}, ctx.fresh_name(node.name() + "_unsqueeze"));
  auto* pool = ctx.add_node(op_type, {batched}, {pooled}, node.name());
  ctx.add_node("Squeeze", {pooled, axes}, {out}, ctx.fresh_name(node.name() + "_squeeze"));
  return pool;
}

// Reshape to the node's output shape; a dynamic dim (graph.h: one at most, the reshape's
// -1) is written as -1 so the file holds for any batch.
void emit_static_reshape(ExportContext& ctx, const Node& node) {
  Shape shape = node.output()->shape();
  int dynamic = 0;
  for (std::size_t d = 0; d < node.output()->dim_names().size(); ++d) {
    if (node.output()->dim_names()[d].empty()) continue;
    shape[d] = -1;
    ++dynamic;
  }
  if (dynamic > 1)
    ctx.fail(node, "a reshape to " + node.output()->type_string() +
                       " (more than one dynamic dim) has no ONNX form here");
  auto* reshape = ctx.add_node(
      "Reshape",
      {ctx.use(node.input(0)), ctx.add_initializer(int64_vector(shape), node.name() + "_shape")},
      {output_of(ctx, node)}, node.name());
  // A 0 in the shape means "copy the input dim" unless allowzero is set (opset 14+).
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) {
    if (ctx.opset() < 14) ctx.fail(node, "an empty dim needs Reshape's allowzero (opset >= 14)");
    set_attr(reshape, "allowzero", std::int64_t{1});
  }
}

void emit_linear(ExportContext& ctx, const Node& node) {
  const graph::Value* x = node.input(0);
  const bool has_bias = node.num_inputs() > 2;
  const std::string out = output_of(ctx, node);
  if (x->shape().size() == 2) {
    std::vector<std::string> inputs{ctx.use(x), ctx.use(node.input(1))};
    if (has_bias) inputs.push_back(bias_operand(ctx, node));
    set_attr(ctx.add_node("Gemm", std::move(inputs), {out}, node.name()), "transB",
             std::int64_t{1});
    return;
  }
  // Other ranks: MatMul with the transposed weight (ORT folds the Transpose of a constant).
  const std::string weight_t = ctx.fresh_name(node.name() + "_weight_t");
  set_attr(ctx.add_node("Transpose", {ctx.use(node.input(1))}, {weight_t},
                        ctx.fresh_name(node.name() + "_transpose")),
           "perm", std::vector<std::int64_t>{1, 0});
  if (!has_bias) {
    ctx.add_node("MatMul", {ctx.use(x), weight_t}, {out}, node.name());
    return;
  }
  const std::string product = ctx.fresh_name(node.name() + "_matmul");
  ctx.add_node("MatMul", {ctx.use(x), weight_t}, {product}, node.name());
  ctx.add_node("Add", {product, bias_operand(ctx, node)}, {out},
               ctx.fresh_name(node.name() + "_bias"));
}

void emit_conv(ExportContext& ctx, const Node& node) {
  std::vector<std::string> inputs{ctx.use(node.input(0)), ctx.use(node.input(1))};
  if (node.num_inputs() > 2) inputs.push_back(bias_operand(ctx, node));
  auto* conv = ctx.add_node("Conv", std::move(inputs), {output_of(ctx, node)}, node.name());
  const Shape& w = node.input(1)->shape();
  set_attr(conv, "kernel_shape", std::vector<std::int64_t>{w[2], w[3]});
  set_attr(conv, "strides", node.attr_ints("stride"));
  set_attr(conv, "pads", symmetric_pads(node.attr_ints("padding")));
  set_attr(conv, "dilations", node.attr_ints("dilation"));
  set_attr(conv, "group", node.attr_int("groups"));
}

// Clip with optional bounds as 0-d inputs of x's dtype.
void emit_clip(ExportContext& ctx, const Node& node, const double* min, const double* max) {
  const DType dtype = node.input(0)->dtype();
  std::vector<std::string> inputs{ctx.use(node.input(0))};
  inputs.push_back(min ? ctx.add_initializer(scalar_of(dtype, *min), node.name() + "_min") : "");
  if (max) inputs.push_back(ctx.add_initializer(scalar_of(dtype, *max), node.name() + "_max"));
  ctx.add_node("Clip", std::move(inputs), {output_of(ctx, node)}, node.name());
}

void emit_flatten(ExportContext& ctx, const Node& node) {
  const std::size_t rank = node.input(0)->shape().size();
  const std::int64_t start =
      rank == 0 ? 0 : normalize_dim(ctx, node, node.attr_int("start_dim"), rank);
  const std::int64_t end = rank == 0 ? 0 : normalize_dim(ctx, node, node.attr_int("end_dim"), rank);
  // ONNX Flatten(axis) always gives [prod(:axis), prod(axis:)]: torch.flatten(x, 1) exactly.
  if (rank >= 2 && start == 1 && end == static_cast<std::int64_t>(rank) - 1) {
    set_attr(ctx.add_node("Flatten", {ctx.use(node.input(0))}, {output_of(ctx, node)}, node.name()),
             "axis", std::int64_t{1});
    return;
  }
  emit_static_reshape(ctx, node);
}

void emit_adaptive_avg_pool(ExportContext& ctx, const Node& node) {
  const Shape& in = node.input(0)->shape();
  const std::vector<std::int64_t>& out = node.attr_ints("output_size");
  const std::int64_t h = in[in.size() - 2], w = in[in.size() - 1];
  if (out[0] == 1 && out[1] == 1) {
    emit_pool(ctx, node, "GlobalAveragePool");
    return;
  }
  // Equal windows (input divisible by output) are a plain average pool.
  if (out[0] <= 0 || out[1] <= 0 || h % out[0] != 0 || w % out[1] != 0) {
    ctx.fail(node, "adaptive pooling with unequal windows (input " + std::to_string(h) + "x" +
                       std::to_string(w) + ", output " + std::to_string(out[0]) + "x" +
                       std::to_string(out[1]) + ") has no ONNX form");
  }
  auto* pool = emit_pool(ctx, node, "AveragePool");
  const std::vector<std::int64_t> kernel{h / out[0], w / out[1]};
  set_attr(pool, "kernel_shape", kernel);
  set_attr(pool, "strides", kernel);
}

void emit_pad(ExportContext& ctx, const Node& node) {
  const graph::Value* x = node.input(0);
  const std::size_t rank = x->shape().size();
  const std::vector<std::int64_t>& p = node.attr_ints("pads");  // top, left, bottom, right
  std::vector<std::int64_t> pads(2 * rank, 0);
  pads[rank - 2] = p[0];
  pads[rank - 1] = p[1];
  pads[2 * rank - 2] = p[2];
  pads[2 * rank - 1] = p[3];
  const double value = node.attr_float("value");
  if (is_integer(x->dtype()) && value != std::trunc(value)) {
    ctx.fail(node, "a fractional pad value for an integer tensor");
  }
  auto* pad =
      ctx.add_node("Pad",
                   {ctx.use(x), ctx.add_initializer(int64_vector(pads), node.name() + "_pads"),
                    ctx.add_initializer(scalar_of(x->dtype(), value), node.name() + "_value")},
                   {output_of(ctx, node)}, node.name());
  pad->add_attribute()->CopyFrom([] {
    ::onnx::AttributeProto a;
    a.set_name("mode");
    a.set_type(::onnx::AttributeProto_AttributeType_STRING);
    a.set_s("constant");
    return a;
  }());
}

void emit_cast(ExportContext& ctx, const Node& node) {
  const DType from = node.input(0)->dtype();
  const DType to = node.attr_dtype("dtype");
  const std::string out = output_of(ctx, node);
  // Our float → int cast saturates; ONNX's is undefined out of range. Clipping first makes
  // them agree where the bounds are exact floats (8- and 16-bit targets); NaN differs.
  if (is_floating(from) && is_integer(to)) {
    if (dtype_size(to) > 2)
      ctx.fail(node, "a saturating float → 32/64-bit integer cast has no exact ONNX form");
    const std::string clipped = ctx.fresh_name(node.name() + "_saturated");
    ctx.add_node("Clip",
                 {ctx.use(node.input(0)),
                  ctx.add_initializer(scalar_of(from, static_cast<double>(dtype_min(to))),
                                      node.name() + "_min"),
                  ctx.add_initializer(scalar_of(from, static_cast<double>(dtype_max(to))),
                                      node.name() + "_max")},
                 {clipped}, ctx.fresh_name(node.name() + "_clip"));
    set_attr(ctx.add_node("Cast", {clipped}, {out}, node.name()), "to",
             static_cast<std::int64_t>(onnx_elem_type(to)));
    return;
  }
  set_attr(ctx.add_node("Cast", {ctx.use(node.input(0))}, {out}, node.name()), "to",
           static_cast<std::int64_t>(onnx_elem_type(to)));
}

// Ops whose ONNX form is one node with the same inputs and no attributes: the type is the
// schema's (OpTraits::onnx_op_type).
void emit_direct(ExportContext& ctx, const Node& node) {
  const std::string_view op_type = graph::op_schema(node.op()).traits.onnx_op_type;
  if (op_type.empty()) ctx.fail(node, "no direct ONNX form");
  std::vector<std::string> inputs;
  for (const graph::Value* v : node.inputs()) inputs.push_back(ctx.use(v));
  ctx.add_node(std::string(op_type), std::move(inputs), {output_of(ctx, node)}, node.name());
}

}  // namespace

void export_node(ExportContext& ctx, const Node& node) {
  if (fold_into_closing_quantize(ctx, node)) return;
  switch (node.op()) {
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div:
    case OpKind::Relu:
    case OpKind::Sigmoid:
    case OpKind::Tanh:
    case OpKind::Erf:
    case OpKind::Exp:
    case OpKind::Neg:
    case OpKind::Sqrt:
    case OpKind::Pow:  // same dtype for both operands: a valid ONNX Pow at any opset
    case OpKind::MatMul:
    case OpKind::Round:  // half to even in both
      return emit_direct(ctx, node);
    case OpKind::Linear:
      return emit_linear(ctx, node);
    case OpKind::Conv2d:
      return emit_conv(ctx, node);
    case OpKind::Hardtanh: {
      const double lo = node.attr_float("min_val"), hi = node.attr_float("max_val");
      return emit_clip(ctx, node, &lo, &hi);
    }
    case OpKind::Clamp: {
      const double lo = node.has_attr("min") ? node.attr_float("min") : 0.0;
      const double hi = node.has_attr("max") ? node.attr_float("max") : 0.0;
      return emit_clip(ctx, node, node.has_attr("min") ? &lo : nullptr,
                       node.has_attr("max") ? &hi : nullptr);
    }
    case OpKind::MaxPool2d: {
      auto* pool = emit_pool(ctx, node, "MaxPool");
      set_attr(pool, "kernel_shape", node.attr_ints("kernel_size"));
      set_attr(pool, "strides", node.attr_ints("stride"));
      set_attr(pool, "pads", symmetric_pads(node.attr_ints("padding")));
      set_attr(pool, "dilations", node.attr_ints("dilation"));
      set_attr(pool, "ceil_mode", node.attr_int("ceil_mode"));
      return;
    }
    case OpKind::AvgPool2d: {
      if (node.has_attr("divisor_override")) ctx.fail(node, "divisor_override has no ONNX form");
      auto* pool = emit_pool(ctx, node, "AveragePool");
      set_attr(pool, "kernel_shape", node.attr_ints("kernel_size"));
      set_attr(pool, "strides", node.attr_ints("stride"));
      set_attr(pool, "pads", symmetric_pads(node.attr_ints("padding")));
      set_attr(pool, "ceil_mode", node.attr_int("ceil_mode"));
      set_attr(pool, "count_include_pad", node.attr_int("count_include_pad"));
      return;
    }
    case OpKind::AdaptiveAvgPool2d:
      return emit_adaptive_avg_pool(ctx, node);
    case OpKind::BatchNorm: {
      std::vector<std::string> inputs;
      for (const graph::Value* v : node.inputs()) inputs.push_back(ctx.use(v));
      set_attr(ctx.add_node("BatchNormalization", std::move(inputs), {output_of(ctx, node)},
                            node.name()),
               "epsilon", static_cast<float>(node.attr_float("eps")));
      return;
    }
    case OpKind::Flatten:
      return emit_flatten(ctx, node);
    case OpKind::Reshape:
      return emit_static_reshape(ctx, node);
    case OpKind::Transpose: {
      const std::size_t rank = node.input(0)->shape().size();
      std::vector<std::int64_t> perm(rank);
      std::iota(perm.begin(), perm.end(), std::int64_t{0});
      std::swap(perm[normalize_dim(ctx, node, node.attr_int("dim0"), rank)],
                perm[normalize_dim(ctx, node, node.attr_int("dim1"), rank)]);
      set_attr(
          ctx.add_node("Transpose", {ctx.use(node.input(0))}, {output_of(ctx, node)}, node.name()),
          "perm", perm);
      return;
    }
    case OpKind::Cat: {
      std::vector<std::string> inputs;
      for (const graph::Value* v : node.inputs()) inputs.push_back(ctx.use(v));
      set_attr(ctx.add_node("Concat", std::move(inputs), {output_of(ctx, node)}, node.name()),
               "axis",
               normalize_dim(ctx, node, node.attr_int("dim"), node.input(0)->shape().size()));
      return;
    }
    case OpKind::Mean: {
      // Opset 18 moved ReduceMean's axes from an attribute to an input.
      std::vector<std::string> inputs{ctx.use(node.input(0))};
      const std::vector<std::int64_t>& dims = node.attr_ints("dims");
      if (ctx.opset() >= 18) {
        inputs.push_back(ctx.add_initializer(Tensor::from_vector(dims), node.name() + "_axes"));
      }
      auto* n = ctx.add_node("ReduceMean", std::move(inputs), {output_of(ctx, node)}, node.name());
      if (ctx.opset() < 18) set_attr(n, "axes", dims);
      set_attr(n, "keepdims", node.attr_int("keepdim"));
      return;
    }
    case OpKind::LayerNorm: {
      if (ctx.opset() < 17) ctx.fail(node, "LayerNormalization needs opset >= 17");
      std::vector<std::string> inputs;
      for (const graph::Value* v : node.inputs()) inputs.push_back(ctx.use(v));
      auto* n = ctx.add_node("LayerNormalization", std::move(inputs), {output_of(ctx, node)},
                             node.name());
      set_attr(n, "axis", node.attr_int("axis"));
      set_attr(n, "epsilon", static_cast<float>(node.attr_float("eps")));
      return;
    }
    case OpKind::Slice:
      return export_slice(ctx, node);
    case OpKind::Gather:
      return export_gather(ctx, node);
    case OpKind::Expand:
      return export_expand(ctx, node);
    case OpKind::Softmax:
      set_attr(
          ctx.add_node("Softmax", {ctx.use(node.input(0))}, {output_of(ctx, node)}, node.name()),
          "axis", node.attr_int("dim"));
      return;
    case OpKind::HardSigmoid: {
      auto* n = ctx.add_node("HardSigmoid", {ctx.use(node.input(0))}, {output_of(ctx, node)},
                             node.name());
      set_attr(n, "alpha", static_cast<float>(node.attr_float("alpha")));
      set_attr(n, "beta", static_cast<float>(node.attr_float("beta")));
      return;
    }
    case OpKind::HardSwish:
      if (ctx.opset() < 14) ctx.fail(node, "HardSwish needs opset >= 14");
      ctx.add_node("HardSwish", {ctx.use(node.input(0))}, {output_of(ctx, node)}, node.name());
      return;
    case OpKind::LeakyRelu:
      set_attr(
          ctx.add_node("LeakyRelu", {ctx.use(node.input(0))}, {output_of(ctx, node)}, node.name()),
          "alpha", static_cast<float>(node.attr_float("negative_slope")));
      return;
    case OpKind::Pad2d:
      return emit_pad(ctx, node);
    case OpKind::ConvTranspose2d:
      return export_conv_transpose2d(ctx, node, output_of(ctx, node));
    case OpKind::Resize:
      return export_resize(ctx, node, output_of(ctx, node));
    case OpKind::Cast:
      return emit_cast(ctx, node);
    case OpKind::Observe:
    case OpKind::FakeQuantize:
      ctx.fail(node, "a prepared (calibration) graph has no ONNX form; run convert_pt2e first");
    case OpKind::IntegerLinear:
    case OpKind::IntegerConv2d:
    case OpKind::IntegerLinearGrouped:
    case OpKind::Sum:
      ctx.fail(node,
               "the integer reference representation has no ONNX form; export the Q/DQ graph "
               "(convert_pt2e without use_reference_representation)");
    case OpKind::QuantizedLinear:
    case OpKind::QuantizedConv2d:
    case OpKind::QuantizedAdd:
    case OpKind::QuantizedMul:
    case OpKind::QuantizedLut:
    case OpKind::QuantizedConcat:
    case OpKind::QuantizedAvgPool2d:
    case OpKind::QuantizedAdaptiveAvgPool2d:
    case OpKind::DynamicQuantizedLinear:
    case OpKind::DynamicQuantizedLinearPerToken:
      ctx.fail(node,
               "fused integer kernels of a lowered graph have no ONNX form; export the "
               "Q/DQ graph before lowering");
    case OpKind::QuantizePerTensor:
      return export_quantize_per_tensor(ctx, node);
    case OpKind::DequantizePerTensor:
      return export_dequantize_per_tensor(ctx, node);
    case OpKind::QuantizePerChannel:
      return export_quantize_per_channel(ctx, node);
    case OpKind::DequantizePerChannel:
      return export_dequantize_per_channel(ctx, node);
    case OpKind::ChooseQParams:
      return export_choose_qparams(ctx, node);
    case OpKind::ChooseQParamsPerToken:
    case OpKind::QuantizePerGroup:
    case OpKind::DequantizePerGroup:
      return export_per_group_quantization(ctx, node);
    case OpKind::ApotDequantize:
      return export_apot_dequantize(ctx, node);
  }
  ctx.fail(node, "no ONNX form");
}

}  // namespace quantkit::onnx::export_detail
