// DuplicateDQPass (torchao/quantization/pt2e/quantizer/duplicate_dq_pass.py): a dequantize
// read by several nodes is copied once per annotated user, so every quantized op owns its
// dequantize and pattern rewrites (reference representation, lowering) can match each
// dq -> op -> q independently. Unannotated users and graph outputs keep the original;
// dynamic quantization's choose_qparams -> q -> dq stays shared.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "quantkit/graph/graph.h"

namespace quantkit::pt2e {

using graph::Graph;
using graph::Node;
using graph::OpKind;
using graph::Value;

void duplicate_dequantize_per_user(Graph& graph, const std::set<std::string>& annotated_nodes);

namespace {

bool is_dynamic_dequantize(const Node* dq) {
  if (dq->op() != OpKind::DequantizePerTensor || dq->num_inputs() != 3) return false;
  const Node* q = dq->input(0)->producer();
  if (q == nullptr || q->op() != OpKind::QuantizePerTensor || q->num_inputs() != 3) return false;
  const Node* choose = q->input(1)->producer();
  return choose != nullptr && choose->op() == OpKind::ChooseQParams;
}

}  // namespace

void duplicate_dequantize_per_user(Graph& graph, const std::set<std::string>& annotated_nodes) {
  for (Node* dq : graph.nodes()) {
    if (dq->op() != OpKind::DequantizePerTensor && dq->op() != OpKind::DequantizePerChannel) {
      continue;
    }
    Value* out = dq->output();
    std::vector<Node*> users;
    for (const graph::Use& u : graph.uses(out)) {
      if (std::find(users.begin(), users.end(), u.node) == users.end()) users.push_back(u.node);
    }
    const std::size_t num_users = users.size() + (graph.is_output(out) ? 1 : 0);
    if (num_users <= 1 || is_dynamic_dequantize(dq)) continue;
    std::vector<Value*> inputs(dq->inputs().begin(), dq->inputs().end());
    for (Node* user : users) {
      if (!annotated_nodes.contains(user->name())) continue;
      Node* copy = graph.insert_node_after(dq, dq->op(), inputs, dq->attrs());
      for (std::size_t i = 0; i < user->num_inputs(); ++i) {
        if (user->input(i) == out) user->set_input(i, copy->output());
      }
    }
  }
}

}  // namespace quantkit::pt2e
