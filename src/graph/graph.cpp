#include "quantkit/graph/graph.h"

#include <algorithm>
#include <unordered_map>

#include "dynamic_dims.h"
#include "quantkit/core/error.h"

namespace quantkit::graph {

std::string_view value_kind_name(ValueKind kind) {
  switch (kind) {
    case ValueKind::Input:
      return "input";
    case ValueKind::Parameter:
      return "parameter";
    case ValueKind::Constant:
      return "constant";
    case ValueKind::NodeOutput:
      return "node output";
  }
  return "?";
}

// ---- Value ----

const Tensor& Value::data() const {
  if (!has_data()) {
    throw Error("value '" + name_ + "' is a " + std::string(value_kind_name(kind_)) +
                ", only parameters and constants hold data");
  }
  return data_;
}

// ---- Node ----

std::string Node::describe(std::string_view attr) const {
  return "node '" + name_ + "' (" + std::string(schema().name) + ") attribute '" +
         std::string(attr) + "'";
}

Value* Node::input(std::size_t i) const {
  if (i >= inputs_.size()) {
    throw Error("node '" + name_ + "' has " + std::to_string(inputs_.size()) +
                " inputs, asked for input " + std::to_string(i));
  }
  return inputs_[i];
}

Value* Node::output(std::size_t i) const {
  if (i >= outputs_.size()) {
    throw Error("node '" + name_ + "' has " + std::to_string(outputs_.size()) +
                " outputs, asked for output " + std::to_string(i));
  }
  return outputs_[i].get();
}

std::vector<Value*> Node::outputs() const {
  std::vector<Value*> out;
  out.reserve(outputs_.size());
  for (const auto& v : outputs_) out.push_back(v.get());
  return out;
}

const Attribute& Node::attr(std::string_view name) const {
  auto it = attrs_.find(name);
  if (it == attrs_.end()) throw Error(describe(name) + " is missing");
  return it->second;
}
std::int64_t Node::attr_int(std::string_view name) const {
  return attr(name).as_int(describe(name));
}
double Node::attr_float(std::string_view name) const { return attr(name).as_float(describe(name)); }
const std::vector<std::int64_t>& Node::attr_ints(std::string_view name) const {
  return attr(name).as_ints(describe(name));
}
const std::vector<double>& Node::attr_floats(std::string_view name) const {
  return attr(name).as_floats(describe(name));
}
const std::string& Node::attr_string(std::string_view name) const {
  return attr(name).as_string(describe(name));
}
DType Node::attr_dtype(std::string_view name) const { return attr(name).as_dtype(describe(name)); }
const Tensor& Node::attr_tensor(std::string_view name) const {
  return attr(name).as_tensor(describe(name));
}

void Node::set_attr(std::string name, Attribute value) {
  check_argument(!name.empty(), "Node::set_attr", "name", name, "a non-empty attribute name");
  attrs_.insert_or_assign(std::move(name), std::move(value));
}

void Node::remove_attr(std::string_view name) {
  auto it = attrs_.find(name);
  if (it != attrs_.end()) attrs_.erase(it);
}

void Node::set_input(std::size_t i, Value* value) {
  check_argument(i < inputs_.size(), "Node::set_input", "i", i,
                 "an input index below " + std::to_string(inputs_.size()));
  owner_->check_owned(value, "Node::set_input", "value");
  inputs_[i] = value;
}

// ---- Graph ----

Graph::Graph(Graph&& other) noexcept { *this = std::move(other); }

Graph& Graph::operator=(Graph&& other) noexcept {
  if (this == &other) return *this;
  nodes_ = std::move(other.nodes_);
  defined_values_ = std::move(other.defined_values_);
  input_ptrs_ = std::move(other.input_ptrs_);
  parameter_ptrs_ = std::move(other.parameter_ptrs_);
  constant_ptrs_ = std::move(other.constant_ptrs_);
  outputs_ = std::move(other.outputs_);
  names_ = std::move(other.names_);
  live_values_ = std::move(other.live_values_);
  live_nodes_ = std::move(other.live_nodes_);
  // Values and nodes point back at their graph.
  for (auto& v : defined_values_) v->owner_ = this;
  for (auto& n : nodes_) {
    n->owner_ = this;
    for (auto& v : n->outputs_) v->owner_ = this;
  }
  other.nodes_.clear();
  other.defined_values_.clear();
  other.input_ptrs_.clear();
  other.parameter_ptrs_.clear();
  other.constant_ptrs_.clear();
  other.outputs_.clear();
  other.names_.clear();
  other.live_values_.clear();
  other.live_nodes_.clear();
  return *this;
}

Graph::~Graph() = default;

std::string Graph::unique_name(std::string_view hint) const {
  std::string base(hint.empty() ? std::string_view("v") : hint);
  std::replace(base.begin(), base.end(), '.', '_');
  if (!names_.contains(base)) return base;
  for (std::size_t i = 1;; ++i) {
    std::string candidate = base + "_" + std::to_string(i);
    if (!names_.contains(candidate)) return candidate;
  }
}

void Graph::claim_name(const std::string& name, std::string_view what) {
  check_argument(!name.empty(), what, "name", name, "a non-empty name");
  check_argument(!names_.contains(name), what, "name", name, "a name not used in this graph");
  names_.insert(name);
}

void Graph::check_owned(const Value* value, std::string_view where, std::string_view arg) const {
  if (value == nullptr) throw_invalid_argument(where, arg, "null", "a value of this graph");
  if (!live_values_.contains(value)) {
    throw_invalid_argument(where, arg, value->name(), "a value of this graph");
  }
}

Value* Graph::new_value(ValueKind kind, std::string name, TensorType type) {
  auto value = std::unique_ptr<Value>(new Value(this, kind, std::move(name), std::move(type)));
  Value* raw = value.get();
  defined_values_.push_back(std::move(value));
  live_values_.insert(raw);
  return raw;
}

Value* Graph::add_input(std::string name, TensorType type) {
  shape_numel(type.shape);  // validates dims
  claim_name(name, "Graph::add_input");
  Value* v = new_value(ValueKind::Input, std::move(name), std::move(type));
  input_ptrs_.push_back(v);
  return v;
}

Value* Graph::add_input(std::string name, TensorType type, std::vector<std::string> dim_names) {
  check_argument(dim_names.size() == type.shape.size(), "Graph::add_input", "dim_names",
                 std::to_string(dim_names.size()) + " names for input '" + name + "'",
                 "one name per dim of " + type.to_string());
  Value* v = add_input(std::move(name), std::move(type));
  if (std::any_of(dim_names.begin(), dim_names.end(), [](const auto& n) { return !n.empty(); })) {
    v->dim_names_ = std::move(dim_names);
  }
  return v;
}

Value* Graph::add_parameter(std::string name, Tensor data) {
  claim_name(name, "Graph::add_parameter");
  Value* v = new_value(ValueKind::Parameter, std::move(name), {data.dtype(), data.shape()});
  v->data_ = std::move(data);
  parameter_ptrs_.push_back(v);
  return v;
}

Value* Graph::add_constant(Tensor data, std::string_view name_hint) {
  std::string name = unique_name(name_hint.empty() ? "const" : name_hint);
  claim_name(name, "Graph::add_constant");
  Value* v = new_value(ValueKind::Constant, std::move(name), {data.dtype(), data.shape()});
  v->data_ = std::move(data);
  constant_ptrs_.push_back(v);
  return v;
}

Node* Graph::add_node(OpKind op, std::vector<Value*> inputs, AttributeMap attrs,
                      std::string_view name_hint, const Node* before) {
  const OpSchema& schema = op_schema(op);
  const std::string name = unique_name(name_hint.empty() ? schema.name : name_hint);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    check_owned(inputs[i], "Graph::add_node", "inputs[" + std::to_string(i) + "]");
  }
  if (before != nullptr) {
    check_argument(contains(before), "Graph::add_node", "before", before->name(),
                   "a node of this graph");
  }
  if (inputs.size() < schema.min_inputs || inputs.size() > schema.max_inputs()) {
    throw Error("node '" + name + "' (" + std::string(schema.name) + "): got " +
                std::to_string(inputs.size()) + " inputs, expected " +
                std::string(schema.signature));
  }
  for (const auto& [attr_name, value] : attrs) {
    const AttrSpec* spec = schema.find_attr(attr_name);
    if (spec == nullptr) {
      throw Error("node '" + name + "' (" + std::string(schema.name) + "): unknown attribute '" +
                  attr_name + "'");
    }
  }
  std::vector<TensorType> input_types;
  input_types.reserve(inputs.size());
  for (Value* v : inputs) input_types.push_back(v->type());
  const std::vector<TensorType> output_types =
      schema.infer(InferContext(name, schema.name, input_types, attrs));
  std::vector<std::vector<std::string>> output_dim_names =
      detail::infer_dynamic_dims(schema, name, inputs, attrs, output_types);

  auto node = std::unique_ptr<Node>(new Node(this, op, name));
  node->inputs_ = std::move(inputs);
  node->attrs_ = std::move(attrs);
  for (std::size_t i = 0; i < output_types.size(); ++i) {
    std::string value_name =
        output_types.size() == 1 ? name : name + "_" + std::string(schema.output_names[i]);
    if (value_name != name) value_name = unique_name(value_name);
    auto value =
        std::unique_ptr<Value>(new Value(this, ValueKind::NodeOutput, value_name, output_types[i]));
    value->producer_ = node.get();
    value->output_index_ = i;
    value->dim_names_ = std::move(output_dim_names[i]);
    if (value_name != name) names_.insert(value_name);
    live_values_.insert(value.get());
    node->outputs_.push_back(std::move(value));
  }
  names_.insert(name);
  Node* raw = node.get();
  live_nodes_.insert(raw);
  auto pos = before != nullptr ? before->position_ : nodes_.end();
  raw->position_ = nodes_.insert(pos, std::move(node));
  return raw;
}

Node* Graph::insert_node_before(const Node* anchor, OpKind op, std::vector<Value*> inputs,
                                AttributeMap attrs, std::string_view name_hint) {
  check_argument(anchor != nullptr && contains(anchor), "Graph::insert_node_before", "anchor",
                 anchor ? anchor->name() : std::string("null"), "a node of this graph");
  return add_node(op, std::move(inputs), std::move(attrs), name_hint, anchor);
}

Node* Graph::insert_node_after(const Node* anchor, OpKind op, std::vector<Value*> inputs,
                               AttributeMap attrs, std::string_view name_hint) {
  check_argument(anchor != nullptr && contains(anchor), "Graph::insert_node_after", "anchor",
                 anchor ? anchor->name() : std::string("null"), "a node of this graph");
  auto next = std::next(anchor->position_);
  const Node* before = next == nodes_.end() ? nullptr : next->get();
  return add_node(op, std::move(inputs), std::move(attrs), name_hint, before);
}

void Graph::set_outputs(std::vector<Value*> outputs) {
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    check_owned(outputs[i], "Graph::set_outputs", "outputs[" + std::to_string(i) + "]");
  }
  outputs_ = std::move(outputs);
}

void Graph::add_output(Value* value) {
  check_owned(value, "Graph::add_output", "value");
  outputs_.push_back(value);
}

std::vector<Node*> Graph::nodes() const {
  std::vector<Node*> out;
  out.reserve(nodes_.size());
  for (const auto& n : nodes_) out.push_back(n.get());
  return out;
}

Value* Graph::find_value(std::string_view name) const {
  for (const auto& v : defined_values_) {
    if (v->name() == name) return v.get();
  }
  for (const auto& n : nodes_) {
    for (const auto& v : n->outputs_) {
      if (v->name() == name) return v.get();
    }
  }
  return nullptr;
}

Node* Graph::find_node(std::string_view name) const {
  for (const auto& n : nodes_) {
    if (n->name() == name) return n.get();
  }
  return nullptr;
}

bool Graph::contains(const Value* value) const { return live_values_.contains(value); }
bool Graph::contains(const Node* node) const { return live_nodes_.contains(node); }

std::vector<Use> Graph::uses(const Value* value) const {
  std::vector<Use> out;
  for (const auto& n : nodes_) {
    for (std::size_t i = 0; i < n->inputs_.size(); ++i) {
      if (n->inputs_[i] == value) out.push_back({n.get(), i});
    }
  }
  return out;
}

bool Graph::is_output(const Value* value) const {
  return std::find(outputs_.begin(), outputs_.end(), value) != outputs_.end();
}

void Graph::replace_all_uses_except(Value* from, Value* to, const Node* except) {
  check_owned(from, "Graph::replace_all_uses", "from");
  check_owned(to, "Graph::replace_all_uses", "to");
  if (from->type() != to->type()) {
    throw Error("Graph::replace_all_uses: value '" + to->name() + "' has type " +
                to->type().to_string() + ", but '" + from->name() + "' has type " +
                from->type().to_string());
  }
  for (auto& n : nodes_) {
    if (n.get() == except) continue;
    for (Value*& in : n->inputs_) {
      if (in == from) in = to;
    }
  }
  for (Value*& out : outputs_) {
    if (out == from) out = to;
  }
}

void Graph::replace_all_uses(Value* from, Value* to) { replace_all_uses_except(from, to, nullptr); }

void Graph::remove_node(Node* node) {
  check_argument(node != nullptr && contains(node), "Graph::remove_node", "node",
                 node ? node->name() : std::string("null"), "a node of this graph");
  for (const auto& v : node->outputs_) {
    if (has_uses(v.get())) {
      throw Error("Graph::remove_node: output '" + v->name() + "' of node '" + node->name() +
                  "' is still used");
    }
  }
  for (const auto& v : node->outputs_) {
    live_values_.erase(v.get());
    names_.erase(v->name());
  }
  names_.erase(node->name());
  live_nodes_.erase(node);
  nodes_.erase(node->position_);
}

void Graph::move_before(Node* node, const Node* anchor) {
  check_argument(node != nullptr && contains(node), "Graph::move_before", "node",
                 node ? node->name() : std::string("null"), "a node of this graph");
  check_argument(anchor != nullptr && contains(anchor), "Graph::move_before", "anchor",
                 anchor ? anchor->name() : std::string("null"), "a node of this graph");
  if (node == anchor) return;
  nodes_.splice(anchor->position_, nodes_, node->position_);
}

std::size_t Graph::eliminate_dead_code() {
  std::unordered_set<const Value*> needed(outputs_.begin(), outputs_.end());
  std::vector<Node*> dead;
  for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
    Node* n = it->get();
    const bool live = std::any_of(n->outputs_.begin(), n->outputs_.end(),
                                  [&](const auto& v) { return needed.contains(v.get()); });
    if (!live) {
      dead.push_back(n);
      continue;
    }
    for (Value* in : n->inputs_) needed.insert(in);
  }
  for (Node* n : dead) remove_node(n);  // reverse order: users go before their producers
  // Unused constants.
  std::vector<Value*> kept;
  for (Value* c : constant_ptrs_) {
    if (needed.contains(c)) {
      kept.push_back(c);
    } else {
      live_values_.erase(c);
      names_.erase(c->name());
    }
  }
  constant_ptrs_ = std::move(kept);
  std::erase_if(defined_values_, [&](const auto& v) { return !live_values_.contains(v.get()); });
  return dead.size();
}

std::size_t Graph::remove_unused_parameters() {
  std::vector<Value*> kept;
  std::size_t removed = 0;
  for (Value* p : parameter_ptrs_) {
    if (has_uses(p)) {
      kept.push_back(p);
    } else {
      live_values_.erase(p);
      names_.erase(p->name());
      ++removed;
    }
  }
  parameter_ptrs_ = std::move(kept);
  std::erase_if(defined_values_, [&](const auto& v) { return !live_values_.contains(v.get()); });
  return removed;
}

void Graph::set_parameter_data(std::string_view name, Tensor data) {
  Value* v = find_value(name);
  check_argument(v != nullptr && v->kind() == ValueKind::Parameter, "Graph::set_parameter_data",
                 "name", name, "the name of a parameter of this graph");
  const TensorType type{data.dtype(), data.shape()};
  check_argument(type == v->type(), "Graph::set_parameter_data", "data", type.to_string(),
                 "a tensor of type " + v->type().to_string());
  v->data_ = std::move(data);
}

Graph Graph::clone() const {
  Graph g;
  std::unordered_map<const Value*, Value*> map;
  // Definitions keep their relative order per kind; names are copied verbatim.
  for (const Value* v : input_ptrs_) {
    map[v] = g.add_input(v->name(), v->type());
    map[v]->dim_names_ = v->dim_names_;
  }
  for (const Value* v : parameter_ptrs_) map[v] = g.add_parameter(v->name(), v->data_.clone());
  for (const Value* v : constant_ptrs_) {
    g.claim_name(v->name(), "Graph::clone");
    Value* c = g.new_value(ValueKind::Constant, v->name(), v->type());
    c->data_ = v->data_.clone();
    g.constant_ptrs_.push_back(c);
    map[v] = c;
  }
  for (const auto& n : nodes_) {
    auto node = std::unique_ptr<Node>(new Node(&g, n->op_, n->name_));
    for (Value* in : n->inputs_) node->inputs_.push_back(map.at(in));
    for (const auto& [k, a] : n->attrs_) node->attrs_.emplace(k, a.clone());
    node->source_ = n->source_;
    for (const auto& out : n->outputs_) {
      auto value =
          std::unique_ptr<Value>(new Value(&g, ValueKind::NodeOutput, out->name_, out->type_));
      value->producer_ = node.get();
      value->output_index_ = out->output_index_;
      value->dim_names_ = out->dim_names_;
      g.names_.insert(out->name_);
      g.live_values_.insert(value.get());
      map[out.get()] = value.get();
      node->outputs_.push_back(std::move(value));
    }
    g.names_.insert(n->name_);
    Node* raw = node.get();
    g.live_nodes_.insert(raw);
    raw->position_ = g.nodes_.insert(g.nodes_.end(), std::move(node));
  }
  for (const Value* out : outputs_) g.outputs_.push_back(map.at(out));
  return g;
}

std::size_t count_nodes(const Graph& graph, OpKind op) {
  std::size_t n = 0;
  for (const Node* node : graph.nodes()) n += node->op() == op ? 1 : 0;
  return n;
}

}  // namespace quantkit::graph
