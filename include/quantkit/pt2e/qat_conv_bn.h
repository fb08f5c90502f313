#pragma once
// The QAT conv-bn form: batch norm stays a real batch norm in QAT graphs, as in torchao
// (torchao/quantization/pt2e/qat_utils.py at commit dffbbab6aae6c315d3b266ce0c954f2a19660784:
// _fuse_conv_bn_qat / _qat_conv_bn_pattern at prepare, _fold_conv_bn_qat at convert; based
// on nniqat.ConvBn2d._forward_approximate).
//
// rewrite_conv_bn_for_qat (called by prepare_qat_pt2e before annotation) turns each
// conv2d whose only user is a batch_norm, with the conv weight / bias and the four
// batch-norm tensors parameters or constants, into (names after the conv node `<conv>`):
//
//   %<conv>_qat_var_plus_eps = add(running_var, <conv>_qat_eps)        f32[] constant eps
//   %<conv>_qat_running_std  = sqrt(%<conv>_qat_var_plus_eps)
//   %<conv>_qat_scale_factor = div(bn_weight, %<conv>_qat_running_std)
//   %<conv>_qat_weight_scale = reshape(%<conv>_qat_scale_factor, [C_out, 1, 1, 1])
//   %<conv>_qat_scaled_weight = mul(conv_weight, %<conv>_qat_weight_scale)
//   %<conv>                  = conv2d(x, %<conv>_qat_scaled_weight)      no bias
//   %<conv>_qat_output_scale = reshape(%<conv>_qat_scale_factor, [1, C_out, 1, 1])
//   %<conv>_qat_unscaled     = div(%<conv>, %<conv>_qat_output_scale)
//   %<conv>_qat_bias         = reshape(conv_bias, [1, C_out, 1, 1])
//   %<conv>_qat_biased       = add(%<conv>_qat_unscaled, %<conv>_qat_bias)
//   %<bn>                    = batch_norm(%<conv>_qat_biased, bn_weight, bn_bias,
//                                         running_mean, running_var; eps)   (kept)
//
// The eps is the batch norm's (torchao hard-codes 1e-5). A conv without bias gets a zero
// bias parameter (named like the bias the PTQ fold adds: "<path>.bias" beside
// "<path>.weight"), so the form is always the same; torchao then has no add. conv_weight,
// conv_bias, bn_weight and bn_bias stay parameters (a trainer can make them leaves) and
// running_mean / running_var stay graph data a trainer may update; the batch_norm node is
// eval-mode in the IR, so running the graph is the eval-mode QAT forward. The new nodes
// carry the conv's source (module path), so module-scoped quantizer configs treat them as
// part of the conv. The XNNPACK quantizer annotates the pattern as torchao does: the conv's
// input activation, its weight edge (the fake quant sits on %<conv>_qat_scaled_weight), and
// the output after batch_norm or after a fused relu / hardtanh; the helper nodes are never
// quantized themselves.
//
// Not rewritten (left as conv2d -> batch_norm, annotated as such): a conv whose output has
// another user or is a graph output, and convs / batch norms whose tensors are computed.
//
// fold_conv_bn_qat (called by convert_pt2e on QAT models before the ordinary convert) folds
// each such pattern back, as torchao's _fold_conv_bn_qat: the conv reads
//   weight = conv_weight * bn_weight / sqrt(running_var + eps)
//   bias   = (conv_bias - running_mean) * bn_weight / sqrt(running_var + eps) + bn_bias
// in float32 with exactly the arithmetic of fold_batch_norm (PTQ), and the batch_norm and
// every helper node disappear. One observe / fake_quantize node on the scaled weight (the
// annotated weight edge) is kept and now reads the folded weight, so its qparams apply to
// it. The conv keeps its name; the folded weight and bias replace the conv_weight /
// conv_bias parameters' data when nothing else reads them, else they are new constants.
#include <cstddef>

#include "quantkit/graph/graph.h"

namespace quantkit::pt2e {

// Both verify the graph first (an invalid graph is an Error) and leave it verified.

// Returns the number of conv2d -> batch_norm pairs rewritten.
std::size_t rewrite_conv_bn_for_qat(graph::Graph& graph);

// Returns the number of QAT conv-bn patterns folded.
std::size_t fold_conv_bn_qat(graph::Graph& graph);

}  // namespace quantkit::pt2e
