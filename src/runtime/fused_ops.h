#pragma once
// The runtime's fused integer ops, planned once per node: int8 weights pre-packed for
// kernels::qlinear, requantization constants prepared, conv2d as im2col (padding reads the
// input zero point) + int8 GEMM per image and group, quantized add through the vectorized
// qadd kernels. Each equals the graph's reference kernel of the same op bit for bit
// (src/graph/reference_kernels/quantized_ops.cpp) for every ISA level and thread count.
#include <memory>
#include <optional>
#include <vector>

#include "qadd_kernels.h"
#include "thread_pool.h"
#include "quantkit/core/tensor.h"
#include "quantkit/graph/graph.h"
#include "quantkit/kernels/gemm.h"

namespace quantkit::runtime::detail {

class FusedOp {
 public:
  virtual ~FusedOp() = default;
  // inputs: the node's runtime tensors (only the activations are read; weights were
  // packed at planning).
  virtual Tensor run(std::span<const Tensor> inputs, ThreadPool& pool) const = 0;
};

// A fused op for `node`, or null when the node is not one of the fused ops or its weights
// are not constants (the runtime then evaluates it with the interpreter's kernel).
std::unique_ptr<FusedOp> plan_fused_op(const graph::Node& node);

}  // namespace quantkit::runtime::detail
