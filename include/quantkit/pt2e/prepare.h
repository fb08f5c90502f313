#pragma once
// prepare_pt2e / prepare_qat_pt2e (torchao/quantization/pt2e/prepare.py) and calibration.
//
// prepare copies the fp32 graph, asks the quantizer for annotations and inserts one
// `observe` node (PTQ) or `fake_quantize` node (QAT) per distinct observed place: after a
// node whose output is annotated, before a node input whose edge is annotated, one per
// shared group (shared specs and implicit sharing resolve to the same observer). Weights
// and biases are observed where they enter their consumer. Dynamic specs get their
// PlaceholderObserver (convert turns it into choose_qparams at run time).
//
// The PreparedModel owns the graph and the observers / fake quants the inserted nodes name
// (attribute 'observer' / 'module'); running it is calibration (PTQ) or the QAT forward.
// Preparing a graph the quantizer leaves unannotated returns an equal graph with no
// observers, and preparing twice is refused with an Error (the graph already observes).
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "quantkit/apot/observer.h"
#include "quantkit/core/tensor.h"
#include "quantkit/graph/graph.h"
#include "quantkit/pt2e/quantization_spec.h"
#include "quantkit/pt2e/quantizer.h"
#include "quantkit/quant/fake_quantize.h"
#include "quantkit/quant/observer.h"

namespace quantkit::pt2e {

// What one observe / fake_quantize node stands for.
struct ObservedPlace {
  QuantizationSpecBase spec;  // resolved: never a SharedQuantizationSpec
  std::unique_ptr<Observer> observer;             // uniform specs (PTQ)
  std::unique_ptr<FakeQuantize> fake_quant;       // uniform specs (QAT)
  std::unique_ptr<apot::ApotObserver> apot;       // APoT weight specs
};

class PreparedModel {
 public:
  PreparedModel(Graph graph, std::map<std::string, ObservedPlace> places, bool is_qat);
  PreparedModel(PreparedModel&&) noexcept;
  PreparedModel& operator=(PreparedModel&&) noexcept;
  ~PreparedModel();

  const Graph& graph() const { return graph_; }
  bool is_qat() const { return is_qat_; }

  // Runs the graph, feeding every observe node's input to its observer (calibration) and
  // every fake_quantize node through its module (QAT forward).
  std::vector<Tensor> run(std::span<const Tensor> inputs);
  std::vector<Tensor> operator()(std::initializer_list<Tensor> inputs) {
    return run(std::span<const Tensor>(inputs.begin(), inputs.size()));
  }

  // Keyed by the 'observer' / 'module' attribute of the inserted nodes.
  const std::map<std::string, ObservedPlace>& places() const { return places_; }
  ObservedPlace& place(const std::string& name);  // Error naming the place if absent

  // QAT switches over every fake quant (torch.ao's enable/disable_observer / fake_quant).
  void enable_observers(bool enabled);
  void enable_fake_quant(bool enabled);

 private:
  Graph graph_;
  std::map<std::string, ObservedPlace> places_;
  bool is_qat_ = false;
};

PreparedModel prepare_pt2e(const Graph& model, const Quantizer& quantizer);
PreparedModel prepare_qat_pt2e(const Graph& model, const Quantizer& quantizer);

// Runs every batch through the prepared model (calibration).
void calibrate(PreparedModel& model, std::span<const std::vector<Tensor>> batches);

}  // namespace quantkit::pt2e
