// QatModule: walks the prepared graph on torch tensors (graph_op_mapping.h), holding the
// trainable copies of its parameters and batch-norm statistics, and the mode switches.
#include "quantkit/torch/qat_module.h"

#include <ATen/Functions.h>
#include <ATen/Parallel.h>

#include <cstring>
#include <exception>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "graph_op_mapping.h"
#include "qat_fake_quantize.h"
#include "quantkit/core/error.h"
#include "quantkit/pt2e/prepare.h"

namespace quantkit::torch {
namespace {

using graph::Node;
using graph::OpKind;
using graph::Value;

at::ScalarType scalar_type_of(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return at::kFloat;
    case DType::Float64:
      return at::kDouble;
    case DType::Int8:
      return at::kChar;
    case DType::UInt8:
      return at::kByte;
    case DType::Int16:
      return at::kShort;
    case DType::Int32:
      return at::kInt;
    case DType::Int64:
      return at::kLong;
  }
  throw Error("QatModule: unknown dtype " + std::to_string(static_cast<int>(dtype)));
}

// A torch copy of a graph tensor: training never writes through to the graph.
at::Tensor copy_to_torch(const Tensor& t) {
  at::Tensor out = at::empty(at::IntArrayRef(t.shape()), at::TensorOptions(scalar_type_of(t.dtype())));
  if (t.nbytes() > 0) std::memcpy(out.data_ptr(), t.raw_data(), t.nbytes());
  return out;
}

Tensor copy_from_torch(const at::Tensor& t) {
  const at::Tensor dense = t.detach().contiguous();
  const auto sizes = dense.sizes();
  Tensor out = Tensor::empty(Shape(sizes.begin(), sizes.end()), DType::Float32);
  if (out.nbytes() > 0) std::memcpy(out.raw_data(), dense.data_ptr(), out.nbytes());
  return out;
}

// batch_norm's running_mean / running_var inputs: buffers, not trainable.
std::unordered_set<const Value*> running_statistics(const graph::Graph& g) {
  std::unordered_set<const Value*> stats;
  for (const Node* n : g.nodes()) {
    if (n->op() != OpKind::BatchNorm) continue;
    stats.insert(n->input(3));
    stats.insert(n->input(4));
  }
  return stats;
}

}  // namespace

struct QatModule::Impl final : detail::StatefulOps {
  explicit Impl(pt2e::PreparedModel& model) : prepared(&model), graph(&model.graph()) {
    for (const Node* n : graph->nodes()) detail::check_mapped(*n);
    for (const Value* in : graph->inputs()) {
      check_argument(in->dtype() == DType::Float32, "QatModule", "prepared",
                     "input '" + in->name() + "' of type " + in->type_string(),
                     "a graph with float32 inputs");
    }
    const std::unordered_set<const Value*> stats = running_statistics(*graph);
    for (const Value* p : graph->parameters()) {
      at::Tensor t = copy_to_torch(p->data());
      if (p->dtype() == DType::Float32 && stats.contains(p)) {
        buffers.emplace_back(p, t);
        buffer_values.insert(p);
      } else if (p->dtype() == DType::Float32) {
        t.set_requires_grad(true);
        trainable.emplace_back(p, t);
      }
      fixed.emplace(p, t);
    }
    for (const Value* c : graph->constants()) fixed.emplace(c, copy_to_torch(c->data()));
  }

  at::Tensor batch_norm(const Node& node, const std::vector<at::Tensor>& in) override {
    const bool batch_statistics = training && !bn_frozen;
    // Constant running statistics are never updated (constants are fixed): torch then
    // normalizes with the batch's statistics without tracking them.
    const bool tracked = buffer_values.contains(node.input(3)) &&
                         buffer_values.contains(node.input(4));
    const bool update = batch_statistics && tracked;
    return at::batch_norm(in[0], in[1], in[2], update || !batch_statistics ? in[3] : at::Tensor(),
                          update || !batch_statistics ? in[4] : at::Tensor(), batch_statistics,
                          /*momentum=*/0.1, node.attr_float("eps"), /*cudnn_enabled=*/false);
  }

  at::Tensor fake_quantize(const Node& node, const at::Tensor& x) override {
    return detail::fake_quantize_place(prepared->place(node.attr_string("module")), x, training);
  }

  void check_inputs(const std::vector<at::Tensor>& inputs) const {
    const auto expected = graph->inputs();
    check_argument(inputs.size() == expected.size(), "QatModule::forward", "inputs",
                   std::to_string(inputs.size()) + " tensors",
                   std::to_string(expected.size()) + " (one per graph input)");
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const at::Tensor& t = inputs[i];
      const Value& v = *expected[i];
      const std::string arg = "inputs[" + std::to_string(i) + "]";
      check_argument(t.defined(), "QatModule::forward", arg, "an undefined tensor",
                     "a defined tensor");
      check_argument(t.device().is_cpu() && t.scalar_type() == at::kFloat &&
                         t.layout() == at::kStrided,
                     "QatModule::forward", arg,
                     std::string(c10::toString(t.scalar_type())) + " on " + t.device().str(),
                     "a dense float32 CPU tensor");
      bool ok = t.dim() == static_cast<std::int64_t>(v.shape().size());
      for (std::size_t d = 1; ok && d < v.shape().size(); ++d) {
        ok = t.size(static_cast<std::int64_t>(d)) == v.shape()[d];
      }
      check_argument(ok, "QatModule::forward", arg, "shape " + c10::str(t.sizes()),
                     "the shape of graph input '" + v.name() + "' " + v.type_string() +
                         " (dim 0, the batch, may differ)");
    }
  }

  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs) {
    check_inputs(inputs);
    std::unordered_map<const Value*, at::Tensor> values = fixed;
    for (std::size_t i = 0; i < inputs.size(); ++i) values[graph->inputs()[i]] = inputs[i];
    std::vector<at::Tensor> args;
    for (const Node* n : graph->nodes()) {
      args.clear();
      for (const Value* v : n->inputs()) args.push_back(values.at(v));
      try {
        values[n->output()] = detail::run_node(*n, args, *this);
      } catch (const std::exception& e) {
        // quantkit's errors and LibTorch's (c10::Error, or std::runtime_error from Debian's
        // build) alike: say which node failed.
        throw Error("QatModule::forward: node '" + n->name() + "' (" +
                    std::string(graph::op_name(n->op())) + "): " + e.what());
      }
    }
    std::vector<at::Tensor> outputs;
    for (const Value* v : graph->outputs()) outputs.push_back(values.at(v));
    return outputs;
  }

  pt2e::PreparedModel* prepared;
  const graph::Graph* graph;
  std::vector<std::pair<const Value*, at::Tensor>> trainable;
  std::vector<std::pair<const Value*, at::Tensor>> buffers;
  std::unordered_set<const Value*> buffer_values;
  // Parameters (the trainable leaves and buffers themselves) and constants, by value.
  std::unordered_map<const Value*, at::Tensor> fixed;
  bool training = true;
  bool bn_frozen = false;
};

QatModule::QatModule(pt2e::PreparedModel& prepared) : impl_(std::make_unique<Impl>(prepared)) {
  // ATen's reductions (batch statistics, weight gradients) split by thread count.
  at::set_num_threads(1);
}

QatModule::QatModule(QatModule&&) noexcept = default;
QatModule& QatModule::operator=(QatModule&&) noexcept = default;
QatModule::~QatModule() = default;

std::vector<at::Tensor> QatModule::parameters() const {
  std::vector<at::Tensor> out;
  for (const auto& [v, t] : impl_->trainable) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> QatModule::named_parameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& [v, t] : impl_->trainable) out.emplace_back(v->name(), t);
  return out;
}

std::vector<at::Tensor> QatModule::forward(const std::vector<at::Tensor>& inputs) {
  return impl_->forward(inputs);
}

at::Tensor QatModule::forward(const at::Tensor& input) {
  const graph::Graph& g = *impl_->graph;
  check_argument(g.inputs().size() == 1 && g.outputs().size() == 1, "QatModule::forward",
                 "input",
                 "one tensor for a graph of " + std::to_string(g.inputs().size()) + " inputs and " +
                     std::to_string(g.outputs().size()) + " outputs",
                 "a single-input single-output graph (else pass a vector)");
  return impl_->forward({input})[0];
}

void QatModule::train(bool on) { impl_->training = on; }
bool QatModule::is_training() const { return impl_->training; }
void QatModule::enable_observers(bool enabled) { impl_->prepared->enable_observers(enabled); }
void QatModule::enable_fake_quant(bool enabled) { impl_->prepared->enable_fake_quant(enabled); }
void QatModule::freeze_bn_stats(bool frozen) { impl_->bn_frozen = frozen; }

void QatModule::write_back() {
  for (const auto* group : {&impl_->trainable, &impl_->buffers}) {
    for (const auto& [v, t] : *group) impl_->prepared->set_parameter_data(v->name(), copy_from_torch(t));
  }
}

}  // namespace quantkit::torch
