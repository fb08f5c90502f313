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
//
// Before annotation, prepare_pt2e folds every conv2d -> batch_norm pair into the conv's
// weight and bias (fold_batch_norm, as PyTorch's _fuse_conv_bn_). prepare_qat_pt2e keeps
// batch norm, as torchao: each conv2d whose only user is a batch_norm becomes torchao's QAT
// conv-bn form (rewrite_conv_bn_for_qat, qat_conv_bn.h: the weight fake quant on the
// bn-scaled weight, the conv output unscaled, the conv bias added, then the real
// batch_norm), which a trainer can run with batch statistics; convert_pt2e folds it back
// (fold_conv_bn_qat). The IR's batch_norm is eval-mode, so PreparedModel::run of a QAT
// graph is the eval-mode QAT forward.
#include <initializer_list>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quantkit/apot/observer.h"
#include "quantkit/core/tensor.h"
#include "quantkit/graph/graph.h"
#include "quantkit/pt2e/quantization_spec.h"
#include "quantkit/pt2e/quantizer.h"
#include "quantkit/quant/fake_quantize.h"
#include "quantkit/quant/observer.h"

namespace quantkit::pt2e {

// What one observe / fake_quantize node stands for (one per shared group). Several nodes
// may name the same place (an output observer shared with a later input edge, like
// PyTorch's one observer module called at two spots).
struct ObservedPlace {
  QuantizationSpecBase spec;                 // resolved: never a SharedQuantizationSpec
  std::unique_ptr<Observer> observer;        // uniform specs (PTQ)
  std::unique_ptr<FakeQuantize> fake_quant;  // uniform specs (QAT)
  std::unique_ptr<apot::ApotObserver> apot;  // APoT weight specs
  // Derived specs: the places whose qparams feed derive_qparams, in derived_from order.
  std::vector<std::string> derived_from;
  // APoT fake quant (an APoT spec with fake_quant): switches, as FakeQuantize's.
  bool apot_observer_enabled = true;
  bool apot_fake_quant_enabled = true;
};

class PreparedModel {
 public:
  // `annotated_nodes`: names of the nodes the quantizer annotated (convert duplicates a
  // shared dequantize once per annotated user, as PyTorch's DuplicateDQPass).
  PreparedModel(Graph graph, std::map<std::string, ObservedPlace> places, bool is_qat,
                std::set<std::string> annotated_nodes = {});
  PreparedModel(PreparedModel&&) noexcept;
  PreparedModel& operator=(PreparedModel&&) noexcept;
  ~PreparedModel();

  const Graph& graph() const { return graph_; }
  bool is_qat() const { return is_qat_; }

  // Runs the graph, feeding every observe node's input to its observer (calibration) and
  // every fake_quantize node through its module (QAT forward).
  std::vector<Tensor> run(std::span<const Tensor> inputs);
  std::vector<Tensor> run(std::initializer_list<Tensor> inputs) {
    return run(std::span<const Tensor>(inputs.begin(), inputs.size()));
  }
  std::vector<Tensor> operator()(std::initializer_list<Tensor> inputs) {
    return run(std::span<const Tensor>(inputs.begin(), inputs.size()));
  }

  // Keyed by the 'observer' / 'module' attribute of the inserted nodes.
  const std::map<std::string, ObservedPlace>& places() const { return places_; }
  ObservedPlace& place(const std::string& name);  // Error naming the place if absent
  const ObservedPlace& place(const std::string& name) const;
  const std::set<std::string>& annotated_nodes() const { return annotated_nodes_; }

  // QAT switches over every fake quant (torch.ao's enable/disable_observer / fake_quant).
  void enable_observers(bool enabled);
  void enable_fake_quant(bool enabled);

  // Replaces a parameter's tensor in the prepared graph (same dtype and shape, Error
  // otherwise; Graph::set_parameter_data): trained weights written back before convert_pt2e.
  void set_parameter_data(std::string_view name, Tensor data);

 private:
  Graph graph_;
  std::map<std::string, ObservedPlace> places_;
  bool is_qat_ = false;
  std::set<std::string> annotated_nodes_;
};

// Both validate the graph (verify) and the annotations (every key an input of its node,
// shared specs pointing at annotated places, float32 values only, APoT only on weights).
PreparedModel prepare_pt2e(const Graph& model, const Quantizer& quantizer);
PreparedModel prepare_qat_pt2e(const Graph& model, const Quantizer& quantizer);

// Runs every batch through the prepared model (calibration).
void calibrate(PreparedModel& model, std::span<const std::vector<Tensor>> batches);

}  // namespace quantkit::pt2e
