#include "quantkit/graph/verifier.h"

#include <string>
#include <unordered_set>

#include "quantkit/core/error.h"

namespace quantkit::graph {
namespace {

[[noreturn]] void fail_node(const Node& node, const std::string& message) {
  throw Error("verify: node '" + node.name() + "' (" + std::string(node.schema().name) +
              "): " + message);
}

void check_attributes(const Node& node) {
  const OpSchema& schema = node.schema();
  for (const auto& [name, value] : node.attrs()) {
    const AttrSpec* spec = schema.find_attr(name);
    if (spec == nullptr) fail_node(node, "unknown attribute '" + name + "'");
    if (value.kind() != spec->kind) {
      fail_node(node, "attribute '" + name + "' is a " + std::string(attr_kind_name(value.kind())) +
                          ", expected a " + std::string(attr_kind_name(spec->kind)));
    }
  }
  for (const AttrSpec& spec : schema.attrs) {
    if (spec.required && !node.has_attr(spec.name)) {
      fail_node(node, "missing required attribute '" + std::string(spec.name) + "' (" +
                          std::string(attr_kind_name(spec.kind)) + ")");
    }
  }
}

}  // namespace

void verify(const Graph& graph) {
  std::unordered_set<const Value*> defined;
  std::unordered_set<std::string> names;
  auto claim = [&](const std::string& name, const std::string& what) {
    if (name.empty()) throw Error("verify: " + what + " has an empty name");
    if (!names.insert(name).second) throw Error("verify: name '" + name + "' is used twice");
  };
  auto define_data_value = [&](const Value* v, ValueKind kind) {
    claim(v->name(), std::string(value_kind_name(kind)));
    if (v->kind() != kind || v->producer() != nullptr) {
      throw Error("verify: value '" + v->name() + "' is listed as a " +
                  std::string(value_kind_name(kind)) + " but is a " +
                  std::string(value_kind_name(v->kind())));
    }
    if (v->has_data()) {
      const TensorType data_type{v->data().dtype(), v->data().shape()};
      if (data_type != v->type()) {
        throw Error("verify: " + std::string(value_kind_name(kind)) + " '" + v->name() +
                    "' holds a tensor of type " + data_type.to_string() + " but is declared " +
                    v->type().to_string());
      }
    }
    defined.insert(v);
  };
  for (const Value* v : graph.inputs()) define_data_value(v, ValueKind::Input);
  for (const Value* v : graph.parameters()) define_data_value(v, ValueKind::Parameter);
  for (const Value* v : graph.constants()) define_data_value(v, ValueKind::Constant);

  for (const Node* node : graph.nodes()) {
    const OpSchema& schema = node->schema();
    if (node->num_inputs() < schema.min_inputs || node->num_inputs() > schema.max_inputs()) {
      fail_node(*node, "has " + std::to_string(node->num_inputs()) + " inputs, expected " +
                           std::string(schema.signature));
    }
    std::vector<TensorType> input_types;
    for (std::size_t i = 0; i < node->num_inputs(); ++i) {
      const Value* in = node->input(i);
      if (in == nullptr || !graph.contains(in)) {
        fail_node(*node, "input " + std::to_string(i) + " is not a value of this graph");
      }
      if (!defined.contains(in)) {
        fail_node(*node, "input " + std::to_string(i) + " '" + in->name() +
                             "' is used before it is defined (or the graph has a cycle)");
      }
      input_types.push_back(in->type());
    }
    check_attributes(*node);
    const std::vector<TensorType> expected =
        schema.infer(InferContext(node->name(), schema.name, input_types, node->attrs()));
    if (expected.size() != node->num_outputs()) {
      fail_node(*node, "has " + std::to_string(node->num_outputs()) + " outputs, expected " +
                           std::to_string(expected.size()));
    }
    claim(node->name(), "node");
    for (std::size_t i = 0; i < node->num_outputs(); ++i) {
      const Value* out = node->output(i);
      if (out->producer() != node || out->output_index() != i ||
          out->kind() != ValueKind::NodeOutput) {
        fail_node(*node, "output " + std::to_string(i) + " '" + out->name() +
                             "' is not produced by this node");
      }
      if (out->type() != expected[i]) {
        fail_node(*node, "output " + std::to_string(i) + " '" + out->name() + "' has type " +
                             out->type().to_string() + ", but the op gives " +
                             expected[i].to_string() + " for these inputs");
      }
      if (out->name() != node->name()) claim(out->name(), "node output");
      defined.insert(out);
    }
  }

  if (graph.outputs().empty()) throw Error("verify: the graph has no outputs");
  for (std::size_t i = 0; i < graph.outputs().size(); ++i) {
    const Value* out = graph.outputs()[i];
    if (out == nullptr || !graph.contains(out) || !defined.contains(out)) {
      throw Error("verify: graph output " + std::to_string(i) +
                  " is not a defined value of this graph");
    }
  }
}

}  // namespace quantkit::graph
