// The per-token dynamic linear's operands as convert_pt2e writes them (lowering_qparams.h):
// read by the lowering (dynamic_quantized_linear_per_token) and the reference representation.
#include <algorithm>

#include "lowering_qparams.h"
#include "quantkit/graph/graph.h"

namespace quantkit::pt2e::lowering {

using graph::Node;
using graph::OpKind;
using graph::Value;

namespace {
bool int8_range(const Node& n, std::int64_t qmin, std::int64_t qmax) {
  return n.attr_dtype("dtype") == DType::Int8 && n.attr_int("quant_min") == qmin &&
         n.attr_int("quant_max") == qmax;
}
}  // namespace

std::optional<PerTokenActivation> per_token_activation(const Value& dequantized) {
  const Node* dq = dequantized.producer();
  if (dq == nullptr || dq->op() != OpKind::DequantizePerGroup) return std::nullopt;
  const Node* q = dq->input(0)->producer();
  const Node* choose = dq->input(1)->producer();
  if (q == nullptr || q->op() != OpKind::QuantizePerGroup || choose == nullptr ||
      choose->op() != OpKind::ChooseQParamsPerToken) {
    return std::nullopt;
  }
  const Value* x = choose->input(0);
  const bool same_qparams = dq->input(1) == choose->output(0) && dq->input(2) == choose->output(1) &&
                            q->input(1) == choose->output(0) && q->input(2) == choose->output(1) &&
                            q->input(0) == x;
  if (!same_qparams || x->shape().empty()) return std::nullopt;
  const std::int64_t k = x->shape().back();
  if (q->attr_int("group_size") != k || dq->attr_int("group_size") != k) return std::nullopt;
  const std::int64_t qmin = choose->attr_int("quant_min"), qmax = choose->attr_int("quant_max");
  for (const Node* n : {choose, q, dq}) {
    if (!int8_range(*n, qmin, qmax)) return std::nullopt;
  }
  return PerTokenActivation{x, choose, qmin, qmax, choose->attr_float("eps")};
}

std::optional<GroupedWeight> grouped_symmetric_weight(const Value& dequantized) {
  const Node* dq = dequantized.producer();
  if (dq == nullptr) return std::nullopt;
  if (dq->op() != OpKind::DequantizePerGroup) {
    auto w = symmetric_int8_weight(dequantized);
    if (!w || w->weight->shape().size() != 2) return std::nullopt;
    const std::int64_t n = w->weight->shape()[0];
    GroupedWeight out{w->weight, {}, w->weight->shape()[1]};
    for (std::int64_t c = 0; c < n; ++c) {
      out.scales.push_back(static_cast<float>(w->scales[w->scales.size() > 1 ? c : 0]));
    }
    return out;
  }
  const Value* w = dq->input(0);
  if (!w->has_data() || w->dtype() != DType::Int8 || w->shape().size() != 2) return std::nullopt;
  if (!constant_all_zero(*dq->input(2)) || !dq->input(1)->has_data() ||
      dq->input(1)->dtype() != DType::Float32) {
    return std::nullopt;
  }
  const std::int64_t qmin = dq->attr_int("quant_min"), qmax = dq->attr_int("quant_max");
  const Tensor& t = w->data();
  const bool in_range = std::all_of(t.data<std::int8_t>(), t.data<std::int8_t>() + t.numel(),
                                    [&](std::int8_t v) { return v >= qmin && v <= qmax; });
  if (!in_range) return std::nullopt;
  const Tensor& s = dq->input(1)->data();
  return GroupedWeight{w, s.to_vector<float>(), dq->attr_int("group_size")};
}

}  // namespace quantkit::pt2e::lowering
