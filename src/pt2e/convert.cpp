// convert_pt2e (torchao/quantization/pt2e/convert.py + quantize_pt2e.convert_pt2e):
//  * QAT models: the conv-bn patterns of prepare_qat_pt2e fold back first (qat_conv_bn.h);
//  * every observe / fake_quantize node becomes quantize -> dequantize with its place's
//    qparams (static), or choose_qparams -> quantize -> dequantize (dynamic);
//  * observed weights (parameters / constants) are quantized now and their quantize op
//    folded (PyTorch's constant_fold with fold_quantize=True): int8 constant -> dequantize;
//    APoT weights become int32 codes -> apot_dequantize;
//  * a dequantize read by several annotated nodes is duplicated per user (DuplicateDQPass);
//  * optionally, the integer reference representation rewrite.
// The original op nodes keep their names, so fp32 and quantized graphs can be compared node
// by node.
#include "quantkit/pt2e/convert.h"

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "quantkit/apot/quantizer.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/verifier.h"
#include "quantkit/pt2e/qat_conv_bn.h"
#include "quantkit/pt2e/reference_representation.h"
#include "quantkit/quant/affine.h"
#include "quantkit/quant/per_token.h"

namespace quantkit::pt2e {

using graph::Attribute;
using graph::AttributeMap;
using graph::OpKind;

void duplicate_dequantize_per_user(Graph& graph, const std::set<std::string>& annotated_nodes);

namespace {

constexpr const char* kWhere = "convert_pt2e";

// The integer target of a place.
struct Target {
  DType dtype = DType::Int8;
  std::int64_t quant_min = -128;
  std::int64_t quant_max = 127;
  bool is_dynamic = false;
  float eps = kDefaultObserverEps;
  QuantRange range() const { return QuantRange::of(dtype, quant_min, quant_max); }
};

// An observer that has seen nothing (+inf / empty statistics).
bool uncalibrated(const Observer& observer) {
  const std::vector<float> mins = observer.min_val();
  return mins.empty() || (std::isinf(mins[0]) && mins[0] > 0);
}

class Converter {
 public:
  Converter(Graph& g, const PreparedModel& prepared, const ConvertOptions& options)
      : g_(g), prepared_(prepared), options_(options) {}

  void run() {
    for (Node* n : g_.nodes()) {
      if (n->op() != OpKind::Observe && n->op() != OpKind::FakeQuantize) continue;
      const std::string& name = n->attr_string(n->op() == OpKind::Observe ? "observer" : "module");
      Value* replacement = nullptr;
      try {
        replacement = lower(n, name, prepared_.place(name));
      } catch (const Error& e) {
        throw Error(std::string(kWhere) + ": place '" + name + "' (node '" + n->name() +
                    "'): " + e.what());
      }
      g_.replace_all_uses(n->output(), replacement);
      g_.remove_node(n);
    }
  }

 private:
  const Observer* observer_of(const ObservedPlace& place) const {
    if (place.fake_quant) return &place.fake_quant->observer();
    return place.observer.get();
  }

  // calculate_qparams of the place (PyTorch calls it on the observer or fake quant). A weight
  // observer that never ran (convert without calibration) observes the weight now, instead
  // of PyTorch's scale 1 / zero point 0 defaults.
  const QParams& qparams_of(const std::string& name, const Value* x) {
    auto cached = qparams_.find(name);
    if (cached != qparams_.end()) return cached->second;
    const ObservedPlace& place = prepared_.place(name);
    QParams qp;
    if (const auto* derived = std::get_if<DerivedQuantizationSpec>(&place.spec)) {
      std::vector<QParams> sources;
      for (const std::string& s : place.derived_from) sources.push_back(qparams_of(s, nullptr));
      qp = derived->derive_qparams(sources);
    } else {
      const Observer* observer = observer_of(place);
      if (observer == nullptr) throw Error("the place has no observer to take qparams from");
      if (x != nullptr && x->has_data() && uncalibrated(*observer)) {
        auto fresh = observer->clone();
        fresh->observe(x->data());
        qp = fresh->calculate_qparams();
      } else {
        qp = observer->calculate_qparams();
      }
    }
    if (qp.scale.empty() || qp.scale.size() != qp.zero_point.size()) {
      throw Error("qparams without matching scales and integer zero points");
    }
    return qparams_.emplace(name, std::move(qp)).first->second;
  }

  Target target_of(const ObservedPlace& place) const {
    Target t;
    if (const auto* s = std::get_if<QuantizationSpec>(&place.spec)) {
      t = {s->dtype, s->quant_min, s->quant_max, s->is_dynamic, s->observer_options.eps};
    } else if (const auto* d = std::get_if<DerivedQuantizationSpec>(&place.spec)) {
      t = {d->dtype, d->quant_min, d->quant_max, false, kDefaultObserverEps};
    } else if (const auto* f = std::get_if<FixedQParamsQuantizationSpec>(&place.spec)) {
      t = {f->dtype, f->quant_min, f->quant_max, false, kDefaultObserverEps};
    }
    if (const Observer* o = observer_of(place)) {
      // The observer's effective range (reduce_range applied) is what its qparams use.
      t.dtype = o->quant_range().dtype;
      t.quant_min = o->quant_range().quant_min;
      t.quant_max = o->quant_range().quant_max;
      t.eps = o->options().eps;
    }
    return t;
  }

  std::string hint(const Value* x, const char* suffix) const { return x->name() + suffix; }

  Value* lower(Node* n, const std::string& name, const ObservedPlace& place) {
    Value* x = n->input(0);
    if (place.apot) return lower_apot(n, x, place);
    const Target t = target_of(place);
    if (const auto* s = std::get_if<QuantizationSpec>(&place.spec)) {
      if (s->per_token) return lower_per_token(n, x, t);
      if (s->group_size > 0) return lower_per_group(n, x, t, s->group_size);
    }
    if (t.is_dynamic) return lower_dynamic(n, x, t);
    const QParams& qp = qparams_of(name, x);
    const bool fold = x->has_data() && options_.fold_quantize;
    if (qp.per_channel()) return lower_per_channel(n, x, t, qp, fold);
    AttributeMap attrs{{"scale", Attribute(qp.scale[0])},
                       {"zero_point", Attribute(qp.zero_point[0])},
                       {"quant_min", Attribute(t.quant_min)},
                       {"quant_max", Attribute(t.quant_max)},
                       {"dtype", Attribute(t.dtype)}};
    Value* q = nullptr;
    if (fold) {
      q = g_.add_constant(quantize_per_tensor(x->data(), qp.scale[0], qp.zero_point[0], t.range()),
                          hint(x, "_quantized"));
    } else {
      q = g_.insert_node_before(n, OpKind::QuantizePerTensor, {x}, attrs)->output();
    }
    return g_.insert_node_before(n, OpKind::DequantizePerTensor, {q}, attrs)->output();
  }

  Value* lower_per_channel(Node* n, Value* x, const Target& t, const QParams& qp, bool fold) {
    const auto rank = static_cast<std::int64_t>(x->shape().size());
    const std::int64_t axis = qp.axis < 0 ? qp.axis + rank : qp.axis;
    check_argument(axis >= 0 && axis < rank, kWhere, "axis", qp.axis,
                   "an axis of the observed value");
    check_argument(static_cast<std::int64_t>(qp.scale.size()) == x->shape()[axis], kWhere, "scales",
                   qp.scale.size(), "one scale per channel of the observed value");
    // float32 scales and int64 zero points, as PyTorch registers them (the observer's
    // scale buffer is float32, so the rounding is exact).
    std::vector<float> scales32;
    std::vector<double> scales;
    for (double s : qp.scale) {
      scales32.push_back(static_cast<float>(s));
      scales.push_back(static_cast<double>(scales32.back()));
    }
    Value* scale_c = g_.add_constant(Tensor::from_vector(scales32), hint(x, "_scales"));
    Value* zp_c = g_.add_constant(Tensor::from_vector(qp.zero_point), hint(x, "_zero_points"));
    AttributeMap attrs{{"axis", Attribute(axis)},
                       {"quant_min", Attribute(t.quant_min)},
                       {"quant_max", Attribute(t.quant_max)},
                       {"dtype", Attribute(t.dtype)}};
    Value* q = nullptr;
    if (fold) {
      q = g_.add_constant(quantize_per_channel(x->data(), scales, qp.zero_point, axis, t.range()),
                          hint(x, "_quantized"));
    } else {
      q = g_.insert_node_before(n, OpKind::QuantizePerChannel, {x, scale_c, zp_c}, attrs)->output();
    }
    return g_.insert_node_before(n, OpKind::DequantizePerChannel, {q, scale_c, zp_c}, attrs)
        ->output();
  }

  // choose_qparams.tensor -> quantize_per_tensor.tensor -> dequantize_per_tensor.tensor.
  Value* lower_dynamic(Node* n, Value* x, const Target& t) {
    AttributeMap choose{{"quant_min", Attribute(t.quant_min)},
                        {"quant_max", Attribute(t.quant_max)},
                        {"eps", Attribute(static_cast<double>(t.eps))},
                        {"dtype", Attribute(t.dtype)}};
    Node* qparams = g_.insert_node_before(n, OpKind::ChooseQParams, {x}, choose);
    AttributeMap attrs{{"quant_min", Attribute(t.quant_min)},
                       {"quant_max", Attribute(t.quant_max)},
                       {"dtype", Attribute(t.dtype)}};
    Value* scale = qparams->output(0);
    Value* zp = qparams->output(1);
    Value* q = g_.insert_node_before(n, OpKind::QuantizePerTensor, {x, scale, zp}, attrs)->output();
    return g_.insert_node_before(n, OpKind::DequantizePerTensor, {q, scale, zp}, attrs)->output();
  }

  // choose_qparams_per_token -> quantize_per_group -> dequantize_per_group, one group per row.
  Value* lower_per_token(Node* n, Value* x, const Target& t) {
    if (!t.is_dynamic) throw Error("per-token specs are dynamic activation specs (is_dynamic)");
    if (x->shape().empty()) throw Error("per-token quantization needs a value of rank >= 1");
    AttributeMap choose{{"quant_min", Attribute(t.quant_min)},
                        {"quant_max", Attribute(t.quant_max)},
                        {"eps", Attribute(static_cast<double>(t.eps))},
                        {"dtype", Attribute(t.dtype)}};
    Node* qparams = g_.insert_node_before(n, OpKind::ChooseQParamsPerToken, {x}, choose);
    AttributeMap attrs{{"group_size", Attribute(x->shape().back())},
                       {"quant_min", Attribute(t.quant_min)},
                       {"quant_max", Attribute(t.quant_max)},
                       {"dtype", Attribute(t.dtype)}};
    Value* scales = qparams->output(0);
    Value* zps = qparams->output(1);
    Value* q =
        g_.insert_node_before(n, OpKind::QuantizePerGroup, {x, scales, zps}, attrs)->output();
    return g_.insert_node_before(n, OpKind::DequantizePerGroup, {q, scales, zps}, attrs)->output();
  }

  // Groupwise symmetric weights (torchao's group_quantize_tensor_symmetric): qparams from the
  // weight itself, the quantized constant -> dequantize_per_group.
  Value* lower_per_group(Node* n, Value* x, const Target& t, std::int64_t group_size) {
    if (!x->has_data()) throw Error("groupwise specs quantize weights (parameters / constants) only");
    const GroupQParams qp = choose_qparams_per_group_symmetric(x->data(), group_size, t.range(),
                                                               t.eps);
    Value* scales = g_.add_constant(qp.scales, hint(x, "_scales"));
    Value* zps = g_.add_constant(qp.zero_points, hint(x, "_zero_points"));
    Value* q = g_.add_constant(
        quantize_per_group(x->data(), qp.scales, qp.zero_points, group_size, t.range()),
        hint(x, "_quantized"));
    AttributeMap attrs{{"group_size", Attribute(group_size)},
                       {"quant_min", Attribute(t.quant_min)},
                       {"quant_max", Attribute(t.quant_max)},
                       {"dtype", Attribute(t.dtype)}};
    return g_.insert_node_before(n, OpKind::DequantizePerGroup, {q, scales, zps}, attrs)->output();
  }

  // APoT weights: int32 codes (cartesian level indices) and the level of each code.
  Value* lower_apot(Node* n, Value* x, const ObservedPlace& place) {
    if (!x->has_data()) throw Error("APoT specs quantize weights (parameters / constants) only");
    const auto& spec = std::get<QuantizationSpec>(place.spec);
    apot::ApotObserver observer = *place.apot;
    if (!observer.has_min_val()) observer.observe(x->data());  // never calibrated
    const apot::ApotQuantizer quantizer(observer.calculate_qparams(spec.apot->is_signed));
    std::vector<double> levels(static_cast<std::size_t>(quantizer.num_levels()));
    for (std::size_t code = 0; code < levels.size(); ++code) {
      levels[code] = quantizer.level_of_code(static_cast<std::int32_t>(code));
    }
    Value* codes = g_.add_constant(quantizer.quantize(x->data()), hint(x, "_codes"));
    return g_
        .insert_node_before(n, OpKind::ApotDequantize, {codes},
                            AttributeMap{{"levels", Attribute(std::move(levels))}})
        ->output();
  }

  Graph& g_;
  const PreparedModel& prepared_;
  const ConvertOptions& options_;
  std::map<std::string, QParams> qparams_;
};

}  // namespace

Graph convert_pt2e(const PreparedModel& prepared, const ConvertOptions& options) {
  Graph g = prepared.graph().clone();
  // QAT conv-bn patterns fold first, so the weight's fake quant reads the folded weight.
  if (prepared.is_qat()) fold_conv_bn_qat(g);
  Converter(g, prepared, options).run();
  duplicate_dequantize_per_user(g, prepared.annotated_nodes());
  g.eliminate_dead_code();
  g.remove_unused_parameters();  // the float weights that were folded
  graph::verify(g);
  if (options.use_reference_representation) return to_reference_representation(g);
  return g;
}

}  // namespace quantkit::pt2e
