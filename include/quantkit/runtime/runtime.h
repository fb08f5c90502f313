#pragma once
// The fast runtime: runs a graph (usually a lowered one, pt2e/lowering.h) planned once:
//  * quantized_linear / dynamic_quantized_linear: int8 weights pre-packed for
//    kernels::qlinear (int32 accumulation with the int32 bias), then the float64
//    requantization / dequantization of the reference representation;
//  * quantized_conv2d: im2col per image and group (padding reads the input zero point) +
//    the same int8 GEMM;
//  * quantized_add (same-shape inputs): vectorized kernels (portable / AVX2 / AVX-512,
//    kernels::active_isa());
//  * every other op (and fused ops it cannot plan: broadcasting add, non-constant weights,
//    degenerate multipliers) through graph::evaluate_node.
// Outputs equal the interpreter's exactly, whatever the ISA level and the thread count:
// threads split rows / output pixels / elements, never a reduction. Inputs are validated
// like the interpreter's (count, dtype, shape: quantkit::Error otherwise) and never
// written; outputs never share storage with inputs or graph tensors.
#include <memory>
#include <span>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/graph.h"

namespace quantkit::runtime {

struct RuntimeOptions {
  int num_threads = 1;  // >= 1; splits rows / output pixels / elements, never reductions
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
