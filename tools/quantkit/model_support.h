#pragma once
// Shared pieces of the model commands (inspect, run, quantize, compare, bench, evaluate):
// loading an ONNX model, running it with the fast runtime, a progress bar, latency
// statistics.
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/graph.h"
#include "quantkit/runtime/runtime.h"

namespace quantkit::cli {

// An imported model ready to run: the graph as imported and, when it holds Q/DQ patterns,
// its lowered form (fused integer kernels), run by the runtime.
class LoadedModel {
 public:
  LoadedModel(const std::filesystem::path& path, int num_threads);
  // An in-memory graph; `label` names it in messages.
  LoadedModel(graph::Graph graph, int num_threads, std::filesystem::path label);

  const graph::Graph& graph() const { return graph_; }           // as imported
  const graph::Graph& executable() const { return *executable_; }  // what run() executes
  bool lowered() const { return lowered_.has_value(); }
  const std::filesystem::path& path() const { return path_; }
  const graph::TensorType& input_type() const;  // Error unless the model has one input

  std::vector<Tensor> run(std::span<const Tensor> inputs) const { return runtime_->run(inputs); }

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

// True when the graph holds quantize/dequantize ops (a Q/DQ model).
bool is_quantized(const graph::Graph& graph);

// A progress bar on stderr ("calibrating [#####.....] 500/1000"); on a terminal it redraws
// in place, otherwise it prints a line at every 25%.
class ProgressBar {
 public:
  ProgressBar(std::string label, std::size_t total);
  void update(std::size_t done);
  void finish();

 private:
  std::string label_;
  std::size_t total_;
  bool tty_;
  int last_quarter_ = -1;
};

struct LatencyStats {
  double mean_ms = 0, p50_ms = 0, p90_ms = 0, p99_ms = 0, min_ms = 0;
  std::size_t iterations = 0;
};

// Runs `inputs` through `model` warmup + iterations times, timing each run.
LatencyStats measure_latency(const LoadedModel& model, std::span<const Tensor> inputs,
                             std::size_t warmup, std::size_t iterations);

// Bytes of a file.
std::uintmax_t file_size_bytes(const std::filesystem::path& path);

}  // namespace quantkit::cli
