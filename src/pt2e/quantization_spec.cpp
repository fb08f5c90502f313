// QuantizationSpec helpers: observer construction, readable descriptions, bias derivation.
#include "quantkit/pt2e/quantization_spec.h"

#include <sstream>

#include "quantkit/core/error.h"

namespace quantkit::pt2e {

std::unique_ptr<Observer> QuantizationSpec::make_observer() const {
  ObserverOptions options = observer_options;
  options.dtype = dtype;
  options.qscheme = qscheme;
  options.ch_axis = ch_axis;
  options.quant_min = quant_min;
  options.quant_max = quant_max;
  return quantkit::make_observer(observer, options);
}

namespace {

std::string value_name(const Value* v) { return v ? "%" + v->name() : std::string("<null>"); }
std::string node_name(const Node* n) { return n ? "%" + n->name() : std::string("<null>"); }

struct Describer {
  std::string operator()(const QuantizationSpec& s) const {
    std::ostringstream os;
    if (s.apot) {
      if (s.apot->level_set == apot::ApotLevelSet::PaperSigned) {
        os << "apot paper signed " << s.apot->b << "-bit";
      } else {
        os << "apot b=" << s.apot->b << " k=" << s.apot->k
           << (s.apot->is_signed ? " signed" : " unsigned");
      }
    } else {
      os << dtype_name(s.dtype) << ' ' << qscheme_name(s.qscheme) << " [" << s.quant_min << ", "
         << s.quant_max << "]";
      if (is_per_channel(s.qscheme)) os << " axis " << s.ch_axis;
      os << ' ' << s.observer;
      if (s.is_dynamic) os << " dynamic";
    }
    if (s.fake_quant) os << " (fake quant)";
    return os.str();
  }
  std::string operator()(const SharedQuantizationSpec& s) const {
    return "shared with " + describe(s.edge_or_node);
  }
  std::string operator()(const DerivedQuantizationSpec& s) const {
    std::ostringstream os;
    os << "derived " << dtype_name(s.dtype) << ' ' << qscheme_name(s.qscheme) << " from (";
    for (std::size_t i = 0; i < s.derived_from.size(); ++i) {
      os << (i ? ", " : "") << describe(s.derived_from[i]);
    }
    os << ')';
    return os.str();
  }
  std::string operator()(const FixedQParamsQuantizationSpec& s) const {
    std::ostringstream os;
    os.precision(9);
    os << "fixed " << dtype_name(s.dtype) << " scale " << s.scale << " zero_point " << s.zero_point
       << " [" << s.quant_min << ", " << s.quant_max << "]";
    if (s.fake_quant) os << " (fake quant)";
    return os.str();
  }
};

}  // namespace

std::string describe(const EdgeOrNode& edge_or_node) {
  if (const auto* edge = std::get_if<Edge>(&edge_or_node)) {
    return "edge " + value_name(edge->value) + " -> " + node_name(edge->user);
  }
  return "output of " + node_name(std::get<const Node*>(edge_or_node));
}

std::string describe(const QuantizationSpecBase& spec) { return std::visit(Describer{}, spec); }

QParams derive_bias_qparams(std::span<const QParams> input_and_weight) {
  constexpr const char* kWhere = "derive_bias_qparams";
  check_argument(input_and_weight.size() == 2, kWhere, "input_and_weight.size()",
                 input_and_weight.size(), "2 (input activation, weight)");
  const QParams& x = input_and_weight[0];
  const QParams& w = input_and_weight[1];
  check_argument(!x.per_channel() && x.scale.size() == 1, kWhere, "input qparams",
                 qscheme_name(x.qscheme), "per-tensor qparams with one scale");
  check_argument(!w.scale.empty(), kWhere, "weight scales", w.scale.size(), "at least one");
  QParams out;
  out.qscheme = w.per_channel() ? QScheme::PerChannelSymmetric : QScheme::PerTensorSymmetric;
  out.axis = 0;
  const float xs = static_cast<float>(x.scale[0]);
  for (double ws : w.scale) {
    // float32 tensors multiplied in float32, as torch computes act_scale * weight_scale.
    out.scale.push_back(static_cast<double>(xs * static_cast<float>(ws)));
    out.zero_point.push_back(0);
  }
  return out;
}

DerivedQuantizationSpec derived_bias_spec(const Node* node, const Value* x, const Value* weight,
                                          bool per_channel_weight) {
  check_argument(node != nullptr && x != nullptr && weight != nullptr, "derived_bias_spec",
                 "node/x/weight", std::string("null"), "non-null pointers");
  DerivedQuantizationSpec spec;
  spec.derived_from = {Edge{x, node}, Edge{weight, node}};
  spec.derive_qparams = [](std::span<const QParams> qp) { return derive_bias_qparams(qp); };
  spec.dtype = DType::Int32;
  spec.qscheme = per_channel_weight ? QScheme::PerChannelSymmetric : QScheme::PerTensorSymmetric;
  spec.ch_axis = 0;
  return spec;
}

}  // namespace quantkit::pt2e
