// PreparedModel: owns the observed graph and its observers / fake quants, and runs it
// (calibration for PTQ, the fake-quantized forward for QAT).
#include <utility>

#include "quantkit/apot/quantizer.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/pt2e/prepare.h"

namespace quantkit::pt2e {

PreparedModel::PreparedModel(Graph graph, std::map<std::string, ObservedPlace> places, bool is_qat,
                             std::set<std::string> annotated_nodes)
    : graph_(std::move(graph)),
      places_(std::move(places)),
      is_qat_(is_qat),
      annotated_nodes_(std::move(annotated_nodes)) {
  // Every inserted node must name a place this model owns.
  for (const Node* n : graph_.nodes()) {
    if (n->op() != graph::OpKind::Observe && n->op() != graph::OpKind::FakeQuantize) continue;
    const std::string& name =
        n->attr_string(n->op() == graph::OpKind::Observe ? "observer" : "module");
    check_argument(
        places_.contains(name), "PreparedModel", "places", name,
        "an entry for every observe / fake_quantize node's place (node '" + n->name() + "')");
  }
}

PreparedModel::PreparedModel(PreparedModel&&) noexcept = default;
PreparedModel& PreparedModel::operator=(PreparedModel&&) noexcept = default;
PreparedModel::~PreparedModel() = default;

ObservedPlace& PreparedModel::place(const std::string& name) {
  auto it = places_.find(name);
  if (it == places_.end()) {
    throw_invalid_argument("PreparedModel::place", "name", name, "the name of an observed place");
  }
  return it->second;
}

const ObservedPlace& PreparedModel::place(const std::string& name) const {
  return const_cast<PreparedModel*>(this)->place(name);
}

namespace {

Tensor run_place(ObservedPlace& place, const Tensor& x) {
  if (place.fake_quant) return place.fake_quant->forward(x);
  if (place.apot) {
    const auto* spec = std::get_if<QuantizationSpec>(&place.spec);
    const bool fake = spec != nullptr && spec->fake_quant;
    if (!fake || place.apot_observer_enabled) place.apot->observe(x);
    if (fake && place.apot_fake_quant_enabled) {
      return apot::quant_dequant_apot(x, place.apot->calculate_qparams(spec->apot->is_signed));
    }
    return x;
  }
  if (place.observer) place.observer->observe(x);
  return x;  // derived places only record where their qparams come from
}

}  // namespace

std::vector<Tensor> PreparedModel::run(std::span<const Tensor> inputs) {
  graph::Interpreter interpreter(graph_);
  interpreter.set_stateful_kernel([this](const Node& node, const Tensor& x) {
    const bool observe = node.op() == graph::OpKind::Observe;
    return run_place(place(node.attr_string(observe ? "observer" : "module")), x);
  });
  return interpreter.run(inputs);
}

void PreparedModel::enable_observers(bool enabled) {
  for (auto& [name, place] : places_) {
    if (place.fake_quant) place.fake_quant->enable_observer(enabled);
    place.apot_observer_enabled = enabled;
  }
}

void PreparedModel::enable_fake_quant(bool enabled) {
  for (auto& [name, place] : places_) {
    if (place.fake_quant) place.fake_quant->enable_fake_quant(enabled);
    place.apot_fake_quant_enabled = enabled;
  }
}

void PreparedModel::set_parameter_data(std::string_view name, Tensor data) {
  graph_.set_parameter_data(name, std::move(data));
}

void calibrate(PreparedModel& model, std::span<const std::vector<Tensor>> batches) {
  for (const std::vector<Tensor>& batch : batches) model.run(batch);
}

}  // namespace quantkit::pt2e
