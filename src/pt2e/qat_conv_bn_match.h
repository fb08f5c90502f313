#pragma once
// Internal: recognises the QAT conv-bn form (quantkit/pt2e/qat_conv_bn.h) from its
// batch_norm node, for the XNNPACK annotator (which annotates it as torchao's QAT conv-bn
// pattern) and for fold_conv_bn_qat (which folds it back at convert).
#include <optional>
#include <vector>

#include "quantkit/graph/graph.h"

namespace quantkit::pt2e::qat_detail {

struct QatConvBnMatch {
  graph::Node* conv = nullptr;
  graph::Node* bn = nullptr;
  graph::Value* conv_weight = nullptr;  // data: the unscaled weight
  graph::Value* conv_bias = nullptr;    // data: the bias added after the unscaling
  // The observe / fake_quantize node on the scaled weight (the conv's weight edge), if any.
  graph::Node* weight_observer = nullptr;
  graph::Node* scaled_weight = nullptr;  // mul(conv_weight, reshape(scale_factor))
  graph::Node* bias_reshape = nullptr;   // reshape(conv_bias, [1, C, 1, 1])
  // Every other node of the pattern (eps add, sqrt, scale factor, reshapes, mul, div, bias
  // add), in graph order.
  std::vector<graph::Node*> helpers;
};

// The pattern ending at `bn`, or nullopt. Every intermediate value must be read by the
// pattern only (the scale factor by its two reshapes), so removing the pattern is safe.
std::optional<QatConvBnMatch> match_qat_conv_bn(const graph::Graph& g, const graph::Node* bn);

}  // namespace quantkit::pt2e::qat_detail
