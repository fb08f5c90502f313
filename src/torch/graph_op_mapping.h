#pragma once
// The graph IR's float ops as LibTorch ops (QatModule's forward): one function that runs one
// node on torch tensors, so autograd records it. Attribute semantics follow the reference
// kernels (src/graph/reference_kernels/); tests/torch/qat_op_mapping_test.cpp checks every
// mapping against graph::Interpreter.
#include <ATen/core/Tensor.h>

#include <vector>

#include "quantkit/graph/graph.h"

namespace quantkit::torch::detail {

// The nodes whose result depends on state outside the graph: QatModule supplies them.
class StatefulOps {
 public:
  virtual ~StatefulOps() = default;
  // batch_norm(x, weight, bias, running_mean, running_var): train or eval form.
  virtual at::Tensor batch_norm(const graph::Node& node, const std::vector<at::Tensor>& inputs) = 0;
  // fake_quantize(x): the prepared model's place named by the node's 'module' attribute.
  virtual at::Tensor fake_quantize(const graph::Node& node, const at::Tensor& x) = 0;
};

// Throws quantkit::Error naming the op and the node unless run_node can run it (every float
// op of a CNN, MLP or small transformer, observe and fake_quantize); quantize / dequantize, the
// integer reference ops, APoT dequantize and the fused integer ops are not trainable and have
// no mapping.
void check_mapped(const graph::Node& node);

// Runs `node` on `inputs` (one per node input). Throws quantkit::Error naming the op and the
// node for an unmapped op.
at::Tensor run_node(const graph::Node& node, const std::vector<at::Tensor>& inputs,
                    StatefulOps& stateful);

}  // namespace quantkit::torch::detail
