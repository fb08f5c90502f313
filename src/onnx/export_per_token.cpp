// ONNX forms of the per-token / groupwise ops (configs int8-dynamic-per-token and 8da4w,
// docs/transformers.md). ONNX has no per-row dynamic quantization (DynamicQuantizeLinear is
// per tensor), so the activations are written as the decomposed float32 arithmetic, op for op
// the formulas of quant/per_token.h (ONNX Div / Round / Clip are IEEE float32 and round half
// to even, so ONNX Runtime computes the same qparams and codes):
//
//   choose_qparams_per_token:  lo = Min(ReduceMin(x, -1), 0), hi = Max(ReduceMax(x, -1), 0)
//                              scale = Max((hi - lo) / 255, eps)
//                              zp = Clip(qmin - Round(lo / scale), qmin, qmax)
//   quantize_per_group (G = K): Clip(Round(x * (1 / scale)) + zp, qmin, qmax)   (float codes)
//   dequantize_per_group:      (q - zp) * scale
//
// The codes and zero points stay float32 tensors holding integers (an int8 Cast would add
// nothing the Clip does not already guarantee). Groupwise weights: at opset 21, 4-bit weights
// are DequantizeLinear of an INT4 initializer with axis 1 and block_size G (ONNX's blocked
// quantization, which ONNX Runtime 1.30 runs; MatMulNBits is a contrib op and would tie the
// file to ORT); below 21, or wider than 4 bits, the dequantized float32 weight is written.
// The import reads all of this back as float ops (not as the per-token ops again).
#include <cstdint>
#include <string>
#include <vector>

#include "export_context.h"
#include "quantkit/quant/affine.h"

namespace quantkit::onnx::export_detail {
namespace {

using graph::Node;
using graph::OpKind;
using graph::Value;

std::string scalar(ExportContext& ctx, float v, std::string_view hint) {
  return ctx.add_initializer(Tensor::scalar(v), hint);
}

// ReduceMin / ReduceMax over the last dim, keeping it (axes: attribute before opset 18).
std::string reduce_last(ExportContext& ctx, const char* op, const std::string& x,
                        const std::string& name) {
  std::vector<std::string> inputs{x};
  if (ctx.opset() >= 18) {
    inputs.push_back(ctx.add_initializer(Tensor::from_vector(std::vector<std::int64_t>{-1}),
                                         name + "_axes"));
  }
  const std::string out = ctx.fresh_name(name);
  auto* n = ctx.add_node(op, std::move(inputs), {out}, ctx.fresh_name(name));
  if (ctx.opset() < 18) set_attr(n, "axes", std::vector<std::int64_t>{-1});
  set_attr(n, "keepdims", std::int64_t{1});
  return out;
}

// A binary / unary ONNX node with a fresh output (or `out` when given).
std::string emit(ExportContext& ctx, const char* op, std::vector<std::string> inputs,
                 const std::string& hint, std::string out = {}) {
  if (out.empty()) out = ctx.fresh_name(hint);
  ctx.add_node(op, std::move(inputs), {out}, ctx.fresh_name(hint));
  return out;
}

std::string clip(ExportContext& ctx, const std::string& x, const Node& node,
                 const std::string& hint, std::string out = {}) {
  return emit(ctx, "Clip",
              {x, scalar(ctx, static_cast<float>(node.attr_int("quant_min")), hint + "_min"),
               scalar(ctx, static_cast<float>(node.attr_int("quant_max")), hint + "_max")},
              hint, std::move(out));
}

void emit_choose(ExportContext& ctx, const Node& node) {
  const std::string& name = node.name();
  const std::string x = ctx.use(node.input(0));
  const std::string zero = scalar(ctx, 0.0f, name + "_zero");
  const std::string lo = emit(ctx, "Min", {reduce_last(ctx, "ReduceMin", x, name + "_min"), zero},
                              name + "_lo");
  const std::string hi = emit(ctx, "Max", {reduce_last(ctx, "ReduceMax", x, name + "_max"), zero},
                              name + "_hi");
  const std::string span = emit(ctx, "Sub", {hi, lo}, name + "_span");
  const float levels = static_cast<float>(node.attr_int("quant_max") - node.attr_int("quant_min"));
  const std::string unclamped =
      emit(ctx, "Div", {span, scalar(ctx, levels, name + "_levels")}, name + "_scale_raw");
  const std::string scale =
      emit(ctx, "Max",
           {unclamped, scalar(ctx, static_cast<float>(node.attr_float("eps")), name + "_eps")},
           name, node.output(0)->name());
  const std::string rounded =
      emit(ctx, "Round", {emit(ctx, "Div", {lo, scale}, name + "_lo_steps")}, name + "_rounded");
  const std::string zp = emit(
      ctx, "Sub",
      {scalar(ctx, static_cast<float>(node.attr_int("quant_min")), name + "_qmin"), rounded},
      name + "_zp_raw");
  clip(ctx, zp, node, name + "_zp", node.output(1)->name());
}

bool fed_by_choose(const Node& node) {
  const Node* choose = node.input(1)->producer();
  return choose != nullptr && choose->op() == OpKind::ChooseQParamsPerToken &&
         node.input(1) == choose->output(0) && node.input(2) == choose->output(1) &&
         node.attr_int("group_size") == node.input(0)->shape().back();
}

void emit_quantize(ExportContext& ctx, const Node& node) {
  if (!fed_by_choose(node)) {
    ctx.fail(node, "only per-token activations (qparams from choose_qparams_per_token, one "
                   "group per row) have an ONNX form");
  }
  const std::string& name = node.name();
  const std::string inv =
      emit(ctx, "Div", {scalar(ctx, 1.0f, name + "_one"), ctx.use(node.input(1))}, name + "_inv");
  const std::string steps = emit(ctx, "Mul", {ctx.use(node.input(0)), inv}, name + "_steps");
  const std::string shifted =
      emit(ctx, "Add", {emit(ctx, "Round", {steps}, name + "_rounded"), ctx.use(node.input(2))},
           name + "_shifted");
  clip(ctx, shifted, node, name, node.output()->name());
}

void emit_weight_dequantize(ExportContext& ctx, const Node& node) {
  const Value* q = node.input(0);
  const Value* s = node.input(1);
  const Value* z = node.input(2);
  if (!q->has_data() || !s->has_data() || !z->has_data()) {
    ctx.fail(node, "groupwise weights need constant codes, scales and zero points to export");
  }
  const bool four_bit = node.attr_int("quant_min") >= -8 && node.attr_int("quant_max") <= 7 &&
                        q->dtype() == DType::Int8 && q->shape().size() == 2;
  if (ctx.opset() >= 21 && four_bit) {
    ctx.add_value_info(node.output());
    auto* dq = ctx.add_node(
        "DequantizeLinear",
        {ctx.add_int4_initializer(q->data(), q->name()),
         ctx.add_initializer(s->data(), node.name() + "_scales"),
         ctx.add_int4_initializer(z->data().to(DType::Int8), node.name() + "_zero_points")},
        {node.output()->name()}, node.name());
    set_attr(dq, "axis", std::int64_t{1});
    set_attr(dq, "block_size", node.attr_int("group_size"));
    return;
  }
  const Tensor w = dequantize_per_group(q->data(), s->data(), z->data(), node.attr_int("group_size"));
  emit(ctx, "Identity", {ctx.add_initializer(w, node.name() + "_weight")}, node.name(),
       node.output()->name());
}

void emit_dequantize(ExportContext& ctx, const Node& node) {
  if (node.input(0)->has_data()) return emit_weight_dequantize(ctx, node);
  const Node* q = node.input(0)->producer();
  if (!fed_by_choose(node) || q == nullptr || q->op() != OpKind::QuantizePerGroup ||
      q->input(1) != node.input(1)) {
    ctx.fail(node, "only per-token activations and constant groupwise weights have an ONNX form");
  }
  const std::string centered =
      emit(ctx, "Sub", {ctx.use(node.input(0)), ctx.use(node.input(2))}, node.name() + "_centered");
  emit(ctx, "Mul", {centered, ctx.use(node.input(1))}, node.name(), node.output()->name());
}

}  // namespace

void export_per_group_quantization(ExportContext& ctx, const Node& node) {
  if (node.op() == OpKind::ChooseQParamsPerToken) return emit_choose(ctx, node);
  if (node.op() == OpKind::QuantizePerGroup) return emit_quantize(ctx, node);
  emit_dequantize(ctx, node);
}

}  // namespace quantkit::onnx::export_detail
