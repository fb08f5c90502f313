#pragma once
// The runtime's fused ops that do not fit the create / setup / run ops of exec_ops.h: the
// dynamic quantized linear (its activation qparams come from the whole input's min/max at
// run time), with int8 weights pre-packed for kernels::qlinear. Equal to the graph's
// reference kernel (src/graph/reference_kernels/quantized_ops.cpp) bit for bit at every ISA
// level and thread count.
#include <memory>
#include <optional>
#include <vector>

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
