#pragma once
// XNNPACKQuantizer (torchao/testing/pt2e/_xnnpack_quantizer.py): symmetric int8 for
// XNNPACK-style backends, static or dynamic, per-tensor or per-channel weights, PTQ or QAT,
// plus an APoT-weight configuration (APoT (b, k) weights, uniform int8 activations).
//
// Configuration precedence, as in PyTorch: module name (set_module_name) over object type
// (set_object_type: the traced module's type, "Linear", "Conv2d") over operator type
// (set_operator_type: the graph op) over the global config. std::nullopt means "leave in
// float" for that scope. A fused pattern (conv2d -> relu, ...) is annotated only when all
// its nodes fall in the same scope (PyTorch's filter over the partition); operator-type
// scopes select patterns by their main op.
//
// Annotated patterns, in XNNPACK's order (each node is annotated once; fused patterns
// first): linear (+ relu), conv2d (+ batch_norm) (+ relu), adaptive_avg_pool2d, add (+ relu),
// mul (+ relu), max_pool2d, cat (shared); then relu / hardtanh / max_pool2d /
// adaptive_avg_pool2d / flatten / reshape / transpose that follow a node with an output
// spec share that node's observer (propagate_annotation). Dynamic configs annotate linear
// only (as XNNPACK's dynamic quantization does).
//
// Differences from torchao's XNNPACKQuantizer:
//  * torchao stores set_operator_type but never uses it; here it is a scope level.
//  * set_object_type matches the node's innermost module type only (SourceInfo keeps one
//    type; PyTorch's nn_module_stack has every ancestor's).
//  * Nested set_module_name entries: the most specific path wins (PyTorch: the first set).
//  * set_module_name(name, std::nullopt) is allowed (PyTorch asserts); propagation skips
//    nodes whose scope explicitly says float (PyTorch propagates regardless of scope).
//  * max_pool2d is also a pattern of its own (torch 2.1's XNNPACKQuantizer), so a pool
//    right after a graph input is quantized too; the conv_bn patterns apply in PTQ as well
//    (prepare folds batch norm first, so they only matter when annotate() is called alone).
//  * Dynamic annotation is chosen per matched config, not from the global config alone.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "quantkit/graph/op.h"
#include "quantkit/pt2e/quantizer.h"

namespace quantkit::pt2e {

struct QuantizationConfig {
  std::optional<QuantizationSpec> input_activation;
  std::optional<QuantizationSpec> output_activation;
  std::optional<QuantizationSpec> weight;
  // Usually empty (XNNPACK leaves bias in float; convert keeps it float in Q/DQ form).
  std::optional<QuantizationSpec> bias;
  bool is_qat = false;
  // conv2d / linear -> hardtanh (ReLU6, ONNX Clip) is annotated as one pattern, like
  // conv2d -> relu: the output observer sees the clamped values ([0, 6] for ReLU6), which is
  // the range the fused integer op produces (lowering folds the clamp into its output range).
  // torchao's XNNPACKQuantizer (false) observes the conv output before the clamp and lets
  // hardtanh share it, so the observer spends the int8 codes on negative and > 6 values that
  // the clamp throws away: on the depthwise-separable Fashion-MNIST CNN that is 2.5-3.5x
  // coarser steps, 4 dB less output SQNR and twice torch FX's top-1 loss on 60,000 images
  // (models/fashion_mnist_dwsep/README.md). PyTorch's X86InductorQuantizer fuses the same way.
  bool fuse_hardtanh = true;
  // The weight spec of a layer the `weight` spec cannot quantize: a groupwise weight spec
  // (group_size > 0) on a linear whose in_features is not a multiple of the group size.
  // Unset: such a layer stays float.
  std::optional<QuantizationSpec> fallback_weight;
};

// Whether a groupwise weight spec applies to a linear's 2-d weight [out, in]: in % group_size
// == 0 (always true for a spec without groups). The annotator and the callers that report
// fallbacks (pipeline::quantize_model) ask the same question here.
bool groupwise_weight_applies(const QuantizationSpec& spec, const graph::Value& weight);

// ---- transformer configs (torchao numerics; docs/transformers.md) ----
// Per-token dynamic int8 activations (asymmetric, [-128, 127], eps = float32 eps, torchao's
// per_token_dynamic_quant) for linear layers, output float:
//  * weight_group_size == 0: per-channel symmetric int8 weights (XNNPACK's spec,
//    [-127, 127], eps 2^-12) — the `int8-dynamic-per-token` config;
//  * weight_group_size = G > 0: 4-bit symmetric groupwise weights ([-8, 7], groups of G
//    input features, eps = the smallest normal float32), torchao's Int8DynActInt4Weight
//    (8da4w); layers whose in_features is not a multiple of G get the per-channel int8
//    weights (fallback_weight). G must be a multiple of 32 (the fused kernel's 4-bit chunk).
QuantizationConfig get_per_token_dynamic_config(std::int64_t weight_group_size = 0);

// XNNPACK's defaults: static activations Histogram observer, int8 [act_qmin, act_qmax],
// per-tensor affine, eps 2^-12; dynamic activations PlaceholderObserver (per-tensor
// affine, is_dynamic); weights int8 [weight_qmin, weight_qmax] symmetric, per-channel
// MinMax on axis 0 when is_per_channel, per-tensor MinMax otherwise; QAT: fake quants
// (moving-average observers for activations, as PyTorch's QAT config).
QuantizationConfig get_symmetric_quantization_config(bool is_per_channel = false,
                                                     bool is_qat = false, bool is_dynamic = false,
                                                     std::int64_t act_qmin = -128,
                                                     std::int64_t act_qmax = 127,
                                                     std::int64_t weight_qmin = -127,
                                                     std::int64_t weight_qmax = 127);

// APoT (b, k) weights (PyTorch's signed level set, alpha = max |w| per tensor) with the static
// int8 activation spec of get_symmetric_quantization_config: PyTorch's APoT qconfigs'
// counterpart. is_qat: APoT fake-quantized weights and the QAT activation specs.
QuantizationConfig get_apot_weight_config(int b = 4, int k = 2, bool is_qat = false);

// The paper's signed `bits`-bit APoT weights (apot/paper_levels.h: 2^bits - 1 levels, 2 <= bits
// <= 7, alpha = max |w| per tensor) with static int8 activations in [act_qmin, act_qmax]
// (per-tensor affine; [-8, 7] for 4-bit activations); is_qat as above.
QuantizationConfig get_apot_paper_weight_config(int bits, bool is_qat = false,
                                                std::int64_t act_qmin = -128,
                                                std::int64_t act_qmax = 127);

class XNNPACKQuantizer : public Quantizer {
 public:
  XNNPACKQuantizer& set_global(std::optional<QuantizationConfig> config);
  XNNPACKQuantizer& set_object_type(std::string module_type,
                                    std::optional<QuantizationConfig> config);
  XNNPACKQuantizer& set_operator_type(graph::OpKind op, std::optional<QuantizationConfig> config);
  // Applies to nodes traced from this module or its submodules (path prefix at a '.').
  XNNPACKQuantizer& set_module_name(std::string module_name,
                                    std::optional<QuantizationConfig> config);

  Annotations annotate(const Graph& graph) const override;

 private:
  std::optional<QuantizationConfig> global_;
  std::vector<std::pair<std::string, std::optional<QuantizationConfig>>> object_types_;
  std::vector<std::pair<graph::OpKind, std::optional<QuantizationConfig>>> operator_types_;
  std::vector<std::pair<std::string, std::optional<QuantizationConfig>>> module_names_;
};

}  // namespace quantkit::pt2e
