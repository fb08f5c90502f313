#pragma once
// Internal to the ONNX exporter (src/onnx/export_*.cpp).
//
// The exporter walks the graph's nodes in execution order (already topological, which ONNX
// requires) and emits one or a few ONNX nodes per graph node. Graph values keep their names
// in the ONNX model; helper values the lowering needs (transposed operands, Clip bounds,
// scalar qparams) get fresh names that collide with nothing. Parameters and constants
// become initializers lazily, the first time a node reads one as an operand, so tensors only
// read through a conversion (f64 per-channel scales → f32) are not written twice.
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "quantkit/graph/graph.h"
#include "quantkit/onnx/onnx_export.h"

namespace quantkit::onnx::export_detail {

// DType → ONNX TensorProto.DataType.
std::int32_t onnx_elem_type(DType dtype);
// The value's shape as ONNX dims: static dims as dim_value, dynamic ones (graph.h) as
// dim_param by name, "?" ones left unknown.
void set_onnx_shape(const graph::Value& value, ::onnx::TensorShapeProto* shape);
// Fills `proto` (name, dims, raw little-endian data) from `tensor`.
void tensor_to_proto(const Tensor& tensor, const std::string& name, ::onnx::TensorProto* proto);

// A choose_qparams node exported as DynamicQuantizeLinear: the uint8 tensor and its
// qparams (ONNX names), and the value it quantizes.
struct DynamicQuantization {
  const graph::Value* source = nullptr;
  std::string quantized;   // uint8 tensor
  std::string scale;       // f32 scalar
  std::string zero_point;  // uint8 scalar
};

class ExportContext {
 public:
  ExportContext(const graph::Graph& graph, const ExportOptions& options, ::onnx::GraphProto* proto);

  const graph::Graph& graph() const { return graph_; }
  std::int64_t opset() const { return options_.opset; }
  bool uint8_activations() const { return options_.uint8_activations; }

  // The ONNX name of a graph value used as an operand; parameters and constants become
  // initializers on first use.
  std::string use(const graph::Value* value);
  // Makes `value` read as `source` (an op the export leaves out, e.g. a folded Relu).
  void alias(const graph::Value* value, const graph::Value* source) { aliases_[value] = source; }
  // A fresh ONNX name derived from `hint`.
  std::string fresh_name(std::string_view hint);
  // An initializer holding `tensor` under a fresh name derived from `hint`.
  std::string add_initializer(const Tensor& tensor, std::string_view hint);
  // An INT4 initializer (ONNX element type 22, opset 21) of int8 values in [-8, 7], packed two
  // per byte, low nibble first.
  std::string add_int4_initializer(const Tensor& int8_values, std::string_view hint);

  // Appends an ONNX node. `name` must be fresh (a graph node name, or from fresh_name).
  ::onnx::NodeProto* add_node(std::string_view op_type, std::vector<std::string> inputs,
                              std::vector<std::string> outputs, std::string name);
  // Records the static type of an ONNX value named after a graph value (with another element
  // type where the ONNX value's differs from the graph's).
  void add_value_info(const graph::Value* value);
  void add_value_info(const graph::Value* value, DType dtype);

  // Error "export_onnx: node '<name>' (<op>): <why>".
  [[noreturn]] void fail(const graph::Node& node, std::string_view why) const;

  // choose_qparams nodes exported as DynamicQuantizeLinear, by the graph node.
  std::unordered_map<const graph::Node*, DynamicQuantization> dynamic;
  // quantize_per_tensor nodes fed by such a choose_qparams: their output maps to the
  // DynamicQuantizeLinear result.
  std::unordered_map<const graph::Value*, const DynamicQuantization*> dynamic_outputs;
  // int8 quantize_per_tensor outputs written as uint8 (ExportOptions::uint8_activations).
  std::unordered_set<const graph::Value*> uint8_outputs;

 private:
  const graph::Graph& graph_;
  const ExportOptions& options_;
  ::onnx::GraphProto* proto_;
  std::unordered_set<std::string> names_;  // every ONNX name in use
  std::unordered_set<const graph::Value*> initialized_;
  std::unordered_map<const graph::Value*, const graph::Value*> aliases_;
  std::size_t counter_ = 0;
};

// Attribute setters.
void set_attr(::onnx::NodeProto* node, std::string_view name, std::int64_t value);
void set_attr(::onnx::NodeProto* node, std::string_view name, float value);
void set_attr(::onnx::NodeProto* node, std::string_view name,
              const std::vector<std::int64_t>& values);
void set_attr(::onnx::NodeProto* node, std::string_view name, const std::string& value);

// Emits the ONNX form of `node`: one switch over every op (export_ops_float.cpp), so a new
// op does not compile until it has an ONNX form or an error saying why it has none. Error
// for ops without one.
void export_node(ExportContext& ctx, const graph::Node& node);

// The quantization ops' forms (export_ops_quant.cpp).
void export_quantize_per_tensor(ExportContext& ctx, const graph::Node& node);
void export_dequantize_per_tensor(ExportContext& ctx, const graph::Node& node);
void export_quantize_per_channel(ExportContext& ctx, const graph::Node& node);
void export_dequantize_per_channel(ExportContext& ctx, const graph::Node& node);
void export_choose_qparams(ExportContext& ctx, const graph::Node& node);
// choose_qparams_per_token / quantize_per_group / dequantize_per_group (export_per_token.cpp).
void export_per_group_quantization(ExportContext& ctx, const graph::Node& node);
void export_apot_dequantize(ExportContext& ctx, const graph::Node& node);

// The resampling ops' forms (export_ops_resample.cpp), written to the ONNX value `output`.
void export_conv_transpose2d(ExportContext& ctx, const graph::Node& node, const std::string& output);
void export_resize(ExportContext& ctx, const graph::Node& node, const std::string& output);
// The transformer data-movement ops' forms (export_ops_indexing.cpp).
void export_slice(ExportContext& ctx, const graph::Node& node);
void export_gather(ExportContext& ctx, const graph::Node& node);
void export_expand(ExportContext& ctx, const graph::Node& node);

// True when `node` (relu, hardtanh, clamp) only clamps what the quantize reading it clamps
// anyway: it is left out and its output aliased to its input (export_activation_folding.cpp).
bool fold_into_closing_quantize(ExportContext& ctx, const graph::Node& node);

// The ONNX name of a conv2d / linear node's bias (input 2): int32 through DequantizeLinear
// when the node's input and weight are statically dequantized (export_quantized_bias.cpp),
// else the float bias itself.
std::string bias_operand(ExportContext& ctx, const graph::Node& node);

}  // namespace quantkit::onnx::export_detail
