// Converters for the ONNX quantization ops: QuantizeLinear, DequantizeLinear,
// DynamicQuantizeLinear, QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger.
//
// Numerics follow the ONNX operator definitions exactly (checked against ONNX's backend
// node tests, tests/onnx/backend_node_test.cpp):
//  * QuantizeLinear is saturate(round_half_even(x / scale) + zero_point). The graph's
//    quantize ops are PyTorch's (x * (1 / scale)), which rounds differently for some x
//    unless 1/scale is exact, so QuantizeLinear becomes quantize_per_tensor/per_channel
//    only when every scale is a constant power of two (or ImportOptions asks for torch's
//    numerics); otherwise it is spelled out as div → round → add → clamp → cast.
//  * DequantizeLinear is (x - zero_point) * scale in float32, which is what
//    dequantize_per_tensor/per_channel compute (the difference of two 8-bit values is exact
//    in float32, and so is its product with a float32 scale rounded once).
//  * The integer ops subtract zero points in int32 and accumulate in int32
//    (integer_conv2d / integer_linear); QLinear* then requantize as
//    saturate(round_half_even(float(acc) * multiplier) + y_zero_point), the multiplier being
//    x_scale * w_scale / y_scale in float32. The graph's requantize op truncates (PyTorch's
//    reference representation), so this is spelled out too.
#include <cmath>

#include "import_context.h"
#include "quantkit/quant/choose_qparams.h"

namespace quantkit::onnx::detail {
namespace {

using graph::AttributeMap;
using graph::OpKind;
using graph::Value;
using Ints = std::vector<std::int64_t>;

// A quantization parameter: a constant when known (so the arithmetic on it folds),
// otherwise the run-time value.
Value* qparam(NodeContext& ctx, std::size_t i) {
  return ctx.known(i) ? ctx.input_as_constant(i) : ctx.input(i);
}

Value* cast_to(NodeContext& ctx, Value* v, DType dtype) {
  if (v->dtype() == dtype) return v;
  return ctx.emit(OpKind::Cast, {v}, {{"dtype", dtype}});
}

// Per-tensor parameters (one element) become 0-d; per-axis ones [C] are shaped to
// broadcast along `axis` of a rank-`rank` tensor.
Value* broadcast_param(NodeContext& ctx, Value* p, std::int64_t axis, std::size_t rank,
                       std::string_view what) {
  const Shape& s = p->shape();
  if (p->type().numel() == 1 && s.size() <= 1) return reshape_to(ctx, p, {});
  ctx.check(s.size() == 1, std::string(what) + " must be a scalar or a vector, got " +
                               p->type().to_string());
  Shape shape(rank, 1);
  shape[static_cast<std::size_t>(axis)] = s[0];
  return reshape_to(ctx, p, shape);
}

Value* scalar_constant(NodeContext& ctx, DType dtype, double value) {
  Tensor t = Tensor::empty({}, dtype);
  visit_dtype(dtype, [&](auto zero) { *t.data<decltype(zero)>() = static_cast<decltype(zero)>(value); });
  return ctx.constant(t, "scalar");
}

// The zero point input i, or ONNX's default (uint8 0).
Value* zero_point(NodeContext& ctx, std::size_t i) {
  if (ctx.has_input(i)) return qparam(ctx, i);
  return scalar_constant(ctx, DType::UInt8, 0);
}

void check_quant_dtype(NodeContext& ctx, DType dtype, std::string_view what) {
  ctx.check(dtype == DType::Int8 || dtype == DType::UInt8,
            std::string(what) + " must be int8 or uint8, got " + std::string(dtype_name(dtype)));
}

// saturate(round_half_even(v) + zp) into `dtype`, v float32.
Value* round_add_saturate(NodeContext& ctx, Value* v, Value* zp, DType dtype) {
  v = ctx.emit(OpKind::Round, {v});
  v = ctx.emit(OpKind::Add, {v, cast_to(ctx, zp, DType::Float32)});
  v = ctx.emit(OpKind::Clamp, {v},
               {{"min", static_cast<double>(dtype_min(dtype))},
                {"max", static_cast<double>(dtype_max(dtype))}});
  return cast_to(ctx, v, dtype);
}

bool is_power_of_two(float s) {
  int exponent = 0;
  return std::isfinite(s) && s > 0 && std::frexp(s, &exponent) == 0.5f &&
         std::isnormal(1.0f / s);
}

// The axis attribute exists from opset 13 and only matters for per-axis qparams (a
// per-tensor QuantizeLinear of a vector keeps the default axis 1, out of range there).
std::int64_t quant_axis(NodeContext& ctx, std::size_t rank, bool per_axis) {
  const std::int64_t axis = ctx.opset() >= 13 ? ctx.attr_int("axis", 1) : 1;
  if (!per_axis) return 0;
  return normalize_axis(ctx, axis, static_cast<std::int64_t>(rank), "axis");
}

// ---- QuantizeLinear / DequantizeLinear ----

// Opset 21's blocked quantization (block_size) and QuantizeLinear's output_dtype without a
// zero point are refused: per-tensor and per-axis are what the graph IR has.
void check_unblocked(NodeContext& ctx) {
  ctx.check(ctx.attr_int("block_size", 0) == 0,
            "block_size " + std::to_string(ctx.attr_int("block_size", 0)) +
                " (blocked quantization) is not supported");
  ctx.check(ctx.attr_int("output_dtype", 0) == 0 || ctx.has_input(2),
            "output_dtype without a zero point is not supported");
}

void convert_quantize_linear(NodeContext& ctx) {
  ctx.require_inputs(2, 3);
  ctx.require_outputs(1);
  check_unblocked(ctx);
  Value* x = ctx.input(0);
  ctx.check(x->dtype() == DType::Float32, "x must be float, got " + x->type().to_string());
  const std::size_t rank = x->shape().size();
  Value* scale = qparam(ctx, 1);
  Value* zp = zero_point(ctx, 2);
  const DType dtype = zp->dtype();
  check_quant_dtype(ctx, dtype, "y_zero_point");
  ctx.check(scale->dtype() == DType::Float32, "y_scale must be float");
  const bool per_axis = scale->type().numel() != 1 || scale->shape().size() > 1;
  const std::int64_t axis = quant_axis(ctx, rank, per_axis);
  if (per_axis) {
    ctx.check(rank >= 1 && scale->shape() == Shape{x->shape()[static_cast<std::size_t>(axis)]},
              "y_scale " + scale->type().to_string() + " must hold one value or one per entry of axis " +
                  std::to_string(axis) + " of " + x->type().to_string());
    ctx.check(zp->shape() == scale->shape(), "y_zero_point must have y_scale's shape");
  }
  const auto range_min = dtype_min(dtype), range_max = dtype_max(dtype);
  if (scale->has_data() && zp->has_data()) {
    const auto scales = scale->data().to_vector<float>();
    bool exact = true;
    for (float s : scales) exact = exact && is_power_of_two(s);
    if (exact || ctx.options().torch_quantize_numerics) {
      if (!per_axis) {
        const Tensor z = zp->data().to(DType::Int64);
        ctx.set_output(0, ctx.emit(OpKind::QuantizePerTensor, {x},
                                   {{"scale", static_cast<double>(scales[0])},
                                    {"zero_point", z.data<std::int64_t>()[0]},
                                    {"quant_min", range_min},
                                    {"quant_max", range_max},
                                    {"dtype", dtype}}));
      } else {
        ctx.set_output(0, ctx.emit(OpKind::QuantizePerChannel,
                                   {x, scale, cast_to(ctx, zp, DType::Int32)},
                                   {{"axis", axis},
                                    {"quant_min", range_min},
                                    {"quant_max", range_max},
                                    {"dtype", dtype}}));
      }
      return;
    }
  }
  Value* s = broadcast_param(ctx, scale, axis, rank, "y_scale");
  Value* z = broadcast_param(ctx, zp, axis, rank, "y_zero_point");
  ctx.set_output(0, round_add_saturate(ctx, ctx.emit(OpKind::Div, {x, s}), z, dtype));
}

// DequantizeLinear(DynamicQuantizeLinear(x)) with that node's own scale and zero point: x
// quantized and dequantized with qparams chosen at run time. Read back in PyTorch's form —
// choose_qparams (int8 [-128, 127], eps = kDefaultObserverEps) → quantize → dequantize, what
// quantkit's exporter wrote it from (export_ops_quant.cpp) — so the lowering fuses the linear
// reading it into dynamic_quantized_linear again. Deviation from ONNX's function body (its
// uint8 qparams are the int8 ones + 128, the same dequantized values otherwise): torch's
// qparams where they differ — a range below 255 · eps, and the zero point's rounding
// (choose_qparams.h). Other readers of the quantized tensor (MatMulInteger, ConvInteger) get
// ONNX's body exactly.
Value* dequantize_dynamic(NodeContext& ctx) {
  if (ctx.num_inputs() != 3) return nullptr;
  const auto& names = ctx.proto().input();
  const auto it = ctx.dynamic_quantized().find(names[0]);
  if (it == ctx.dynamic_quantized().end() || it->second.scale != names[1] ||
      it->second.zero_point != names[2]) {
    return nullptr;
  }
  Value* x = it->second.x;
  const auto range = [] {
    return AttributeMap{{"quant_min", std::int64_t{-128}},
                        {"quant_max", std::int64_t{127}},
                        {"dtype", DType::Int8}};
  };
  AttributeMap choose_attrs = range();
  choose_attrs.emplace("eps", static_cast<double>(kDefaultObserverEps));
  graph::Node* choose =
      ctx.graph().add_node(OpKind::ChooseQParams, {x}, std::move(choose_attrs), "choose_qparams");
  Value* q =
      ctx.emit(OpKind::QuantizePerTensor, {x, choose->output(0), choose->output(1)}, range());
  return ctx.emit(OpKind::DequantizePerTensor, {q, choose->output(0), choose->output(1)}, range());
}

void convert_dequantize_linear(NodeContext& ctx) {
  ctx.require_inputs(2, 3);
  ctx.require_outputs(1);
  check_unblocked(ctx);
  if (Value* dq = dequantize_dynamic(ctx)) return ctx.set_output(0, dq);
  Value* x = ctx.input(0);
  const DType dtype = x->dtype();
  ctx.check(dtype == DType::Int8 || dtype == DType::UInt8 || dtype == DType::Int32,
            "x must be int8, uint8 or int32, got " + x->type().to_string());
  const std::size_t rank = x->shape().size();
  Value* scale = qparam(ctx, 1);
  ctx.check(scale->dtype() == DType::Float32, "x_scale must be float");
  const bool per_axis = scale->type().numel() != 1 || scale->shape().size() > 1;
  const std::int64_t axis = quant_axis(ctx, rank, per_axis);
  Value* zp = ctx.has_input(2) ? qparam(ctx, 2) : nullptr;
  if (zp) {
    ctx.check(zp->dtype() == dtype, "x_zero_point must have x's dtype");
  } else {
    Tensor zeros = Tensor::zeros(scale->shape(), dtype);
    zp = ctx.constant(zeros, "zero_point");
  }
  ctx.check(zp->shape() == scale->shape(), "x_zero_point must have x_scale's shape");
  // A 4-bit initializer (INT4 / UINT4, read into int8 / uint8) keeps its 4-bit range.
  const bool four_bit = ctx.input_is_4bit(0);
  std::int64_t qmin = four_bit ? (dtype == DType::Int8 ? -8 : 0) : dtype_min(dtype);
  std::int64_t qmax = four_bit ? (dtype == DType::Int8 ? 7 : 15) : dtype_max(dtype);
  // The integers of a quantize with a narrowed range (QuantizeLinear → Clip, read back as one
  // quantize by convert_clip) keep that range, as the graph that was exported had it: the
  // lowering pairs a dequantize with the quantize of the same range.
  if (const graph::Node* q = x->producer();
      q != nullptr && (q->op() == OpKind::QuantizePerTensor || q->op() == OpKind::QuantizePerChannel)) {
    qmin = q->attr_int("quant_min");
    qmax = q->attr_int("quant_max");
  }
  AttributeMap range{{"quant_min", qmin}, {"quant_max", qmax}, {"dtype", dtype}};
  if (per_axis) {
    ctx.check(rank >= 1 && scale->shape() == Shape{x->shape()[static_cast<std::size_t>(axis)]},
              "x_scale " + scale->type().to_string() + " must hold one value or one per entry of axis " +
                  std::to_string(axis) + " of " + x->type().to_string());
    range.insert_or_assign("axis", axis);
    ctx.set_output(0, ctx.emit(OpKind::DequantizePerChannel,
                               {x, scale, cast_to(ctx, zp, DType::Int32)}, range));
    return;
  }
  if (scale->has_data() && zp->has_data()) {
    range.insert_or_assign("scale", static_cast<double>(scale->data().to_vector<float>()[0]));
    range.insert_or_assign("zero_point", zp->data().to(DType::Int64).to_vector<std::int64_t>()[0]);
    ctx.set_output(0, ctx.emit(OpKind::DequantizePerTensor, {x}, range));
    return;
  }
  ctx.set_output(0, ctx.emit(OpKind::DequantizePerTensor,
                             {x, reshape_to(ctx, scale, {1}),
                              reshape_to(ctx, cast_to(ctx, zp, DType::Int32), {1})},
                             range));
}

// ---- DynamicQuantizeLinear ----

// ONNX's function body: uint8 with the range widened to include 0,
// scale = (max - min) / 255, zero point = saturate(round(0 - min / scale)).
void convert_dynamic_quantize_linear(NodeContext& ctx) {
  ctx.require_inputs(1, 1);
  ctx.require_outputs(3);
  Value* x = ctx.input(0);
  ctx.check(x->dtype() == DType::Float32, "x must be float, got " + x->type().to_string());
  Value* zero = scalar_constant(ctx, DType::Float32, 0);
  const std::size_t rank = x->shape().size();
  Value* lo = rank == 0 ? x : reduce_trailing_extreme(ctx, x, rank, false);
  Value* hi = rank == 0 ? x : reduce_trailing_extreme(ctx, x, rank, true);
  lo = elementwise_extreme(ctx, {lo, zero}, false);
  hi = elementwise_extreme(ctx, {hi, zero}, true);
  Value* scale = ctx.emit(OpKind::Div, {ctx.emit(OpKind::Sub, {hi, lo}),
                                        scalar_constant(ctx, DType::Float32, 255)});
  Value* zp = ctx.emit(OpKind::Sub, {zero, ctx.emit(OpKind::Div, {lo, scale})});
  zp = ctx.emit(OpKind::Clamp, {zp}, {{"min", 0.0}, {"max", 255.0}});
  zp = cast_to(ctx, ctx.emit(OpKind::Round, {zp}), DType::UInt8);
  Value* y = round_add_saturate(ctx, ctx.emit(OpKind::Div, {x, scale}), zp, DType::UInt8);
  ctx.set_output(0, y);
  ctx.set_output(1, scale);
  ctx.set_output(2, zp);
  const auto& out = ctx.proto().output();
  if (out.size() == 3 && !out[1].empty() && !out[2].empty()) {
    ctx.dynamic_quantized()[out[0]] = {x, out[1], out[2]};
  }
}

// ---- integer convolution / matmul ----

// v - zero_point in int32 (zero point broadcast along `axis` when it is a vector).
Value* shifted(NodeContext& ctx, Value* v, Value* zp, std::int64_t axis, std::string_view what) {
  check_quant_dtype(ctx, v->dtype(), what);
  ctx.check(zp->dtype() == v->dtype(), std::string(what) + "'s zero point must have its dtype");
  Value* z = broadcast_param(ctx, zp, axis, v->shape().size(), std::string(what) + " zero point");
  return ctx.emit(OpKind::Sub, {cast_to(ctx, v, DType::Int32), cast_to(ctx, z, DType::Int32)});
}

struct ConvAttrs {
  Ints stride, padding, dilation, pads;
  std::int64_t groups;
};

ConvAttrs read_conv_attrs(NodeContext& ctx, const Shape& x, const Shape& w) {
  ctx.check(x.size() == 4 && w.size() == 4, "only 2-D convolution is supported");
  const Ints kernel{w[2], w[3]};
  ctx.check(ctx.attr_ints("kernel_shape", kernel) == kernel,
            "kernel_shape does not match the weight's spatial dims");
  ConvAttrs a;
  a.stride = ctx.attr_ints("strides", {1, 1});
  a.dilation = ctx.attr_ints("dilations", {1, 1});
  a.groups = ctx.attr_int("group", 1);
  ctx.check(a.stride.size() == 2 && a.dilation.size() == 2, "strides/dilations need 2 entries");
  for (std::size_t d = 0; d < 2; ++d) {
    ctx.check(a.stride[d] >= 1 && a.stride[d] <= (1 << 24) && a.dilation[d] >= 1 &&
                  a.dilation[d] <= (1 << 24),
              "strides and dilations must be in [1, 2^24]");
  }
  const std::string auto_pad = ctx.attr_string("auto_pad", "NOTSET");
  ctx.check(auto_pad == "NOTSET" || auto_pad == "VALID",
            "auto_pad '" + auto_pad + "' is not supported for integer convolution");
  a.pads = ctx.attr_ints("pads", {0, 0, 0, 0});
  ctx.check(a.pads.size() == 4, "pads needs 4 entries");
  for (std::int64_t p : a.pads) ctx.check(p >= 0 && p <= (1 << 20), "pads must be in [0, 2^20]");
  return a;
}

// integer_conv2d of int32 operands; asymmetric pads go through pad2d (zeros, i.e. the
// zero point in the unshifted domain).
Value* integer_conv(NodeContext& ctx, Value* x, Value* w, Value* bias, const ConvAttrs& a) {
  Ints padding{a.pads[0], a.pads[1]};
  if (a.pads[0] != a.pads[2] || a.pads[1] != a.pads[3]) {
    x = ctx.emit(OpKind::Pad2d, {x}, {{"pads", a.pads}, {"value", 0.0}});
    padding = {0, 0};
  }
  std::vector<Value*> in{x, w};
  if (bias) in.push_back(bias);
  return ctx.emit(OpKind::IntegerConv2d, in,
                  {{"stride", a.stride}, {"padding", padding}, {"dilation", a.dilation},
                   {"groups", a.groups}});
}

void convert_conv_integer(NodeContext& ctx) {
  ctx.require_inputs(2, 4);
  ctx.require_outputs(1);
  Value* x = ctx.input(0);
  Value* w = qparam(ctx, 1);
  const ConvAttrs a = read_conv_attrs(ctx, x->shape(), w->shape());
  Value* xi = shifted(ctx, x, ctx.has_input(2) ? qparam(ctx, 2) : scalar_constant(ctx, x->dtype(), 0), 1, "x");
  Value* wi = shifted(ctx, w, ctx.has_input(3) ? qparam(ctx, 3) : scalar_constant(ctx, w->dtype(), 0), 0, "w");
  ctx.set_output(0, integer_conv(ctx, xi, wi, nullptr, a));
}

void convert_qlinear_conv(NodeContext& ctx) {
  ctx.require_inputs(8, 9);
  ctx.require_outputs(1);
  Value* x = ctx.input(0);
  Value* w = qparam(ctx, 3);
  const ConvAttrs a = read_conv_attrs(ctx, x->shape(), w->shape());
  Value* xi = shifted(ctx, x, qparam(ctx, 2), 1, "x");
  Value* wi = shifted(ctx, w, qparam(ctx, 5), 0, "w");
  Value* bias = nullptr;
  if (ctx.has_input(8)) {
    bias = qparam(ctx, 8);
    ctx.check(bias->dtype() == DType::Int32, "B must be int32");
  }
  Value* acc = integer_conv(ctx, xi, wi, bias, a);
  Value* x_scale = broadcast_param(ctx, qparam(ctx, 1), 1, 4, "x_scale");
  Value* w_scale = broadcast_param(ctx, qparam(ctx, 4), 1, 4, "w_scale");
  Value* y_scale = broadcast_param(ctx, qparam(ctx, 6), 1, 4, "y_scale");
  Value* y_zp = broadcast_param(ctx, qparam(ctx, 7), 1, 4, "y_zero_point");
  check_quant_dtype(ctx, y_zp->dtype(), "y_zero_point");
  Value* multiplier =
      ctx.emit(OpKind::Div, {ctx.emit(OpKind::Mul, {x_scale, w_scale}), y_scale});
  Value* y = ctx.emit(OpKind::Mul, {cast_to(ctx, acc, DType::Float32), multiplier});
  ctx.set_output(0, round_add_saturate(ctx, y, y_zp, y_zp->dtype()));
}

// int32 product of int32 operands a [..., K] and b [..., K, N]. A 2-D b uses
// integer_linear (exact for any K). Batched b goes through float32 matmul, exact while
// every partial sum stays below 2^24; refused otherwise.
Value* integer_matmul(NodeContext& ctx, Value* a, Value* b) {
  if (b->shape().size() == 2 && !a->shape().empty()) {
    Value* bt = ctx.emit(OpKind::Transpose, {b}, {{"dim0", std::int64_t{0}}, {"dim1", std::int64_t{1}}});
    return ctx.emit(OpKind::IntegerLinear, {a, bt});
  }
  const std::int64_t k = a->shape().empty() ? 1 : a->shape().back();
  ctx.check(k <= 258, "batched integer matmul with K = " + std::to_string(k) +
                          " > 258 is not supported (float32 accumulation would not be exact)");
  Value* y = ctx.emit(OpKind::MatMul, {cast_to(ctx, a, DType::Float32), cast_to(ctx, b, DType::Float32)});
  return cast_to(ctx, y, DType::Int32);
}

// ONNX allows a per-row zero point for A ([M]) and per-column for B ([N]).
Value* shifted_matrix(NodeContext& ctx, Value* v, Value* zp, bool rows, std::string_view what) {
  check_quant_dtype(ctx, v->dtype(), what);
  ctx.check(zp->dtype() == v->dtype(), std::string(what) + "'s zero point must have its dtype");
  Value* z = zp;
  if (zp->type().numel() == 1 && zp->shape().size() <= 1) {
    z = reshape_to(ctx, zp, {});
  } else {
    ctx.check(zp->shape().size() == 1 && v->shape().size() >= 2,
              std::string(what) + " zero point must be a scalar or a vector");
    z = reshape_to(ctx, zp, rows ? Shape{zp->shape()[0], 1} : Shape{zp->shape()[0]});
  }
  return ctx.emit(OpKind::Sub, {cast_to(ctx, v, DType::Int32), cast_to(ctx, z, DType::Int32)});
}

void convert_matmul_integer(NodeContext& ctx) {
  ctx.require_inputs(2, 4);
  ctx.require_outputs(1);
  Value* a = ctx.input(0);
  Value* b = qparam(ctx, 1);
  Value* ai = shifted_matrix(ctx, a, ctx.has_input(2) ? qparam(ctx, 2) : scalar_constant(ctx, a->dtype(), 0), true, "A");
  Value* bi = shifted_matrix(ctx, b, ctx.has_input(3) ? qparam(ctx, 3) : scalar_constant(ctx, b->dtype(), 0), false, "B");
  ctx.set_output(0, integer_matmul(ctx, ai, bi));
}

void convert_qlinear_matmul(NodeContext& ctx) {
  ctx.require_inputs(8, 8);
  ctx.require_outputs(1);
  Value* a = ctx.input(0);
  Value* b = qparam(ctx, 3);
  Value* ai = shifted_matrix(ctx, a, qparam(ctx, 2), true, "a");
  Value* bi = shifted_matrix(ctx, b, qparam(ctx, 5), false, "b");
  Value* acc = integer_matmul(ctx, ai, bi);
  auto scalar = [&](std::size_t i, std::string_view what) {
    Value* v = qparam(ctx, i);
    ctx.check(v->type().numel() == 1 && v->shape().size() <= 1,
              std::string(what) + " must hold one value (per-tensor)");
    return reshape_to(ctx, v, {});
  };
  Value* multiplier = ctx.emit(
      OpKind::Div, {ctx.emit(OpKind::Mul, {scalar(1, "a_scale"), scalar(4, "b_scale")}),
                    scalar(6, "y_scale")});
  Value* y_zp = scalar(7, "y_zero_point");
  check_quant_dtype(ctx, y_zp->dtype(), "y_zero_point");
  Value* y = ctx.emit(OpKind::Mul, {cast_to(ctx, acc, DType::Float32), multiplier});
  ctx.set_output(0, round_add_saturate(ctx, y, y_zp, y_zp->dtype()));
}

}  // namespace

void register_quant_ops(ConverterTable& t) {
  t["QuantizeLinear"] = convert_quantize_linear;
  t["DequantizeLinear"] = convert_dequantize_linear;
  t["DynamicQuantizeLinear"] = convert_dynamic_quantize_linear;
  t["QLinearConv"] = convert_qlinear_conv;
  t["QLinearMatMul"] = convert_qlinear_matmul;
  t["ConvInteger"] = convert_conv_integer;
  t["MatMulInteger"] = convert_matmul_integer;
}

}  // namespace quantkit::onnx::detail
