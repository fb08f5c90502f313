#pragma once
// convert_pt2e (torchao/quantization/pt2e/convert.py): replaces every observe /
// fake_quantize node by its quantize → dequantize pair with the observer's qparams
// (Q/DQ form), or, for dynamic specs, by choose_qparams → quantize → dequantize with
// run-time qparams. Weights are quantized at convert time and their quantize op folded:
// a per-channel linear keeps one dequantize_per_channel on an int8 constant and no
// quantize_per_channel. APoT weights become an int32 code constant + apot_dequantize.
//
// With use_reference_representation the Q/DQ patterns are then rewritten into the integer
// reference representation (reference_representation.h).
#include "quantkit/graph/graph.h"
#include "quantkit/pt2e/prepare.h"

namespace quantkit::pt2e {

struct ConvertOptions {
  bool use_reference_representation = false;
  // Keep weight quantize ops folded (PyTorch's fold_quantize=True).
  bool fold_quantize = true;
};

Graph convert_pt2e(const PreparedModel& prepared, const ConvertOptions& options = {});

}  // namespace quantkit::pt2e
