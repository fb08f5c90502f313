#include "lowering_qparams.h"

#include <algorithm>
#include <cmath>

#include "quantkit/apot/integer_levels.h"

namespace quantkit::pt2e::lowering {
namespace {

using graph::Node;
using graph::OpKind;
using graph::Value;

bool is_quant_dtype(DType d) { return d == DType::Int8 || d == DType::UInt8; }

}  // namespace

// A constant/parameter tensor of floating or integer dtype, read as doubles / int64s.
std::optional<std::vector<double>> constant_doubles(const Value& v) {
  if (!v.has_data()) return std::nullopt;
  const Tensor& t = v.data();
  std::vector<double> out(static_cast<std::size_t>(t.numel()));
  if (t.dtype() == DType::Float32) {
    std::copy_n(t.data<float>(), t.numel(), out.begin());
  } else if (t.dtype() == DType::Float64) {
    std::copy_n(t.data<double>(), t.numel(), out.begin());
  } else {
    return std::nullopt;
  }
  return out;
}

bool constant_all_zero(const Value& v) {
  if (!v.has_data()) return false;
  const Tensor& t = v.data();
  if (t.dtype() == DType::Int32) {
    return std::all_of(t.data<std::int32_t>(), t.data<std::int32_t>() + t.numel(),
                       [](std::int32_t z) { return z == 0; });
  }
  if (t.dtype() == DType::Int64) {
    return std::all_of(t.data<std::int64_t>(), t.data<std::int64_t>() + t.numel(),
                       [](std::int64_t z) { return z == 0; });
  }
  return false;
}


std::optional<TensorQParams> static_qparams(const Node& node) {
  if (node.op() != OpKind::QuantizePerTensor && node.op() != OpKind::DequantizePerTensor) {
    return std::nullopt;
  }
  if (node.num_inputs() != 1 || !node.has_attr("scale") || !node.has_attr("zero_point")) {
    return std::nullopt;
  }
  TensorQParams q;
  q.scale = node.attr_float("scale");
  q.zero_point = node.attr_int("zero_point");
  q.quant_min = node.attr_int("quant_min");
  q.quant_max = node.attr_int("quant_max");
  q.dtype = node.attr_dtype("dtype");
  if (!is_quant_dtype(q.dtype)) return std::nullopt;
  return q;
}

std::optional<WeightQParams> symmetric_int8_weight(const Value& dequantized) {
  const Node* dq = dequantized.producer();
  if (dq == nullptr) return std::nullopt;
  const Value* w = dq->input(0);
  if (!w->has_data() || w->dtype() != DType::Int8 || w->shape().empty()) return std::nullopt;
  WeightQParams out;
  out.weight = w;
  if (dq->op() == OpKind::DequantizePerTensor) {
    const auto q = static_qparams(*dq);
    if (!q || q->zero_point != 0) return std::nullopt;
    out.scales = {q->scale};
  } else if (dq->op() == OpKind::DequantizePerChannel) {
    const auto rank = static_cast<std::int64_t>(w->shape().size());
    const std::int64_t axis = dq->attr_int("axis");
    if (axis != 0 && axis != -rank) return std::nullopt;
    auto scales = constant_doubles(*dq->input(1));
    if (!scales || !constant_all_zero(*dq->input(2))) return std::nullopt;
    if (static_cast<std::int64_t>(scales->size()) != w->shape()[0]) return std::nullopt;
    out.scales = std::move(*scales);
  } else {
    return std::nullopt;
  }
  const std::int64_t qmin = dq->attr_int("quant_min");
  const std::int64_t qmax = dq->attr_int("quant_max");
  const Tensor& t = w->data();
  const bool in_range = std::all_of(t.data<std::int8_t>(), t.data<std::int8_t>() + t.numel(),
                                    [&](std::int8_t v) { return v >= qmin && v <= qmax; });
  if (!in_range) return std::nullopt;
  return out;
}

std::optional<apot::IntegerWeight> apot_int8_weight(const Value& dequantized) {
  const Node* dq = dequantized.producer();
  if (dq == nullptr || dq->op() != OpKind::ApotDequantize || !dq->input(0)->has_data()) {
    return std::nullopt;
  }
  return apot::integer_weight(dq->input(0)->data(), dq->attr_floats("levels"));
}

bool known_within(const Value& value, std::int64_t quant_min, std::int64_t quant_max) {
  if (quant_min <= dtype_min(value.dtype()) && quant_max >= dtype_max(value.dtype())) return true;
  const Node* p = value.producer();
  if (p == nullptr) return false;
  const graph::OpTraits& traits = op_schema(p->op()).traits;
  // A quantize or fused integer op with an integer output clamps it to its own
  // [quant_min, quant_max] (dynamic_quantized_linear's output is float32; quantized_lut and
  // quantized_concat have no such range).
  if ((traits.category == graph::OpCategory::Quantize ||
       traits.category == graph::OpCategory::FusedInteger) &&
      is_integer(value.dtype()) && p->has_attr("quant_min")) {
    return p->attr_int("quant_min") >= quant_min && p->attr_int("quant_max") <= quant_max;
  }
  if (graph::is_value_preserving(*p)) return known_within(*p->input(0), quant_min, quant_max);
  return false;
}

Node* single_user(const graph::Graph& graph, const Value* value) {
  if (graph.is_output(value)) return nullptr;
  const auto uses = graph.uses(value);
  if (uses.size() != 1) return nullptr;
  return uses[0].node;
}

}  // namespace quantkit::pt2e::lowering
