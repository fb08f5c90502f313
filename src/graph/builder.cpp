#include "quantkit/graph/builder.h"

#include "quantkit/core/error.h"
#include "quantkit/graph/verifier.h"

namespace quantkit::graph {
namespace {

using Ints = std::vector<std::int64_t>;

AttributeMap quant_range_attrs(std::int64_t quant_min, std::int64_t quant_max, DType dtype) {
  AttributeMap a;
  a.emplace("quant_min", quant_min);
  a.emplace("quant_max", quant_max);
  a.emplace("dtype", dtype);
  return a;
}

AttributeMap conv_attrs(const Conv2dOptions& o) {
  AttributeMap a;
  a.emplace("stride", o.stride);
  a.emplace("padding", o.padding);
  a.emplace("dilation", o.dilation);
  a.emplace("groups", o.groups);
  return a;
}

std::vector<Value*> with_optional(std::vector<Value*> inputs, Value* optional) {
  if (optional != nullptr) inputs.push_back(optional);
  return inputs;
}

}  // namespace

Value* GraphBuilder::input(std::string name, DType dtype, Shape shape) {
  return graph_.add_input(std::move(name), TensorType{dtype, std::move(shape)});
}

Value* GraphBuilder::input(std::string name, DType dtype, Shape shape,
                           std::vector<std::string> dim_names) {
  return graph_.add_input(std::move(name), TensorType{dtype, std::move(shape)},
                          std::move(dim_names));
}

Value* GraphBuilder::parameter(std::string name, Tensor data) {
  return graph_.add_parameter(std::move(name), std::move(data));
}

Value* GraphBuilder::constant(Tensor data, std::string_view name_hint) {
  return graph_.add_constant(std::move(data), name_hint);
}

Node* GraphBuilder::node(OpKind op, std::vector<Value*> inputs, AttributeMap attrs,
                         std::string_view name_hint) {
  Node* n = graph_.add_node(op, std::move(inputs), std::move(attrs), name_hint);
  n->set_source(source_);
  return n;
}

Value* GraphBuilder::single(OpKind op, std::vector<Value*> inputs, AttributeMap attrs) {
  return node(op, std::move(inputs), std::move(attrs))->output(0);
}

Value* GraphBuilder::linear(Value* x, Value* weight, Value* bias) {
  return single(OpKind::Linear, with_optional({x, weight}, bias));
}

Value* GraphBuilder::conv2d(Value* x, Value* weight, Value* bias, const Conv2dOptions& options) {
  return single(OpKind::Conv2d, with_optional({x, weight}, bias), conv_attrs(options));
}

Value* GraphBuilder::add(Value* a, Value* b) { return single(OpKind::Add, {a, b}); }
Value* GraphBuilder::sub(Value* a, Value* b) { return single(OpKind::Sub, {a, b}); }
Value* GraphBuilder::mul(Value* a, Value* b) { return single(OpKind::Mul, {a, b}); }
Value* GraphBuilder::div(Value* a, Value* b) { return single(OpKind::Div, {a, b}); }
Value* GraphBuilder::relu(Value* x) { return single(OpKind::Relu, {x}); }

Value* GraphBuilder::hardtanh(Value* x, double min_val, double max_val) {
  return single(OpKind::Hardtanh, {x}, {{"min_val", min_val}, {"max_val", max_val}});
}

Value* GraphBuilder::clamp(Value* x, std::optional<double> min, std::optional<double> max) {
  AttributeMap a;
  if (min) a.emplace("min", *min);
  if (max) a.emplace("max", *max);
  return single(OpKind::Clamp, {x}, std::move(a));
}

Value* GraphBuilder::max_pool2d(Value* x, const MaxPool2dOptions& o) {
  AttributeMap a;
  a.emplace("kernel_size", o.kernel_size);
  a.emplace("stride", o.stride.empty() ? o.kernel_size : o.stride);
  a.emplace("padding", o.padding);
  a.emplace("dilation", o.dilation);
  a.emplace("ceil_mode", std::int64_t{o.ceil_mode ? 1 : 0});
  return single(OpKind::MaxPool2d, {x}, std::move(a));
}

Value* GraphBuilder::avg_pool2d(Value* x, const AvgPool2dOptions& o) {
  AttributeMap a;
  a.emplace("kernel_size", o.kernel_size);
  a.emplace("stride", o.stride.empty() ? o.kernel_size : o.stride);
  a.emplace("padding", o.padding);
  a.emplace("ceil_mode", std::int64_t{o.ceil_mode ? 1 : 0});
  a.emplace("count_include_pad", std::int64_t{o.count_include_pad ? 1 : 0});
  if (o.divisor_override) a.emplace("divisor_override", *o.divisor_override);
  return single(OpKind::AvgPool2d, {x}, std::move(a));
}

Value* GraphBuilder::adaptive_avg_pool2d(Value* x, std::vector<std::int64_t> output_size) {
  return single(OpKind::AdaptiveAvgPool2d, {x}, {{"output_size", std::move(output_size)}});
}

Value* GraphBuilder::batch_norm(Value* x, Value* weight, Value* bias, Value* running_mean,
                                Value* running_var, double eps) {
  return single(OpKind::BatchNorm, {x, weight, bias, running_mean, running_var}, {{"eps", eps}});
}

Value* GraphBuilder::flatten(Value* x, std::int64_t start_dim, std::int64_t end_dim) {
  return single(OpKind::Flatten, {x}, {{"start_dim", start_dim}, {"end_dim", end_dim}});
}

Value* GraphBuilder::reshape(Value* x, std::vector<std::int64_t> shape) {
  return single(OpKind::Reshape, {x}, {{"shape", std::move(shape)}});
}

Value* GraphBuilder::transpose(Value* x, std::int64_t dim0, std::int64_t dim1) {
  return single(OpKind::Transpose, {x}, {{"dim0", dim0}, {"dim1", dim1}});
}

Value* GraphBuilder::cat(std::vector<Value*> xs, std::int64_t dim) {
  check_argument(!xs.empty(), "GraphBuilder::cat", "xs", "an empty list", "at least one value");
  return single(OpKind::Cat, std::move(xs), {{"dim", dim}});
}

Value* GraphBuilder::softmax(Value* x, std::int64_t dim) {
  return single(OpKind::Softmax, {x}, {{"dim", dim}});
}

Value* GraphBuilder::quantize_per_tensor(Value* x, const QuantizeAttrs& q) {
  AttributeMap a = quant_range_attrs(q.quant_min, q.quant_max, q.dtype);
  a.emplace("scale", q.scale);
  a.emplace("zero_point", q.zero_point);
  return single(OpKind::QuantizePerTensor, {x}, std::move(a));
}

Value* GraphBuilder::dequantize_per_tensor(Value* q, const QuantizeAttrs& qparams) {
  AttributeMap a = quant_range_attrs(qparams.quant_min, qparams.quant_max, qparams.dtype);
  a.emplace("scale", qparams.scale);
  a.emplace("zero_point", qparams.zero_point);
  return single(OpKind::DequantizePerTensor, {q}, std::move(a));
}

Value* GraphBuilder::quantize_per_tensor(Value* x, Value* scale, Value* zero_point,
                                         std::int64_t quant_min, std::int64_t quant_max,
                                         DType dtype) {
  return single(OpKind::QuantizePerTensor, {x, scale, zero_point},
                quant_range_attrs(quant_min, quant_max, dtype));
}

Value* GraphBuilder::dequantize_per_tensor(Value* q, Value* scale, Value* zero_point,
                                           std::int64_t quant_min, std::int64_t quant_max,
                                           DType dtype) {
  return single(OpKind::DequantizePerTensor, {q, scale, zero_point},
                quant_range_attrs(quant_min, quant_max, dtype));
}

Value* GraphBuilder::quantize_per_channel(Value* x, Value* scales, Value* zero_points,
                                          std::int64_t axis, std::int64_t quant_min,
                                          std::int64_t quant_max, DType dtype) {
  AttributeMap a = quant_range_attrs(quant_min, quant_max, dtype);
  a.emplace("axis", axis);
  return single(OpKind::QuantizePerChannel, {x, scales, zero_points}, std::move(a));
}

Value* GraphBuilder::dequantize_per_channel(Value* q, Value* scales, Value* zero_points,
                                            std::int64_t axis, std::int64_t quant_min,
                                            std::int64_t quant_max, DType dtype) {
  AttributeMap a = quant_range_attrs(quant_min, quant_max, dtype);
  a.emplace("axis", axis);
  return single(OpKind::DequantizePerChannel, {q, scales, zero_points}, std::move(a));
}

std::pair<Value*, Value*> GraphBuilder::choose_qparams(Value* x, std::int64_t quant_min,
                                                       std::int64_t quant_max, double eps,
                                                       DType dtype) {
  AttributeMap a = quant_range_attrs(quant_min, quant_max, dtype);
  a.emplace("eps", eps);
  Node* n = node(OpKind::ChooseQParams, {x}, std::move(a));
  return {n->output(0), n->output(1)};
}

Value* GraphBuilder::cast(Value* x, DType dtype) {
  return single(OpKind::Cast, {x}, {{"dtype", dtype}});
}

Value* GraphBuilder::round(Value* x) { return single(OpKind::Round, {x}); }

Value* GraphBuilder::integer_linear(Value* x, Value* weight, Value* bias) {
  return single(OpKind::IntegerLinear, with_optional({x, weight}, bias));
}

Value* GraphBuilder::integer_conv2d(Value* x, Value* weight, Value* bias,
                                    const Conv2dOptions& options) {
  return single(OpKind::IntegerConv2d, with_optional({x, weight}, bias), conv_attrs(options));
}

void GraphBuilder::output(Value* value) { graph_.add_output(value); }

Graph GraphBuilder::build() && {
  verify(graph_);
  Graph out = std::move(graph_);
  graph_ = Graph();
  source_ = {};
  return out;
}

}  // namespace quantkit::graph
