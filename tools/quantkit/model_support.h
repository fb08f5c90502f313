#pragma once
// Shared pieces of the model commands (inspect, run, quantize, compare, bench, evaluate): a
// progress bar, latency statistics; loading and running a model is pipeline::LoadedModel.
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
#include "quantkit/pipeline/loaded_model.h"

namespace quantkit::cli {

// Loading and running a model lives in the library (pipeline/loaded_model.h) so library
// users get it too; the commands use it through these names.
using pipeline::import_for_running;
using pipeline::is_quantized;
using pipeline::LoadedModel;

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

// Samples per batch for data::load_batches: `batch_size` (a --batch-size flag) for a model
// whose input has a dynamic batch (pipeline::has_dynamic_batch), else 0: the model's own
// batch, whatever the flag says (a fixed-batch-1 model runs one sample at a time).
std::size_t data_batch_size(const graph::Graph& model, std::size_t batch_size);

// Bytes of a file.
std::uintmax_t file_size_bytes(const std::filesystem::path& path);

}  // namespace quantkit::cli
