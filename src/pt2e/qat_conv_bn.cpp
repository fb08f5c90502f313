// The QAT conv-bn form (torchao's _fuse_conv_bn_qat at prepare, _fold_conv_bn_qat at
// convert; qat_utils.py at commit dffbbab6aae6c315d3b266ce0c954f2a19660784), in graph-IR ops
// so the QAT graph stays an ordinary graph: see quantkit/pt2e/qat_conv_bn.h for the form.
#include "quantkit/pt2e/qat_conv_bn.h"

#include <string>
#include <vector>

#include "conv_bn_internal.h"
#include "qat_conv_bn_match.h"
#include "quantkit/graph/verifier.h"

namespace quantkit::pt2e {

using graph::AttributeMap;
using graph::Graph;
using graph::Node;
using graph::OpKind;
using graph::Value;
using graph::ValueKind;

namespace {

bool is_f32_data(const Value* v) {
  return v != nullptr && v->has_data() && v->dtype() == DType::Float32;
}

// The conditions of fold_batch_norm, except that the conv's tensors may be shared: the
// rewrite never changes their data.
bool rewritable(const Graph& g, const Node* bn) {
  const Node* conv = bn->input(0)->producer();
  if (conv == nullptr || conv->op() != OpKind::Conv2d) return false;
  if (g.is_output(conv->output()) || g.uses(conv->output()).size() != 1) return false;
  if (!is_f32_data(conv->input(1)) || conv->input(1)->shape().size() != 4) return false;
  if (conv->num_inputs() > 2 && !is_f32_data(conv->input(2))) return false;
  for (std::size_t i = 1; i < 5; ++i) {
    if (!is_f32_data(bn->input(i))) return false;
  }
  return true;
}

void rewrite(Graph& g, Node* bn) {
  Node* conv = bn->input(0)->producer();
  const std::string name = conv->name();
  const graph::SourceInfo source = conv->source();
  Value* weight = conv->input(1);
  const std::int64_t channels = weight->shape()[0];
  // Every new node belongs to the conv's module, so module-scoped configs see one pattern.
  auto add = [&](const Node* before, OpKind op, std::vector<Value*> inputs, const char* suffix,
                 AttributeMap attrs = {}) {
    Node* n = g.insert_node_before(before, op, std::move(inputs), std::move(attrs), name + suffix);
    n->set_source(source);
    return n->output();
  };
  Value* bias = conv->num_inputs() > 2
                    ? conv->input(2)
                    : g.add_parameter(conv_bn_detail::folded_bias_name(g, weight->name()),
                                      Tensor::zeros({channels}, DType::Float32));
  Value* eps = g.add_constant(Tensor::scalar(static_cast<float>(bn->attr_float("eps"))),
                              name + "_qat_eps");
  Value* var_plus_eps = add(conv, OpKind::Add, {bn->input(4), eps}, "_qat_var_plus_eps");
  Value* running_std = add(conv, OpKind::Sqrt, {var_plus_eps}, "_qat_running_std");
  Value* scale_factor = add(conv, OpKind::Div, {bn->input(1), running_std}, "_qat_scale_factor");
  Value* weight_scale = add(conv, OpKind::Reshape, {scale_factor}, "_qat_weight_scale",
                            {{"shape", std::vector<std::int64_t>{channels, 1, 1, 1}}});
  Value* scaled_weight = add(conv, OpKind::Mul, {weight, weight_scale}, "_qat_scaled_weight");
  if (conv->num_inputs() > 2) {
    conv = conv_bn_detail::rebuild_with_inputs(g, conv, {conv->input(0), scaled_weight});
  } else {
    conv->set_input(1, scaled_weight);
  }
  const std::vector<std::int64_t> per_channel{1, channels, 1, 1};
  Value* output_scale =
      add(bn, OpKind::Reshape, {scale_factor}, "_qat_output_scale", {{"shape", per_channel}});
  Value* unscaled = add(bn, OpKind::Div, {conv->output(), output_scale}, "_qat_unscaled");
  Value* bias_shaped = add(bn, OpKind::Reshape, {bias}, "_qat_bias", {{"shape", per_channel}});
  bn->set_input(0, add(bn, OpKind::Add, {unscaled, bias_shaped}, "_qat_biased"));
}

// `v` with `data` (same type): the parameter itself when `sole_user` is its only reader,
// else a new constant (the parameter or constant may be read elsewhere: never changed).
Value* with_folded_data(Graph& g, Value* v, Tensor data, const Node* sole_user) {
  const std::vector<graph::Use> uses = g.uses(v);
  bool only_user = !g.is_output(v);
  for (const graph::Use& u : uses) only_user = only_user && u.node == sole_user;
  if (v->kind() == ValueKind::Parameter && only_user) {
    g.set_parameter_data(v->name(), std::move(data));
    return v;
  }
  return g.add_constant(std::move(data), v->name() + "_folded");
}

void fold(Graph& g, const qat_detail::QatConvBnMatch& m) {
  conv_bn_detail::FoldedConvBn folded =
      conv_bn_detail::fold_conv_bn_tensors(m.conv_weight->data(), &m.conv_bias->data(), *m.bn);
  Value* weight = with_folded_data(g, m.conv_weight, std::move(folded.weight), m.scaled_weight);
  Value* bias = with_folded_data(g, m.conv_bias, std::move(folded.bias), m.bias_reshape);
  if (m.weight_observer != nullptr) {
    m.weight_observer->set_input(0, weight);
    weight = m.weight_observer->output();
  }
  Node* conv = conv_bn_detail::rebuild_with_inputs(g, m.conv, {m.conv->input(0), weight, bias});
  // Right before the conv, where prepare puts a parameter's observer: the converted graph
  // then has PTQ's node order too.
  if (m.weight_observer != nullptr) g.move_before(m.weight_observer, conv);
  g.replace_all_uses(m.bn->output(), conv->output());
  g.remove_node(m.bn);
  for (auto it = m.helpers.rbegin(); it != m.helpers.rend(); ++it) g.remove_node(*it);
}

}  // namespace

std::size_t rewrite_conv_bn_for_qat(Graph& graph) {
  graph::verify(graph);
  std::size_t rewritten = 0;
  for (Node* n : graph.nodes()) {
    if (n->op() == OpKind::BatchNorm && rewritable(graph, n)) {
      rewrite(graph, n);
      ++rewritten;
    }
  }
  graph::verify(graph);
  return rewritten;
}

std::size_t fold_conv_bn_qat(Graph& graph) {
  graph::verify(graph);
  return conv_bn_detail::fold_each_batch_norm(graph, [](Graph& g, Node* bn) {
    const auto m = qat_detail::match_qat_conv_bn(g, bn);
    if (m) fold(g, *m);
    return m.has_value();
  });
}

}  // namespace quantkit::pt2e
