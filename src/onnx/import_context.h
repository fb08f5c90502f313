#pragma once
// Internal to the ONNX importer (src/onnx/import_*.cpp).
//
// The importer walks the model's nodes in file order (ONNX requires topological order) and
// maps every ONNX value name to a graph Value. Values known at import time — initializers,
// Constant nodes, shape computations folded from static shapes — are graph parameters or
// constants, so converters ask one question (`known(i)`) whether an operand is static.
// Initializers become parameters lazily, the first time a converter uses one as a tensor
// operand: initializers only read as arguments (Reshape's shape, Clip's bounds, qparams)
// never appear in the graph.
//
// One converter per ONNX op type (import_ops_float.cpp, import_ops_quant.cpp,
// import_folding.cpp). A converter reads its node through NodeContext, emits graph nodes
// with `emit`, and binds the node's outputs with `set_output`. Attributes it does not read
// are reported as unsupported after it returns, so every attribute a model sets is either
// honoured or rejected — never silently ignored.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <onnx/onnx_pb.h>

#include "quantkit/graph/graph.h"
#include "quantkit/onnx/onnx_import.h"

namespace quantkit::onnx::detail {

// ONNX TensorProto.DataType → DType (float, double, int8, uint8, int16, int32, int64);
// Error naming `what` for the others.
DType dtype_from_onnx(std::int32_t elem_type, std::string_view what);
std::string_view onnx_type_name(std::int32_t elem_type);
// Decodes a TensorProto (raw_data or the typed fields). Sizes are checked against the dims
// before anything is allocated; external data and mismatched sizes are Errors naming `what`.
// INT4 / UINT4 (ONNX element types 22 / 21, opset 21) are read into int8 / uint8.
Tensor tensor_from_proto(const ::onnx::TensorProto& proto, std::string_view what);
bool is_4bit_onnx_type(std::int32_t elem_type);

// Tensors the importer computes itself (folded constants, broadcast helpers) stay below
// this many elements, so a hostile model cannot make the import allocate gigabytes; larger
// computations are left to run time.
inline constexpr std::int64_t kMaxFoldedNumel = std::int64_t{1} << 24;

// A DynamicQuantizeLinear's scale and zero point (ONNX names) and the float tensor it
// quantized, by the name of its quantized output (import_ops_quant.cpp).
struct DynamicQuantizeSource {
  graph::Value* x = nullptr;
  std::string scale;
  std::string zero_point;
};

// Dynamic dims (graph.h): symbolic input dims stay dynamic in the graph (their size there
// is 1). A Shape of such an input folds to a constant holding 1 for the dim, and the
// importer remembers which entries of it (and of the folded Gather / Slice / Unsqueeze /
// Squeeze / Concat / Cast results derived from it) are dynamic: `symbolic`. Reshape reads
// those entries as "this dim is dynamic" (x.view(x.size(0), -1) keeps working for any
// batch); any other converter that reads such a constant fails (it would bake the
// representative size into the graph), and the import is then redone with every symbolic
// dim pinned to 1, as before dynamic dims existed.
struct Importer {
  const ImportOptions& options;
  std::string model_name;
  std::int64_t opset = 0;  // of the default ("" / "ai.onnx") domain
  bool pin_dynamic_dims = false;  // symbolic input dims become static 1
  graph::Graph graph;
  std::unordered_map<std::string, graph::Value*> values;  // ONNX name → graph value
  std::unordered_map<std::string, Tensor> initializers;   // not yet materialized
  std::unordered_map<std::string, DynamicQuantizeSource> dynamic_quantized;
  std::unordered_set<std::string> four_bit;  // initializers stored as INT4 / UINT4
  // Folded int vectors with dynamic entries: one dim name per element (empty: static).
  std::unordered_map<const graph::Value*, std::vector<std::string>> symbolic;
  // Folded booleans (uint8 constants of 0 / 1; the graph has no bool dtype): Equal / Not
  // results that Where and Not accept as conditions (import_indexing.cpp).
  std::unordered_set<const graph::Value*> booleans;
};

class NodeContext {
 public:
  NodeContext(Importer& importer, const ::onnx::NodeProto& node);

  const ::onnx::NodeProto& proto() const { return node_; }
  const std::string& op_type() const { return node_.op_type(); }
  std::int64_t opset() const { return importer_.opset; }
  // Whether input i is an initializer the file stores in 4 bits (INT4 / UINT4).
  bool input_is_4bit(std::size_t i) const {
    return i < static_cast<std::size_t>(node_.input_size()) &&
           importer_.four_bit.contains(node_.input(static_cast<int>(i)));
  }
  const ImportOptions& options() const { return importer_.options; }
  graph::Graph& graph() { return importer_.graph; }
  std::unordered_map<std::string, DynamicQuantizeSource>& dynamic_quantized() {
    return importer_.dynamic_quantized;
  }

  // ---- inputs (ONNX marks omitted optional inputs with an empty name) ----
  std::size_t num_inputs() const { return static_cast<std::size_t>(node_.input_size()); }
  bool has_input(std::size_t i) const;
  // The graph value of input i (initializers become parameters here). Error when the input
  // is missing or its name is not defined earlier in the model.
  graph::Value* input(std::size_t i);
  // The same, but an initializer becomes an anonymous constant rather than a named
  // parameter (quantization parameters, scalar operands).
  graph::Value* input_as_constant(std::size_t i);
  // Input i's tensor when it is known at import time (initializer, Constant, folded), else
  // nullopt. Does not materialize initializers.
  std::optional<Tensor> known(std::size_t i);
  // known(i), or Error saying that `what` must be a constant.
  Tensor require_known(std::size_t i, std::string_view what);
  // Static type of input i (without materializing).
  graph::TensorType input_type(std::size_t i);

  // ---- dynamic dims (see Importer::symbolic) ----
  // The converter handles folded constants with dynamic entries itself: input(), known()
  // and input_as_constant() then stop refusing them.
  void accept_symbolic() { accept_symbolic_ = true; }
  // The dim names of input i's entries when it is such a constant, else null.
  const std::vector<std::string>* symbols(std::size_t i) const;
  // Marks `v` (a folded constant) as having dynamic entries; no-op when all are empty.
  void set_symbols(const graph::Value* v, std::vector<std::string> names);
  void require_inputs(std::size_t min, std::size_t max);

  // ---- folded booleans (see Importer::booleans) ----
  void mark_boolean(const graph::Value* v) { importer_.booleans.insert(v); }
  bool input_is_boolean(std::size_t i) const {
    if (!has_input(i)) return false;
    auto it = importer_.values.find(node_.input(static_cast<int>(i)));
    return it != importer_.values.end() && importer_.booleans.contains(it->second);
  }

  // ---- attributes ----
  bool has_attr(std::string_view name) const;
  std::int64_t attr_int(std::string_view name, std::int64_t fallback);
  double attr_float(std::string_view name, double fallback);
  std::vector<std::int64_t> attr_ints(std::string_view name, std::vector<std::int64_t> fallback);
  std::vector<double> attr_floats(std::string_view name, std::vector<double> fallback);
  std::string attr_string(std::string_view name, std::string fallback);
  std::optional<Tensor> attr_tensor(std::string_view name);
  // Marks an attribute as read without using it (e.g. BatchNormalization's momentum,
  // which has no effect at inference).
  void ignore_attr(std::string_view name);
  // Error for every attribute no one read.
  void check_all_attrs_used() const;

  // ---- outputs ----
  std::size_t num_outputs() const { return static_cast<std::size_t>(node_.output_size()); }
  // Output i must be requested (non-empty name) for the converter to bind it; optional
  // outputs the converter cannot produce are rejected with require_outputs.
  void require_outputs(std::size_t max);
  void set_output(std::size_t i, graph::Value* value);

  // ---- building ----
  // Adds a graph node named after the ONNX node. When every input is a constant, the node
  // is evaluated right away and replaced by a constant (constant folding).
  graph::Value* emit(graph::OpKind op, std::vector<graph::Value*> inputs,
                     graph::AttributeMap attrs = {});
  graph::Value* constant(Tensor data, std::string_view hint = "const");

  [[noreturn]] void fail(std::string_view message) const;
  void check(bool condition, std::string_view message) const {
    if (!condition) fail(message);
  }

 private:
  const ::onnx::AttributeProto* find_attr(std::string_view name, int type);
  graph::Value* lookup(std::size_t i, bool as_parameter);

  Importer& importer_;
  const ::onnx::NodeProto& node_;
  std::set<std::string, std::less<>> used_attrs_;
  std::string name_hint_;
  bool accept_symbolic_ = false;
  // Error when `v` has dynamic entries and the converter did not accept_symbolic().
  void check_not_symbolic(std::size_t i, const graph::Value* v) const;
};

using Converter = std::function<void(NodeContext&)>;
using ConverterTable = std::map<std::string, Converter, std::less<>>;

// Each file registers its op types.
void register_float_ops(ConverterTable& table);
void register_shape_ops(ConverterTable& table);
void register_quant_ops(ConverterTable& table);
// ConvTranspose and Resize (import_ops_resample.cpp).
void register_resample_ops(ConverterTable& table);
void register_indexing_ops(ConverterTable& table);

// Replaces each pre-opset-17 LayerNorm pattern (ReduceMean, Sub, Pow 2, ReduceMean, Add eps,
// Sqrt, Div, Mul weight, Add bias; import_layer_norm_fusion.cpp) by one layer_norm; the
// replaced nodes are left dead. Returns how many were fused.
std::size_t fuse_layer_norm_patterns(graph::Graph& graph);

// Shared helpers for converters.
// Operand i for a shape op: known tensors stay constants (so the op folds).
graph::Value* shape_operand(NodeContext& ctx, std::size_t i);
// An int32 / int64 scalar or vector as int64 values; Error naming `what` otherwise.
std::vector<std::int64_t> int_values(NodeContext& ctx, const Tensor& t, std::string_view what);
// Gather(table, indices) read back as apot_dequantize when it is the exporter's form of it
// (a constant 1-D float32 table, axis 0, constant indices of rank > 1); false otherwise.
bool convert_table_lookup(NodeContext& ctx, const Tensor& table, const Tensor& indices,
                          std::int64_t axis);
// Normalizes an axis in [-rank, rank); Error through ctx otherwise.
std::int64_t normalize_axis(NodeContext& ctx, std::int64_t axis, std::int64_t rank,
                            std::string_view what);
// Reshape through the graph (folded when x is constant). When x has a dynamic dim (one at
// most), `dynamic_at` says which dim of `shape` it becomes (that entry turns into -1, so
// the reshape holds for any size); Error when it is not given.
graph::Value* reshape_to(NodeContext& ctx, graph::Value* x, const Shape& shape,
                         std::optional<std::size_t> dynamic_at = std::nullopt);
// A general permutation as a sequence of transposes.
graph::Value* permute(NodeContext& ctx, graph::Value* x, const std::vector<std::int64_t>& perm);
// Elementwise max (or min) of values that broadcast, exact, through max_pool2d.
graph::Value* elementwise_extreme(NodeContext& ctx, std::vector<graph::Value*> xs, bool max);
// max (or min) over the trailing `count` dims of x (keepdims false).
graph::Value* reduce_trailing_extreme(NodeContext& ctx, graph::Value* x, std::size_t count,
                                      bool max);

}  // namespace quantkit::onnx::detail
