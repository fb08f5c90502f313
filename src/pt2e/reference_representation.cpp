// to_reference_representation: torchao's reference_representation_rewrite over
// a copy of the graph. The patterns run in torchao's order, each over the whole
// graph: the fused ones (dynamic linear, linear, conv2d, add_relu, add,
// max_pool2d) first, so the quantize/dequantize rewrites at the end only see
// the Q/DQ ops no fused pattern consumed.
#include "quantkit/pt2e/reference_representation.h"

#include "quantkit/graph/verifier.h"
#include "reference_representation_internal.h"

namespace quantkit::pt2e {

graph::Graph to_reference_representation(const graph::Graph& qdq) {
  graph::verify(qdq);
  graph::Graph g = qdq.clone();
  detail::rewrite_dynamic_linear(g);
  detail::rewrite_per_token_linear(g);
  detail::rewrite_static_linear(g);
  detail::rewrite_static_conv2d(g);
  detail::rewrite_add_relu(g);
  detail::rewrite_add(g);
  detail::rewrite_max_pool2d(g);
  detail::rewrite_quantize_per_tensor(g);
  detail::rewrite_dequantize_per_tensor(g);
  detail::rewrite_quantize_per_channel(g);
  detail::rewrite_dequantize_per_channel(g);
  // Weight constants, scales and zero points only the replaced Q/DQ nodes read.
  g.eliminate_dead_code();
  graph::verify(g);
  return g;
}

std::size_t count_out_dtype_mul(const graph::Graph& graph) {
  std::size_t count = 0;
  for (const graph::Node* n : graph.nodes()) {
    if (n->op() != graph::OpKind::Mul) continue;
    for (const graph::Use& u : graph.uses(n->output())) {
      if (u.node->op() == graph::OpKind::Cast && u.node->attr_dtype("dtype") == DType::Int32) {
        ++count;
        break;
      }
    }
  }
  return count;
}

}  // namespace quantkit::pt2e
