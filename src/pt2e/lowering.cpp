// lower_to_fused_kernels: Q/DQ patterns → fused integer ops with the runtime's
// requantization (kernels/requantize.h), which rounds to nearest as FBGEMM, XNNPACK and MLAS
// do. The lowering starts from the Q/DQ form and does not inherit the truncation of
// torchao's reference representation (that stays in pt2e/reference_representation.h):
//   multiplier[c] = float32(x_scale · w_scale[c] / out_scale)     (float64, rounded once)
//   bias_i32[c]   = round_half_even(bias[c] / (x_scale · w_scale[c]))   (float64, saturated)
//   add:  a_multiplier = a_scale / out_scale, b_multiplier = b_scale / out_scale (float64),
//         each rescaled input rounded half to even (add and add+relu alike)
// A relu, hardtanh (relu6) or clamp between the op and its quantize becomes a tighter
// [quant_min, quant_max]: quantize is monotone, so quantize(clamp(y, lo, hi)) ==
// clamp(quantize(y), quantize(lo), quantize(hi)) for every y (relu: quant_min = out_zp).
// The same holds for such an activation standing alone between the fused op's dequantize
// and a quantize with the same qparams (XNNPACKQuantizer's standalone relu6): it is folded
// into the fused op's range.
// The rest of a CNN (graph/fused_op_params.h gives the kernels' parameters):
//   mul:  multiplier = a_scale · b_scale / out_scale (float64, used as float32)
//   cat:  each input requantized with scale_i / out_scale (a copy when the qparams match)
//   avg_pool2d / adaptive_avg_pool2d: in and out qparams, kernels/pool.h's arithmetic
//   dequantize → any pointwise op (OpTraits::pointwise) → quantize: a 256-entry table made
//   by the chain's own reference kernels (exact), after the clamp folds above.
#include "quantkit/pt2e/lowering.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <tuple>
#include <unordered_set>

#include "lowering_qparams.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/fused_op_params.h"
#include "quantkit/graph/verifier.h"
#include "quantkit/kernels/requantize.h"
#include "quantkit/quant/affine.h"

namespace quantkit::pt2e {
namespace {

using graph::AttributeMap;
using graph::Node;
using graph::OpKind;
using graph::Value;
using lowering::TensorQParams;

// A relu, hardtanh (relu6) or clamp between a fused op and its quantize: the float bounds
// it clamps to (infinite when absent).
struct ClampBounds {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
};
std::optional<ClampBounds> clamp_bounds(const Node& n) {
  if (n.op() == OpKind::Relu) return ClampBounds{0.0, std::numeric_limits<double>::infinity()};
  if (n.op() == OpKind::Hardtanh) {
    return ClampBounds{n.attr_float("min_val"), n.attr_float("max_val")};
  }
  if (n.op() == OpKind::Clamp) {
    ClampBounds b;
    if (n.has_attr("min")) b.lo = n.attr_float("min");
    if (n.has_attr("max")) b.hi = n.attr_float("max");
    return b;
  }
  return std::nullopt;
}

// quantize is monotone, so quantize(clamp(y, lo, hi)) == clamp(quantize(y), quantize(lo),
// quantize(hi)) for every y: a clamp before a quantize is a tighter [quant_min, quant_max].
// The bounds are quantized with the interpreter's own arithmetic (float32 value, the
// quantize node's qparams). Null when the range becomes empty.
std::optional<std::pair<std::int64_t, std::int64_t>> clamped_range(const TensorQParams& q,
                                                                   const ClampBounds& b) {
  const QuantRange range = QuantRange::of(q.dtype, q.quant_min, q.quant_max);
  auto quantized = [&](double v) {
    const Tensor t = quantize_per_tensor(
        Tensor::from_vector(std::vector<float>{static_cast<float>(v)}), q.scale, q.zero_point,
        range);
    return visit_dtype(q.dtype, [&](auto zero) {
      return static_cast<std::int64_t>(t.data<decltype(zero)>()[0]);
    });
  };
  std::int64_t lo = q.quant_min, hi = q.quant_max;
  if (std::isfinite(b.lo)) lo = std::max(lo, quantized(b.lo));
  if (std::isfinite(b.hi)) hi = std::min(hi, quantized(b.hi));
  if (!(b.lo <= b.hi) || lo > hi) return std::nullopt;
  return std::pair{lo, hi};
}

// The quantize closing a pattern: `out` feeds it directly, or through one relu / hardtanh /
// clamp (folded into the output range). Null when the shape differs.
struct Closing {
  Node* activation = nullptr;
  Node* quantize = nullptr;
  TensorQParams q;
  std::int64_t quant_min = 0, quant_max = 0;  // q's range tightened by the activation
};
std::optional<Closing> closing_quantize(const Graph& g, const Value* out) {
  Closing c;
  Node* user = lowering::single_user(g, out);
  std::optional<ClampBounds> bounds;
  if (user != nullptr && (bounds = clamp_bounds(*user))) {
    c.activation = user;
    user = lowering::single_user(g, user->output());
  }
  if (user == nullptr || user->op() != OpKind::QuantizePerTensor) return std::nullopt;
  const auto q = lowering::static_qparams(*user);
  if (!q) return std::nullopt;
  c.quantize = user;
  c.q = *q;
  c.quant_min = q->quant_min;
  c.quant_max = q->quant_max;
  if (bounds) {
    const auto range = clamped_range(*q, *bounds);
    if (!range) return std::nullopt;
    std::tie(c.quant_min, c.quant_max) = *range;
  }
  return c;
}

// The static per-tensor dequantize producing `v` whose integer input is known to lie in its
// quant range (torchao's reference clamps x to it; inside it the clamp is the identity).
std::optional<TensorQParams> dequantized_input(const Value& v) {
  const Node* dq = v.producer();
  if (dq == nullptr || dq->op() != OpKind::DequantizePerTensor) return std::nullopt;
  auto q = lowering::static_qparams(*dq);
  if (!q || !lowering::known_within(*dq->input(0), q->quant_min, q->quant_max)) {
    return std::nullopt;
  }
  return q;
}

AttributeMap output_attrs(const Closing& c) {
  return {{"out_zero_point", c.q.zero_point},
          {"quant_min", c.quant_min},
          {"quant_max", c.quant_max},
          {"dtype", c.q.dtype}};
}

// Replaces the closing quantize's output by `fused` (already inserted) and drops the chain.
void finish(Graph& g, const Closing& c, Node* fused) {
  g.replace_all_uses(c.quantize->output(), fused->output());
  g.remove_node(c.quantize);
  if (c.activation != nullptr) g.remove_node(c.activation);
}

// fused op → dequantize → relu / hardtanh / clamp → quantize with the dequantize's qparams
// (the quantizer observes a standalone activation with its input's qparams): the clamp
// tightens the fused op's output range and the chain goes away.
bool fold_standalone_clamp(Graph& g, Node* act) {
  const auto bounds = clamp_bounds(*act);
  Node* dq = act->input(0)->producer();
  if (!bounds || dq == nullptr || dq->op() != OpKind::DequantizePerTensor) return false;
  Node* fused = dq->input(0)->producer();
  if (fused == nullptr || lowering::single_user(g, fused->output()) != dq) return false;
  // Any fused op with an integer output range (conv, linear, add, mul, the average pools).
  if (graph::op_schema(fused->op()).traits.category != graph::OpCategory::FusedInteger ||
      !fused->has_attr("quant_min")) {
    return false;
  }
  if (lowering::single_user(g, dq->output()) != act) return false;
  Node* q = lowering::single_user(g, act->output());
  if (q == nullptr || q->op() != OpKind::QuantizePerTensor) return false;
  const auto in_q = lowering::static_qparams(*dq);
  const auto out_q = lowering::static_qparams(*q);
  if (!in_q || !out_q || !(*in_q == *out_q)) return false;
  // The fused op's output lies in its own [quant_min, quant_max], a sub-range of the
  // dequantize's: clamping it further is quantize(clamp(dequantize(·))).
  TensorQParams fused_q = *in_q;
  fused_q.quant_min = std::max(in_q->quant_min, fused->attr_int("quant_min"));
  fused_q.quant_max = std::min(in_q->quant_max, fused->attr_int("quant_max"));
  const auto range = clamped_range(fused_q, *bounds);
  if (!range) return false;
  fused->set_attr("quant_min", range->first);
  fused->set_attr("quant_max", range->second);
  g.replace_all_uses(q->output(), fused->output());
  g.remove_node(q);
  g.remove_node(act);
  g.remove_node(dq);
  return true;
}

// The int32 values of a bias given as dequantize(int32 constant, scale, 0) whose scale is
// x_scale · w_scale[c] (per tensor or per output channel; float32-rounded products, as
// ONNX Runtime's quantizer writes them, are accepted within 1e-6 relative): the dequantized
// bias is then exactly bias_i32 · x_scale · w_scale, and the fused op adds bias_i32 to the
// accumulator. Null for any other producer.
std::optional<std::vector<std::int32_t>> int32_bias(const Value& bias, const TensorQParams& x,
                                                    const lowering::WeightQParams& w) {
  const Node* dq = bias.producer();
  if (dq == nullptr || dq->input(0)->dtype() != DType::Int32 || !dq->input(0)->has_data() ||
      dq->input(0)->shape().size() != 1) {
    return std::nullopt;
  }
  const std::int64_t channels = dq->input(0)->shape()[0];
  std::vector<double> scales;
  if (dq->op() == OpKind::DequantizePerTensor) {
    if (dq->num_inputs() != 1 || dq->attr_int("zero_point") != 0) return std::nullopt;
    scales.assign(static_cast<std::size_t>(channels), dq->attr_float("scale"));
  } else if (dq->op() == OpKind::DequantizePerChannel) {
    auto s = lowering::constant_doubles(*dq->input(1));
    if (!s || !lowering::constant_all_zero(*dq->input(2))) return std::nullopt;
    if (static_cast<std::int64_t>(s->size()) != channels) return std::nullopt;
    scales = std::move(*s);
  } else {
    return std::nullopt;
  }
  for (std::size_t c = 0; c < scales.size(); ++c) {
    const double expected = x.scale * w.scales[w.scales.size() > 1 ? c : 0];
    if (!(std::abs(scales[c] - expected) <= 1e-6 * expected)) return std::nullopt;
  }
  const Tensor& t = dq->input(0)->data();
  return std::vector<std::int32_t>(t.data<std::int32_t>(), t.data<std::int32_t>() + t.numel());
}

class Lowering {
 public:
  explicit Lowering(Graph& g) : g_(g) {}

  void run(LoweringStats& stats) {
    for (Node* n : g_.nodes()) {
      if (!g_.contains(n)) continue;
      // The pattern anchors; any other op stays as it is (a new op needs no case here).
      const OpKind op = n->op();
      if (op == OpKind::Linear) {
        if (lower_static(n, false)) {
          ++stats.linear;
        } else if (lower_dynamic_linear(n)) {
          ++stats.dynamic_linear;
        } else if (lower_per_token_linear(n)) {
          ++stats.dynamic_linear_per_token;
        }
      } else if (op == OpKind::Conv2d) {
        if (lower_static(n, true)) ++stats.conv2d;
      } else if (op == OpKind::Add) {
        if (lower_binary(n, OpKind::QuantizedAdd)) ++stats.add;
      } else if (op == OpKind::Mul) {
        if (lower_binary(n, OpKind::QuantizedMul)) ++stats.mul;
      } else if (op == OpKind::Cat) {
        if (lower_cat(n)) ++stats.concat;
      } else if (op == OpKind::AvgPool2d || op == OpKind::AdaptiveAvgPool2d) {
        if (lower_avg_pool(n)) ++stats.avg_pool;
      } else if (graph::is_value_preserving(*n)) {
        if (lower_passthrough(n)) ++stats.passthrough;
      }
    }
    for (Node* n : g_.nodes()) {
      if (g_.contains(n) && clamp_bounds(*n) && fold_standalone_clamp(g_, n)) ++stats.clamp;
    }
    // After the folds: a clamp folded into its producer costs nothing, a table costs a pass.
    for (Node* n : g_.nodes()) {
      if (g_.contains(n) && graph::op_schema(n->op()).traits.pointwise && lower_pointwise(n)) {
        ++stats.lut;
      }
    }
    // x · table(x) (SiLU's x · sigmoid(x), hardswish exported as x · hardsigmoid(x)) is itself
    // a function of one code of x: one table instead of a table and a multiply.
    for (Node* n : g_.nodes()) {
      if (g_.contains(n) && (n->op() == OpKind::QuantizedMul || n->op() == OpKind::QuantizedAdd) &&
          fold_binary_of_one_code(n)) {
        ++stats.lut_binary;
      }
    }
    // The dequantize chains and float weights/biases the fused ops replaced.
    g_.eliminate_dead_code();
    g_.remove_unused_parameters();
  }

 private:
  // dequantize(x) , dequantize(w_i8) → linear/conv2d (+ f32 bias) (+ relu) → quantize.
  bool lower_static(Node* op, bool conv) {
    const auto x = dequantized_input(*op->input(0));
    // An int8 weight with its dequantize, or APoT levels that are small integer multiples of
    // one step (the same kernels then run APoT weights; the int8 constant is added below).
    auto w = lowering::symmetric_int8_weight(*op->input(1));
    std::optional<apot::IntegerWeight> apot;
    if (!w && (apot = lowering::apot_int8_weight(*op->input(1)))) {
      w = lowering::WeightQParams{nullptr, {apot->scale}};
    }
    if (!x || !w) return false;
    const Value* bias = op->num_inputs() > 2 ? op->input(2) : nullptr;
    // A float constant bias (quantkit's and torch's export), or an int32 constant behind a
    // dequantize with scale x_scale · w_scale and zero point 0 (ONNX Runtime's quantizer).
    std::optional<std::vector<std::int32_t>> dequantized_bias;
    if (bias != nullptr && !(bias->has_data() && bias->dtype() == DType::Float32)) {
      dequantized_bias = int32_bias(*bias, *x, *w);
      if (!dequantized_bias) return false;
    }
    // A bias-less op followed by an add of such an int32 bias: how a Gemm whose C comes
    // through a DequantizeLinear is imported (linear, then a broadcasting add).
    Node* bias_add = nullptr;
    if (bias == nullptr) {
      Node* user = lowering::single_user(g_, op->output());
      if (user != nullptr && user->op() == OpKind::Add) {
        const Value* other = user->input(0) == op->output() ? user->input(1) : user->input(0);
        if (other != op->output() && (dequantized_bias = int32_bias(*other, *x, *w))) {
          bias_add = user;
        }
      }
    }
    const auto c = closing_quantize(g_, bias_add ? bias_add->output() : op->output());
    if (!c || c->q.dtype != x->dtype) return false;

    std::vector<float> multipliers;
    for (double ws : w->scales) {
      const auto m = static_cast<float>(x->scale * ws / c->q.scale);
      if (!(m > 0 && std::isfinite(m))) return false;  // degenerate scales: leave Q/DQ
      multipliers.push_back(m);
    }
    const std::int64_t out_channels =
        apot ? apot->weight.shape()[0] : w->weight->shape()[0];
    std::vector<std::int32_t> bias_i32(static_cast<std::size_t>(out_channels), 0);
    if (dequantized_bias) {
      if (static_cast<std::int64_t>(dequantized_bias->size()) != out_channels) return false;
      bias_i32 = std::move(*dequantized_bias);
    } else if (bias != nullptr) {
      const float* b = bias->data().data<float>();
      for (std::int64_t ch = 0; ch < out_channels; ++ch) {
        const double ws = w->scales[w->scales.size() > 1 ? static_cast<std::size_t>(ch) : 0];
        bias_i32[static_cast<std::size_t>(ch)] = kernels::quantize_bias(b[ch], x->scale, ws);
      }
    }
    Value* weight = apot ? g_.add_constant(std::move(apot->weight), op->name() + "_weight_int8")
                         : const_cast<Value*>(w->weight);
    std::vector<Value*> inputs{
        op->input(0)->producer()->input(0), weight,
        g_.add_constant(Tensor::from_vector(bias_i32), op->name() + "_bias_i32"),
        g_.add_constant(Tensor::from_vector(multipliers), op->name() + "_multipliers")};
    AttributeMap attrs = output_attrs(*c);
    attrs.emplace("x_zero_point", x->zero_point);
    if (conv) {
      for (const char* a : {"stride", "padding", "dilation", "groups"}) {
        attrs.emplace(a, op->attr(a));
      }
    }
    Node* fused =
        g_.add_node(conv ? OpKind::QuantizedConv2d : OpKind::QuantizedLinear, std::move(inputs),
                    std::move(attrs), conv ? "quantized_conv2d" : "quantized_linear", c->quantize);
    fused->set_source(op->source());
    finish(g_, *c, fused);
    if (bias_add != nullptr) g_.remove_node(bias_add);
    g_.remove_node(op);
    return true;
  }

  // dequantize(a), dequantize(b) → add / mul (+ relu) → quantize, one dtype throughout.
  bool lower_binary(Node* op, OpKind fused_kind) {
    const auto a = dequantized_input(*op->input(0));
    const auto b = dequantized_input(*op->input(1));
    if (!a || !b) return false;
    const auto c = closing_quantize(g_, op->output());
    if (!c || a->dtype != c->q.dtype || b->dtype != c->q.dtype) return false;
    if (a->dtype != DType::Int8 && a->dtype != DType::UInt8) return false;
    AttributeMap attrs = output_attrs(*c);
    attrs.emplace("a_zero_point", a->zero_point);
    attrs.emplace("b_zero_point", b->zero_point);
    auto representable = [](double m) {  // a normal float32 > 0
      return m >= std::numeric_limits<float>::min() && m <= std::numeric_limits<float>::max();
    };
    if (fused_kind == OpKind::QuantizedAdd) {
      const double a_mult = a->scale / c->q.scale;
      const double b_mult = b->scale / c->q.scale;
      if (!representable(a_mult) || !representable(b_mult)) return false;
      attrs.emplace("a_multiplier", a_mult);
      attrs.emplace("b_multiplier", b_mult);
      // Round to nearest with or without the relu (torchao's add_relu truncates: its
      // reference representation keeps that, deployment arithmetic does not).
      attrs.emplace("rounding", "half_even");
    } else {
      // The kernels take 4-d (broadcast) shapes.
      if (op->input(0)->shape().size() > 4 || op->input(1)->shape().size() > 4) return false;
      const double m = a->scale * b->scale / c->q.scale;
      if (!representable(m)) return false;
      attrs.emplace("multiplier", m);
    }
    Node* fused = g_.add_node(
        fused_kind, {op->input(0)->producer()->input(0), op->input(1)->producer()->input(0)},
        std::move(attrs), fused_kind == OpKind::QuantizedAdd ? "quantized_add" : "quantized_mul",
        c->quantize);
    fused->set_source(op->source());
    finish(g_, *c, fused);
    g_.remove_node(op);
    return true;
  }

  // dequantize(x_i) → cat → quantize: each input requantized to the output's qparams (a copy
  // where they are equal, as XNNPACKQuantizer's shared observer makes them).
  bool lower_cat(Node* op) {
    std::vector<TensorQParams> in;
    for (std::size_t i = 0; i < op->num_inputs(); ++i) {
      const auto q = dequantized_input(*op->input(i));
      if (!q) return false;
      in.push_back(*q);
    }
    Node* q = lowering::single_user(g_, op->output());
    if (q == nullptr || q->op() != OpKind::QuantizePerTensor) return false;
    const auto out = lowering::static_qparams(*q);
    if (!out || (out->dtype != DType::Int8 && out->dtype != DType::UInt8)) return false;
    // The kernel saturates to the dtype's range: the quantize's range must be all of it.
    if (out->quant_min != dtype_min(out->dtype) || out->quant_max != dtype_max(out->dtype)) {
      return false;
    }
    std::vector<double> scales;
    std::vector<std::int64_t> zero_points;
    std::vector<Value*> inputs;
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (in[i].dtype != out->dtype) return false;
      const double m = in[i].scale / out->scale;
      if (!(m >= std::numeric_limits<float>::min() && m <= std::numeric_limits<float>::max())) {
        return false;
      }
      scales.push_back(in[i].scale);
      zero_points.push_back(in[i].zero_point);
      inputs.push_back(op->input(i)->producer()->input(0));
    }
    Node* fused = g_.add_node(OpKind::QuantizedConcat, std::move(inputs),
                              {{"dim", op->attr_int("dim")},
                               {"scales", std::move(scales)},
                               {"zero_points", std::move(zero_points)},
                               {"out_scale", out->scale},
                               {"out_zero_point", out->zero_point},
                               {"dtype", out->dtype}},
                              "quantized_concat", q);
    fused->set_source(op->source());
    g_.replace_all_uses(q->output(), fused->output());
    g_.remove_node(q);
    g_.remove_node(op);
    return true;
  }

  // dequantize(x) → avg_pool2d / adaptive_avg_pool2d (+ relu) → quantize.
  bool lower_avg_pool(Node* op) {
    const auto x = dequantized_input(*op->input(0));
    if (!x || (x->dtype != DType::Int8 && x->dtype != DType::UInt8)) return false;
    const auto c = closing_quantize(g_, op->output());
    if (!c || c->q.dtype != x->dtype) return false;
    AttributeMap attrs = output_attrs(*c);
    attrs.erase("out_zero_point");
    for (const auto& [name, value] : op->attrs()) attrs.emplace(name, value.clone());
    attrs.emplace("in_scale", x->scale);
    attrs.emplace("in_zero_point", x->zero_point);
    attrs.emplace("out_scale", c->q.scale);
    attrs.emplace("out_zero_point", c->q.zero_point);
    const bool adaptive = op->op() == OpKind::AdaptiveAvgPool2d;
    Node* fused = g_.add_node(
        adaptive ? OpKind::QuantizedAdaptiveAvgPool2d : OpKind::QuantizedAvgPool2d,
        {op->input(0)->producer()->input(0)}, std::move(attrs),
        adaptive ? "quantized_adaptive_avg_pool2d" : "quantized_avg_pool2d", c->quantize);
    fused->set_source(op->source());
    finish(g_, *c, fused);
    g_.remove_node(op);
    return true;
  }

  // quantized_mul / quantized_add of two same-shape operands that are each x itself or a
  // quantized_lut of x (the same x): the result is a function of x's code alone, so it is a
  // table — the binary op's own reference kernel run on the 256 operand pairs (bit-exact).
  bool fold_binary_of_one_code(Node* op) {
    if (op->input(0)->shape() != op->input(1)->shape()) return false;
    // The integer tensor an operand is a function of, and that function's table (null: x).
    struct Source {
      Value* x;
      const Tensor* table;
    };
    const auto source = [](Value* v) {
      const Node* p = v->producer();
      if (p != nullptr && p->op() == OpKind::QuantizedLut && p->input(1)->has_data()) {
        return Source{p->input(0), &p->input(1)->data()};
      }
      return Source{v, nullptr};
    };
    const Source a = source(op->input(0)), b = source(op->input(1));
    if (a.x != b.x) return false;
    std::array<std::uint8_t, 256> ca{}, cb{};
    for (int i = 0; i < 256; ++i) {
      const auto code = [i](const Source& s) {
        return s.table ? static_cast<const std::uint8_t*>(s.table->raw_data())[i]
                       : static_cast<std::uint8_t>(i);
      };
      ca[static_cast<std::size_t>(i)] = code(a);
      cb[static_cast<std::size_t>(i)] = code(b);
    }
    Tensor table = Tensor::empty({256}, DType::UInt8);
    kernels::binary_reference(graph::binary_params(*op), ca.data(), cb.data(), table.raw_data(),
                              256, false);
    Node* fused = g_.add_node(
        OpKind::QuantizedLut,
        {a.x, g_.add_constant(std::move(table), op->name() + "_table")},
        {{"dtype", op->attr_dtype("dtype")}}, "quantized_lut", op);
    fused->set_source(op->source());
    g_.replace_all_uses(op->output(), fused->output());
    g_.remove_node(op);
    return true;
  }

  // dequantize(x) → a pointwise op (OpTraits::pointwise) → quantize: every output code is a
  // function of one input code, so the chain is a 256-entry table, computed by running the
  // chain's own reference kernels on all 256 codes (bit-exact with the Q/DQ interpreter for
  // every input, whatever the op).
  bool lower_pointwise(Node* op) {
    Node* dq = op->input(0)->producer();
    if (dq == nullptr || dq->op() != OpKind::DequantizePerTensor || op->num_inputs() != 1) {
      return false;
    }
    const auto in = lowering::static_qparams(*dq);
    Node* q = lowering::single_user(g_, op->output());
    if (!in || q == nullptr || q->op() != OpKind::QuantizePerTensor) return false;
    const auto out = lowering::static_qparams(*q);
    const Value* x = dq->input(0);
    const auto byte_sized = [](DType t) { return t == DType::Int8 || t == DType::UInt8; };
    if (!out || !byte_sized(x->dtype()) || !byte_sized(out->dtype)) return false;
    Tensor codes = Tensor::empty({256}, x->dtype());
    auto* bytes = static_cast<std::uint8_t*>(codes.raw_data());
    for (int i = 0; i < 256; ++i) bytes[i] = static_cast<std::uint8_t>(i);  // index = byte
    // The schema's reference kernels directly (evaluate_node would insist on the node's
    // shapes; these three are elementwise).
    const auto apply = [](const Node& n, const Tensor& t) {
      return graph::op_schema(n.op()).reference(n, std::span<const Tensor>(&t, 1))[0];
    };
    const Tensor quantized = apply(*q, apply(*op, apply(*dq, codes)));
    Tensor table = Tensor::empty({256}, DType::UInt8);
    std::memcpy(table.raw_data(), quantized.raw_data(), 256);
    Node* fused = g_.add_node(
        OpKind::QuantizedLut,
        {const_cast<Value*>(x), g_.add_constant(std::move(table), op->name() + "_table")},
        {{"dtype", out->dtype}}, "quantized_lut", q);
    fused->set_source(op->source());
    g_.replace_all_uses(q->output(), fused->output());
    g_.remove_node(q);
    g_.remove_node(op);
    return true;
  }

  // choose_qparams(x) → quantize(x, s, zp) → dequantize(·, s, zp), dequantize(w_i8) →
  // linear (+ f32 bias), float output.
  bool lower_dynamic_linear(Node* op) {
    const Node* dq = op->input(0)->producer();
    if (dq == nullptr || dq->op() != OpKind::DequantizePerTensor || dq->num_inputs() != 3) {
      return false;
    }
    const Node* q = dq->input(0)->producer();
    const Node* choose = dq->input(1)->producer();
    if (q == nullptr || q->op() != OpKind::QuantizePerTensor || q->num_inputs() != 3 ||
        choose == nullptr || choose->op() != OpKind::ChooseQParams) {
      return false;
    }
    const Value* x = choose->input(0);
    const bool same_qparams =
        dq->input(1) == choose->output(0) && dq->input(2) == choose->output(1) &&
        q->input(1) == choose->output(0) && q->input(2) == choose->output(1) && q->input(0) == x;
    if (!same_qparams) return false;
    const std::int64_t qmin = choose->attr_int("quant_min");
    const std::int64_t qmax = choose->attr_int("quant_max");
    for (const Node* n : {choose, q, dq}) {
      if (n->attr_dtype("dtype") != DType::Int8 || n->attr_int("quant_min") != qmin ||
          n->attr_int("quant_max") != qmax) {
        return false;
      }
    }
    const auto w = lowering::symmetric_int8_weight(*op->input(1));
    if (!w) return false;
    std::vector<Value*> inputs{
        const_cast<Value*>(x), const_cast<Value*>(w->weight),
        g_.add_constant(Tensor::from_vector(w->scales), op->name() + "_weight_scales")};
    if (op->num_inputs() > 2) {
      const Value* bias = op->input(2);
      if (!bias->has_data() || bias->dtype() != DType::Float32) return false;
      inputs.push_back(op->input(2));
    }
    Node* fused =
        g_.add_node(OpKind::DynamicQuantizedLinear, std::move(inputs),
                    {{"quant_min", qmin}, {"quant_max", qmax}, {"eps", choose->attr_float("eps")}},
                    "dynamic_quantized_linear", op);
    fused->set_source(op->source());
    g_.replace_all_uses(op->output(), fused->output());
    g_.remove_node(op);
    return true;
  }

  // choose_qparams_per_token(x) → quantize_per_group → dequantize_per_group, dequantize(w_i8)
  // per channel / per group → linear (+ f32 bias), float output.
  bool lower_per_token_linear(Node* op) {
    const auto x = lowering::per_token_activation(*op->input(0));
    if (!x) return false;
    const auto w = lowering::grouped_symmetric_weight(*op->input(1));
    if (!w) return false;
    std::vector<Value*> inputs{
        const_cast<Value*>(x->x), const_cast<Value*>(w->weight),
        g_.add_constant(Tensor::from_vector(w->scales,
                                            {w->weight->shape()[0],
                                             w->weight->shape()[1] / w->group_size}),
                        op->name() + "_weight_scales")};
    if (op->num_inputs() > 2) {
      const Value* bias = op->input(2);
      if (!bias->has_data() || bias->dtype() != DType::Float32) return false;
      inputs.push_back(op->input(2));
    }
    Node* fused = g_.add_node(OpKind::DynamicQuantizedLinearPerToken, std::move(inputs),
                              {{"group_size", w->group_size},
                               {"quant_min", x->quant_min},
                               {"quant_max", x->quant_max},
                               {"eps", x->eps}},
                              "dynamic_quantized_linear_per_token", op);
    fused->set_source(op->source());
    g_.replace_all_uses(op->output(), fused->output());
    g_.remove_node(op);
    return true;
  }

  // dequantize(x_q) → a value-preserving op (max_pool2d, flatten, reshape, transpose, nearest
  // resize; see OpTraits::value_preserving) → quantize with the same qparams: the op on x_q
  // itself. dequantize is monotone and quantize(dequantize(q)) == q for q inside the range
  // (|q - zp| <= 255 keeps the float32 round trip within 0.5 of q - zp).
  bool lower_passthrough(Node* op) {
    const auto x = dequantized_input(*op->input(0));
    if (!x) return false;
    Node* q = lowering::single_user(g_, op->output());
    if (q == nullptr || q->op() != OpKind::QuantizePerTensor) return false;
    const auto out = lowering::static_qparams(*q);
    if (!out || !(*out == *x)) return false;
    AttributeMap attrs;
    for (const auto& [name, value] : op->attrs()) attrs.emplace(name, value.clone());
    Node* fused = g_.add_node(op->op(), {op->input(0)->producer()->input(0)}, std::move(attrs),
                              op->name(), q);
    fused->set_source(op->source());
    g_.replace_all_uses(q->output(), fused->output());
    g_.remove_node(q);
    g_.remove_node(op);
    return true;
  }

  Graph& g_;
};

}  // namespace

Graph lower_to_fused_kernels(const Graph& qdq, LoweringStats* stats) {
  graph::verify(qdq);
  Graph g = qdq.clone();
  LoweringStats local;
  Lowering(g).run(local);
  graph::verify(g);
  if (stats != nullptr) *stats = local;
  return g;
}

}  // namespace quantkit::pt2e
