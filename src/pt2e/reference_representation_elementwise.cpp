// Reference representation of add, add + relu and max_pool2d (torchao's
// _reference_quantized_add, _reference_quantized_add_relu and
// _reference_quantized_max_pool2d). Arithmetic:
// include/quantkit/pt2e/reference_representation.h.
#include <cstdint>
#include <optional>
#include <vector>

#include "reference_representation_internal.h"

namespace quantkit::pt2e::detail {
namespace {

bool same_range(const TensorQParams& a, const TensorQParams& b) {
  return a.quant_min == b.quant_min && a.quant_max == b.quant_max;
}

// ---- add / add_relu ----

struct AddMatch {
  Node* dq_a = nullptr;
  Node* dq_b = nullptr;
  TensorQParams a, b, out;
  Node* add = nullptr;
  Node* relu = nullptr;  // null for plain add
  Node* q = nullptr;
};

// dequantize(a), dequantize(b) → add [→ relu] → quantize, all int8 with one
// shared [quant_min, quant_max] (torchao's pattern has a single
// quant_min/quant_max placeholder).
std::optional<AddMatch> match_add(const Graph& g, Node* q, bool with_relu) {
  AddMatch m;
  m.q = q;
  const auto out = int8_per_tensor(q, OpKind::QuantizePerTensor);
  if (!out) return std::nullopt;
  Value* sum = q->input(0);
  if (with_relu) {
    m.relu = producer_of(q->input(0), OpKind::Relu);
    if (m.relu == nullptr || !only_used_by(g, m.relu->output(), q)) return std::nullopt;
    sum = m.relu->input(0);
  }
  m.add = producer_of(sum, OpKind::Add);
  const Node* add_user = with_relu ? m.relu : q;
  if (m.add == nullptr || !only_used_by(g, m.add->output(), add_user)) return std::nullopt;
  m.dq_a = producer_of(m.add->input(0), OpKind::DequantizePerTensor);
  m.dq_b = producer_of(m.add->input(1), OpKind::DequantizePerTensor);
  const auto a = int8_per_tensor(m.dq_a, OpKind::DequantizePerTensor);
  const auto b = int8_per_tensor(m.dq_b, OpKind::DequantizePerTensor);
  if (!a || !b || m.dq_a == m.dq_b || !only_used_by(g, m.dq_a->output(), m.add) ||
      !only_used_by(g, m.dq_b->output(), m.add) || !same_range(*a, *out) || !same_range(*b, *out)) {
    return std::nullopt;
  }
  m.a = *a;
  m.b = *b;
  m.out = *out;
  return m;
}

void rewrite_add_pattern(Graph& g, bool with_relu) {
  std::vector<AddMatch> matches;
  for (Node* n : g.nodes()) {
    if (auto m = match_add(g, n, with_relu)) matches.push_back(*m);
  }
  for (const AddMatch& m : matches) {
    Emitter e(g, m.q, m.add->source());
    // x_i8.to(int32) - x_zero_point, rescaled by x_scale / out_scale (a float64
    // 0-d tensor: the product with the int32 tensor is float64). add_relu
    // truncates (out_dtype(mul, int32, ...)); add rounds half to even first
    // (torch.round(...).to(int32)).
    auto rescale = [&](Value* q_i8, const TensorQParams& qp) {
      Value* centered = e.sub(e.cast(q_i8, DType::Int32),
                              e.scalar_int(qp.zero_point, DType::Int32, "zero_point"));
      Value* scaled =
          e.mul(e.cast(centered, DType::Float64), e.scalar_f64(qp.scale / m.out.scale, "rescale"));
      if (!with_relu) scaled = e.round(scaled);
      return e.cast(scaled, DType::Int32);
    };
    Value* a = rescale(m.dq_a->input(0), m.a);
    Value* b = rescale(m.dq_b->input(0), m.b);
    Value* sum = e.add(e.add(a, b), e.scalar_int(m.out.zero_point, DType::Int32, "out_zero_point"));
    // add_relu clamps to [out_zero_point, quant_max] (the relu in the quantized
    // domain); add clamps to [quant_min, quant_max] (torchao writes the literal
    // -128, 127).
    const std::int64_t lo = with_relu ? m.out.zero_point : m.out.quant_min;
    Value* out = e.cast(e.clamp(sum, static_cast<double>(lo), static_cast<double>(m.out.quant_max)),
                        DType::Int8);
    if (with_relu) {
      replace_and_remove(g, m.q->output(), out, {m.q, m.relu, m.add, m.dq_b, m.dq_a});
    } else {
      replace_and_remove(g, m.q->output(), out, {m.q, m.add, m.dq_b, m.dq_a});
    }
  }
}

// ---- max_pool2d ----

struct MaxPoolMatch {
  Node* dq = nullptr;
  TensorQParams x, out;
  Node* pool = nullptr;
  Node* q = nullptr;
};

std::optional<MaxPoolMatch> match_max_pool(const Graph& g, Node* q) {
  MaxPoolMatch m;
  m.q = q;
  const auto out = int8_per_tensor(q, OpKind::QuantizePerTensor);
  if (!out) return std::nullopt;
  m.pool = producer_of(q->input(0), OpKind::MaxPool2d);
  if (m.pool == nullptr || !only_used_by(g, m.pool->output(), q)) return std::nullopt;
  m.dq = producer_of(m.pool->input(0), OpKind::DequantizePerTensor);
  const auto x = int8_per_tensor(m.dq, OpKind::DequantizePerTensor);
  if (!x || !only_used_by(g, m.dq->output(), m.pool)) return std::nullopt;
  m.x = *x;
  m.out = *out;
  return m;
}

}  // namespace

void rewrite_add_relu(Graph& g) { rewrite_add_pattern(g, true); }
void rewrite_add(Graph& g) { rewrite_add_pattern(g, false); }

void rewrite_max_pool2d(Graph& g) {
  std::vector<MaxPoolMatch> matches;
  for (Node* n : g.nodes()) {
    if (auto m = match_max_pool(g, n)) matches.push_back(*m);
  }
  for (const MaxPoolMatch& m : matches) {
    Emitter e(g, m.q, m.pool->source());
    Value* x = e.clamp(m.dq->input(0), static_cast<double>(m.x.quant_min),
                       static_cast<double>(m.x.quant_max));
    Value* centered =
        e.sub(e.cast(x, DType::Int32), e.scalar_int(m.x.zero_point, DType::Int32, "x_zero_point"));
    Value* pooled = e.op(OpKind::MaxPool2d, {centered}, m.pool->attrs());
    // out_i32 * (x_scale / out_scale) + out_zero_point: float64 (0-d float64
    // scale), then clamped in float64 and truncated by .to(int8).
    Value* scaled =
        e.mul(e.cast(pooled, DType::Float64), e.scalar_f64(m.x.scale / m.out.scale, "rescale"));
    Value* shifted =
        e.add(scaled, e.scalar_f64(static_cast<double>(m.out.zero_point), "out_zero_point"));
    Value* out = e.cast(e.clamp(shifted, static_cast<double>(m.out.quant_min),
                                static_cast<double>(m.out.quant_max)),
                        DType::Int8);
    replace_and_remove(g, m.q->output(), out, {m.q, m.pool, m.dq});
  }
}

}  // namespace quantkit::pt2e::detail
