// LayerNorm as older exports write it (torch.onnx.export before opset 17):
//   mean = ReduceMean(x); d = x - mean; var = ReduceMean(Pow(d, 2)); std = Sqrt(var + eps);
//   y = d / std * weight + bias
// recognised in the imported graph and replaced by one layer_norm, so the encoder's graph
// reads the same at every opset (and the quantizer sees one normalization, not nine ops).
#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "import_context.h"

namespace quantkit::onnx::detail {
namespace {

using graph::Graph;
using graph::Node;
using graph::OpKind;
using graph::Value;

// The node reading `v`, when it is v's only use and v is not a graph output.
Node* sole_user(const Graph& g, const Value* v) {
  const std::vector<graph::Use> uses = g.uses(v);
  if (uses.size() != 1 || g.is_output(v)) return nullptr;
  return uses[0].node;
}

// The value of a single-element float constant.
std::optional<double> scalar_constant(const Value* v) {
  if (v->producer() != nullptr || !v->has_data() || v->type().numel() != 1) return std::nullopt;
  if (v->dtype() != DType::Float32) return std::nullopt;
  return static_cast<double>(v->data().data<float>()[0]);
}

// The other operand of a binary node whose operand `known` is one of its inputs.
Value* other_operand(const Node* n, const Value* known) {
  if (n->num_inputs() != 2) return nullptr;
  if (n->input(0) == known) return n->input(1);
  if (n->input(1) == known) return n->input(0);
  return nullptr;
}

// A mean over a trailing run of dims of a float32 value, keepdim: its first dim, or nullopt.
std::optional<std::int64_t> trailing_mean_axis(const Node* mean) {
  if (mean == nullptr || mean->op() != OpKind::Mean || mean->attr_int("keepdim") == 0) {
    return std::nullopt;
  }
  const Value* x = mean->input(0);
  if (x->dtype() != DType::Float32) return std::nullopt;
  const auto rank = static_cast<std::int64_t>(x->shape().size());
  std::vector<std::int64_t> dims = mean->attr_ints("dims");
  for (auto& d : dims) d = d < 0 ? d + rank : d;
  std::sort(dims.begin(), dims.end());
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] != rank - static_cast<std::int64_t>(dims.size() - i)) return std::nullopt;
  }
  return dims.front();
}

// Fuses the pattern that starts at `mean`; false when it does not match exactly (every
// intermediate used only inside the pattern, exponent 2, scalar eps, weight and bias of the
// normalized shape).
bool fuse_at(Graph& g, Node* mean) {
  const std::optional<std::int64_t> axis = trailing_mean_axis(mean);
  if (!axis) return false;
  Value* x = mean->input(0);
  const Shape normalized(x->shape().begin() + *axis, x->shape().end());
  Node* sub = sole_user(g, mean->output());
  if (sub == nullptr || sub->op() != OpKind::Sub || sub->input(0) != x ||
      sub->input(1) != mean->output() || sub->output()->shape() != x->shape()) {
    return false;
  }
  Value* d = sub->output();
  const std::vector<graph::Use> d_uses = g.uses(d);
  if (d_uses.size() != 2 || g.is_output(d)) return false;
  Node* pow = nullptr;
  Node* div = nullptr;
  for (const graph::Use& u : d_uses) {
    if (u.node->op() == OpKind::Pow && u.index == 0) pow = u.node;
    if (u.node->op() == OpKind::Div && u.index == 0) div = u.node;
  }
  if (pow == nullptr || div == nullptr || scalar_constant(pow->input(1)) != 2.0) return false;
  Node* var = sole_user(g, pow->output());
  if (trailing_mean_axis(var) != axis || var->attr_ints("dims").size() != normalized.size()) {
    return false;
  }
  Node* add_eps = sole_user(g, var->output());
  if (add_eps == nullptr || add_eps->op() != OpKind::Add) return false;
  const std::optional<double> eps = scalar_constant(other_operand(add_eps, var->output()));
  if (!eps || *eps < 0) return false;
  Node* sqrt = sole_user(g, add_eps->output());
  if (sqrt == nullptr || sqrt->op() != OpKind::Sqrt || sole_user(g, sqrt->output()) != div ||
      div->input(1) != sqrt->output()) {
    return false;
  }
  Node* mul = sole_user(g, div->output());
  if (mul == nullptr || mul->op() != OpKind::Mul) return false;
  Value* weight = other_operand(mul, div->output());
  Node* add_bias = sole_user(g, mul->output());
  if (add_bias == nullptr || add_bias->op() != OpKind::Add) return false;
  Value* bias = other_operand(add_bias, mul->output());
  for (const Value* p : {weight, bias}) {
    if (p == nullptr || p->dtype() != DType::Float32 || p->shape() != normalized) return false;
  }
  if (add_bias->output()->shape() != x->shape()) return false;
  Node* ln = g.insert_node_after(add_bias, OpKind::LayerNorm, {x, weight, bias},
                                 {{"axis", *axis}, {"eps", *eps}}, "layer_norm");
  ln->set_source(add_bias->source());
  g.replace_all_uses(add_bias->output(), ln->output());
  return true;  // the pattern's nodes are now dead; the importer's dead-code pass drops them
}

}  // namespace

std::size_t fuse_layer_norm_patterns(Graph& graph) {
  std::size_t fused = 0;
  for (Node* n : graph.nodes()) {
    if (graph.contains(n) && n->op() == OpKind::Mean && fuse_at(graph, n)) ++fused;
  }
  return fused;
}

}  // namespace quantkit::onnx::detail
