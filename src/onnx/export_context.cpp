// ExportContext: ONNX names, initializers, nodes and value infos of the model being written.
#include "export_context.h"

#include <bit>
#include <cstring>
#include <string>
#include <utility>

#include "quantkit/core/error.h"

namespace quantkit::onnx::export_detail {

static_assert(std::endian::native == std::endian::little,
              "ONNX raw_data is little-endian; the exporter copies tensor bytes as they are");

std::int32_t onnx_elem_type(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return ::onnx::TensorProto_DataType_FLOAT;
    case DType::Float64:
      return ::onnx::TensorProto_DataType_DOUBLE;
    case DType::Int8:
      return ::onnx::TensorProto_DataType_INT8;
    case DType::UInt8:
      return ::onnx::TensorProto_DataType_UINT8;
    case DType::Int16:
      return ::onnx::TensorProto_DataType_INT16;
    case DType::Int32:
      return ::onnx::TensorProto_DataType_INT32;
    case DType::Int64:
      return ::onnx::TensorProto_DataType_INT64;
  }
  throw_invalid_argument("export_onnx", "dtype", static_cast<int>(dtype), "a valid DType");
}

void tensor_to_proto(const Tensor& tensor, const std::string& name, ::onnx::TensorProto* proto) {
  proto->set_name(name);
  proto->set_data_type(onnx_elem_type(tensor.dtype()));
  for (std::int64_t d : tensor.shape()) proto->add_dims(d);
  if (tensor.nbytes() > 0) {
    proto->set_raw_data(static_cast<const char*>(tensor.raw_data()), tensor.nbytes());
  }
}

void set_attr(::onnx::NodeProto* node, std::string_view name, std::int64_t value) {
  auto* a = node->add_attribute();
  a->set_name(std::string(name));
  a->set_type(::onnx::AttributeProto_AttributeType_INT);
  a->set_i(value);
}

void set_attr(::onnx::NodeProto* node, std::string_view name, float value) {
  auto* a = node->add_attribute();
  a->set_name(std::string(name));
  a->set_type(::onnx::AttributeProto_AttributeType_FLOAT);
  a->set_f(value);
}

void set_attr(::onnx::NodeProto* node, std::string_view name,
              const std::vector<std::int64_t>& values) {
  auto* a = node->add_attribute();
  a->set_name(std::string(name));
  a->set_type(::onnx::AttributeProto_AttributeType_INTS);
  for (std::int64_t v : values) a->add_ints(v);
}

void set_attr(::onnx::NodeProto* node, std::string_view name, const std::string& value) {
  auto* a = node->add_attribute();
  a->set_name(std::string(name));
  a->set_type(::onnx::AttributeProto_AttributeType_STRING);
  a->set_s(value);
}

ExportContext::ExportContext(const graph::Graph& graph, const ExportOptions& options,
                             ::onnx::GraphProto* proto)
    : graph_(graph), options_(options), proto_(proto) {
  // Reserve every graph name first so helper names never shadow a graph value.
  for (const graph::Value* v : graph.inputs()) names_.insert(v->name());
  for (const graph::Value* v : graph.parameters()) names_.insert(v->name());
  for (const graph::Value* v : graph.constants()) names_.insert(v->name());
  for (const graph::Node* n : graph.nodes()) {
    names_.insert(n->name());
    for (const graph::Value* v : n->outputs()) names_.insert(v->name());
  }
}

std::string ExportContext::fresh_name(std::string_view hint) {
  std::string name(hint);
  while (names_.count(name) != 0) name = std::string(hint) + "__" + std::to_string(counter_++);
  names_.insert(name);
  return name;
}

std::string ExportContext::add_initializer(const Tensor& tensor, std::string_view hint) {
  std::string name = fresh_name(hint);
  tensor_to_proto(tensor, name, proto_->add_initializer());
  return name;
}

std::string ExportContext::add_int4_initializer(const Tensor& int8_values, std::string_view hint) {
  constexpr std::int32_t kOnnxInt4 = 22;  // Debian's onnx headers predate the enum value
  std::string name = fresh_name(hint);
  auto* proto = proto_->add_initializer();
  proto->set_name(name);
  proto->set_data_type(kOnnxInt4);
  for (std::int64_t d : int8_values.shape()) proto->add_dims(d);
  const std::int8_t* v = int8_values.data<std::int8_t>();
  std::string packed(static_cast<std::size_t>((int8_values.numel() + 1) / 2), '\0');
  for (std::int64_t i = 0; i < int8_values.numel(); ++i) {
    const auto nibble = static_cast<unsigned>(v[i]) & 0x0Fu;
    packed[static_cast<std::size_t>(i / 2)] |= static_cast<char>(i % 2 == 0 ? nibble : nibble << 4);
  }
  proto->set_raw_data(std::move(packed));
  return name;
}

std::string ExportContext::use(const graph::Value* value) {
  if (auto it = aliases_.find(value); it != aliases_.end()) return use(it->second);
  if (value->has_data() && initialized_.insert(value).second) {
    tensor_to_proto(value->data(), value->name(), proto_->add_initializer());
  }
  return value->name();
}

::onnx::NodeProto* ExportContext::add_node(std::string_view op_type,
                                           std::vector<std::string> inputs,
                                           std::vector<std::string> outputs, std::string name) {
  auto* node = proto_->add_node();
  node->set_op_type(std::string(op_type));
  node->set_name(std::move(name));
  for (std::string& in : inputs) node->add_input(std::move(in));
  for (std::string& out : outputs) node->add_output(std::move(out));
  return node;
}

void ExportContext::add_value_info(const graph::Value* value) {
  add_value_info(value, value->dtype());
}

void ExportContext::add_value_info(const graph::Value* value, DType dtype) {
  auto* info = proto_->add_value_info();
  info->set_name(value->name());
  auto* tensor_type = info->mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(onnx_elem_type(dtype));
  set_onnx_shape(*value, tensor_type->mutable_shape());
}

void set_onnx_shape(const graph::Value& value, ::onnx::TensorShapeProto* shape) {
  for (std::size_t d = 0; d < value.shape().size(); ++d) {
    auto* dim = shape->add_dim();
    const std::string name = value.is_dynamic() ? value.dim_names()[d] : std::string();
    if (name.empty()) {
      dim->set_dim_value(value.shape()[d]);
    } else if (name != "?") {  // "?" (a derived dynamic dim) stays unknown
      dim->set_dim_param(name);
    }
  }
}

void ExportContext::fail(const graph::Node& node, std::string_view why) const {
  std::string message = "export_onnx: node '";
  message.append(node.name()).append("' (").append(graph::op_name(node.op())).append("): ");
  message.append(why);
  throw Error(message);
}

}  // namespace quantkit::onnx::export_detail
