#pragma once
// The integer reference representation (torchao's reference_representation_rewrite.py):
// rewrites the Q/DQ patterns convert_pt2e produces into integer arithmetic —
//   static linear / conv2d: int8 x, zero points subtracted in int16, int32 accumulation
//     (integer_linear / integer_conv2d), bias quantized to int32 with scale x_scale·w_scale
//     (truncating, as out_dtype(div, int32)), requantize by x_scale·w_scale/out_scale
//     (float32 product truncated to int32), + out zero point, clamp, cast to int8;
//   dynamic linear: choose_qparams, quantize, the same int32 accumulation, float output;
//   add / add_relu: both inputs rescaled to the output scale in int32 and summed;
//   max_pool2d: pooling the int8 values directly;
//   quantize / dequantize per tensor and per channel: their arithmetic spelled out.
// Patterns that do not match stay in Q/DQ form. The result verifies and, run by the
// interpreter, matches the Q/DQ graph within 2 output scales (static) / 1e-4 (dynamic),
// the criterion of PyTorch's test_representation.py.
#include "quantkit/graph/graph.h"

namespace quantkit::pt2e {

// Returns the rewritten copy; `qdq` is not modified.
Graph to_reference_representation(const Graph& qdq);

}  // namespace quantkit::pt2e
