#pragma once
// The interpreter: runs any verified Graph on input tensors with the reference kernel of
// every op (fp32 ops, Q/DQ through quant/affine.h, the integer reference ops).
//
//   Interpreter run(graph);                       // verifies and plans once
//   std::vector<Tensor> y = run({x});             // as many times as needed
//   std::vector<Tensor> y2 = run_graph(graph, {x});  // one-shot form
//
// Inputs must match the graph inputs' dtypes and shapes exactly, except for dynamic dims
// (graph.h), which take any size >= 1: the interpreter then runs the graph specialized to
// those shapes (Graph::specialized, kept for the last few shapes); Error otherwise. Intermediate
// tensors are released after their last use. Outputs never share storage with the inputs or the
// graph's parameters. Nothing is written to the inputs or to the graph.
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/execution_plan.h"
#include "quantkit/graph/graph.h"

namespace quantkit::graph {

// Called after each node with the node and its output tensors (debugging, numeric
// comparisons between graphs, collecting statistics).
using NodeObserver = std::function<void(const Node& node, std::span<const Tensor> outputs)>;

// Evaluates the stateful ops (observe, fake_quantize) whose state lives outside the graph:
// PT2E's prepared models hold the observers and fake-quant modules and install one of these.
// Without it, observe is the identity and fake_quantize is an Error.
using StatefulKernel = std::function<Tensor(const Node& node, const Tensor& x)>;

class Interpreter {
 public:
  // Verifies `graph` (Error if broken). The graph must outlive the interpreter and must not
  // be modified while the interpreter is used.
  explicit Interpreter(const Graph& graph);

  std::vector<Tensor> run(std::span<const Tensor> inputs) const;
  std::vector<Tensor> operator()(std::span<const Tensor> inputs) const { return run(inputs); }
  std::vector<Tensor> operator()(std::initializer_list<Tensor> inputs) const {
    return run(std::span<const Tensor>(inputs.begin(), inputs.size()));
  }

  void set_observer(NodeObserver observer) { observer_ = std::move(observer); }
  void set_stateful_kernel(StatefulKernel kernel) { stateful_ = std::move(kernel); }
  const Graph& graph() const { return graph_; }

 private:
  struct Specialization;
  // The graph specialized to the inputs' shapes and its interpreter (dynamic graphs); shared
  // so that a run keeps it alive while other shapes replace it in the cache.
  std::shared_ptr<const Specialization> specialized_for(std::span<const Tensor> inputs) const;
  // Runs this graph's plan (inputs of its exact types) with these hooks: a dynamic graph's
  // run passes its own hooks to its specialization's plan.
  std::vector<Tensor> execute(std::span<const Tensor> inputs, const NodeObserver& observer,
                              const StatefulKernel& stateful) const;

  const Graph& graph_;
  ExecutionPlan plan_;  // slots, steps and releases (shared with the runtime's planner)
  mutable std::shared_ptr<std::mutex> specializations_mutex_ = std::make_shared<std::mutex>();
  mutable std::vector<std::shared_ptr<Specialization>> specializations_;  // most recent last
  NodeObserver observer_;
  StatefulKernel stateful_;
};

// Evaluates a single node's op on tensors (the interpreter's kernel dispatch). Inputs must
// have the types the node's inputs have.
std::vector<Tensor> evaluate_node(const Node& node, std::span<const Tensor> inputs);

// One-shot: Interpreter(graph).run(inputs).
std::vector<Tensor> run_graph(const Graph& graph, std::span<const Tensor> inputs);
inline std::vector<Tensor> run_graph(const Graph& graph, std::initializer_list<Tensor> inputs) {
  return run_graph(graph, std::span<const Tensor>(inputs.begin(), inputs.size()));
}

}  // namespace quantkit::graph
