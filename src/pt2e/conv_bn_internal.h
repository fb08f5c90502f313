#pragma once
// Internal: what the PTQ batch-norm fold (fold_batch_norm.cpp) and the QAT conv-bn pattern
// (qat_conv_bn.cpp) share: the float32 fold arithmetic, the folded bias's name and the
// rebuild of a node whose input list changes length.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/graph.h"

namespace quantkit::pt2e::conv_bn_detail {

struct FoldedConvBn {
  Tensor weight;  // conv_weight * bn_weight / sqrt(running_var + eps), per output channel
  Tensor bias;    // (conv_bias - running_mean) * bn_weight / sqrt(running_var + eps) + bn_bias
};

// PyTorch's fuse_conv_bn_weights in float32, torch's operation order. `conv_bias` may be
// null (a zero bias). `bn` is a batch_norm node whose inputs 1..4 hold data.
FoldedConvBn fold_conv_bn_tensors(const Tensor& conv_weight, const Tensor* conv_bias,
                                  const graph::Node& bn);

// "features.0.weight" -> "features.0.bias" when free; otherwise a fresh name beside it.
std::string folded_bias_name(const graph::Graph& g, const std::string& weight_name);

// Replaces `node` by a node of the same op, attributes, name and source reading `inputs`
// (nodes cannot change their number of inputs); users are rewired. Returns the new node.
graph::Node* rebuild_with_inputs(graph::Graph& g, graph::Node* node,
                                 std::vector<graph::Value*> inputs);

// Calls `fold_one(graph, bn)` on every batch_norm node (it returns whether it folded); when
// any did, removes the parameters, constants and nodes left unused. Returns the count; the
// graph verifies afterwards.
std::size_t fold_each_batch_norm(graph::Graph& graph,
                                 const std::function<bool(graph::Graph&, graph::Node*)>& fold_one);

}  // namespace quantkit::pt2e::conv_bn_detail
