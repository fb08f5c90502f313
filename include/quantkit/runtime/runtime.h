#pragma once
// The fast runtime: runs a graph (usually a lowered one) with pre-packed weights and the
// optimized kernels (kernels/gemm.h int8 GEMM with requantization epilogue, run-time ISA
// dispatch) for quantized_linear / quantized_conv2d / quantized_add /
// dynamic_quantized_linear, and the interpreter's kernels for every other op. Outputs equal
// the interpreter's exactly, whatever the thread count.
#include <memory>
#include <span>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/graph.h"

namespace quantkit::runtime {

struct RuntimeOptions {
  int num_threads = 1;  // >= 1; splits batch rows / output channels, never reductions
};

class Runtime {
 public:
  // Verifies and plans `graph` (packs weights once). The graph must outlive the runtime.
  explicit Runtime(const graph::Graph& graph, RuntimeOptions options = {});
  Runtime(Runtime&&) noexcept;
  Runtime& operator=(Runtime&&) noexcept;
  ~Runtime();

  std::vector<Tensor> run(std::span<const Tensor> inputs) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace quantkit::runtime
