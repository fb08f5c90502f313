#include "quantkit/graph/interpreter.h"

#include <algorithm>
#include <unordered_map>

#include "quantkit/core/error.h"
#include "quantkit/graph/verifier.h"

namespace quantkit::graph {
namespace {

bool may_alias_inputs(const Value* v) {
  if (v->kind() != ValueKind::NodeOutput) return true;
  return op_schema(v->producer()->op()).traits.is_view;
}

}  // namespace

std::vector<Tensor> evaluate_node(const Node& node, std::span<const Tensor> inputs) {
  check_argument(inputs.size() == node.num_inputs(), "evaluate_node", "inputs", inputs.size(),
                 std::to_string(node.num_inputs()) + " tensors for node '" + node.name() + "'");
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const TensorType actual{inputs[i].dtype(), inputs[i].shape()};
    if (actual != node.input(i)->type()) {
      throw Error("evaluate_node: node '" + node.name() + "' input " + std::to_string(i) + " is " +
                  actual.to_string() + ", expected " + node.input(i)->type().to_string());
    }
  }
  try {
    return op_schema(node.op()).reference(node, inputs);
  } catch (const Error& e) {
    const std::string message = e.what();
    if (message.starts_with("node '")) throw;
    throw Error("node '" + node.name() + "' (" + std::string(op_name(node.op())) + "): " + message);
  }
}

Interpreter::Interpreter(const Graph& graph) : graph_(graph) {
  verify(graph_);
  std::unordered_map<const Value*, std::size_t> slot;
  auto assign = [&](const Value* v) {
    slot.emplace(v, num_slots_);
    return num_slots_++;
  };
  for (const Value* v : graph_.inputs()) input_slots_.push_back(assign(v));
  for (const Value* v : graph_.parameters()) data_slots_.emplace_back(assign(v), v);
  for (const Value* v : graph_.constants()) data_slots_.emplace_back(assign(v), v);
  for (const Node* n : graph_.nodes()) {
    Step step{n, {}, {}, {}};
    for (const Value* in : n->inputs()) step.inputs.push_back(slot.at(in));
    for (const Value* out : n->outputs()) step.outputs.push_back(assign(out));
    steps_.push_back(std::move(step));
  }
  for (const Value* v : graph_.outputs()) output_slots_.push_back(slot.at(v));
  // Release each slot after its last reader, unless it is a graph output.
  std::vector<std::ptrdiff_t> last_use(num_slots_, -1);
  for (std::size_t s = 0; s < steps_.size(); ++s) {
    for (std::size_t in : steps_[s].inputs) last_use[in] = static_cast<std::ptrdiff_t>(s);
  }
  for (std::size_t out : output_slots_) last_use[out] = -1;
  for (std::size_t v = 0; v < num_slots_; ++v) {
    if (last_use[v] >= 0) steps_[static_cast<std::size_t>(last_use[v])].release.push_back(v);
  }
}

std::vector<Tensor> Interpreter::run(std::span<const Tensor> inputs) const {
  const auto graph_inputs = graph_.inputs();
  check_argument(inputs.size() == graph_inputs.size(), "Interpreter::run", "inputs", inputs.size(),
                 std::to_string(graph_inputs.size()) + " tensors");
  std::vector<Tensor> slots(num_slots_);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const TensorType actual{inputs[i].dtype(), inputs[i].shape()};
    if (actual != graph_inputs[i]->type()) {
      throw_invalid_argument("Interpreter::run", "inputs[" + std::to_string(i) + "]",
                             actual.to_string(),
                             "a tensor of type " + graph_inputs[i]->type().to_string() +
                                 " for graph input '" + graph_inputs[i]->name() + "'");
    }
    slots[input_slots_[i]] = inputs[i];
  }
  for (const auto& [s, v] : data_slots_) slots[s] = v->data();
  std::vector<Tensor> args;
  for (const Step& step : steps_) {
    args.clear();
    for (std::size_t s : step.inputs) args.push_back(slots[s]);
    std::vector<Tensor> results;
    if (stateful_ && op_schema(step.node->op()).traits.category == OpCategory::Stateful) {
      results.push_back(stateful_(*step.node, args[0]));
    } else {
      results = evaluate_node(*step.node, args);
    }
    for (std::size_t i = 0; i < results.size(); ++i) slots[step.outputs[i]] = std::move(results[i]);
    if (observer_) {
      std::vector<Tensor> outs;
      for (std::size_t s : step.outputs) outs.push_back(slots[s]);
      observer_(*step.node, outs);
    }
    for (std::size_t s : step.release) slots[s] = Tensor();
  }
  std::vector<Tensor> outputs;
  const auto graph_outputs = graph_.outputs();
  for (std::size_t i = 0; i < output_slots_.size(); ++i) {
    const Tensor& t = slots[output_slots_[i]];
    outputs.push_back(may_alias_inputs(graph_outputs[i]) ? t.clone() : t);
  }
  return outputs;
}

std::vector<Tensor> run_graph(const Graph& graph, std::span<const Tensor> inputs) {
  return Interpreter(graph).run(inputs);
}

}  // namespace quantkit::graph
