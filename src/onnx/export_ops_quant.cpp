// ONNX forms of the quantization ops: QuantizeLinear / DequantizeLinear (per tensor and per
// channel), choose_qparams → quantize → dequantize as DynamicQuantizeLinear →
// DequantizeLinear, and apot_dequantize as a Gather from the level table (uint8 codes).
// int8 activations are written as uint8 (ExportOptions::uint8_activations).
//
// Numerics. DequantizeLinear is (q - zp) * scale in float32, as ours. QuantizeLinear is
// saturate(round_half_even(x / scale) + zp); PyTorch (and we) multiply by 1/scale instead,
// which can move a value that lies within an ulp of a rounding midpoint to the next level:
// results agree within one quantization step. Qparams are stored as float32 (the scale) and
// in the quantized dtype (the zero point), which is what PyTorch's kernels use.
#include <cstdint>
#include <string>
#include <vector>

#include "export_context.h"

namespace quantkit::onnx::export_detail {
namespace {

using graph::Node;
using graph::OpKind;
using graph::Value;

bool is_8bit(DType dtype) { return dtype == DType::Int8 || dtype == DType::UInt8; }

void require_8bit(ExportContext& ctx, const Node& node) {
  const DType dtype = node.attr_dtype("dtype");
  if (!is_8bit(dtype)) {
    ctx.fail(node, std::string("ONNX QuantizeLinear/DequantizeLinear (opset <= 17) only have int8 "
                               "and uint8, not ") +
                       std::string(dtype_name(dtype)));
  }
}

Tensor scalar_in(DType dtype, std::int64_t value) {
  return dtype == DType::Int8 ? Tensor::scalar<std::int8_t>(static_cast<std::int8_t>(value))
                              : Tensor::scalar<std::uint8_t>(static_cast<std::uint8_t>(value));
}

// The integer form a quantize / dequantize is written in: the node's own, or for an int8
// activation written as uint8 (ExportOptions::uint8_activations) everything shifted by 128.
struct IntegerForm {
  DType dtype;
  std::int64_t zero_point;  // per-tensor nodes only
  std::int64_t qmin;
  std::int64_t qmax;
};

IntegerForm form_of(const Node& node, bool as_uint8) {
  const bool per_tensor =
      node.op() == OpKind::QuantizePerTensor || node.op() == OpKind::DequantizePerTensor;
  const std::int64_t shift = as_uint8 ? 128 : 0;
  return {as_uint8 ? DType::UInt8 : node.attr_dtype("dtype"),
          per_tensor ? node.attr_int("zero_point") + shift : 0, node.attr_int("quant_min") + shift,
          node.attr_int("quant_max") + shift};
}

// An int8 activation quantize whose every reader is a per-tensor int8 dequantize with constant
// qparams: the tensor exists only between them, so its dtype is the file's choice. A graph
// output keeps the dtype the graph declares.
bool writes_uint8(const ExportContext& ctx, const Node& q) {
  const graph::Graph& g = ctx.graph();
  if (!ctx.uint8_activations() || q.attr_dtype("dtype") != DType::Int8 || q.num_inputs() != 1 ||
      g.is_output(q.output()) || g.uses(q.output()).empty()) {
    return false;
  }
  for (const graph::Use& use : g.uses(q.output())) {
    if (use.node->op() != OpKind::DequantizePerTensor || use.node->num_inputs() != 1 ||
        use.node->attr_dtype("dtype") != DType::Int8) {
      return false;
    }
  }
  return true;
}

// Per-tensor qparams from the node's attributes, as ONNX initializers.
std::pair<std::string, std::string> attr_qparams(ExportContext& ctx, const Node& node,
                                                 const IntegerForm& form) {
  if (node.num_inputs() > 1) {
    ctx.fail(node,
             "run-time qparams have an ONNX form only in the choose_qparams → quantize → "
             "dequantize pattern of dynamic quantization");
  }
  const auto scale = static_cast<float>(node.attr_float("scale"));
  return {ctx.add_initializer(Tensor::scalar<float>(scale), node.name() + "_scale"),
          ctx.add_initializer(scalar_in(form.dtype, form.zero_point), node.name() + "_zero_point")};
}

// Per-channel qparams: constant inputs converted to float32 scales and zero points in the
// quantized dtype.
std::pair<std::string, std::string> channel_qparams(ExportContext& ctx, const Node& node) {
  const Value* scales = node.input(1);
  const Value* zero_points = node.input(2);
  if (!scales->has_data() || !zero_points->has_data()) {
    ctx.fail(node, "per-channel scales and zero points must be constants to export");
  }
  const DType dtype = node.attr_dtype("dtype");
  const Tensor zp = zero_points->data().to(DType::Int64);
  for (std::int64_t v : zp.span<const std::int64_t>()) {
    if (v < dtype_min(dtype) || v > dtype_max(dtype)) {
      ctx.fail(node,
               "zero point " + std::to_string(v) + " is outside " + std::string(dtype_name(dtype)));
    }
  }
  return {ctx.add_initializer(scales->data().to(DType::Float32), node.name() + "_scales"),
          ctx.add_initializer(zp.to(dtype), node.name() + "_zero_points")};
}

// QuantizeLinear saturates to the dtype; a narrower [quant_min, quant_max] needs a Clip.
void emit_quantize(ExportContext& ctx, const Node& node, const IntegerForm& form, std::string scale,
                   std::string zp, const std::int64_t* axis) {
  const bool full_range = form.qmin == dtype_min(form.dtype) && form.qmax == dtype_max(form.dtype);
  ctx.add_value_info(node.output(), form.dtype);
  const std::string out = node.output()->name();
  const std::string quantized = full_range ? out : ctx.fresh_name(node.name() + "_saturated");
  auto* q =
      ctx.add_node("QuantizeLinear", {ctx.use(node.input(0)), std::move(scale), std::move(zp)},
                   {quantized}, node.name());
  if (axis) set_attr(q, "axis", *axis);
  if (full_range) return;
  ctx.add_node(
      "Clip",
      {quantized, ctx.add_initializer(scalar_in(form.dtype, form.qmin), node.name() + "_qmin"),
       ctx.add_initializer(scalar_in(form.dtype, form.qmax), node.name() + "_qmax")},
      {out}, ctx.fresh_name(node.name() + "_clip"));
}

void emit_dequantize(ExportContext& ctx, const Node& node, std::string q, std::string scale,
                     std::string zp, const std::int64_t* axis) {
  ctx.add_value_info(node.output());
  auto* dq = ctx.add_node("DequantizeLinear", {std::move(q), std::move(scale), std::move(zp)},
                          {node.output()->name()}, node.name());
  if (axis) set_attr(dq, "axis", *axis);
}

bool same_quant_attrs(const Node& a, const Node& b) {
  return a.attr_dtype("dtype") == b.attr_dtype("dtype") &&
         a.attr_int("quant_min") == b.attr_int("quant_min") &&
         a.attr_int("quant_max") == b.attr_int("quant_max");
}

bool reads_qparams_of(const Node& user, const Node& choose) {
  return user.num_inputs() == 3 && user.input(1) == choose.output(0) &&
         user.input(2) == choose.output(1);
}

// Dynamic quantization: choose_qparams(x) feeding quantize(x) → dequantize. ONNX's
// DynamicQuantizeLinear is the uint8 [0, 255] form of the same affine scheme (range
// extended to include 0, scale = range / 255, zero point = round(-min / scale)); int8
// [-128, 127] qparams are those shifted by 128, so the dequantized values coincide. The
// quantized tensor itself therefore has no int8 form here: it may only feed the dequantize.
// Deviation: choose_qparams' eps (the smallest scale) has no ONNX counterpart; it only
// matters for inputs whose range is below 255 * eps (all but constant inputs).
void emit_choose_qparams(ExportContext& ctx, const Node& node) {
  const DType dtype = node.attr_dtype("dtype");
  const std::int64_t qmin = node.attr_int("quant_min"), qmax = node.attr_int("quant_max");
  if (!is_8bit(dtype) || qmin != dtype_min(dtype) || qmax != dtype_max(dtype)) {
    ctx.fail(node,
             "DynamicQuantizeLinear needs the full 8-bit range (int8 [-128, 127] or uint8 "
             "[0, 255]), got [" +
                 std::to_string(qmin) + ", " + std::to_string(qmax) + "]");
  }
  const graph::Graph& g = ctx.graph();
  if (g.is_output(node.output(0)) || g.is_output(node.output(1))) {
    ctx.fail(node, "dynamic qparams as graph outputs have no ONNX form");
  }
  std::vector<const Node*> quantizes;
  for (const Value* qparam : node.outputs()) {
    for (const graph::Use& use : g.uses(qparam)) {
      const Node& user = *use.node;
      const bool is_q = user.op() == OpKind::QuantizePerTensor;
      if ((!is_q && user.op() != OpKind::DequantizePerTensor) || !reads_qparams_of(user, node) ||
          !same_quant_attrs(user, node)) {
        ctx.fail(node, "its qparams feed node '" + user.name() +
                           "'; only quantize_per_tensor / dequantize_per_tensor with the same "
                           "dtype and range have an ONNX form (DynamicQuantizeLinear)");
      }
      if (is_q) {
        if (user.input(0) != node.input(0)) {
          ctx.fail(user, "quantizes a value other than the one its qparams were chosen for");
        }
        if (g.is_output(user.output())) {
          ctx.fail(user, "a dynamically quantized tensor as a graph output has no ONNX form");
        }
        for (const graph::Use& q_use : g.uses(user.output())) {
          if (q_use.node->op() != OpKind::DequantizePerTensor ||
              !reads_qparams_of(*q_use.node, node)) {
            ctx.fail(user, "its output feeds node '" + q_use.node->name() +
                               "'; a dynamically quantized tensor may only be dequantized with "
                               "its own qparams");
          }
        }
        quantizes.push_back(&user);
      } else if (user.input(0)->producer() == nullptr ||
                 user.input(0)->producer()->op() != OpKind::QuantizePerTensor ||
                 !reads_qparams_of(*user.input(0)->producer(), node)) {
        ctx.fail(user, "dequantizes with dynamic qparams a tensor they did not quantize");
      }
    }
  }
  DynamicQuantization& dq = ctx.dynamic[&node];
  dq.source = node.input(0);
  dq.quantized = ctx.fresh_name(node.name() + "_quantized");
  dq.scale = ctx.fresh_name(node.output(0)->name());
  dq.zero_point = ctx.fresh_name(node.output(1)->name());
  ctx.add_node("DynamicQuantizeLinear", {ctx.use(node.input(0))},
               {dq.quantized, dq.scale, dq.zero_point}, node.name());
  for (const Node* q : quantizes) ctx.dynamic_outputs[q->output()] = &dq;
}

// levels[code] is Gather(levels, codes). ONNX Gather takes int32/int64 indices only, so
// constant codes that fit a byte (the 4-bit schemes have at most 49 levels) are stored as a
// uint8 initializer behind a Cast to int32: a byte per weight, about 1/4 of the float32
// weight, next to a small float32 level table. ONNX Runtime folds the constant Cast → Gather
// into the float weight at load; our importer reads the pattern back as apot_dequantize
// (convert_table_lookup in import_folding.cpp).
void emit_apot_dequantize(ExportContext& ctx, const Node& node) {
  const std::vector<double>& levels = node.attr_floats("levels");
  std::vector<float> table(levels.begin(), levels.end());  // float32(levels[code]), as ours
  const std::string levels_name = ctx.add_initializer(
      Tensor::from_vector(table, Shape{static_cast<std::int64_t>(table.size())}),
      node.name() + "_levels");
  const Value* codes = node.input(0);
  std::string indices;
  if (!codes->has_data() || table.size() > 256) {
    indices = ctx.use(codes);
  } else {
    const Tensor& c = codes->data();
    for (std::int32_t code : c.span<const std::int32_t>()) {
      if (code < 0 || code >= static_cast<std::int32_t>(table.size())) {
        ctx.fail(node, "code " + std::to_string(code) + " is not a level index (there are " +
                           std::to_string(table.size()) + " levels)");
      }
    }
    const std::string bytes = ctx.add_initializer(c.to(DType::UInt8), codes->name() + "_u8");
    indices = ctx.fresh_name(codes->name() + "_i32");
    set_attr(ctx.add_node("Cast", {bytes}, {indices}, ctx.fresh_name(node.name() + "_cast")), "to",
             std::int64_t{::onnx::TensorProto_DataType_INT32});
  }
  ctx.add_value_info(node.output());
  set_attr(ctx.add_node("Gather", {levels_name, indices}, {node.output()->name()}, node.name()),
           "axis", std::int64_t{0});
}

}  // namespace

void export_quantize_per_tensor(ExportContext& ctx, const Node& node) {
  if (ctx.dynamic_outputs.count(node.output()) != 0) return;  // DynamicQuantizeLinear's
  require_8bit(ctx, node);
  const bool as_uint8 = writes_uint8(ctx, node);
  if (as_uint8) ctx.uint8_outputs.insert(node.output());
  const IntegerForm form = form_of(node, as_uint8);
  auto [scale, zp] = attr_qparams(ctx, node, form);
  emit_quantize(ctx, node, form, std::move(scale), std::move(zp), nullptr);
}

void export_dequantize_per_tensor(ExportContext& ctx, const Node& node) {
  require_8bit(ctx, node);
  if (auto it = ctx.dynamic_outputs.find(node.input(0)); it != ctx.dynamic_outputs.end()) {
    const DynamicQuantization& dq = *it->second;
    return emit_dequantize(ctx, node, dq.quantized, dq.scale, dq.zero_point, nullptr);
  }
  const IntegerForm form = form_of(node, ctx.uint8_outputs.count(node.input(0)) != 0);
  auto [scale, zp] = attr_qparams(ctx, node, form);
  emit_dequantize(ctx, node, ctx.use(node.input(0)), std::move(scale), std::move(zp), nullptr);
}

void export_quantize_per_channel(ExportContext& ctx, const Node& node) {
  require_8bit(ctx, node);
  const std::int64_t axis = node.attr_int("axis");
  auto [scales, zps] = channel_qparams(ctx, node);
  emit_quantize(ctx, node, form_of(node, false), std::move(scales), std::move(zps), &axis);
}

// A constant int8 weight whose dequantize range is within [-8, 7] (uniform-w4/w3/w2) is
// stored as INT4 from opset 21 on (ONNX Runtime 1.30 runs DequantizeLinear-21 on Int4x2):
// half the bytes of int8 storage.
bool int4_weight(const ExportContext& ctx, const Node& node) {
  const Value* w = node.input(0);
  if (ctx.opset() < 21 || !w->has_data() || w->dtype() != DType::Int8 ||
      node.attr_int("quant_min") < -8 || node.attr_int("quant_max") > 7 ||
      !node.input(2)->has_data()) {
    return false;
  }
  const auto in_range = [](std::int64_t v) { return v >= -8 && v <= 7; };
  const Tensor zps = node.input(2)->data().to(DType::Int64);
  for (std::int64_t v : zps.span<const std::int64_t>()) {
    if (!in_range(v)) return false;
  }
  for (std::int8_t v : w->data().span<const std::int8_t>()) {
    if (!in_range(v)) return false;
  }
  return true;
}

void export_dequantize_per_channel(ExportContext& ctx, const Node& node) {
  require_8bit(ctx, node);
  const std::int64_t axis = node.attr_int("axis");
  if (int4_weight(ctx, node)) {
    const Value* scales = node.input(1);
    if (!scales->has_data()) ctx.fail(node, "per-channel scales must be constants to export");
    emit_dequantize(
        ctx, node, ctx.add_int4_initializer(node.input(0)->data(), node.input(0)->name()),
        ctx.add_initializer(scales->data().to(DType::Float32), node.name() + "_scales"),
        ctx.add_int4_initializer(node.input(2)->data().to(DType::Int8), node.name() + "_zero_points"),
        &axis);
    return;
  }
  auto [scales, zps] = channel_qparams(ctx, node);
  emit_dequantize(ctx, node, ctx.use(node.input(0)), std::move(scales), std::move(zps), &axis);
}

void export_choose_qparams(ExportContext& ctx, const Node& node) { emit_choose_qparams(ctx, node); }

void export_apot_dequantize(ExportContext& ctx, const Node& node) {
  emit_apot_dequantize(ctx, node);
}

}  // namespace quantkit::onnx::export_detail
