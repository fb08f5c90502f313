// Dynamic dims: propagation through add_node (the probe), the named type string, and
// Graph::specialized (a static copy for concrete input shapes).
#include "dynamic_dims.h"

#include <algorithm>
#include <unordered_map>

#include "quantkit/core/error.h"

namespace quantkit::graph {
namespace detail {

namespace {

struct ProbedDim {
  std::int64_t size;
  std::int64_t probe;
  const std::string* name;
};

}  // namespace

std::vector<std::vector<std::string>> infer_dynamic_dims(
    const OpSchema& schema, std::string_view node_name, const std::vector<Value*>& inputs,
    const AttributeMap& attrs, const std::vector<TensorType>& output_types) {
  std::vector<std::vector<std::string>> names(output_types.size());
  std::vector<TensorType> probe_types;
  std::vector<ProbedDim> dynamic;
  for (const Value* v : inputs) {
    TensorType t = v->type();
    for (std::size_t d = 0; d < v->dim_names().size(); ++d) {
      if (v->dim_names()[d].empty()) continue;
      t.shape[d] = probe_size(t.shape[d]);
      dynamic.push_back({v->shape()[d], t.shape[d], &v->dim_names()[d]});
    }
    probe_types.push_back(std::move(t));
  }
  if (dynamic.empty()) return names;
  std::vector<TensorType> probed;
  try {
    probed = schema.infer(InferContext(node_name, schema.name, probe_types, attrs));
  } catch (const Error& e) {
    std::string dims;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i]->is_dynamic()) {
        dims += (dims.empty() ? "" : ", ") + std::string("input ") + std::to_string(i) + " '" +
                inputs[i]->name() + "' " + inputs[i]->type_string();
      }
    }
    throw Error("node '" + std::string(node_name) + "' (" + std::string(schema.name) +
                "): needs static dims where its inputs have dynamic ones (" + dims +
                "): with the dynamic dims at another size it fails: " + e.what());
  }
  for (std::size_t i = 0; i < output_types.size(); ++i) {
    const Shape& rep = output_types[i].shape;
    const Shape& probe = probed[i].shape;
    if (probe.size() != rep.size()) {
      throw Error("node '" + std::string(node_name) + "' (" + std::string(schema.name) +
                  "): output " + std::to_string(i) +
                  " changes rank with the size of a dynamic input dim (not supported)");
    }
    if (probe == rep) continue;
    names[i].assign(rep.size(), std::string());
    for (std::size_t d = 0; d < rep.size(); ++d) {
      if (probe[d] == rep[d]) continue;
      auto same = std::find_if(dynamic.begin(), dynamic.end(), [&](const ProbedDim& p) {
        return p.size == rep[d] && p.probe == probe[d];
      });
      names[i][d] = same != dynamic.end() ? *same->name : std::string("?");
    }
  }
  return names;
}

}  // namespace detail

std::string Value::type_string() const {
  if (dim_names_.empty()) return type_.to_string();
  std::string dims;
  for (std::size_t d = 0; d < dim_names_.size(); ++d) {
    dims += (d > 0 ? ", " : "") +
            (dim_names_[d].empty() ? std::to_string(type_.shape[d]) : dim_names_[d]);
  }
  const std::string s = TensorType{type_.dtype, {}}.to_string();  // "f32[]"
  return s.substr(0, s.size() - 1) + dims + "]";
}

bool Value::accepts_shape(const Shape& shape) const {
  if (shape.size() != type_.shape.size()) return false;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    const bool dynamic = !dim_names_.empty() && !dim_names_[d].empty();
    if (dynamic ? shape[d] < 1 : shape[d] != type_.shape[d]) return false;
  }
  return true;
}

bool Graph::has_dynamic_dims() const {
  return std::any_of(input_ptrs_.begin(), input_ptrs_.end(),
                     [](const Value* v) { return v->is_dynamic(); });
}

Graph Graph::specialized(std::span<const Shape> input_shapes) const {
  check_argument(input_shapes.size() == input_ptrs_.size(), "Graph::specialized", "input_shapes",
                 input_shapes.size(),
                 std::to_string(input_ptrs_.size()) + " shapes (one per graph input)");
  for (std::size_t i = 0; i < input_shapes.size(); ++i) {
    const Value* v = input_ptrs_[i];
    const Shape& s = input_shapes[i];
    check_argument(
        v->accepts_shape(s), "Graph::specialized", "input_shapes[" + std::to_string(i) + "]",
        shape_to_string(s),
        "the shape of input '" + v->name() + "' " + v->type_string() + " (dynamic dims >= 1)");
  }
  Graph g = clone();
  for (std::size_t i = 0; i < input_shapes.size(); ++i) {
    g.input_ptrs_[i]->type_.shape = input_shapes[i];
    g.input_ptrs_[i]->dim_names_.clear();
  }
  std::vector<TensorType> input_types;
  for (const auto& node : g.nodes_) {
    input_types.clear();
    for (const Value* in : node->inputs_) input_types.push_back(in->type_);
    const OpSchema& schema = op_schema(node->op_);
    const std::vector<TensorType> types =
        schema.infer(InferContext(node->name_, schema.name, input_types, node->attrs_));
    for (std::size_t o = 0; o < types.size(); ++o) {
      node->outputs_[o]->type_ = types[o];
      node->outputs_[o]->dim_names_.clear();
    }
  }
  return g;
}

Graph Graph::with_dynamic_batch() const {
  Graph g = clone();
  for (Value* v : g.input_ptrs_) {
    check_argument(!v->type_.shape.empty(), "Graph::with_dynamic_batch", "input", v->name(),
                   "an input of rank >= 1 (dim 0 is the batch)");
    if (v->dim_names_.empty()) v->dim_names_.assign(v->type_.shape.size(), std::string());
    if (v->dim_names_[0].empty()) v->dim_names_[0] = "N";
  }
  std::vector<TensorType> input_types;
  for (const auto& node : g.nodes_) {
    const Value* x = node->inputs_.empty() ? nullptr : node->inputs_[0];
    // reshape(x, [B, ...]) of a batch-B x: the batch entry follows the batch.
    if (node->op_ == OpKind::Reshape && x != nullptr && x->is_dynamic() &&
        !x->dim_names_[0].empty()) {
      std::vector<std::int64_t> shape = node->attr_ints("shape");
      if (!shape.empty() && shape[0] == x->type_.shape[0] &&
          std::count(shape.begin(), shape.end(), -1) == 0) {
        shape[0] = -1;
        node->attrs_.insert_or_assign("shape", Attribute(std::move(shape)));
      }
    }
    input_types.clear();
    for (const Value* in : node->inputs_) input_types.push_back(in->type_);
    const OpSchema& schema = op_schema(node->op_);
    const std::vector<TensorType> types =
        schema.infer(InferContext(node->name_, schema.name, input_types, node->attrs_));
    const auto names =
        detail::infer_dynamic_dims(schema, node->name_, node->inputs_, node->attrs_, types);
    for (std::size_t o = 0; o < types.size(); ++o) {
      node->outputs_[o]->type_ = types[o];
      node->outputs_[o]->dim_names_ = names[o];
    }
  }
  return g;
}

}  // namespace quantkit::graph
