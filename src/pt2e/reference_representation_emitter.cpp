// The emitter and matching helpers shared by the reference-representation
// rewrites.
#include <algorithm>
#include <string>

#include "quantkit/core/error.h"
#include "reference_representation_internal.h"

namespace quantkit::pt2e::detail {

Node* Emitter::node(OpKind op, std::vector<Value*> inputs, graph::AttributeMap attrs,
                    std::string_view name_hint) {
  Node* n = graph_.insert_node_before(anchor_, op, std::move(inputs), std::move(attrs), name_hint);
  n->set_source(source_);
  return n;
}

Value* Emitter::cast(Value* x, DType dtype, std::string_view name_hint) {
  return op(OpKind::Cast, {x}, {{"dtype", dtype}}, name_hint);
}

Value* Emitter::clamp(Value* x, double lo, double hi) {
  return op(OpKind::Clamp, {x}, {{"min", lo}, {"max", hi}});
}

Value* Emitter::reshape(Value* x, std::vector<std::int64_t> shape) {
  return op(OpKind::Reshape, {x}, {{"shape", std::move(shape)}});
}

Value* Emitter::constant(Tensor data, std::string_view name_hint) {
  return graph_.add_constant(std::move(data), name_hint);
}

Value* Emitter::scalar_f32(float v, std::string_view name_hint) {
  return constant(Tensor::scalar(v), name_hint);
}

Value* Emitter::scalar_f64(double v, std::string_view name_hint) {
  return constant(Tensor::scalar(v), name_hint);
}

Value* Emitter::scalar_int(std::int64_t v, DType dtype, std::string_view name_hint) {
  check_argument(is_integer(dtype) && v >= dtype_min(dtype) && v <= dtype_max(dtype),
                 "reference_representation", "integer constant",
                 std::to_string(v) + " as " + std::string(dtype_name(dtype)),
                 "a value inside the dtype");
  Tensor t = Tensor::zeros(Shape{}, dtype);
  visit_dtype(dtype,
              [&](auto zero) { *t.data<decltype(zero)>() = static_cast<decltype(zero)>(v); });
  return constant(std::move(t), name_hint);
}

Value* Emitter::requantize_f64(Value* acc_i32, Value* multiplier_f64, std::int64_t zero_point,
                               std::int64_t lo, std::int64_t hi) {
  // out_dtype(mul, int32, acc, m): the promotion of an int32 tensor and a
  // float64 scale is float64; the product is truncated to int32 by .to(int32).
  Value* scaled = cast(mul(cast(acc_i32, DType::Float64), multiplier_f64), DType::Int32);
  // + out_zero_point (a Python int: stays int32), clamp, .to(int8).
  Value* shifted = add(scaled, scalar_int(zero_point, DType::Int32, "out_zero_point"));
  return cast(clamp(shifted, static_cast<double>(lo), static_cast<double>(hi)), DType::Int8);
}

std::optional<TensorQParams> int8_per_tensor(const Node* n, OpKind op) {
  if (n == nullptr || n->op() != op) return std::nullopt;
  auto q = lowering::static_qparams(*n);
  if (!q || q->dtype != DType::Int8) return std::nullopt;
  return q;
}

Node* producer_of(const Value* v, OpKind op) {
  Node* p = v->producer();
  return p != nullptr && p->op() == op ? p : nullptr;
}

bool only_used_by(const Graph& g, const Value* v, const Node* user) {
  if (g.is_output(v)) return false;
  const auto uses = g.uses(v);
  return !uses.empty() &&
         std::all_of(uses.begin(), uses.end(), [&](const graph::Use& u) { return u.node == user; });
}

void replace_and_remove(Graph& g, Value* from, Value* to, std::initializer_list<Node*> dead) {
  g.replace_all_uses(from, to);
  for (Node* n : dead) g.remove_node(n);
}

}  // namespace quantkit::pt2e::detail
