// XNNPACK's pattern annotators, ported from torchao/testing/pt2e/_xnnpack_quantizer_utils.py.
// Each annotator walks the graph in node order, matches its pattern, skips matches that touch
// an already annotated node or straddle two configuration scopes, and writes the input /
// output specs of the match.
#include "xnnpack_annotators.h"

#include "qat_conv_bn_match.h"

#include <cmath>
#include <initializer_list>
#include <string>
#include <vector>

#include "quantkit/core/error.h"

namespace quantkit::pt2e::xnnpack_detail {

using graph::Node;
using graph::OpKind;

namespace {

// torch.histc only works up to this bound: single-element constants beyond it stay float.
constexpr double kHistcUpperBound = 3.4028235e15;

class Annotator {
 public:
  Annotator(const Graph& g, const ScopeResolver& resolve) : g_(g), resolve_(resolve) {}

  // The config for a match: every node unannotated, in one scope, with a config that is set.
  // Dynamic configs quantize plain linear only (XNNPACK's DYNAMIC_OPS).
  const QuantizationConfig* config_for(std::initializer_list<const Node*> nodes, OpKind anchor,
                                       bool dynamic_allowed = false) const {
    int scope = -2;
    const std::optional<QuantizationConfig>* config = nullptr;
    for (const Node* n : nodes) {
      if (is_annotated(n)) return nullptr;
      const ScopedConfig sc = resolve_(*n, anchor);
      if (scope == -2) {
        scope = sc.scope;
        config = sc.config;
      } else if (sc.scope != scope) {
        return nullptr;
      }
    }
    if (config == nullptr || !config->has_value()) return nullptr;
    const QuantizationConfig& c = **config;
    const bool dynamic = c.input_activation && c.input_activation->is_dynamic;
    if (dynamic && !dynamic_allowed) return nullptr;
    return &c;
  }

  bool is_annotated(const Node* n) const {
    auto it = annotations_.find(n);
    return it != annotations_.end() && it->second.annotated;
  }
  bool single_use(const Value* v) const { return !g_.is_output(v) && g_.uses(v).size() == 1; }
  static const Node* producer_if(const Value* v, OpKind op) {
    const Node* p = v->producer();
    return p != nullptr && p->op() == op ? p : nullptr;
  }

  QuantizationAnnotation& annotation(const Node* n) { return annotations_[n]; }
  void mark(std::initializer_list<const Node*> nodes) {
    for (const Node* n : nodes) annotations_[n].annotated = true;
  }
  static void set_input(QuantizationAnnotation& a, const Value* v,
                        const std::optional<QuantizationSpec>& spec) {
    if (v != nullptr && spec) a.input_qspec_map[v] = *spec;
  }
  static void set_output(QuantizationAnnotation& a, const std::optional<QuantizationSpec>& spec) {
    if (spec) a.output_qspec = *spec;
  }

  const Graph& graph() const { return g_; }
  Annotations take() { return std::move(annotations_); }

 private:
  const Graph& g_;
  const ScopeResolver& resolve_;
  Annotations annotations_;
};

void check_activation_spec(const std::optional<QuantizationSpec>& spec, const char* which) {
  if (spec && !spec->apot && is_per_channel(spec->qscheme)) {
    throw_invalid_argument("XNNPACKQuantizer", which, qscheme_name(spec->qscheme),
                           "a per-tensor activation spec");
  }
}

void check_weight_spec(const std::optional<QuantizationSpec>& spec) {
  if (spec && !spec->apot && spec->qscheme != QScheme::PerTensorSymmetric &&
      spec->qscheme != QScheme::PerChannelSymmetric) {
    throw_invalid_argument("XNNPACKQuantizer", "weight qscheme", qscheme_name(spec->qscheme),
                           "per_tensor_symmetric or per_channel_symmetric");
  }
}

void check_config(const QuantizationConfig& c) {
  check_activation_spec(c.input_activation, "input_activation qscheme");
  check_activation_spec(c.output_activation, "output_activation qscheme");
  check_weight_spec(c.weight);
}

// linear / conv2d inputs: activation, weight, optional bias.
void annotate_weighted_inputs(QuantizationAnnotation& a, const Node* op,
                              const QuantizationConfig& c) {
  check_config(c);
  Annotator::set_input(a, op->input(0), c.input_activation);
  // A groupwise weight spec that cannot group this layer's weight uses the config's fallback
  // weight spec (none: the weight stays float).
  const bool grouped = c.weight && groupwise_weight_applies(*c.weight, *op->input(1));
  Annotator::set_input(a, op->input(1), grouped ? c.weight : c.fallback_weight);
  if (op->num_inputs() > 2) Annotator::set_input(a, op->input(2), c.bias);
}

// The activations a fused conv2d / linear pattern ends with: relu (torchao), and hardtanh
// when the config fuses it (QuantizationConfig::fuse_hardtanh).
bool is_fused_activation(const Node& n) {
  return n.op() == OpKind::Relu || n.op() == OpKind::Hardtanh;
}
bool config_fuses(const QuantizationConfig& c, const Node& activation) {
  return activation.op() == OpKind::Relu || c.fuse_hardtanh;
}

void annotate_linear_relu(Annotator& an) {
  for (const Node* activation : an.graph().nodes()) {
    if (!is_fused_activation(*activation)) continue;
    const Node* linear = Annotator::producer_if(activation->input(0), OpKind::Linear);
    if (linear == nullptr || !an.single_use(linear->output())) continue;
    const QuantizationConfig* c = an.config_for({activation, linear}, OpKind::Linear);
    if (c == nullptr || !config_fuses(*c, *activation)) continue;
    annotate_weighted_inputs(an.annotation(linear), linear, *c);
    Annotator::set_output(an.annotation(activation), c->output_activation);
    an.mark({activation, linear});
  }
}

void annotate_linear(Annotator& an) {
  for (const Node* linear : an.graph().nodes()) {
    if (linear->op() != OpKind::Linear) continue;
    const QuantizationConfig* c = an.config_for({linear}, OpKind::Linear, true);
    if (c == nullptr) continue;
    QuantizationAnnotation& a = an.annotation(linear);
    annotate_weighted_inputs(a, linear, *c);
    Annotator::set_output(a, c->output_activation);
    an.mark({linear});
  }
}

// conv2d (-> batch_norm) (-> relu / hardtanh): PTQ graphs have batch norm folded by prepare
// already; QAT graphs have torchao's conv-bn form (qat_conv_bn.h: conv2d -> div -> add ->
// batch_norm, the conv's weight edge the scaled weight), annotated as the conv -> batch_norm
// it stands for, and plain conv2d -> batch_norm where prepare could not rewrite it.
void annotate_conv(Annotator& an, bool with_bn, bool with_activation) {
  for (const Node* last : an.graph().nodes()) {
    const Node* activation = nullptr;
    const Node* bn = nullptr;
    const Node* conv = nullptr;
    const Node* cur = last;
    if (with_activation) {
      if (!is_fused_activation(*cur)) continue;
      activation = cur;
      const Node* p = cur->input(0)->producer();
      if (p == nullptr || !an.single_use(p->output())) continue;
      cur = p;
    }
    if (with_bn) {
      if (cur->op() != OpKind::BatchNorm) continue;
      bn = cur;
      if (const auto qat = qat_detail::match_qat_conv_bn(an.graph(), bn)) {
        cur = qat->conv;
      } else {
        const Node* p = cur->input(0)->producer();
        if (p == nullptr || !an.single_use(p->output())) continue;
        cur = p;
      }
    }
    if (cur->op() != OpKind::Conv2d) continue;
    conv = cur;
    const QuantizationConfig* c = nullptr;
    if (activation && bn)
      c = an.config_for({activation, bn, conv}, OpKind::Conv2d);
    else if (activation)
      c = an.config_for({activation, conv}, OpKind::Conv2d);
    else if (bn)
      c = an.config_for({bn, conv}, OpKind::Conv2d);
    else
      c = an.config_for({conv}, OpKind::Conv2d);
    if (c == nullptr || (activation && !config_fuses(*c, *activation))) continue;
    annotate_weighted_inputs(an.annotation(conv), conv, *c);
    Annotator::set_output(an.annotation(last), c->output_activation);
    an.mark({conv});
    if (bn) an.mark({bn});
    if (activation) an.mark({activation});
  }
}

// The helper nodes of QAT conv-bn patterns (eps add, sqrt, scale factor, reshapes, mul, div,
// bias add) are never quantized themselves, whatever the configs say: in torchao they do not
// exist yet when the quantizer annotates. Marking them keeps the add / mul annotators off.
void claim_qat_conv_bn_helpers(Annotator& an) {
  for (const Node* bn : an.graph().nodes()) {
    if (bn->op() != OpKind::BatchNorm) continue;
    if (const auto qat = qat_detail::match_qat_conv_bn(an.graph(), bn)) {
      for (const Node* helper : qat->helpers) an.mark({helper});
    }
  }
}

// add / mul inputs: float32 tensors, not huge scalars (torch.histc's limit).
bool quantizable_operand(const Value* v) {
  if (v->dtype() != DType::Float32) return false;
  if (v->has_data() && v->type().numel() == 1) {
    const float x = v->data().data<float>()[0];
    if (std::fabs(static_cast<double>(x)) > kHistcUpperBound) return false;
  }
  return true;
}

void annotate_binary(Annotator& an, OpKind op, bool with_relu) {
  for (const Node* last : an.graph().nodes()) {
    const Node* relu = nullptr;
    const Node* bin = last;
    if (with_relu) {
      if (last->op() != OpKind::Relu) continue;
      relu = last;
      bin = Annotator::producer_if(last->input(0), op);
      if (bin == nullptr || !an.single_use(bin->output())) continue;
    } else if (last->op() != op) {
      continue;
    }
    const QuantizationConfig* c = relu ? an.config_for({relu, bin}, op) : an.config_for({bin}, op);
    if (c == nullptr) continue;
    if (!quantizable_operand(bin->input(0)) || !quantizable_operand(bin->input(1))) continue;
    check_config(*c);
    QuantizationAnnotation& a = an.annotation(bin);
    Annotator::set_input(a, bin->input(0), c->input_activation);
    Annotator::set_input(a, bin->input(1), c->input_activation);
    Annotator::set_output(relu ? an.annotation(relu) : a, c->output_activation);
    an.mark({bin});
    if (relu) an.mark({relu});
  }
}

// max_pool2d / adaptive_avg_pool2d: the input shares the producer's output observer when the
// producer is annotated, else gets the activation spec; the output shares the input edge.
void annotate_pool(Annotator& an, OpKind op) {
  for (const Node* pool : an.graph().nodes()) {
    if (pool->op() != op) continue;
    const QuantizationConfig* c = an.config_for({pool}, op);
    if (c == nullptr || !c->input_activation) continue;
    check_config(*c);
    const Value* x = pool->input(0);
    if (x->dtype() != DType::Float32) continue;
    QuantizationAnnotation& a = an.annotation(pool);
    const Node* producer = x->producer();
    const bool producer_observed = producer != nullptr && an.is_annotated(producer) &&
                                   an.annotation(producer).output_qspec.has_value();
    if (producer_observed) {
      a.input_qspec_map[x] = SharedQuantizationSpec{producer};
    } else {
      a.input_qspec_map[x] = *c->input_activation;
    }
    a.output_qspec = SharedQuantizationSpec{Edge{x, pool}};
    an.mark({pool});
  }
}

// cat: the first input gets the activation spec, every other input and the output share it.
void annotate_cat(Annotator& an) {
  for (const Node* cat : an.graph().nodes()) {
    if (cat->op() != OpKind::Cat) continue;
    const QuantizationConfig* c = an.config_for({cat}, OpKind::Cat);
    if (c == nullptr || !c->input_activation) continue;
    check_config(*c);
    bool all_float = true;
    for (const Value* v : cat->inputs()) all_float = all_float && v->dtype() == DType::Float32;
    if (!all_float) continue;
    QuantizationAnnotation& a = an.annotation(cat);
    const Value* first = cat->input(0);
    a.input_qspec_map[first] = *c->input_activation;
    const SharedQuantizationSpec shared{Edge{first, cat}};
    for (const Value* v : cat->inputs()) {
      if (!a.input_qspec_map.contains(v)) a.input_qspec_map[v] = shared;
    }
    a.output_qspec = shared;
    an.mark({cat});
  }
}

// propagate_annotation: ops that do not change the value distribution (OpTraits::
// shares_observer) share the quantized producer's observer. Nodes whose scope explicitly says "float" are left alone.
void propagate_annotation(Annotator& an, const ScopeResolver& resolve) {
  for (const Node* n : an.graph().nodes()) {
    if (!graph::shares_observer(*n) || an.is_annotated(n)) continue;
    const Node* prev = n->input(0)->producer();
    if (prev == nullptr || prev->num_outputs() != 1 || !an.is_annotated(prev)) continue;
    if (!an.annotation(prev).output_qspec) continue;
    if (resolve(*n, n->op()).explicitly_float()) continue;
    QuantizationAnnotation& a = an.annotation(n);
    a.input_qspec_map[n->input(0)] = SharedQuantizationSpec{prev};
    a.output_qspec = SharedQuantizationSpec{prev};
    an.mark({n});
  }
}

}  // namespace

Annotations annotate_xnnpack_patterns(const Graph& graph, const ScopeResolver& resolve) {
  Annotator an(graph, resolve);
  claim_qat_conv_bn_helpers(an);
  // XNNPACK's STATIC_OPS order: fused patterns before single ops.
  annotate_linear_relu(an);
  annotate_linear(an);
  annotate_conv(an, /*with_bn=*/true, /*with_activation=*/true);
  annotate_conv(an, /*with_bn=*/true, /*with_activation=*/false);
  annotate_conv(an, /*with_bn=*/false, /*with_activation=*/true);
  annotate_conv(an, /*with_bn=*/false, /*with_activation=*/false);
  annotate_pool(an, OpKind::AdaptiveAvgPool2d);
  annotate_binary(an, OpKind::Add, /*with_relu=*/true);
  annotate_binary(an, OpKind::Add, /*with_relu=*/false);
  annotate_binary(an, OpKind::Mul, /*with_relu=*/true);
  annotate_binary(an, OpKind::Mul, /*with_relu=*/false);
  annotate_pool(an, OpKind::MaxPool2d);
  annotate_cat(an);
  propagate_annotation(an, resolve);
  return an.take();
}

}  // namespace quantkit::pt2e::xnnpack_detail
