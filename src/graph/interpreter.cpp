#include "quantkit/graph/interpreter.h"

#include <algorithm>
#include <unordered_map>

#include "quantkit/core/error.h"
#include "quantkit/graph/verifier.h"

namespace quantkit::graph {
namespace {

// Shapes a dynamic graph was recently run with; more distinct shapes replace the oldest
// (a batched run uses two: the batch size and the last, partial batch).
constexpr std::size_t kMaxSpecializations = 4;

bool same_shapes(std::span<const Tensor> inputs, std::span<const Shape> shapes) {
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].shape() != shapes[i]) return false;
  }
  return true;
}

}  // namespace

struct Interpreter::Specialization {
  std::vector<Shape> shapes;
  Graph graph;
  Interpreter interpreter;
  explicit Specialization(const Graph& dynamic, std::vector<Shape> s)
      : shapes(std::move(s)), graph(dynamic.specialized(shapes)), interpreter(graph) {}
};

std::shared_ptr<const Interpreter::Specialization> Interpreter::specialized_for(
    std::span<const Tensor> inputs) const {
  const std::lock_guard<std::mutex> lock(*specializations_mutex_);
  auto hit = std::find_if(specializations_.begin(), specializations_.end(),
                          [&](const auto& s) { return same_shapes(inputs, s->shapes); });
  if (hit == specializations_.end()) {
    std::vector<Shape> shapes;
    for (const Tensor& t : inputs) shapes.push_back(t.shape());
    if (specializations_.size() == kMaxSpecializations) {
      specializations_.erase(specializations_.begin());
    }
    specializations_.push_back(std::make_shared<Specialization>(graph_, std::move(shapes)));
    hit = specializations_.end() - 1;
  }
  std::rotate(hit, hit + 1, specializations_.end());  // most recent last
  return specializations_.back();
}

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
  plan_ = ExecutionPlan::build(graph_);
}

std::vector<Tensor> Interpreter::run(std::span<const Tensor> inputs) const {
  const auto graph_inputs = graph_.inputs();
  check_argument(inputs.size() == graph_inputs.size(), "Interpreter::run", "inputs", inputs.size(),
                 std::to_string(graph_inputs.size()) + " tensors");
  if (graph_.has_dynamic_dims()) {
    bool declared = true;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      declared = declared && inputs[i].shape() == graph_inputs[i]->shape();
      const TensorType actual{inputs[i].dtype(), inputs[i].shape()};
      if (inputs[i].dtype() != graph_inputs[i]->dtype()) {
        throw_invalid_argument("Interpreter::run", "inputs[" + std::to_string(i) + "]",
                               actual.to_string(),
                               "a tensor of type " + graph_inputs[i]->type_string() +
                                   " for graph input '" + graph_inputs[i]->name() + "'");
      }
    }
    // Other sizes of the dynamic dims run the specialized graph (which checks the static
    // dims); the declared sizes run this graph's own plan.
    if (!declared)
      return specialized_for(inputs)->interpreter.execute(inputs, observer_, stateful_);
  }
  return execute(inputs, observer_, stateful_);
}

std::vector<Tensor> Interpreter::execute(std::span<const Tensor> inputs,
                                         const NodeObserver& observer,
                                         const StatefulKernel& stateful) const {
  const auto graph_inputs = graph_.inputs();
  std::vector<Tensor> slots(plan_.slots.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const TensorType actual{inputs[i].dtype(), inputs[i].shape()};
    if (actual != graph_inputs[i]->type()) {
      throw_invalid_argument("Interpreter::run", "inputs[" + std::to_string(i) + "]",
                             actual.to_string(),
                             "a tensor of type " + graph_inputs[i]->type().to_string() +
                                 " for graph input '" + graph_inputs[i]->name() + "'");
    }
    slots[plan_.input_slots[i]] = inputs[i];
  }
  for (std::size_t s : plan_.data_slots) slots[s] = plan_.slots[s].value->data();
  std::vector<Tensor> args;
  for (const ExecutionPlan::Step& step : plan_.steps) {
    args.clear();
    for (std::size_t s : step.inputs) args.push_back(slots[s]);
    const OpKind op = step.node->op();
    std::vector<Tensor> results;
    if (stateful && op_schema(op).traits.category == OpCategory::Stateful) {
      try {
        results.push_back(stateful(*step.node, args[0]));
      } catch (const Error& e) {
        // An observer's message names only its argument ("x[0]"): say which node and which
        // tensor (the layer output or input it observes) it was.
        throw Error("node '" + step.node->name() + "' (" + std::string(op_name(op)) + " of '" +
                    step.node->input(0)->name() + "'): " + e.what());
      }
    } else {
      results = evaluate_node(*step.node, args);
    }
    for (std::size_t i = 0; i < results.size(); ++i) slots[step.outputs[i]] = std::move(results[i]);
    if (observer) {
      std::vector<Tensor> outs;
      for (std::size_t s : step.outputs) outs.push_back(slots[s]);
      observer(*step.node, outs);
    }
    // Tensors share storage, so a view keeps its root's bytes alive: releasing the root's
    // slot when the plan says its storage is dead only drops this reference.
    for (std::size_t s : step.release) slots[s] = Tensor();
  }
  std::vector<Tensor> outputs;
  for (std::size_t s : plan_.output_slots) {
    // Outputs never share storage with the inputs or the graph's tensors.
    const std::size_t root = plan_.slots[s].root;
    const bool may_alias = plan_.slots[root].kind != ExecutionPlan::SlotKind::NodeOutput ||
                           plan_.slots[s].view_of != ExecutionPlan::kNever;
    outputs.push_back(may_alias ? slots[s].clone() : slots[s]);
  }
  return outputs;
}

std::vector<Tensor> run_graph(const Graph& graph, std::span<const Tensor> inputs) {
  return Interpreter(graph).run(inputs);
}

}  // namespace quantkit::graph
