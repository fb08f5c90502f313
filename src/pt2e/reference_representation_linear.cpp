// Reference representation of static linear / conv2d and dynamic linear
// (torchao's _reference_quantized_linear, _reference_quantized_conv2d and
// _reference_dynamic_quantized_linear). The arithmetic is specified in
// include/quantkit/pt2e/reference_representation.h; comments here say which
// torch dtype each step computes in.
#include <cstdint>
#include <optional>
#include <vector>

#include "quantkit/apot/integer_levels.h"
#include "reference_representation_internal.h"

namespace quantkit::pt2e::detail {
namespace {

bool fits_int16(std::int64_t v) {
  return v >= dtype_min(DType::Int16) && v <= dtype_max(DType::Int16);
}

// The int8 weight of a linear/conv and its qparams: one scale and zero point
// (per tensor) or one per output channel (dequantize_per_channel on axis 0 with
// constant qparams).
struct WeightQuant {
  Node* dequant = nullptr;
  Value* q = nullptr;
  std::vector<double> scales;
  std::vector<std::int64_t> zero_points;
  std::int64_t quant_min = 0;
  std::int64_t quant_max = 0;
  bool per_channel = false;
  // APoT weights (apot_dequantize of constant codes): the levels as integers times one step
  // (apot::integer_levels), looked up per code — the int8 weight the pattern computes with,
  // `scales` = {step · γ}. Null for uniform weights (their codes are `q`).
  std::optional<Tensor> apot_integers;
};

// The int8 integers of an APoT weight (its levels are small integers times one step), or null.
std::optional<WeightQuant> match_apot_weight(Node* dq) {
  if (dq == nullptr || !dq->input(0)->has_data()) return std::nullopt;
  auto w = apot::integer_weight(dq->input(0)->data(), dq->attr_floats("levels"));
  if (!w) return std::nullopt;
  return WeightQuant{dq, dq->input(0), {w->scale}, {0}, -127, 127, false, std::move(w->weight)};
}

std::optional<WeightQuant> match_weight(const Graph& g, const Value* w, const Node* user) {
  WeightQuant out;
  if (Node* dq = producer_of(w, OpKind::DequantizePerTensor)) {
    const auto qp = int8_per_tensor(dq, OpKind::DequantizePerTensor);
    if (!qp) return std::nullopt;
    out = WeightQuant{
        dq, dq->input(0), {qp->scale}, {qp->zero_point}, qp->quant_min, qp->quant_max, false, {}};
  } else if (Node* dqc = producer_of(w, OpKind::DequantizePerChannel)) {
    const std::int64_t rank = static_cast<std::int64_t>(w->shape().size());
    const std::int64_t axis = dqc->attr_int("axis");
    if (dqc->attr_dtype("dtype") != DType::Int8 || (axis != 0 && axis != -rank) ||
        !dqc->input(1)->has_data() || !dqc->input(2)->has_data()) {
      return std::nullopt;
    }
    out = WeightQuant{dqc,
                      dqc->input(0),
                      to_doubles(dqc->input(1)->data()),
                      to_int64s(dqc->input(2)->data()),
                      dqc->attr_int("quant_min"),
                      dqc->attr_int("quant_max"),
                      true,
                      {}};
  } else if (auto apot = match_apot_weight(producer_of(w, OpKind::ApotDequantize))) {
    out = std::move(*apot);
  } else {
    return std::nullopt;
  }
  if (!only_used_by(g, out.dequant->output(), user)) return std::nullopt;
  for (std::int64_t zp : out.zero_points) {
    if (!fits_int16(zp)) return std::nullopt;
  }
  return out;
}

// A per-channel constant for channel axis 0 of a tensor of rank `rank` ([C, 1,
// ...]), or a 0-d constant for per-tensor qparams.
template <class T>
Tensor channel_constant(const std::vector<T>& values, bool per_channel, std::size_t rank) {
  if (!per_channel) return Tensor::scalar(values[0]);
  Shape shape(rank, 1);
  shape[0] = static_cast<std::int64_t>(values.size());
  return Tensor::from_vector(values, shape);
}

// weight_i16 - weight_zero_point after torchao's clamp(weight_i8, quant_min,
// quant_max).
Value* centered_weight(Emitter& e, const WeightQuant& w) {
  if (w.apot_integers) {  // zero point 0; the integers are the weight
    return e.cast(e.constant(*w.apot_integers, "weight_i8"), DType::Int16, "weight_i16");
  }
  Value* w16 =
      e.cast(e.clamp(w.q, static_cast<double>(w.quant_min), static_cast<double>(w.quant_max)),
             DType::Int16, "weight_i16");
  std::vector<std::int16_t> zps;
  for (std::int64_t zp : w.zero_points) zps.push_back(static_cast<std::int16_t>(zp));
  return e.sub(w16, e.constant(channel_constant(zps, w.per_channel, w.q->shape().size()),
                               "weight_zero_point"));
}

// ---- static linear / conv2d ----

struct StaticMatch {
  Node* dq_x = nullptr;
  TensorQParams x;
  WeightQuant w;
  Node* op = nullptr;  // linear or conv2d
  Value* bias = nullptr;
  Node* q = nullptr;
  TensorQParams out;
};

std::optional<StaticMatch> match_static(const Graph& g, Node* op) {
  StaticMatch m;
  m.op = op;
  const auto uses = g.uses(op->output());
  if (uses.size() != 1 || !only_used_by(g, op->output(), uses[0].node)) return std::nullopt;
  m.q = uses[0].node;
  const auto out = int8_per_tensor(m.q, OpKind::QuantizePerTensor);
  m.dq_x = producer_of(op->input(0), OpKind::DequantizePerTensor);
  const auto x = int8_per_tensor(m.dq_x, OpKind::DequantizePerTensor);
  if (!out || !x || !only_used_by(g, m.dq_x->output(), op) || !fits_int16(x->zero_point)) {
    return std::nullopt;
  }
  auto w = match_weight(g, op->input(1), op);
  if (!w || w->dequant == m.dq_x) return std::nullopt;
  m.x = *x;
  m.out = *out;
  m.w = std::move(*w);
  m.bias = op->num_inputs() == 3 ? op->input(2) : nullptr;
  return m;
}

void rewrite_static(Graph& g, OpKind op_kind) {
  std::vector<StaticMatch> matches;
  for (Node* n : g.nodes()) {
    if (n->op() != op_kind) continue;
    if (auto m = match_static(g, n)) matches.push_back(std::move(*m));
  }
  const bool conv = op_kind == OpKind::Conv2d;
  for (const StaticMatch& m : matches) {
    Emitter e(g, m.q, m.op->source());
    // x_i16 - x_zero_point: an int16 tensor minus a Python int stays int16
    // (exact: both operands are int8 values).
    Value* x_i8 = m.dq_x->input(0);
    Value* x16 = e.cast(
        e.clamp(x_i8, static_cast<double>(m.x.quant_min), static_cast<double>(m.x.quant_max)),
        DType::Int16, "x_i16");
    Value* xc = e.sub(x16, e.scalar_int(m.x.zero_point, DType::Int16, "x_zero_point"));
    Value* wc = centered_weight(e, m.w);
    // out_dtype(linear/convolution, int32, x, w, None): int32 accumulation,
    // bias added later.
    Value* acc = nullptr;
    if (conv) {
      graph::AttributeMap attrs;
      for (const char* name : {"stride", "padding", "dilation", "groups"}) {
        attrs.emplace(name, m.op->attr(name));
      }
      acc = e.op(OpKind::IntegerConv2d, {xc, wc}, std::move(attrs), "acc_i32");
    } else {
      acc = e.op(OpKind::IntegerLinear, {xc, wc}, {}, "acc_i32");
    }
    const std::size_t channels = m.w.scales.size();
    std::vector<double> combined(channels);  // x_scale * weight_scale: a float64 product
    for (std::size_t c = 0; c < channels; ++c) combined[c] = m.x.scale * m.w.scales[c];
    if (m.bias != nullptr) {
      // out_dtype(div, int32, bias_fp32, bias_scale): the float32 bias tensor
      // outranks the 0-d float64 bias_scale, so the division is float32 with
      // bias_scale rounded to f32.
      std::vector<float> bias_scale(channels);
      for (std::size_t c = 0; c < channels; ++c) bias_scale[c] = static_cast<float>(combined[c]);
      Value* bias_i32 = e.cast(
          e.div(m.bias, e.constant(channel_constant(bias_scale, m.w.per_channel, 1), "bias_scale")),
          DType::Int32, "bias_i32");
      // torchao unsqueezes the conv bias twice to broadcast over [N, O, H, W].
      if (conv) bias_i32 = e.reshape(bias_i32, {m.bias->shape()[0], 1, 1});
      acc = e.add(acc, bias_i32);
    }
    // x_scale * weight_scale / out_scale: float64 (0-d float64 tensor in
    // torch).
    std::vector<double> multiplier(channels);
    for (std::size_t c = 0; c < channels; ++c) multiplier[c] = combined[c] / m.out.scale;
    // Broadcast against acc: [out] for linear (last dim), [O, 1, 1] for conv
    // (dim 1 of 4).
    Value* mult =
        e.constant(channel_constant(multiplier, m.w.per_channel, conv ? 3 : 1), "requant_scale");
    Value* out = e.requantize_f64(acc, mult, m.out.zero_point, m.out.quant_min, m.out.quant_max);
    replace_and_remove(g, m.q->output(), out, {m.q, m.op, m.w.dequant, m.dq_x});
  }
}

// ---- dynamic linear ----

struct DynamicMatch {
  Node* choose = nullptr;
  Node* q = nullptr;
  Node* dq = nullptr;
  WeightQuant w;
  Node* linear = nullptr;
  Value* bias = nullptr;
};

bool same_int8_range(const Node* a, const Node* b) {
  return a->attr_dtype("dtype") == DType::Int8 && b->attr_dtype("dtype") == DType::Int8 &&
         a->attr_int("quant_min") == b->attr_int("quant_min") &&
         a->attr_int("quant_max") == b->attr_int("quant_max");
}

std::optional<DynamicMatch> match_dynamic(const Graph& g, Node* linear) {
  DynamicMatch m;
  m.linear = linear;
  m.dq = producer_of(linear->input(0), OpKind::DequantizePerTensor);
  if (m.dq == nullptr || m.dq->num_inputs() != 3) return std::nullopt;
  m.q = producer_of(m.dq->input(0), OpKind::QuantizePerTensor);
  if (m.q == nullptr || m.q->num_inputs() != 3) return std::nullopt;
  m.choose = producer_of(m.q->input(1), OpKind::ChooseQParams);
  if (m.choose == nullptr || m.choose->output(0) != m.q->input(1) ||
      m.choose->output(1) != m.q->input(2) || m.dq->input(1) != m.q->input(1) ||
      m.dq->input(2) != m.q->input(2) || m.choose->input(0) != m.q->input(0)) {
    return std::nullopt;
  }
  if (!same_int8_range(m.choose, m.q) || !same_int8_range(m.q, m.dq)) return std::nullopt;
  if (!only_used_by(g, m.dq->output(), linear) || !only_used_by(g, m.q->output(), m.dq)) {
    return std::nullopt;
  }
  // choose_qparams' outputs feed exactly this quantize and dequantize.
  for (std::size_t i = 0; i < 2; ++i) {
    const Value* v = m.choose->output(i);
    if (g.is_output(v)) return std::nullopt;
    for (const graph::Use& u : g.uses(v)) {
      if (u.node != m.q && u.node != m.dq) return std::nullopt;
    }
  }
  auto w = match_weight(g, linear->input(1), linear);
  if (!w) return std::nullopt;
  m.w = std::move(*w);
  m.bias = linear->num_inputs() == 3 ? linear->input(2) : nullptr;
  return m;
}

}  // namespace

void rewrite_static_linear(Graph& g) { rewrite_static(g, OpKind::Linear); }
void rewrite_static_conv2d(Graph& g) { rewrite_static(g, OpKind::Conv2d); }

void rewrite_dynamic_linear(Graph& g) {
  std::vector<DynamicMatch> matches;
  for (Node* n : g.nodes()) {
    if (n->op() != OpKind::Linear) continue;
    if (auto m = match_dynamic(g, n)) matches.push_back(std::move(*m));
  }
  for (const DynamicMatch& m : matches) {
    Emitter e(g, m.linear, m.linear->source());
    Value* x = m.q->input(0);
    const std::int64_t qmin = m.q->attr_int("quant_min");
    const std::int64_t qmax = m.q->attr_int("quant_max");
    // choose_qparams as in the Q/DQ graph: scale float64 [1], zero point int64
    // [1].
    Node* choose = e.node(OpKind::ChooseQParams, {x}, m.choose->attrs());
    Value* scale = choose->output(0);
    Value* zero_point = choose->output(1);
    // x / x_scale: float32 [..] and float64 [1] are both dimensioned, so
    // float64; round half to even; .to(int32); + x_zero_point (int64 [1])
    // promotes to int64; clamp; int8.
    Value* x_i32 = e.cast(e.round(e.div(e.cast(x, DType::Float64), scale)), DType::Int32);
    Value* x_i64 = e.add(e.cast(x_i32, DType::Int64), zero_point);
    Value* x_i8 = e.cast(e.clamp(x_i64, static_cast<double>(qmin), static_cast<double>(qmax)),
                         DType::Int8, "x_i8");
    // x_i16 - x_zero_point is int64 in torch (int64 [1] zero point); the zero
    // point lies in [qmin, qmax], so int16 holds the difference exactly and the
    // int32 accumulation is the same modulo 2^32 as torch's int64 linear cast
    // to int32.
    Value* xc = e.sub(e.cast(x_i8, DType::Int16, "x_i16"), e.cast(zero_point, DType::Int16));
    Value* wc = centered_weight(e, m.w);
    Value* acc = e.op(OpKind::IntegerLinear, {xc, wc}, {}, "acc_i32");
    // x_scale * weight_scale: float64 [1] times a Python float (per tensor) or
    // a weight-scale tensor (per channel): float64 either way.
    std::vector<double> ws = m.w.scales;
    Value* combined =
        e.mul(scale, e.constant(channel_constant(ws, m.w.per_channel, 1), "weight_scale"));
    if (m.bias != nullptr) {
      // out_dtype(div, int32, bias_fp32, bias_scale): float32 [out] and float64
      // [1] are both dimensioned: float64 division, truncated to int32.
      Value* bias_i32 =
          e.cast(e.div(e.cast(m.bias, DType::Float64), combined), DType::Int32, "bias_i32");
      acc = e.add(acc, bias_i32);
    }
    // acc_i32 * (x_scale * weight_scale): float64 in torch (its output is
    // float64); our value stays float32, rounded once at the end.
    Value* out = e.cast(e.mul(e.cast(acc, DType::Float64), combined), DType::Float32);
    replace_and_remove(g, m.linear->output(), out, {m.linear, m.w.dequant, m.dq, m.q, m.choose});
  }
}

}  // namespace quantkit::pt2e::detail
