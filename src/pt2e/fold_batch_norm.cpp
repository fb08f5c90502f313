// conv2d -> batch_norm folding (PyTorch's fuse_conv_bn_weights), float32 arithmetic in
// torch's order so the folded weights equal what PyTorch's prepare_pt2e computes.
#include "quantkit/pt2e/fold_batch_norm.h"

#include "conv_bn_internal.h"

#include <cmath>
#include <string>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/graph/verifier.h"

namespace quantkit::pt2e {

using graph::Graph;
using graph::Node;
using graph::OpKind;
using graph::Value;
using graph::ValueKind;
using conv_bn_detail::fold_conv_bn_tensors;
using conv_bn_detail::folded_bias_name;
using conv_bn_detail::FoldedConvBn;
using conv_bn_detail::rebuild_with_inputs;

namespace {

// A tensor the fold may rewrite: a parameter or constant read by exactly one node input.
bool is_private_data(const Graph& g, const Value* v) {
  return v != nullptr && v->has_data() && v->dtype() == DType::Float32 && !g.is_output(v) &&
         g.uses(v).size() == 1;
}

bool is_data(const Value* v) {
  return v != nullptr && v->has_data() && v->dtype() == DType::Float32;
}

// Replaces the data of a parameter or constant with `data` (same type).
Value* set_data(Graph& g, Value* v, Tensor data, Node* user, std::size_t input_index) {
  if (v->kind() == ValueKind::Parameter) {
    g.set_parameter_data(v->name(), std::move(data));
    return v;
  }
  Value* c = g.add_constant(std::move(data), v->name());
  user->set_input(input_index, c);
  return c;
}

bool try_fold(Graph& g, Node* bn) {
  Value* conv_out = bn->input(0);
  Node* conv = conv_out->producer();
  if (conv == nullptr || conv->op() != OpKind::Conv2d) return false;
  if (g.is_output(conv_out) || g.uses(conv_out).size() != 1) return false;
  Value* w = conv->input(1);
  Value* b = conv->num_inputs() > 2 ? conv->input(2) : nullptr;
  if (!is_private_data(g, w) || (b != nullptr && !is_private_data(g, b))) return false;
  for (std::size_t i = 1; i < 5; ++i) {
    if (!is_data(bn->input(i))) return false;
  }
  FoldedConvBn folded =
      fold_conv_bn_tensors(w->data(), b != nullptr ? &b->data() : nullptr, *bn);
  w = set_data(g, w, std::move(folded.weight), conv, 1);
  if (b != nullptr) {
    set_data(g, b, std::move(folded.bias), conv, 2);
  } else {
    Value* bias = g.add_parameter(folded_bias_name(g, w->name()), std::move(folded.bias));
    conv_out = rebuild_with_inputs(g, conv, {conv->input(0), w, bias})->output();
  }
  g.replace_all_uses(bn->output(), conv_out);
  g.remove_node(bn);
  return true;
}

}  // namespace

namespace conv_bn_detail {

FoldedConvBn fold_conv_bn_tensors(const Tensor& conv_weight, const Tensor* conv_bias,
                                  const Node& bn) {
  const std::int64_t channels = conv_weight.shape()[0];
  const float* bn_w = bn.input(1)->data().data<float>();
  const float* bn_b = bn.input(2)->data().data<float>();
  const float* rm = bn.input(3)->data().data<float>();
  const float* rv = bn.input(4)->data().data<float>();
  const float eps = static_cast<float>(bn.attr_float("eps"));

  FoldedConvBn folded{conv_weight.clone(), Tensor::empty({channels}, DType::Float32)};
  float* nw = folded.weight.data<float>();
  const std::int64_t per_channel = conv_weight.numel() / channels;
  for (std::int64_t c = 0; c < channels; ++c) {
    // torch.rsqrt(bn_rv + bn_eps): float32 add, then 1 / sqrt in float32.
    const float r = 1.0f / std::sqrt(rv[c] + eps);
    const float factor = bn_w[c] * r;
    for (std::int64_t i = 0; i < per_channel; ++i) nw[c * per_channel + i] *= factor;
    const float conv_b = conv_bias != nullptr ? conv_bias->data<float>()[c] : 0.0f;
    // ((conv_b - bn_rm) * bn_var_rsqrt * bn_w + bn_b), evaluated left to right.
    folded.bias.data<float>()[c] = (conv_b - rm[c]) * r * bn_w[c] + bn_b[c];
  }
  return folded;
}

std::string folded_bias_name(const Graph& g, const std::string& weight_name) {
  constexpr std::string_view kSuffix = ".weight";
  if (weight_name.size() > kSuffix.size() &&
      weight_name.compare(weight_name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0) {
    std::string candidate = weight_name.substr(0, weight_name.size() - kSuffix.size()) + ".bias";
    if (g.find_value(candidate) == nullptr && g.find_node(candidate) == nullptr) return candidate;
  }
  return g.unique_name(weight_name + "_bias");
}

Node* rebuild_with_inputs(Graph& g, Node* node, std::vector<Value*> inputs) {
  // Twice, because the original name is only released once the old node is gone, and
  // numeric comparisons pair the fp32 and quantized graphs' nodes by name.
  const std::string name = node->name();
  const OpKind op = node->op();
  const graph::AttributeMap attrs = node->attrs();
  const graph::SourceInfo source = node->source();
  Node* tmp = g.insert_node_before(node, op, inputs, attrs, name + "_rebuilding");
  g.replace_all_uses(node->output(), tmp->output());
  g.remove_node(node);
  Node* rebuilt = g.insert_node_before(tmp, op, std::move(inputs), attrs, name);
  rebuilt->set_source(source);
  g.replace_all_uses(tmp->output(), rebuilt->output());
  g.remove_node(tmp);
  return rebuilt;
}

std::size_t fold_each_batch_norm(Graph& graph,
                                 const std::function<bool(Graph&, Node*)>& fold_one) {
  std::size_t folded = 0;
  for (Node* n : graph.nodes()) {
    if (n->op() == OpKind::BatchNorm && fold_one(graph, n)) ++folded;
  }
  if (folded > 0) {
    graph.remove_unused_parameters();
    graph.eliminate_dead_code();
  }
  graph::verify(graph);
  return folded;
}

}  // namespace conv_bn_detail

std::size_t fold_batch_norm(Graph& graph) {
  return conv_bn_detail::fold_each_batch_norm(graph, try_fold);
}

}  // namespace quantkit::pt2e
