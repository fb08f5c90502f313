#pragma once
// Lowering for speed: replaces dequantize → {linear, conv2d, add} (+ relu / hardtanh /
// clamp) → quantize patterns of a Q/DQ graph (with int8 weights folded as constants) by the
// fused integer ops quantized_linear / quantized_conv2d / quantized_add /
// dynamic_quantized_linear / dynamic_quantized_linear_per_token. The static ones use the runtime's requantization
// (kernels/requantize.h: int32 bias rounded to nearest, float32 multiply, round half to
// even): within one step of the Q/DQ graph, without its bias; torchao's truncating reference
// representation (reference_representation.h) is not inherited. The dynamic linear keeps
// torchao's arithmetic. Also folds dequantize → op → quantize chains with identical qparams,
// for every value-preserving op (OpTraits: max_pool2d, flatten, reshape, transpose), into the
// op on the integer codes, and standalone clamps after a fused op into its output range. Patterns that do not match stay as they are.
#include "quantkit/graph/graph.h"

namespace quantkit::pt2e {

using graph::Graph;

struct LoweringStats {
  std::size_t linear = 0, conv2d = 0, add = 0, dynamic_linear = 0, passthrough = 0;
  // Standalone relu / hardtanh / clamp between a fused op's dequantize and a quantize with
  // the same qparams, folded into the fused op's output range.
  std::size_t clamp = 0;
  std::size_t mul = 0, concat = 0, avg_pool = 0;
  // dequantize → pointwise op (relu, sigmoid, hardswish, …; OpTraits::pointwise) → quantize
  // replaced by a 256-entry table (quantized_lut).
  std::size_t lut = 0;
  // quantized_mul / quantized_add of x and a table of x (SiLU, hardswish as x · hardsigmoid):
  // folded into one table.
  std::size_t lut_binary = 0;
  // Per-token dynamic linear (int8-dynamic-per-token, 8da4w):
  // dynamic_quantized_linear_per_token.
  std::size_t dynamic_linear_per_token = 0;
};

// Returns the lowered copy; `qdq` is not modified. `stats` (optional) counts rewrites.
Graph lower_to_fused_kernels(const Graph& qdq, LoweringStats* stats = nullptr);

}  // namespace quantkit::pt2e
