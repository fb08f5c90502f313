// Reference representation of the quantize/dequantize ops left after the fused
// patterns (torchao's _reference_quantize_per_tensor_int8,
// _reference_dequantize_per_tensor_int8, _reference_quantize_per_channel_int8,
// _reference_dequantize_per_channel_int8). Arithmetic:
// include/quantkit/pt2e/reference_representation.h.
#include <cstdint>
#include <vector>

#include "reference_representation_internal.h"

namespace quantkit::pt2e::detail {
namespace {

// Per-channel scales/zero points reshaped to [C, 1, ...] so they broadcast
// along `axis` of a rank-`rank` tensor: the same elementwise result as
// torchao's transpose(x, axis, -1).
Value* along_axis(Emitter& e, Value* v, std::int64_t axis, std::size_t rank) {
  const std::size_t trailing = rank - static_cast<std::size_t>(axis) - 1;
  if (trailing == 0) return v;
  std::vector<std::int64_t> shape(trailing + 1, 1);
  shape[0] = v->shape()[0];
  return e.reshape(v, std::move(shape));
}

std::int64_t normalized_axis(const Node* n) {
  const auto rank = static_cast<std::int64_t>(n->input(0)->shape().size());
  const std::int64_t axis = n->attr_int("axis");
  return axis < 0 ? axis + rank : axis;
}

bool int8_per_channel(const Node* n, OpKind op) {
  return n->op() == op && n->attr_dtype("dtype") == DType::Int8;
}

std::vector<Node*> nodes_where(const Graph& g, bool (*pred)(const Node*)) {
  std::vector<Node*> out;
  for (Node* n : g.nodes()) {
    if (pred(n)) out.push_back(n);
  }
  return out;
}

}  // namespace

void rewrite_quantize_per_tensor(Graph& g) {
  const auto matches = nodes_where(
      g, [](const Node* n) { return int8_per_tensor(n, OpKind::QuantizePerTensor).has_value(); });
  for (Node* q : matches) {
    const TensorQParams qp = *int8_per_tensor(q, OpKind::QuantizePerTensor);
    Emitter e(g, q, q->source());
    // x_fp32 / scale: a Python float against a float32 tensor divides in
    // float32 by f32(scale); torch.round; .to(int32); + zero_point (int32);
    // clamp; .to(int8).
    Value* r = e.round(e.div(q->input(0), e.scalar_f32(static_cast<float>(qp.scale), "scale")));
    Value* shifted =
        e.add(e.cast(r, DType::Int32), e.scalar_int(qp.zero_point, DType::Int32, "zero_point"));
    Value* out = e.cast(
        e.clamp(shifted, static_cast<double>(qp.quant_min), static_cast<double>(qp.quant_max)),
        DType::Int8);
    replace_and_remove(g, q->output(), out, {q});
  }
}

void rewrite_dequantize_per_tensor(Graph& g) {
  const auto matches = nodes_where(
      g, [](const Node* n) { return int8_per_tensor(n, OpKind::DequantizePerTensor).has_value(); });
  for (Node* dq : matches) {
    const TensorQParams qp = *int8_per_tensor(dq, OpKind::DequantizePerTensor);
    Emitter e(g, dq, dq->source());
    // torchao clamps to [quant_min, quant_max] first; (x.to(float32) -
    // zero_point) * scale with Python scalars: float32 arithmetic with
    // f32(zero_point) and f32(scale).
    Value* x = e.cast(
        e.clamp(dq->input(0), static_cast<double>(qp.quant_min), static_cast<double>(qp.quant_max)),
        DType::Float32);
    Value* out = e.mul(e.sub(x, e.scalar_f32(static_cast<float>(qp.zero_point), "zero_point")),
                       e.scalar_f32(static_cast<float>(qp.scale), "scale"));
    replace_and_remove(g, dq->output(), out, {dq});
  }
}

void rewrite_quantize_per_channel(Graph& g) {
  const auto matches =
      nodes_where(g, [](const Node* n) { return int8_per_channel(n, OpKind::QuantizePerChannel); });
  for (Node* q : matches) {
    Emitter e(g, q, q->source());
    const std::size_t rank = q->input(0)->shape().size();
    const std::int64_t axis = normalized_axis(q);
    Value* scales = along_axis(e, q->input(1), axis, rank);
    Value* zero_points = along_axis(e, q->input(2), axis, rank);
    // x / scales: both dimensioned, so the division runs in the scales' dtype.
    Value* x = q->input(0);
    if (scales->dtype() == DType::Float64) x = e.cast(x, DType::Float64);
    Value* x_i32 = e.cast(e.round(e.div(x, scales)), DType::Int32);
    // + zero_points: int32, or int64 for int64 zero points (torch's promotion).
    if (zero_points->dtype() != DType::Int32) x_i32 = e.cast(x_i32, zero_points->dtype());
    Value* out =
        e.cast(e.clamp(e.add(x_i32, zero_points), static_cast<double>(q->attr_int("quant_min")),
                       static_cast<double>(q->attr_int("quant_max"))),
               DType::Int8);
    replace_and_remove(g, q->output(), out, {q});
  }
}

void rewrite_dequantize_per_channel(Graph& g) {
  const auto matches = nodes_where(
      g, [](const Node* n) { return int8_per_channel(n, OpKind::DequantizePerChannel); });
  for (Node* dq : matches) {
    Emitter e(g, dq, dq->source());
    const std::size_t rank = dq->input(0)->shape().size();
    const std::int64_t axis = normalized_axis(dq);
    Value* scales = along_axis(e, dq->input(1), axis, rank);
    Value* zero_points = along_axis(e, dq->input(2), axis, rank);
    Value* x = e.clamp(dq->input(0), static_cast<double>(dq->attr_int("quant_min")),
                       static_cast<double>(dq->attr_int("quant_max")));
    // x_i32 - zero_points (int64 for int64 zero points), .to(float32), *
    // scales: float32, or float64 for float64 scales (torch would return
    // float64; our value is float32).
    x = e.cast(x, zero_points->dtype() == DType::Int64 ? DType::Int64 : DType::Int32);
    Value* centered = e.cast(e.sub(x, zero_points), DType::Float32);
    Value* out = nullptr;
    if (scales->dtype() == DType::Float64) {
      out = e.cast(e.mul(e.cast(centered, DType::Float64), scales), DType::Float32);
    } else {
      out = e.mul(centered, scales);
    }
    replace_and_remove(g, dq->output(), out, {dq});
  }
}

}  // namespace quantkit::pt2e::detail
