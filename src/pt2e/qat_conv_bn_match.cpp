// Matching the QAT conv-bn form walks up from the batch_norm through each documented node;
// any other shape (another user of an intermediate, a computed tensor) is no match.
#include "qat_conv_bn_match.h"

#include <algorithm>

namespace quantkit::pt2e::qat_detail {

using graph::Graph;
using graph::Node;
using graph::OpKind;
using graph::Value;

namespace {

bool is_f32_data(const Value* v) { return v->has_data() && v->dtype() == DType::Float32; }

Node* producer_of(const Value* v, OpKind op) {
  Node* p = v->producer();
  return p != nullptr && p->op() == op ? p : nullptr;
}

// `v` is read by `user` and nothing else (not a graph output either).
bool only_read_by(const Graph& g, const Value* v, const Node* user) {
  const std::vector<graph::Use> uses = g.uses(v);
  return !g.is_output(v) && !uses.empty() &&
         std::all_of(uses.begin(), uses.end(), [&](const graph::Use& u) { return u.node == user; });
}

// The producer of `v` when it is a node of kind `op` whose output only `user` reads.
Node* private_producer(const Graph& g, const Value* v, OpKind op, const Node* user) {
  Node* p = producer_of(v, op);
  return p != nullptr && only_read_by(g, v, user) ? p : nullptr;
}

}  // namespace

std::optional<QatConvBnMatch> match_qat_conv_bn(const Graph& g, const Node* bn) {
  if (bn == nullptr || bn->op() != OpKind::BatchNorm) return std::nullopt;
  for (std::size_t i = 1; i < 5; ++i) {
    if (!is_f32_data(bn->input(i))) return std::nullopt;
  }
  Node* bias_add = private_producer(g, bn->input(0), OpKind::Add, bn);
  if (bias_add == nullptr) return std::nullopt;
  Node* bias_reshape = private_producer(g, bias_add->input(1), OpKind::Reshape, bias_add);
  Node* unscale = private_producer(g, bias_add->input(0), OpKind::Div, bias_add);
  if (bias_reshape == nullptr || unscale == nullptr || !is_f32_data(bias_reshape->input(0))) {
    return std::nullopt;
  }
  Node* output_scale = private_producer(g, unscale->input(1), OpKind::Reshape, unscale);
  Node* conv = private_producer(g, unscale->input(0), OpKind::Conv2d, unscale);
  if (output_scale == nullptr || conv == nullptr || conv->num_inputs() != 2) return std::nullopt;
  Node* scale_factor = producer_of(output_scale->input(0), OpKind::Div);
  if (scale_factor == nullptr || scale_factor->input(0) != bn->input(1)) return std::nullopt;
  Node* running_std = private_producer(g, scale_factor->input(1), OpKind::Sqrt, scale_factor);
  if (running_std == nullptr) return std::nullopt;
  Node* var_plus_eps = private_producer(g, running_std->input(0), OpKind::Add, running_std);
  if (var_plus_eps == nullptr || var_plus_eps->input(0) != bn->input(4) ||
      !is_f32_data(var_plus_eps->input(1)) || var_plus_eps->input(1)->type().numel() != 1) {
    return std::nullopt;
  }

  QatConvBnMatch m;
  Value* weight = conv->input(1);
  const Node* weight_user = conv;
  if (Node* p = weight->producer();
      p != nullptr && (p->op() == OpKind::Observe || p->op() == OpKind::FakeQuantize)) {
    if (!only_read_by(g, weight, conv)) return std::nullopt;
    m.weight_observer = p;
    weight_user = p;
    weight = p->input(0);
  }
  Node* scaled_weight = private_producer(g, weight, OpKind::Mul, weight_user);
  if (scaled_weight == nullptr || !is_f32_data(scaled_weight->input(0))) return std::nullopt;
  Node* weight_scale =
      private_producer(g, scaled_weight->input(1), OpKind::Reshape, scaled_weight);
  if (weight_scale == nullptr || weight_scale->input(0) != scale_factor->output()) {
    return std::nullopt;
  }
  const std::vector<graph::Use> factor_uses = g.uses(scale_factor->output());
  if (g.is_output(scale_factor->output()) || factor_uses.size() != 2) return std::nullopt;

  m.conv = conv;
  m.bn = g.uses(bias_add->output()).front().node;  // `bn`, as the graph's mutable node
  m.conv_weight = scaled_weight->input(0);
  m.conv_bias = bias_reshape->input(0);
  m.scaled_weight = scaled_weight;
  m.bias_reshape = bias_reshape;
  m.helpers = {var_plus_eps, running_std,  scale_factor, weight_scale, scaled_weight,
               output_scale, unscale,      bias_reshape, bias_add};
  return m;
}

}  // namespace quantkit::pt2e::qat_detail
