#pragma once
// The graph IR: a Graph owns typed Values and the Nodes that compute them.
//
//  * A Value has a TensorType (dtype + static shape) and exactly one definition: it is a
//    graph input, a parameter (a named weight, e.g. "conv1.weight"), a constant (an
//    anonymous tensor, e.g. a folded quantized weight or a 0-d scale) or the output of one
//    Node. Names are unique across all values and nodes of a graph.
//  * A Node applies an op (op.h) to input Values and defines its output Values. Nodes are
//    kept in execution order; every input must be defined before the node that uses it,
//    which also makes the graph acyclic (the verifier checks both).
//  * Graph outputs are a list of Values.
//  * Dynamic (symbolic) dims: a graph input may name some of its dims ("N" for the batch);
//    shape() then holds a representative size (the one the graph was built for, 1 from the
//    ONNX importer) and dim_names() the names. add_node propagates them to node outputs by
//    running the op's inference a second time with the dynamic dims at another size (a
//    probe): an output dim that follows the probe is dynamic, named after the input dim it
//    equals ("?" when it is derived, e.g. N*C). An op that cannot take the probe (a reshape
//    to a fixed batch) is an Error naming the dim. specialized() gives the static graph for
//    concrete input shapes, which is what the interpreter and the runtime execute.
//
// Values and Nodes are owned by the graph and handed out as raw pointers that stay valid
// until the node (or value) is removed or the graph is destroyed. Mutation helpers for
// passes keep these invariants: insert nodes before/after an anchor, replace all uses of
// a value, remove nodes, drop dead code. Graph::clone() deep-copies everything (tensors
// included), so a clone can be transformed independently.
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/attribute.h"
#include "quantkit/graph/op.h"

namespace quantkit::graph {

class Graph;
class Node;

enum class ValueKind : std::uint8_t { Input, Parameter, Constant, NodeOutput };
std::string_view value_kind_name(ValueKind kind);

class Value {
 public:
  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;

  ValueKind kind() const { return kind_; }
  const std::string& name() const { return name_; }
  const TensorType& type() const { return type_; }
  DType dtype() const { return type_.dtype; }
  const Shape& shape() const { return type_.shape; }
  const Graph& owner() const { return *owner_; }
  // One name per dim, empty for a static dim; an empty vector when every dim is static.
  const std::vector<std::string>& dim_names() const { return dim_names_; }
  bool is_dynamic() const { return !dim_names_.empty(); }
  // The type with dynamic dims by name: "f32[N, 1, 28, 28]" (type().to_string() if static).
  std::string type_string() const;
  // True when `shape` is a concrete shape of this value: the same rank and static dims,
  // dynamic dims >= 1.
  bool accepts_shape(const Shape& shape) const;

  // The node defining this value, or null for inputs, parameters and constants.
  Node* producer() const { return producer_; }
  // Position among the producer's outputs (0 for other kinds).
  std::size_t output_index() const { return output_index_; }
  // The tensor of a parameter or constant; throws Error for other kinds.
  const Tensor& data() const;
  bool has_data() const { return kind_ == ValueKind::Parameter || kind_ == ValueKind::Constant; }

 private:
  friend class Graph;
  friend class Node;
  Value(Graph* owner, ValueKind kind, std::string name, TensorType type)
      : owner_(owner), kind_(kind), name_(std::move(name)), type_(std::move(type)) {}

  Graph* owner_;
  ValueKind kind_;
  std::string name_;
  TensorType type_;
  std::vector<std::string> dim_names_;
  Node* producer_ = nullptr;
  std::size_t output_index_ = 0;
  Tensor data_;
};

// Where a node came from when it was traced from a Module: the qualified module path
// ("features.0") and its type ("Conv2d"), like FX's nn_module_stack. Empty for nodes
// made with the builder outside any module, or by passes.
struct SourceInfo {
  std::string module_path;
  std::string module_type;
  friend bool operator==(const SourceInfo&, const SourceInfo&) = default;
};

class Node {
 public:
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  OpKind op() const { return op_; }
  const OpSchema& schema() const { return op_schema(op_); }
  const std::string& name() const { return name_; }
  const Graph& owner() const { return *owner_; }

  std::span<Value* const> inputs() const { return inputs_; }
  std::size_t num_inputs() const { return inputs_.size(); }
  // Throws Error when i is out of range.
  Value* input(std::size_t i) const;
  std::size_t num_outputs() const { return outputs_.size(); }
  Value* output(std::size_t i = 0) const;
  std::vector<Value*> outputs() const;

  const AttributeMap& attrs() const { return attrs_; }
  bool has_attr(std::string_view name) const { return attrs_.find(name) != attrs_.end(); }
  // Typed getters; throw Error naming the node and the attribute when it is missing or of
  // another kind.
  const Attribute& attr(std::string_view name) const;
  std::int64_t attr_int(std::string_view name) const;
  double attr_float(std::string_view name) const;
  const std::vector<std::int64_t>& attr_ints(std::string_view name) const;
  const std::vector<double>& attr_floats(std::string_view name) const;
  const std::string& attr_string(std::string_view name) const;
  DType attr_dtype(std::string_view name) const;
  const Tensor& attr_tensor(std::string_view name) const;

  // Mutation (for passes). Output types are not re-inferred: run the verifier after a pass.
  void set_attr(std::string name, Attribute value);
  void remove_attr(std::string_view name);
  // `value` must belong to the same graph (Error otherwise).
  void set_input(std::size_t i, Value* value);

  const SourceInfo& source() const { return source_; }
  void set_source(SourceInfo source) { source_ = std::move(source); }

 private:
  friend class Graph;
  Node(Graph* owner, OpKind op, std::string name)
      : owner_(owner), op_(op), name_(std::move(name)) {}
  std::string describe(std::string_view attr) const;

  Graph* owner_;
  OpKind op_;
  std::string name_;
  std::vector<Value*> inputs_;
  std::vector<std::unique_ptr<Value>> outputs_;
  AttributeMap attrs_;
  SourceInfo source_;
  std::list<std::unique_ptr<Node>>::iterator position_;
};

// A use of a value: node->input(index) == value.
struct Use {
  Node* node;
  std::size_t index;
};

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;  // use clone(): copies are deep and explicit
  Graph& operator=(const Graph&) = delete;
  Graph(Graph&&) noexcept;
  Graph& operator=(Graph&&) noexcept;
  ~Graph();

  // ---- definitions ----
  // Names must be non-empty and unused in this graph (Error otherwise).
  Value* add_input(std::string name, TensorType type);
  // An input with dynamic dims: `dim_names` has one entry per dim, empty for a static dim
  // (Error on a rank mismatch); type.shape holds the representative sizes.
  Value* add_input(std::string name, TensorType type, std::vector<std::string> dim_names);
  // A named weight; the graph keeps (shares) the tensor's storage.
  Value* add_parameter(std::string name, Tensor data);
  // An anonymous tensor; the name is made unique from `name_hint`.
  Value* add_constant(Tensor data, std::string_view name_hint = "const");

  // Appends a node (or inserts it before `before` when given). Output types come from the
  // op's inference; bad inputs or attributes throw Error naming the node. The node name is
  // made unique from `name_hint` (default: the op name), like FX ("relu", "relu_1").
  Node* add_node(OpKind op, std::vector<Value*> inputs, AttributeMap attrs = {},
                 std::string_view name_hint = {}, const Node* before = nullptr);
  Node* insert_node_before(const Node* anchor, OpKind op, std::vector<Value*> inputs,
                           AttributeMap attrs = {}, std::string_view name_hint = {});
  Node* insert_node_after(const Node* anchor, OpKind op, std::vector<Value*> inputs,
                          AttributeMap attrs = {}, std::string_view name_hint = {});

  void set_outputs(std::vector<Value*> outputs);
  void add_output(Value* value);

  // ---- queries ----
  std::span<Value* const> inputs() const { return input_ptrs_; }
  std::span<Value* const> parameters() const { return parameter_ptrs_; }
  std::span<Value* const> constants() const { return constant_ptrs_; }
  std::span<Value* const> outputs() const { return outputs_; }
  // Nodes in execution order. A snapshot: safe to keep iterating while mutating the graph
  // (removed nodes must not be dereferenced).
  std::vector<Node*> nodes() const;
  std::size_t num_nodes() const { return nodes_.size(); }
  // Null when absent.
  Value* find_value(std::string_view name) const;
  Node* find_node(std::string_view name) const;
  // True if the value/node belongs to this graph (and was not removed).
  bool contains(const Value* value) const;
  bool contains(const Node* node) const;

  // Uses of `value` by nodes, in node order (graph outputs are not uses; see is_output).
  std::vector<Use> uses(const Value* value) const;
  bool is_output(const Value* value) const;
  bool has_uses(const Value* value) const { return !uses(value).empty() || is_output(value); }

  // ---- mutation for passes ----
  // Every use of `from` (node inputs and graph outputs) now reads `to`. Types must be equal
  // (Error otherwise) so the graph stays well typed. `to` must be defined before each user
  // for the result to verify.
  void replace_all_uses(Value* from, Value* to);
  // The same, skipping uses by `except` (the node that consumes `from` to produce `to`).
  void replace_all_uses_except(Value* from, Value* to, const Node* except);
  // Removes a node whose outputs are unused (Error otherwise).
  void remove_node(Node* node);
  // Moves `node` right before `anchor`.
  void move_before(Node* node, const Node* anchor);
  // Removes nodes whose outputs are not needed for the graph outputs, then unused
  // constants. Returns the number of nodes removed. Parameters are kept (they are part of
  // the model's state), use remove_unused_parameters for them.
  std::size_t eliminate_dead_code();
  std::size_t remove_unused_parameters();
  // Replaces a parameter's tensor (same dtype and shape, Error otherwise).
  void set_parameter_data(std::string_view name, Tensor data);

  // Deep copy: new Values/Nodes, tensors copied, same names, order and attributes.
  Graph clone() const;
  // True when some input has dynamic dims.
  bool has_dynamic_dims() const;
  // A static copy for concrete input shapes (one per input; each must have the input's rank
  // and its static dims, dynamic dims >= 1; Error otherwise): node output types are inferred
  // again, nothing is dynamic. Names, order, attributes and sources are kept.
  Graph specialized(std::span<const Shape> input_shapes) const;
  // A copy whose inputs (all of rank >= 1) have a dynamic dim 0 named "N" (kept when it is
  // already dynamic), propagated like add_node does: what lets a model exported for one
  // batch size train or run on batches of another (specialized() then fixes it). A reshape
  // whose target's first entry is its input's batch becomes -1 there (when it has no other
  // -1), as the ONNX importer keeps x.view(x.size(0), -1). Error naming the node when an op
  // needs the batch static.
  Graph with_dynamic_batch() const;

  // A fresh name derived from `hint` ("hint", "hint_1", ...). Dots become underscores.
  std::string unique_name(std::string_view hint) const;

 private:
  friend class Node;
  Value* new_value(ValueKind kind, std::string name, TensorType type);
  void claim_name(const std::string& name, std::string_view what);
  void check_owned(const Value* value, std::string_view where, std::string_view arg) const;

  std::list<std::unique_ptr<Node>> nodes_;
  std::vector<std::unique_ptr<Value>> defined_values_;  // inputs, parameters, constants
  std::vector<Value*> input_ptrs_;
  std::vector<Value*> parameter_ptrs_;
  std::vector<Value*> constant_ptrs_;
  std::vector<Value*> outputs_;
  std::unordered_set<std::string> names_;
  std::unordered_set<const Value*> live_values_;
  std::unordered_set<const Node*> live_nodes_;
};

// Number of nodes applying `op`.
std::size_t count_nodes(const Graph& graph, OpKind op);

}  // namespace quantkit::graph
