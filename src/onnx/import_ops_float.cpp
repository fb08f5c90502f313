// Converters for the fp32 compute ops: Conv, Gemm, MatMul, elementwise arithmetic,
// activations, pooling, BatchNormalization, Softmax, Min/Max and their reductions.
//
// Where ONNX is more general than the graph op, the converter either decomposes exactly
// (asymmetric padding → pad2d, transposes, Gemm's alpha/beta) or rejects the node with an
// Error saying what is unsupported; it never approximates.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "import_context.h"

namespace quantkit::onnx::detail {
namespace {

using graph::AttributeMap;
using graph::OpKind;
using graph::Value;
using Ints = std::vector<std::int64_t>;

Ints ints_attr_of_size(NodeContext& ctx, std::string_view name, Ints fallback, std::size_t size) {
  Ints v = ctx.attr_ints(name, std::move(fallback));
  ctx.check(v.size() == size, "attribute '" + std::string(name) + "' has " +
                                  std::to_string(v.size()) + " entries, expected " +
                                  std::to_string(size));
  return v;
}

// ---- spatial attributes shared by Conv and the pools ----

struct Window {
  Ints kernel, stride, dilation;
  Ints pads;  // top, left, bottom, right
};

// Reads strides/dilations/pads/auto_pad for a window over x's last kernel.size() dims (1 or
// 2). A 1-D window comes back as 2-D with a unit height (kernel 1, stride 1, no padding), the
// form the 1-D Conv lowering runs it in.
Window read_window(NodeContext& ctx, const Shape& x, Ints kernel, bool has_dilation) {
  const std::size_t n = kernel.size();
  Window w;
  w.kernel = std::move(kernel);
  w.stride = ints_attr_of_size(ctx, "strides", Ints(n, 1), n);
  w.dilation = has_dilation ? ints_attr_of_size(ctx, "dilations", Ints(n, 1), n) : Ints(n, 1);
  for (std::size_t d = 0; d < n; ++d) {
    ctx.check(w.kernel[d] >= 1 && w.stride[d] >= 1 && w.dilation[d] >= 1,
              "kernel, strides and dilations must be >= 1");
    ctx.check(w.kernel[d] <= (std::int64_t{1} << 24) && w.stride[d] <= (std::int64_t{1} << 24) &&
                  w.dilation[d] <= (std::int64_t{1} << 24),
              "kernel, strides or dilations are implausibly large");
  }
  const std::string auto_pad = ctx.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") {
    w.pads = ints_attr_of_size(ctx, "pads", Ints(2 * n, 0), 2 * n);
    for (std::int64_t p : w.pads) {
      ctx.check(p >= 0 && p <= (std::int64_t{1} << 20), "pads must be in [0, 2^20]");
    }
  } else if (auto_pad == "VALID") {
    ctx.check(!ctx.has_attr("pads"), "'pads' and auto_pad VALID are mutually exclusive");
    w.pads.assign(2 * n, 0);
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    ctx.check(!ctx.has_attr("pads"), "'pads' and auto_pad SAME_* are mutually exclusive");
    w.pads.assign(2 * n, 0);
    for (std::size_t d = 0; d < n; ++d) {
      const std::int64_t in = x[x.size() - n + d];
      const std::int64_t out = (in + w.stride[d] - 1) / w.stride[d];
      const std::int64_t extent = (w.kernel[d] - 1) * w.dilation[d] + 1;
      const std::int64_t total = std::max<std::int64_t>(0, (out - 1) * w.stride[d] + extent - in);
      const std::int64_t small = total / 2;
      w.pads[d] = auto_pad == "SAME_UPPER" ? small : total - small;
      w.pads[d + n] = total - w.pads[d];
    }
  } else {
    ctx.fail("auto_pad '" + auto_pad + "' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER");
  }
  if (n == 1) {
    w.kernel.insert(w.kernel.begin(), 1);
    w.stride.insert(w.stride.begin(), 1);
    w.dilation.insert(w.dilation.begin(), 1);
    w.pads = {0, w.pads[0], 0, w.pads[1]};
  }
  return w;
}

bool symmetric(const Window& w) { return w.pads[0] == w.pads[2] && w.pads[1] == w.pads[3]; }

Value* pad(NodeContext& ctx, Value* x, const Ints& pads, double value) {
  return ctx.emit(OpKind::Pad2d, {x}, {{"pads", pads}, {"value", value}});
}

// ---- Conv ----

// A 1-D Conv (x [N, C, L], weight [O, C/g, K]) runs as a 2-D conv of unit height: x and the
// weight gain a height of 1, and the output loses it again. The reshapes are views, and
// conv2d is all the quantizer, the lowering and the runtime need to see.
void convert_conv(NodeContext& ctx) {
  ctx.require_inputs(2, 3);
  ctx.require_outputs(1);
  Value* x = ctx.input(0);
  const graph::TensorType w_type = ctx.input_type(1);
  const std::size_t rank = x->shape().size();
  ctx.check((rank == 4 || rank == 3) && w_type.shape.size() == rank,
            "only 1-D and 2-D convolutions are supported (x " + x->type().to_string() +
                ", weight " + w_type.to_string() + ")");
  const Shape& ws = w_type.shape;
  const Ints kernel(ws.begin() + 2, ws.end());
  const Ints declared = ctx.attr_ints("kernel_shape", kernel);
  ctx.check(declared == kernel, "kernel_shape does not match the weight's spatial dims");
  Window win = read_window(ctx, x->shape(), kernel, true);
  const std::int64_t groups = ctx.attr_int("group", 1);
  std::optional<std::size_t> dynamic_batch;
  if (x->is_dynamic() && !x->dim_names()[0].empty()) dynamic_batch = 0;
  Value* w = nullptr;
  if (rank == 4) {
    w = ctx.input(1);
  } else {
    const Shape& xs = x->shape();
    x = reshape_to(ctx, x, {xs[0], xs[1], 1, xs[2]}, dynamic_batch);
    const Shape w4{ws[0], ws[1], 1, ws[2]};
    if (std::optional<Tensor> known = ctx.known(1)) {
      // A weight initializer stays a named parameter, stored with its unit height.
      w = ctx.graph().add_parameter(ctx.graph().unique_name(ctx.proto().input(1)),
                                    known->reshape(w4));
    } else {
      w = reshape_to(ctx, ctx.input(1), w4);
    }
  }
  Ints padding{win.pads[0], win.pads[1]};
  if (!symmetric(win)) {
    x = pad(ctx, x, win.pads, 0.0);
    padding = {0, 0};
  }
  std::vector<Value*> inputs{x, w};
  if (ctx.has_input(2)) inputs.push_back(ctx.input(2));
  Value* y = ctx.emit(OpKind::Conv2d, inputs,
                      {{"stride", win.stride},
                       {"padding", padding},
                       {"dilation", win.dilation},
                       {"groups", groups}});
  if (rank == 3) {
    const Shape& ys = y->shape();
    y = reshape_to(ctx, y, {ys[0], ys[1], ys[3]}, dynamic_batch);
  }
  ctx.set_output(0, y);
}

// ---- Gemm / MatMul ----

// Input i (a known 2-D tensor) as a linear weight [out, in]: the transpose of what MatMul's
// B holds. The parameter keeps the initializer's name; the ONNX name itself then maps to a
// transpose back, which dead-code elimination drops unless another node reads B as is.
Value* transposed_weight(NodeContext& ctx, std::size_t i) {
  Tensor b = ctx.require_known(i, "B");
  const std::int64_t k = b.shape()[0], n = b.shape()[1];
  Tensor t = Tensor::empty({n, k}, b.dtype());
  ctx.check(b.dtype() == DType::Float32, "B must be float");
  const float* src = b.data<float>();
  float* dst = t.data<float>();
  for (std::int64_t r = 0; r < k; ++r) {
    for (std::int64_t c = 0; c < n; ++c) dst[c * k + r] = src[r * n + c];
  }
  const std::string& name = ctx.proto().input(static_cast<int>(i));
  Value* param = ctx.graph().add_parameter(ctx.graph().unique_name(name + "_t"), t);
  return param;
}

Value* scale_by(NodeContext& ctx, Value* v, double factor) {
  if (factor == 1.0) return v;
  return ctx.emit(OpKind::Mul, {v, ctx.constant(Tensor::scalar(static_cast<float>(factor)), "alpha")});
}

void convert_gemm(NodeContext& ctx) {
  ctx.require_inputs(2, 3);
  ctx.require_outputs(1);
  const double alpha = ctx.attr_float("alpha", 1.0);
  const double beta = ctx.attr_float("beta", 1.0);
  const bool trans_a = ctx.attr_int("transA", 0) != 0;
  const bool trans_b = ctx.attr_int("transB", 0) != 0;
  Value* a = ctx.input(0);
  ctx.check(a->shape().size() == 2, "A must be 2-D, got " + a->type().to_string());
  if (trans_a) a = ctx.emit(OpKind::Transpose, {a}, {{"dim0", std::int64_t{0}}, {"dim1", std::int64_t{1}}});
  const graph::TensorType b_type = ctx.input_type(1);
  ctx.check(b_type.shape.size() == 2, "B must be 2-D, got " + b_type.to_string());
  const std::int64_t n = trans_b ? b_type.shape[0] : b_type.shape[1];
  // C folds into linear's bias when it is an f32 [N] and nothing scales the sum: a constant,
  // or computed (an int32 bias through DequantizeLinear, as ONNX Runtime's quantizer and our
  // exporter write it: the lowering fuses dequantize → linear(bias) → quantize).
  Value* bias = nullptr;
  bool bias_used = !ctx.has_input(2);
  if (ctx.has_input(2) && alpha == 1.0 && beta == 1.0) {
    const graph::TensorType c = ctx.input_type(2);
    if (c.shape == Shape{n} && c.dtype == DType::Float32) {
      bias = ctx.input(2);
      bias_used = true;
    }
  }
  Value* y = nullptr;
  if (ctx.known(1)) {
    Value* w = trans_b ? ctx.input(1) : transposed_weight(ctx, 1);
    std::vector<Value*> in{a, w};
    if (bias) in.push_back(bias);
    y = ctx.emit(OpKind::Linear, in);
  } else {
    // A computed B (e.g. DequantizeLinear of an int8 initializer in a QDQ model) is still
    // linear's weight: [N, K] is B with transB, its transpose without. Keeping the linear
    // op lets the PT2E passes and the lowering see the dequantize -> linear pattern.
    Value* w = ctx.input(1);
    if (!trans_b) w = ctx.emit(OpKind::Transpose, {w}, {{"dim0", std::int64_t{0}}, {"dim1", std::int64_t{1}}});
    std::vector<Value*> in{a, w};
    if (bias) in.push_back(bias);
    y = ctx.emit(OpKind::Linear, in);
  }
  y = scale_by(ctx, y, alpha);
  if (!bias_used) y = ctx.emit(OpKind::Add, {y, scale_by(ctx, ctx.input(2), beta)});
  ctx.set_output(0, y);
}

void convert_matmul(NodeContext& ctx) {
  ctx.require_inputs(2, 2);
  ctx.require_outputs(1);
  Value* a = ctx.input(0);
  const graph::TensorType b_type = ctx.input_type(1);
  if (ctx.known(1) && b_type.shape.size() == 2 && b_type.dtype == DType::Float32 &&
      !a->shape().empty()) {
    ctx.set_output(0, ctx.emit(OpKind::Linear, {a, transposed_weight(ctx, 1)}));
    return;
  }
  ctx.set_output(0, ctx.emit(OpKind::MatMul, {a, ctx.input(1)}));
}

// ---- elementwise ----

// A known single-element operand becomes a 0-d constant when that does not change the
// broadcast result (the graph IR's convention for scalar operands).
Value* binary_operand(NodeContext& ctx, std::size_t i, const Shape& other) {
  std::optional<Tensor> t = ctx.known(i);
  if (t && t->numel() == 1 && t->shape().size() <= other.size() && !t->shape().empty()) {
    return ctx.constant(t->reshape({}), "scalar");
  }
  if (t && t->numel() == 1) return ctx.input_as_constant(i);
  return ctx.input(i);
}

// Integer Div of known int64 operands, one of them a single value: torch's shape arithmetic
// (chunk's (size + 2) / 3). The graph's div is floating only, so it folds here, truncating
// toward zero as ONNX Runtime (C++ '/'); a zero divisor and INT64_MIN / -1 are refused.
bool fold_integer_div(NodeContext& ctx) {
  if (ctx.input_type(0).dtype != DType::Int64) return false;
  std::optional<Tensor> a = ctx.known(0), b = ctx.known(1);
  if (!a || !b || b->dtype() != DType::Int64) return false;
  ctx.check(b->numel() == 1 || a->numel() == 1 || a->shape() == b->shape(),
            "integer Div folds only with a single-value or same-shape operand");
  const std::vector<std::int64_t> x = to_int64s(*a), y = to_int64s(*b);
  const Shape shape = a->numel() >= b->numel() ? a->shape() : b->shape();
  Tensor out = Tensor::empty(shape, DType::Int64);
  for (std::int64_t i = 0; i < out.numel(); ++i) {
    const std::int64_t p = x[static_cast<std::size_t>(x.size() == 1 ? 0 : i)];
    const std::int64_t q = y[static_cast<std::size_t>(y.size() == 1 ? 0 : i)];
    ctx.check(q != 0, "integer Div by zero");
    ctx.check(!(p == std::numeric_limits<std::int64_t>::min() && q == -1),
              "integer Div overflows int64");
    out.data<std::int64_t>()[i] = p / q;
  }
  ctx.set_output(0, ctx.constant(std::move(out), "quotient"));
  return true;
}

Converter binary(OpKind op) {
  return [op](NodeContext& ctx) {
    ctx.require_inputs(2, 2);
    ctx.require_outputs(1);
    if (op == OpKind::Div && fold_integer_div(ctx)) return;
    const graph::TensorType ta = ctx.input_type(0), tb = ctx.input_type(1);
    Value* a = binary_operand(ctx, 0, tb.shape);
    Value* b = binary_operand(ctx, 1, ta.shape);
    ctx.set_output(0, ctx.emit(op, {a, b}));
  };
}

Converter unary(OpKind op) {
  return [op](NodeContext& ctx) {
    ctx.require_inputs(1, 1);
    ctx.require_outputs(1);
    AttributeMap attrs;
    if (op == OpKind::LeakyRelu) attrs.insert_or_assign("negative_slope", ctx.attr_float("alpha", 0.01));
    if (op == OpKind::HardSigmoid) {
      attrs.insert_or_assign("alpha", ctx.attr_float("alpha", 0.2));
      attrs.insert_or_assign("beta", ctx.attr_float("beta", 0.5));
    }
    ctx.set_output(0, ctx.emit(op, {ctx.input(0)}, std::move(attrs)));
  };
}

// Pow's exponent may have another dtype than its base (ONNX's T1, opset 12+); the graph's pow
// takes one dtype, so a known exponent is converted to the base's (torch writes 2, 0.5 or 3 as
// a constant; int64 exponents convert exactly, f64 ones round once as ONNX Runtime does).
void convert_pow(NodeContext& ctx) {
  ctx.require_inputs(2, 2);
  ctx.require_outputs(1);
  const graph::TensorType base = ctx.input_type(0), exponent = ctx.input_type(1);
  ctx.check(is_floating(base.dtype),
            "Pow: the base must be floating, got " + std::string(dtype_name(base.dtype)));
  Value* a = binary_operand(ctx, 0, exponent.shape);
  Value* b = nullptr;
  if (exponent.dtype == base.dtype) {
    b = binary_operand(ctx, 1, base.shape);
  } else {
    std::optional<Tensor> known = ctx.known(1);
    ctx.check(known.has_value(), "Pow: an exponent of dtype " +
                                     std::string(dtype_name(exponent.dtype)) +
                                     " other than the base's must be a constant");
    const std::vector<double> values = to_doubles(*known);
    for (double v : values) {
      // A finite double beyond the base's range has no conversion (UB in C++): refuse it.
      ctx.check(!std::isfinite(v) || std::fabs(v) <= std::numeric_limits<float>::max() ||
                    base.dtype == DType::Float64,
                "Pow: exponent " + std::to_string(v) + " does not fit the base's dtype");
    }
    Shape shape = known->shape();
    if (values.size() == 1 && shape.size() <= base.shape.size()) shape = {};  // a 0-d scalar
    Tensor converted = Tensor::empty(shape, base.dtype);
    visit_dtype(base.dtype, [&](auto zero) {
      using T = decltype(zero);
      if constexpr (std::is_floating_point_v<T>) {
        for (std::size_t i = 0; i < values.size(); ++i) {
          converted.data<T>()[i] = static_cast<T>(values[i]);
        }
      }
    });
    b = ctx.constant(std::move(converted), "exponent");
  }
  ctx.set_output(0, ctx.emit(OpKind::Pow, {a, b}));
}

double scalar_value(NodeContext& ctx, std::size_t i, std::string_view what) {
  Tensor t = ctx.require_known(i, what);
  ctx.check(t.numel() == 1, std::string(what) + " must hold one value");
  return visit_dtype(t.dtype(), [&](auto zero) {
    return static_cast<double>(t.data<decltype(zero)>()[0]);
  });
}

// QuantizeLinear → Clip(lo, hi) on its integers (how a sub-range such as int8 [-8, 7] is
// written, export_ops_quant.cpp) is one quantize with the range narrowed to [lo, hi]:
// quantize already clamps to its range, and clamping twice is clamping to the intersection,
// so the result is the same for every input. The fused integer ops then see the range
// instead of a clamp they cannot run. Null when x is not a quantize's output or the ranges
// do not meet.
Value* narrowed_quantize(NodeContext& ctx, Value* x, std::optional<double> lo,
                         std::optional<double> hi) {
  const graph::Node* q = x->producer();
  if (q == nullptr ||
      (q->op() != OpKind::QuantizePerTensor && q->op() != OpKind::QuantizePerChannel)) {
    return nullptr;
  }
  AttributeMap attrs = q->attrs();
  const std::int64_t qmin = std::max(q->attr_int("quant_min"),
                                     lo ? static_cast<std::int64_t>(*lo) : q->attr_int("quant_min"));
  const std::int64_t qmax = std::min(q->attr_int("quant_max"),
                                     hi ? static_cast<std::int64_t>(*hi) : q->attr_int("quant_max"));
  if (qmin > qmax) return nullptr;
  attrs.insert_or_assign("quant_min", qmin);
  attrs.insert_or_assign("quant_max", qmax);
  return ctx.emit(q->op(), std::vector<Value*>(q->inputs().begin(), q->inputs().end()),
                  std::move(attrs));
}

void convert_clip(NodeContext& ctx) {
  ctx.require_inputs(1, 3);
  ctx.require_outputs(1);
  Value* x = ctx.input(0);
  std::optional<double> lo, hi;
  if (ctx.opset() < 11) {
    if (ctx.has_attr("min")) lo = ctx.attr_float("min", 0);
    if (ctx.has_attr("max")) hi = ctx.attr_float("max", 0);
  } else {
    if (ctx.has_input(1)) lo = scalar_value(ctx, 1, "min");
    if (ctx.has_input(2)) hi = scalar_value(ctx, 2, "max");
  }
  if (!lo && !hi) {
    ctx.set_output(0, x);
    return;
  }
  if (is_integer(x->dtype())) {
    // Bounds outside the dtype are clipped to it (checked before any conversion).
    const auto type_min = static_cast<double>(dtype_min(x->dtype()));
    const auto type_max = static_cast<double>(dtype_max(x->dtype()));
    for (std::optional<double>* b : {&lo, &hi}) {
      if (!*b) continue;
      ctx.check(**b == std::nearbyint(**b), "integer Clip bounds must be integers");
      **b = std::clamp(**b, type_min, type_max);
    }
    if (Value* narrowed = narrowed_quantize(ctx, x, lo, hi)) return ctx.set_output(0, narrowed);
  }
  if (lo && hi && is_floating(x->dtype())) {
    // torch's ReLU6 / Hardtanh export as Clip: keep them recognizable.
    ctx.set_output(0, ctx.emit(OpKind::Hardtanh, {x}, {{"min_val", *lo}, {"max_val", *hi}}));
    return;
  }
  AttributeMap attrs;
  if (lo) attrs.insert_or_assign("min", *lo);
  if (hi) attrs.insert_or_assign("max", *hi);
  ctx.set_output(0, ctx.emit(OpKind::Clamp, {x}, std::move(attrs)));
}

void convert_softmax(NodeContext& ctx) {
  ctx.require_inputs(1, 1);
  ctx.require_outputs(1);
  Value* x = ctx.input(0);
  const auto rank = static_cast<std::int64_t>(x->shape().size());
  const std::int64_t axis =
      normalize_axis(ctx, ctx.attr_int("axis", ctx.opset() >= 13 ? -1 : 1), rank, "axis");
  if (ctx.opset() >= 13 || axis == rank - 1 || rank == 0) {
    ctx.set_output(0, ctx.emit(OpKind::Softmax, {x}, {{"dim", axis}}));
    return;
  }
  // Before opset 13, softmax normalizes over all dims from `axis` on (x viewed as 2-D).
  const Shape& s = x->shape();
  const std::int64_t outer = shape_numel(Shape(s.begin(), s.begin() + axis));
  // A dynamic dim (the batch) stays one: in the flat view's outer or inner dim, then in s.
  std::optional<std::size_t> dynamic_in_s, dynamic_in_flat;
  for (std::size_t d = 0; d < s.size(); ++d) {
    if (x->is_dynamic() && !x->dim_names()[d].empty()) {
      dynamic_in_s = d;
      dynamic_in_flat = d < static_cast<std::size_t>(axis) ? 0 : 1;
    }
  }
  Value* flat = reshape_to(ctx, x, {outer, x->type().numel() / std::max<std::int64_t>(outer, 1)},
                           dynamic_in_flat);
  ctx.set_output(0, reshape_to(ctx, ctx.emit(OpKind::Softmax, {flat}, {{"dim", std::int64_t{1}}}),
                               s, dynamic_in_s));
}

// ---- pooling ----

// ONNX's output size (explicit pads): floor or ceil of the window count.
std::int64_t onnx_pool_size(std::int64_t in, std::int64_t total_pad, std::int64_t kernel,
                            std::int64_t stride, std::int64_t dilation, bool ceil_mode) {
  const std::int64_t span = in + total_pad - ((kernel - 1) * dilation + 1);
  if (span < 0) return 0;
  return (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
}

void convert_pool(NodeContext& ctx, bool is_max) {
  ctx.require_inputs(1, 1);
  ctx.require_outputs(1);
  Value* x = ctx.input(0);
  ctx.check(x->shape().size() == 4, "only 2-D pooling of N x C x H x W inputs is supported, got " +
                                        x->type().to_string());
  const Ints kernel = ctx.attr_ints("kernel_shape", {});
  ctx.check(kernel.size() == 2, "kernel_shape must have 2 entries");
  Window win = read_window(ctx, x->shape(), kernel, is_max);
  const bool ceil_mode = ctx.attr_int("ceil_mode", 0) != 0;
  const bool include_pad = !is_max && ctx.attr_int("count_include_pad", 0) != 0;
  if (!is_max) {  // opset 19 gave AveragePool dilations
    for (std::int64_t d : ctx.attr_ints("dilations", {1, 1})) {
      ctx.check(d == 1, "AveragePool dilations other than 1 are not supported");
    }
  }
  if (is_max) {
    ctx.check(ctx.attr_int("storage_order", 0) == 0, "storage_order 1 is not supported");
  }
  Shape expected = x->shape();
  for (std::size_t d = 0; d < 2; ++d) {
    expected[2 + d] = onnx_pool_size(x->shape()[2 + d], win.pads[d] + win.pads[d + 2],
                                     kernel[d], win.stride[d], win.dilation[d], ceil_mode);
  }
  Ints padding{win.pads[0], win.pads[1]};
  const bool fits = symmetric(win) && win.pads[0] <= kernel[0] / 2 && win.pads[1] <= kernel[1] / 2;
  if (!fits) {
    // Explicit padding: the pad value never wins a max window, and an average that counts
    // padding sees zeros.
    ctx.check(is_max || include_pad || std::all_of(win.pads.begin(), win.pads.end(),
                                                   [](std::int64_t p) { return p == 0; }),
              "asymmetric or large pads with count_include_pad 0 are not supported");
    double fill = 0.0;
    if (is_max) {
      fill = is_floating(x->dtype()) ? -std::numeric_limits<double>::infinity()
                                     : static_cast<double>(dtype_min(x->dtype()));
    }
    x = pad(ctx, x, win.pads, fill);
    padding = {0, 0};
  }
  Value* y = nullptr;
  if (is_max) {
    y = ctx.emit(OpKind::MaxPool2d, {x},
                 {{"kernel_size", kernel},
                  {"stride", win.stride},
                  {"padding", padding},
                  {"dilation", win.dilation},
                  {"ceil_mode", std::int64_t{ceil_mode}}});
  } else {
    y = ctx.emit(OpKind::AvgPool2d, {x},
                 {{"kernel_size", kernel},
                  {"stride", win.stride},
                  {"padding", padding},
                  {"ceil_mode", std::int64_t{ceil_mode}},
                  {"count_include_pad", std::int64_t{include_pad}}});
  }
  // torch's ceil-mode rule drops a last window that starts in the padding; ONNX (1.12)
  // keeps it. Where they differ the result would be wrong, so refuse.
  ctx.check(y->shape() == expected, "the pooled shape " + shape_to_string(y->shape()) +
                                        " differs from ONNX's " + shape_to_string(expected) +
                                        " (ceil_mode window rule); not supported");
  ctx.set_output(0, y);
}

void convert_global_average_pool(NodeContext& ctx) {
  ctx.require_inputs(1, 1);
  ctx.require_outputs(1);
  Value* x = ctx.input(0);
  ctx.check(x->shape().size() == 4, "only N x C x H x W inputs are supported, got " +
                                        x->type().to_string());
  ctx.set_output(0, ctx.emit(OpKind::AdaptiveAvgPool2d, {x},
                             {{"output_size", Ints{1, 1}}}));
}

void convert_batch_norm(NodeContext& ctx) {
  ctx.require_inputs(5, 5);
  ctx.require_outputs(1);
  ctx.check(ctx.attr_int("training_mode", 0) == 0, "training_mode 1 is not supported");
  ctx.ignore_attr("momentum");  // only updates running statistics in training
  const double eps = ctx.attr_float("epsilon", 1e-5);
  std::vector<Value*> in;
  for (std::size_t i = 0; i < 5; ++i) in.push_back(ctx.input(i));
  ctx.set_output(0, ctx.emit(OpKind::BatchNorm, in, {{"eps", eps}}));
}

// ---- Min / Max / ReduceMin / ReduceMax / Round ----

Converter extreme(bool max) {
  return [max](NodeContext& ctx) {
    ctx.check(ctx.num_inputs() >= 1, "needs at least one input");
    ctx.require_outputs(1);
    std::vector<Value*> xs;
    for (std::size_t i = 0; i < ctx.num_inputs(); ++i) xs.push_back(ctx.input(i));
    ctx.set_output(0, elementwise_extreme(ctx, xs, max));
  };
}

// The axes of a Reduce* node, normalized, sorted and distinct; nullopt when the node is the
// identity (opset 18's noop_with_empty_axes). Opset 18 moved axes from an attribute to an
// optional (constant) input; no axes means all of them.
std::optional<Ints> reduce_axes(NodeContext& ctx, std::int64_t rank) {
  ctx.require_inputs(1, ctx.opset() >= 18 ? 2 : 1);
  ctx.require_outputs(1);
  Ints axes = ctx.opset() >= 18 ? Ints{} : ctx.attr_ints("axes", {});
  if (ctx.opset() >= 18 && ctx.has_input(1)) {
    axes = ctx.require_known(1, "axes").to(DType::Int64).to_vector<std::int64_t>();
  }
  if (axes.empty() && ctx.opset() >= 18 && ctx.attr_int("noop_with_empty_axes", 0) != 0) {
    return std::nullopt;
  }
  if (axes.empty()) {
    for (std::int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  for (auto& a : axes) a = normalize_axis(ctx, a, rank, "axis");
  std::sort(axes.begin(), axes.end());
  ctx.check(std::adjacent_find(axes.begin(), axes.end()) == axes.end(), "axes repeat");
  return axes;
}

Converter reduce_extreme(bool max) {
  return [max](NodeContext& ctx) {
    Value* x = ctx.input(0);
    const auto rank = static_cast<std::int64_t>(x->shape().size());
    const std::optional<Ints> reduced = reduce_axes(ctx, rank);
    const bool keepdims = ctx.attr_int("keepdims", 1) != 0;
    if (!reduced) {
      ctx.set_output(0, x);
      return;
    }
    const Ints& axes = *reduced;
    // Supported: a trailing run of dims (which covers "all dims").
    for (std::size_t i = 0; i < axes.size(); ++i) {
      ctx.check(axes[i] == rank - static_cast<std::int64_t>(axes.size() - i),
                "only reductions over the trailing dims are supported");
    }
    Value* y = rank == 0 ? x : reduce_trailing_extreme(ctx, x, axes.size(), max);
    if (keepdims) {
      Shape kept = x->shape();
      for (std::int64_t a : axes) kept[static_cast<std::size_t>(a)] = 1;
      y = reshape_to(ctx, y, kept);
    }
    ctx.set_output(0, y);
  };
}

// ReduceMean over any set of axes (mean); a 0-d input is its own mean.
void convert_reduce_mean(NodeContext& ctx) {
  Value* x = ctx.input(0);
  const auto rank = static_cast<std::int64_t>(x->shape().size());
  const std::optional<Ints> axes = reduce_axes(ctx, rank);
  const bool keepdims = ctx.attr_int("keepdims", 1) != 0;
  if (!axes || rank == 0) {
    ctx.set_output(0, x);
    return;
  }
  ctx.set_output(
      0, ctx.emit(OpKind::Mean, {x}, {{"dims", *axes}, {"keepdim", std::int64_t{keepdims}}}));
}

Shape without_leading_ones(const Shape& s) {
  auto first = std::find_if(s.begin(), s.end(), [](std::int64_t d) { return d != 1; });
  return Shape(first, s.end());
}

// LayerNormalization (opset 17): layer_norm over the dims from `axis` on. Scale and B may be
// written with leading 1s (they broadcast in ONNX); other broadcasts are refused. The Mean and
// InvStdDev outputs, when requested, are computed beside it with mean / sub / mul / sqrt.
void convert_layer_norm(NodeContext& ctx) {
  ctx.require_inputs(2, 3);
  ctx.require_outputs(3);
  ctx.check(ctx.attr_int("stash_type", 1) == 1, "stash_type " +
                                                    std::to_string(ctx.attr_int("stash_type", 1)) +
                                                    " is not supported, expected 1 (float32)");
  Value* x = ctx.input(0);
  const auto rank = static_cast<std::int64_t>(x->shape().size());
  ctx.check(rank > 0, "a 0-d input has no dims to normalize");
  const std::int64_t axis = normalize_axis(ctx, ctx.attr_int("axis", -1), rank, "axis");
  const double eps = ctx.attr_float("epsilon", 1e-5);
  const Shape normalized(x->shape().begin() + axis, x->shape().end());
  auto parameter = [&](std::size_t i, std::string_view what) {
    Value* v = ctx.input(i);
    if (v->shape() == normalized) return v;
    ctx.check(without_leading_ones(v->shape()) == without_leading_ones(normalized),
              std::string(what) + " has shape " + shape_to_string(v->shape()) +
                  ", expected the normalized dims " + shape_to_string(normalized));
    return reshape_to(ctx, v, normalized);
  };
  std::vector<Value*> inputs{x, parameter(1, "Scale")};
  if (ctx.has_input(2)) inputs.push_back(parameter(2, "B"));
  ctx.set_output(0, ctx.emit(OpKind::LayerNorm, inputs, {{"axis", axis}, {"eps", eps}}));
  const bool stash = (ctx.num_outputs() > 1 && !ctx.proto().output(1).empty()) ||
                     (ctx.num_outputs() > 2 && !ctx.proto().output(2).empty());
  if (!stash) return;
  Ints dims;
  for (std::int64_t d = axis; d < rank; ++d) dims.push_back(d);
  const AttributeMap mean_attrs{{"dims", dims}, {"keepdim", std::int64_t{1}}};
  Value* mean = ctx.emit(OpKind::Mean, {x}, mean_attrs);
  Value* dev = ctx.emit(OpKind::Sub, {x, mean});
  Value* var = ctx.emit(OpKind::Mean, {ctx.emit(OpKind::Mul, {dev, dev})}, mean_attrs);
  Value* std_dev = ctx.emit(
      OpKind::Sqrt,
      {ctx.emit(OpKind::Add, {var, ctx.constant(Tensor::scalar(static_cast<float>(eps)), "eps")})});
  ctx.set_output(1, mean);
  ctx.set_output(2, ctx.emit(OpKind::Div, {ctx.constant(Tensor::scalar(1.0f), "one"), std_dev}));
}

void convert_identity(NodeContext& ctx) {
  ctx.require_inputs(1, 1);
  ctx.require_outputs(1);
  ctx.set_output(0, ctx.known(0) ? ctx.input_as_constant(0) : ctx.input(0));
}

}  // namespace

void register_float_ops(ConverterTable& t) {
  t["Conv"] = convert_conv;
  t["Gemm"] = convert_gemm;
  t["MatMul"] = convert_matmul;
  t["Add"] = binary(OpKind::Add);
  t["Sub"] = binary(OpKind::Sub);
  t["Mul"] = binary(OpKind::Mul);
  t["Div"] = binary(OpKind::Div);
  t["Relu"] = unary(OpKind::Relu);
  t["Sigmoid"] = unary(OpKind::Sigmoid);
  t["Tanh"] = unary(OpKind::Tanh);
  t["HardSigmoid"] = unary(OpKind::HardSigmoid);
  t["HardSwish"] = unary(OpKind::HardSwish);
  t["LeakyRelu"] = unary(OpKind::LeakyRelu);
  t["Round"] = unary(OpKind::Round);
  t["Erf"] = unary(OpKind::Erf);
  t["Exp"] = unary(OpKind::Exp);
  t["Neg"] = unary(OpKind::Neg);
  t["Sqrt"] = unary(OpKind::Sqrt);
  t["Pow"] = convert_pow;
  t["Clip"] = convert_clip;
  t["Softmax"] = convert_softmax;
  t["MaxPool"] = [](NodeContext& ctx) { convert_pool(ctx, true); };
  t["AveragePool"] = [](NodeContext& ctx) { convert_pool(ctx, false); };
  t["GlobalAveragePool"] = convert_global_average_pool;
  t["BatchNormalization"] = convert_batch_norm;
  t["Max"] = extreme(true);
  t["Min"] = extreme(false);
  t["ReduceMax"] = reduce_extreme(true);
  t["ReduceMin"] = reduce_extreme(false);
  t["ReduceMean"] = convert_reduce_mean;
  t["LayerNormalization"] = convert_layer_norm;
  t["Identity"] = convert_identity;
}

}  // namespace quantkit::onnx::detail
