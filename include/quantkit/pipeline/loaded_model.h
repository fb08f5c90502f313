#pragma once
// A model ready to run fast: an ONNX file (or an in-memory graph) imported, lowered to the
// fused integer kernels when it holds Q/DQ patterns, and planned once by the runtime.
//
//   pipeline::LoadedModel model("model_int8.onnx", /*num_threads=*/4);
//   std::vector<Tensor> y = model.run({x});   // model.lowered(): integer kernels in use
//
// This is what `quantkit run`, `bench` and `evaluate` execute.
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/graph.h"
#include "quantkit/runtime/runtime.h"

namespace quantkit::pipeline {

class LoadedModel {
 public:
  // Imports `path` (import_for_running), then plans it. num_threads as RuntimeOptions.
  LoadedModel(const std::filesystem::path& path, int num_threads);
  // An in-memory graph; `label` names it in messages.
  LoadedModel(graph::Graph graph, int num_threads, std::filesystem::path label);

  const graph::Graph& graph() const { return graph_; }             // as imported
  const graph::Graph& executable() const { return *executable_; }  // what run() executes
  bool lowered() const { return lowered_.has_value(); }
  // The runtime's plan, one label per op (runtime::Runtime::op_labels).
  std::vector<std::string> plan_labels() const { return runtime_->op_labels(); }
  const std::filesystem::path& path() const { return path_; }
  const graph::TensorType& input_type() const;  // Error unless the model has one input

  std::vector<Tensor> run(std::span<const Tensor> inputs) const { return runtime_->run(inputs); }
  std::vector<Tensor> run(std::initializer_list<Tensor> inputs) const {
    return run(std::span<const Tensor>(inputs.begin(), inputs.size()));
  }
  // Into caller tensors of the outputs' types for these inputs (Runtime::run_into).
  void run_into(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
    runtime_->run_into(inputs, outputs);
  }

 private:
  std::filesystem::path path_;
  graph::Graph graph_;
  std::optional<graph::Graph> lowered_;
  const graph::Graph* executable_ = nullptr;
  std::unique_ptr<runtime::Runtime> runtime_;
  void plan(int num_threads);
};

// Imports an ONNX model for running: QuantizeLinear with constant qparams becomes the
// graph's quantize ops (PyTorch numerics — what quantkit exported them from, and what the
// lowering to integer kernels matches).
graph::Graph import_for_running(const std::filesystem::path& path);

// True when the graph holds quantize or dequantize ops (OpCategory::Quantize /
// Dequantize): a quantized model, which LoadedModel lowers before running.
bool is_quantized(const graph::Graph& graph);

}  // namespace quantkit::pipeline
