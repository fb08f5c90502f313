#include "quantkit/runtime/runtime.h"

#include <string>
#include <unordered_map>

#include "fused_ops.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/graph/verifier.h"

namespace quantkit::runtime {

using graph::Node;
using graph::Value;
using graph::ValueKind;

struct Runtime::Impl {
  struct Step {
    const Node* node;
    std::unique_ptr<detail::FusedOp> fused;  // null: the interpreter's kernel
    std::vector<std::size_t> inputs, outputs, release;
  };
  const graph::Graph& graph;
  RuntimeOptions options;
  std::size_t num_slots = 0;
  std::vector<std::size_t> input_slots;
  std::vector<std::pair<std::size_t, const Value*>> data_slots;
  std::vector<Step> steps;
  std::vector<std::size_t> output_slots;

  Impl(const graph::Graph& g, RuntimeOptions o) : graph(g), options(o) {
    check_argument(o.num_threads >= 1, "Runtime", "options.num_threads", o.num_threads,
                   "a thread count >= 1");
    graph::verify(graph);
    std::unordered_map<const Value*, std::size_t> slot;
    auto assign = [&](const Value* v) {
      slot.emplace(v, num_slots);
      return num_slots++;
    };
    for (const Value* v : graph.inputs()) input_slots.push_back(assign(v));
    for (const Value* v : graph.parameters()) data_slots.emplace_back(assign(v), v);
    for (const Value* v : graph.constants()) data_slots.emplace_back(assign(v), v);
    for (const Node* n : graph.nodes()) {
      Step step{n, detail::plan_fused_op(*n), {}, {}, {}};
      for (const Value* in : n->inputs()) step.inputs.push_back(slot.at(in));
      for (const Value* out : n->outputs()) step.outputs.push_back(assign(out));
      steps.push_back(std::move(step));
    }
    for (const Value* v : graph.outputs()) output_slots.push_back(slot.at(v));
    // Each slot is released after its last reader (graph outputs never).
    std::vector<std::ptrdiff_t> last_use(num_slots, -1);
    for (std::size_t s = 0; s < steps.size(); ++s) {
      for (std::size_t in : steps[s].inputs) last_use[in] = static_cast<std::ptrdiff_t>(s);
    }
    for (std::size_t out : output_slots) last_use[out] = -1;
    for (std::size_t v = 0; v < num_slots; ++v) {
      if (last_use[v] >= 0) steps[static_cast<std::size_t>(last_use[v])].release.push_back(v);
    }
  }

  std::vector<Tensor> run(std::span<const Tensor> inputs) const {
    const auto graph_inputs = graph.inputs();
    check_argument(inputs.size() == graph_inputs.size(), "Runtime::run", "inputs", inputs.size(),
                   std::to_string(graph_inputs.size()) + " tensors");
    std::vector<Tensor> slots(num_slots);
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const graph::TensorType actual{inputs[i].dtype(), inputs[i].shape()};
      if (actual != graph_inputs[i]->type()) {
        throw_invalid_argument("Runtime::run", "inputs[" + std::to_string(i) + "]",
                               actual.to_string(),
                               "a tensor of type " + graph_inputs[i]->type().to_string() +
                                   " for graph input '" + graph_inputs[i]->name() + "'");
      }
      slots[input_slots[i]] = inputs[i];
    }
    for (const auto& [s, v] : data_slots) slots[s] = v->data();
    std::vector<Tensor> args;
    for (const Step& step : steps) {
      args.clear();
      for (std::size_t s : step.inputs) args.push_back(slots[s]);
      if (step.fused) {
        slots[step.outputs[0]] = step.fused->run(args, options.num_threads);
      } else {
        std::vector<Tensor> results = graph::evaluate_node(*step.node, args);
        for (std::size_t i = 0; i < results.size(); ++i) {
          slots[step.outputs[i]] = std::move(results[i]);
        }
      }
      for (std::size_t s : step.release) slots[s] = Tensor();
    }
    std::vector<Tensor> outputs;
    const auto graph_outputs = graph.outputs();
    for (std::size_t i = 0; i < output_slots.size(); ++i) {
      const Tensor& t = slots[output_slots[i]];
      // Outputs never share storage with the caller's inputs or the graph's tensors.
      const Value* v = graph_outputs[i];
      bool aliased = v->kind() != ValueKind::NodeOutput;
      if (!aliased) aliased = graph::op_schema(v->producer()->op()).traits.is_view;
      outputs.push_back(aliased ? t.clone() : t);
    }
    return outputs;
  }
};

Runtime::Runtime(const graph::Graph& graph, RuntimeOptions options)
    : impl_(std::make_unique<Impl>(graph, options)) {}
Runtime::Runtime(Runtime&&) noexcept = default;
Runtime& Runtime::operator=(Runtime&&) noexcept = default;
Runtime::~Runtime() = default;

std::vector<Tensor> Runtime::run(std::span<const Tensor> inputs) const {
  return impl_->run(inputs);
}

}  // namespace quantkit::runtime
