#pragma once
// convert_pt2e (torchao/quantization/pt2e/convert.py): for QAT models, first folds the
// conv-bn patterns of prepare_qat_pt2e back into their convs (fold_conv_bn_qat,
// qat_conv_bn.h: torchao's _fold_conv_bn_qat), so the weight's fake quant quantizes the
// folded weight and the result has the PTQ form; then replaces every observe /
// fake_quantize node by its quantize → dequantize pair with the observer's qparams
// (Q/DQ form), or, for dynamic specs, by choose_qparams → quantize → dequantize with
// run-time qparams. Weights are quantized at convert time and their quantize op folded:
// a per-channel linear keeps one dequantize_per_channel on an int8 constant and no
// quantize_per_channel. APoT weights become an int32 code constant + apot_dequantize.
//
// A dequantize read by several annotated nodes is duplicated per user (DuplicateDQPass), so
// x + y has 3 quantize and 3 dequantize nodes; the original op nodes keep their names
// (linear, conv2d, ...), so numeric comparisons can pair fp32 and quantized nodes. Per-tensor
// qparams are attributes (scale, zero_point, quant_min, quant_max, dtype); per-channel
// scales are an f32[C] constant and zero points an i64[C] constant. Biases stay float
// unless annotated (e.g. with a DerivedQuantizationSpec: int32 constant -> dequantize).
// Derived qparams come from the places they derive from; fixed-qparams specs from their
// constants. Deviation: a weight observer that never ran (convert without calibration)
// observes the weight at convert time instead of giving PyTorch's scale 1 / zero point 0.
//
// With use_reference_representation the Q/DQ patterns are then rewritten into the integer
// reference representation (reference_representation.h). fold_quantize = false keeps the
// float weights and their quantize ops in the graph.
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
