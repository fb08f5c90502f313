#pragma once
// Internals of the reference-representation rewrite
// (reference_representation.h): a node emitter for the replacement graphs, the
// pattern-matching helpers they share, and one rewrite function per torchao
// pattern. Each rewrite scans the graph once, collects its (node-disjoint)
// matches, then replaces each: new nodes are inserted before the pattern's last
// node, its uses are redirected, and the matched nodes are removed.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "lowering_qparams.h"
#include "quantkit/graph/graph.h"

namespace quantkit::pt2e::detail {

using graph::Graph;
using graph::Node;
using graph::OpKind;
using graph::Value;

// Inserts nodes before a fixed anchor node, stamping them with the pattern's
// source (so set_module_name-style filters still see where the arithmetic came
// from).
class Emitter {
 public:
  Emitter(Graph& graph, const Node* anchor, graph::SourceInfo source)
      : graph_(graph), anchor_(anchor), source_(std::move(source)) {}

  Node* node(OpKind op, std::vector<Value*> inputs, graph::AttributeMap attrs = {},
             std::string_view name_hint = {});
  Value* op(OpKind op, std::vector<Value*> inputs, graph::AttributeMap attrs = {},
            std::string_view name_hint = {}) {
    return node(op, std::move(inputs), std::move(attrs), name_hint)->output();
  }

  Value* cast(Value* x, DType dtype, std::string_view name_hint = {});
  Value* add(Value* a, Value* b) { return op(OpKind::Add, {a, b}); }
  Value* sub(Value* a, Value* b) { return op(OpKind::Sub, {a, b}); }
  Value* mul(Value* a, Value* b) { return op(OpKind::Mul, {a, b}); }
  Value* div(Value* a, Value* b) { return op(OpKind::Div, {a, b}); }
  Value* round(Value* x) { return op(OpKind::Round, {x}); }
  Value* clamp(Value* x, double lo, double hi);
  Value* reshape(Value* x, std::vector<std::int64_t> shape);

  // Anonymous constants (0-d for the scalar operands of torch's Python-scalar
  // arithmetic).
  Value* constant(Tensor data, std::string_view name_hint);
  Value* scalar_f32(float v, std::string_view name_hint);
  Value* scalar_f64(double v, std::string_view name_hint);
  // A 0-d integer constant of `dtype` (v must fit).
  Value* scalar_int(std::int64_t v, DType dtype, std::string_view name_hint);

  // out_dtype(mul, int32, acc, m) + zp, clamp, .to(int8): cast(acc, f64) · m
  // (float64, m a f64 constant broadcasting against acc), truncated to int32, +
  // zp (int32 wrap), clamped to [lo, hi], cast to int8. Six nodes.
  Value* requantize_f64(Value* acc_i32, Value* multiplier_f64, std::int64_t zero_point,
                        std::int64_t lo, std::int64_t hi);

 private:
  Graph& graph_;
  const Node* anchor_;
  graph::SourceInfo source_;
};

// Per-tensor qparams of a quantize/dequantize_per_tensor node in attribute form (the
// lowering pass reads the same nodes with the same struct).
using lowering::TensorQParams;

// The qparams when `n` applies `op` (QuantizePerTensor or DequantizePerTensor)
// with attribute qparams and dtype int8 (torchao's patterns hard-code
// torch.int8).
std::optional<TensorQParams> int8_per_tensor(const Node* n, OpKind op);

// The producer of `v` when it applies `op`, else null.
Node* producer_of(const Value* v, OpKind op);

// True when every use of `v` is by `user` and `v` is not a graph output (a node
// inside a pattern may not feed anything outside it, as in torch.fx's subgraph
// matcher).
bool only_used_by(const Graph& g, const Value* v, const Node* user);

// Redirects the uses of `from` to `to`, then removes `dead` (consumers before
// producers).
void replace_and_remove(Graph& g, Value* from, Value* to, std::initializer_list<Node*> dead);

// ---- the patterns, in torchao's order ----
void rewrite_dynamic_linear(Graph& g);
// Per-token dynamic linear (reference_representation_per_token.cpp).
void rewrite_per_token_linear(Graph& g);
void rewrite_static_linear(Graph& g);
void rewrite_static_conv2d(Graph& g);
void rewrite_add_relu(Graph& g);
void rewrite_add(Graph& g);
void rewrite_max_pool2d(Graph& g);
void rewrite_quantize_per_tensor(Graph& g);
void rewrite_dequantize_per_tensor(Graph& g);
void rewrite_quantize_per_channel(Graph& g);
void rewrite_dequantize_per_channel(Graph& g);

}  // namespace quantkit::pt2e::detail
