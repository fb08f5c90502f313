// Reference representation of the per-token dynamic linear (configs int8-dynamic-per-token
// and 8da4w): torchao's `_reference_dqlinear_int4` (pytorch/ao 36027d82d1ad,
// torchao/quantization/pt2e/reference_representation_rewrite.py) in integer arithmetic, with
// per-channel int8 weights as one group of K. The arithmetic is the contract of the fused op
// dynamic_quantized_linear_per_token (kernels/grouped_linear.h), which equals it bit for bit:
//
//   (s, zp) = choose_qparams_per_token(x);  x_i8 = quantize_per_group(x, s, zp; K)
//   acc  = integer_linear_grouped(i16(x_i8) − i16(zp), w_i8; G)    i32 [rows, N, K/G]
//   y    = sum(f32(acc) · w_scale[N, K/G], dim −1) · s  (+ bias)    f32, groups in order
//
// Deviations from torchao's reference: (x − zp) is taken in integers before the group sums
// (torchao subtracts zp · Σw in float32 per group: more roundings, same value in exact
// arithmetic), and the weight scales stay float32 (torchao rounds them to bfloat16 because
// XNNPACK stores them so; our kernel keeps float32).
#include <optional>
#include <vector>

#include "reference_representation_internal.h"

namespace quantkit::pt2e::detail {
namespace {

struct PerTokenMatch {
  lowering::PerTokenActivation x;
  lowering::GroupedWeight w;
  Node* linear = nullptr;
  Node* w_dequant = nullptr;
  Node* q = nullptr;
  Node* dq = nullptr;
};

std::optional<PerTokenMatch> match_per_token(const Graph& g, Node* linear) {
  auto x = lowering::per_token_activation(*linear->input(0));
  if (!x) return std::nullopt;
  auto w = lowering::grouped_symmetric_weight(*linear->input(1));
  if (!w) return std::nullopt;
  PerTokenMatch m{*x, std::move(*w), linear, linear->input(1)->producer(),
                  linear->input(0)->producer()->input(0)->producer(),
                  linear->input(0)->producer()};
  if (!only_used_by(g, m.dq->output(), linear) || !only_used_by(g, m.q->output(), m.dq) ||
      !only_used_by(g, m.w_dequant->output(), linear)) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < 2; ++i) {  // the qparams feed exactly this quantize / dequantize
    const Value* v = m.x.choose->output(i);
    if (g.is_output(v)) return std::nullopt;
    for (const graph::Use& u : g.uses(v)) {
      if (u.node != m.q && u.node != m.dq) return std::nullopt;
    }
  }
  return m;
}

// A reshape target keeping a leading (possibly dynamic) dim as -1.
std::vector<std::int64_t> shape_with_free_first(const Shape& shape) {
  std::vector<std::int64_t> out(shape.begin(), shape.end());
  if (out.size() >= 2) out[0] = -1;
  return out;
}

}  // namespace

void rewrite_per_token_linear(Graph& g) {
  std::vector<PerTokenMatch> matches;
  for (Node* n : g.nodes()) {
    if (n->op() != OpKind::Linear) continue;
    if (auto m = match_per_token(g, n)) matches.push_back(std::move(*m));
  }
  for (const PerTokenMatch& m : matches) {
    Emitter e(g, m.linear, m.linear->source());
    Value* x = const_cast<Value*>(m.x.x);
    const std::int64_t k = x->shape().back();
    const std::int64_t n = m.w.weight->shape()[0];
    Node* choose = e.node(OpKind::ChooseQParamsPerToken, {x}, m.x.choose->attrs());
    Value* scales = choose->output(0);
    Value* zps = choose->output(1);
    Value* x_i8 = e.op(OpKind::QuantizePerGroup, {x, scales, zps}, m.q->attrs(), "x_i8");
    // Rows of K, so the per-row zero points [rows, 1] broadcast.
    Value* rows_i16 = e.reshape(e.cast(x_i8, DType::Int16, "x_i16"), {-1, k});
    Value* xc = e.sub(rows_i16, e.cast(zps, DType::Int16));
    Value* acc = e.op(OpKind::IntegerLinearGrouped, {xc, const_cast<Value*>(m.w.weight)},
                      {{"group_size", m.w.group_size}}, "acc_i32");
    Value* w_scales = e.constant(
        Tensor::from_vector(m.w.scales, {n, k / m.w.group_size}), "weight_scales");
    Value* per_group = e.mul(e.cast(acc, DType::Float32), w_scales);
    Value* y = e.mul(e.op(OpKind::Sum, {per_group}, {{"dim", std::int64_t{-1}}}), scales);
    if (m.linear->num_inputs() == 3) y = e.add(y, m.linear->input(2));
    Value* out = e.reshape(y, shape_with_free_first(m.linear->output()->shape()));
    replace_and_remove(g, m.linear->output(), out,
                       {m.linear, m.w_dequant, m.dq, m.q, const_cast<Node*>(m.x.choose)});
  }
}

}  // namespace quantkit::pt2e::detail
