#pragma once
// The fast runtime: runs a graph (usually a lowered one, pt2e/lowering.h) from a plan built
// once when the Runtime is created:
//  * quantized_conv2d on channels-last (NHWC) int8/uint8 activations: 1×1 convolutions as a
//    GEMM over pixels, others through gathered tiles into the same packed int8 GEMM, depthwise
//    ones through their own kernels; quantized_linear as that GEMM over rows; the
//    requantization (kernels/requantize.h: round to nearest) in the GEMM's epilogue;
//  * quantized_add (vectorized), quantize / dequantize with static qparams (quant/affine.h),
//    flatten / reshape / observe as free views;
//  * every other op through the interpreter's kernel (graph::evaluate_node), with its inputs
//    converted to the logical layout.
// Memory: one arena sized at planning (liveness-based reuse) plus per-thread scratch; a run
// allocates nothing but the returned output tensors (run_into: nothing at all) when every
// node has a fast kernel — fallback nodes allocate inside the interpreter's kernels.
// Threads: a persistent pool owned by each Runtime (num_threads − 1 workers + the caller),
// splitting output pixels / rows / elements, never a reduction: results are identical at
// every thread count and ISA level. A Runtime runs one call at a time (concurrent calls
// wait); use one Runtime per thread for parallel inference.
// Inputs are validated (count, dtype, shape: quantkit::Error otherwise) and never written.
// Dynamic dims (graph.h: a dynamic batch) take any size: the runtime plans the graph
// specialized to each new input shape (Graph::specialized) and keeps the last few plans,
// so a batched run (the batch size, then the last partial batch) plans twice and then runs
// from cached plans (run_into: still no allocation).
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/graph.h"

namespace quantkit::runtime {

struct RuntimeOptions {
  int num_threads = 1;  // 1..256; splits rows / output pixels / elements, never reductions
};

class Runtime {
 public:
  // Verifies and plans `graph` (packs weights once). The graph must outlive the runtime.
  explicit Runtime(const graph::Graph& graph, RuntimeOptions options = {});
  Runtime(Runtime&&) noexcept;
  Runtime& operator=(Runtime&&) noexcept;
  ~Runtime();

  std::vector<Tensor> run(std::span<const Tensor> inputs) const;
  // The same, writing into caller tensors of the graph outputs' types (no allocation when
  // every node has a fast kernel). Outputs must not share storage with the inputs.
  void run_into(std::span<const Tensor> inputs, std::span<Tensor> outputs) const;

  // The plan of the graph's declared shapes (a dynamic graph's representative sizes):
  // what the plan runs, in order: one label per op ("quantized_conv2d 'conv1' (nhwc gemm)",
  // "to_nhwc 'x'", "softmax 's' (reference)"): for tests, profiles and `quantkit inspect`.
  std::vector<std::string> op_labels() const;
  // Bytes of the activation arena (after liveness-based reuse).
  std::size_t arena_bytes() const;

 private:
  struct Plan;  // everything planned for one set of concrete input shapes
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace quantkit::runtime
