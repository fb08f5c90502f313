#pragma once
// Lowering for speed: replaces dequantize → {linear, conv2d, add (+relu)} → quantize
// patterns of a Q/DQ graph (with int8 weights folded as constants) by the fused integer ops
// quantized_linear / quantized_conv2d / quantized_add / dynamic_quantized_linear, whose
// outputs equal the reference representation's exactly. Also folds dequantize → op →
// quantize chains with identical qparams, for every value-preserving op (OpTraits:
// max_pool2d, flatten, reshape, transpose), into the op on the integer codes. Patterns that do not match stay as they are.
#include "quantkit/graph/graph.h"

namespace quantkit::pt2e {

using graph::Graph;

struct LoweringStats {
  std::size_t linear = 0, conv2d = 0, add = 0, dynamic_linear = 0, passthrough = 0;
};

// Returns the lowered copy; `qdq` is not modified. `stats` (optional) counts rewrites.
Graph lower_to_fused_kernels(const Graph& qdq, LoweringStats* stats = nullptr);

}  // namespace quantkit::pt2e
