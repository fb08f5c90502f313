#pragma once
// Folds eval-mode batch norm into the preceding convolution (PyTorch's _fuse_conv_bn_ /
// fuse_conv_bn_weights), in float32 exactly as torch computes it:
//   r = rsqrt(running_var + eps)
//   weight' = weight * (bn_weight * r)            (per output channel)
//   bias'   = (bias - running_mean) * r * bn_weight + bn_bias   (bias = 0 when absent)
// A conv2d whose only use is a batch_norm is folded when the conv weight and bias and all
// batch-norm tensors are parameters or constants used by nothing else; the batch_norm node
// disappears and its users read the conv2d output (the conv keeps its name). A conv without
// bias gets a new parameter "<weight path without .weight>.bias" (or a fresh name). Other
// batch norms are left alone. Unused batch-norm parameters are removed.
#include <cstddef>

#include "quantkit/graph/graph.h"

namespace quantkit::pt2e {

// Returns the number of batch norms folded. The graph verifies afterwards.
std::size_t fold_batch_norm(graph::Graph& graph);

}  // namespace quantkit::pt2e
