#pragma once
// Running a model over many samples: N samples stacked on dim 0 of each input, run in
// batches, the outputs stacked the same way (what `quantkit run` does with a .npy of N
// images).
//
//   pipeline::LoadedModel model("model.onnx", 1);
//   Tensor x = pipeline::as_samples(read_npy("x.npy"), *model.graph().inputs()[0]);
//   std::vector<Tensor> ys = pipeline::run_batched(model, {x}, {64, {}});
//
// A model whose inputs all have a dynamic dim 0 (graph.h: a dynamic batch) runs
// `batch_size` samples per call, the last call the rest; a model with a static batch b runs
// b samples per call (N must be a multiple of b). Each model output must have the call's
// sample count as its dim 0 (the batch): output [b, 10] gives [N, 10]. A single call (N = b
// for a static batch) returns the model's outputs as they are.
// The rows do not depend on the batch size for fp32 and statically quantized models (each
// sample's arithmetic is the same in any batch); see docs/cli.md for the PyTorch semantics
// that do depend on it (dynamic quantization).
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <span>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/graph.h"
#include "quantkit/pipeline/loaded_model.h"

namespace quantkit::pipeline {

struct BatchedRunOptions {
  std::size_t batch_size = 64;  // samples per call of a dynamic-batch model, >= 1
  // Called after every call with the samples done so far and N (a progress bar).
  std::function<void(std::size_t done, std::size_t total)> progress;
};

// True when every input of `graph` has a dynamic dim 0.
bool has_dynamic_batch(const graph::Graph& graph);

// `x` as N samples for `input` ([B, d1, ...]): [N, d1, ...] when x's dims after the first
// hold exactly one sample (x = [N, d1, ...] or e.g. [N, 28, 28] for [B, 1, 28, 28]); a
// tensor with the elements of exactly one static batch (e.g. one [28, 28] image for
// [1, 1, 28, 28]) is that batch. Error naming `what` otherwise (dtype included).
Tensor as_samples(const Tensor& x, const graph::Value& input, std::string_view what);

// Runs N samples (inputs as as_samples gives them, all with the same N >= 1).
std::vector<Tensor> run_batched(const LoadedModel& model, std::span<const Tensor> inputs,
                                const BatchedRunOptions& options = {});
inline std::vector<Tensor> run_batched(const LoadedModel& model,
                                       std::initializer_list<Tensor> inputs,
                                       const BatchedRunOptions& options = {}) {
  return run_batched(model, std::span<const Tensor>(inputs.begin(), inputs.size()), options);
}

}  // namespace quantkit::pipeline
