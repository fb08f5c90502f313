#pragma once
// How a value should be quantized: the PT2E QuantizationSpec family
// (torchao/quantization/pt2e/quantizer/quantizer.py), and the per-node annotations a
// Quantizer writes and prepare_pt2e reads.
//
//  * QuantizationSpec: dtype, range, scheme, axis, dynamic or static, and which observer
//    (or, for QAT, fake quant around it) collects the statistics. An `apot` field makes it
//    an APoT (b, k) weight spec instead of a uniform one.
//  * SharedQuantizationSpec: use the same observer (hence the same qparams) as another
//    edge or node output — max_pool2d, flatten and cat share their input's qparams.
//  * DerivedQuantizationSpec: qparams computed from others' (bias scale = x_scale * w_scale).
//  * FixedQParamsQuantizationSpec: constant scale / zero point (sigmoid-like outputs).
//
// Annotations are kept beside the graph (PyTorch stores them in node.meta): a map from
// node to QuantizationAnnotation. Input specs are keyed by the input Value (PyTorch keys
// by the producing fx.Node; a Value is exactly that node's output here).
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "quantkit/apot/scheme.h"
#include "quantkit/graph/graph.h"
#include "quantkit/quant/observer.h"
#include "quantkit/quant/qparams.h"

namespace quantkit::pt2e {

using graph::Graph;
using graph::Node;
using graph::Value;

// APoT weights (apot/): b bits, k bits per term, signed or not — PyTorch's level set — or the
// paper's signed b-bit set (level_set = PaperSigned, k = 1, apot/paper_levels.h). alpha (the
// clipping level) comes from the APoT observer's max |w| over the whole tensor (per tensor).
struct ApotSpec {
  int b = 4;
  int k = 2;
  bool is_signed = true;
  apot::ApotLevelSet level_set = apot::ApotLevelSet::PyTorch;
  friend bool operator==(const ApotSpec&, const ApotSpec&) = default;
};

struct QuantizationSpec {
  DType dtype = DType::Int8;
  std::int64_t quant_min = -128;
  std::int64_t quant_max = 127;
  QScheme qscheme = QScheme::PerTensorAffine;
  std::int64_t ch_axis = 0;
  bool is_dynamic = false;
  // The observer kind for quantkit::make_observer ("minmax", "histogram",
  // "per-channel-minmax", "moving-average-minmax", "moving-average-per-channel-minmax",
  // "placeholder", "fixed-qparams") and its options. dtype, qscheme, ch_axis and
  // quant_min/quant_max above override the options' fields when the observer is built.
  // A floating dtype (Float32) means "leave in float": prepare inserts no observer state and
  // convert drops the place (PyTorch's float bias spec).
  std::string observer = "minmax";
  ObserverOptions observer_options;
  // Wrap the observer in a FakeQuantize (QAT). Like PyTorch's observer_or_fake_quant_ctr,
  // the spec decides, not the prepare function: prepare_pt2e with a QAT config inserts fake
  // quants too.
  bool fake_quant = false;
  // Set: an APoT weight spec; the uniform fields above are ignored.
  std::optional<ApotSpec> apot;
  // Dynamic activations only: one (scale, zero point) per row of the value viewed as
  // [numel / K, K] (torchao's per-token asymmetric qparams, quant/per_token.h) instead of one
  // per tensor. convert_pt2e writes choose_qparams_per_token -> quantize_per_group ->
  // dequantize_per_group.
  bool per_token = false;
  // Weights only, > 0: symmetric qparams per group of `group_size` consecutive input features
  // of each output channel (torchao's get_group_qparams_symmetric; qscheme and ch_axis are
  // ignored). convert_pt2e writes the quantized constant -> dequantize_per_group. A weight
  // whose in_features is not a multiple of group_size cannot be grouped: the quantizer uses
  // the config's fallback weight spec for it (QuantizationConfig::fallback_weight).
  std::int64_t group_size = 0;

  // The observer this spec asks for (options merged as described above).
  std::unique_ptr<Observer> make_observer() const;
};

// A place a value flows: the output of a node, or the `value` input of `user` (an edge).
struct Edge {
  const Value* value = nullptr;
  const Node* user = nullptr;
  friend bool operator==(const Edge&, const Edge&) = default;
};
using EdgeOrNode = std::variant<Edge, const Node*>;

struct SharedQuantizationSpec {
  EdgeOrNode edge_or_node;
};

// qparams derived from the observers of `derived_from` (their calculate_qparams results, in
// order) by `derive_qparams`. The bias spec: derived from (x edge, weight edge), scale =
// x_scale * w_scale (per channel when the weight is), zero point 0, int32.
struct DerivedQuantizationSpec {
  std::vector<EdgeOrNode> derived_from;
  std::function<QParams(std::span<const QParams>)> derive_qparams;
  DType dtype = DType::Int32;
  std::int64_t quant_min = -2147483648LL;
  std::int64_t quant_max = 2147483647;
  QScheme qscheme = QScheme::PerTensorSymmetric;
  std::int64_t ch_axis = 0;
};

struct FixedQParamsQuantizationSpec {
  DType dtype = DType::UInt8;
  double scale = 1.0 / 256.0;
  std::int64_t zero_point = 0;
  std::int64_t quant_min = 0;
  std::int64_t quant_max = 255;
  QScheme qscheme = QScheme::PerTensorAffine;
  bool fake_quant = false;
};

using QuantizationSpecBase = std::variant<QuantizationSpec, SharedQuantizationSpec,
                                          DerivedQuantizationSpec, FixedQParamsQuantizationSpec>;

struct QuantizationAnnotation {
  // Keyed by the node's input Value; iteration order follows the node's inputs when
  // prepare walks them (std::map order is only for determinism of dumps).
  std::map<const Value*, QuantizationSpecBase> input_qspec_map;
  std::optional<QuantizationSpecBase> output_qspec;
  // PyTorch's allow_implicit_sharing: a consumer whose input spec equals the producer's
  // output spec reuses the producer's observer instead of adding a second one.
  bool allow_implicit_sharing = true;
  // Set by the quantizer on every node of a matched pattern, so later patterns skip them.
  bool annotated = false;
};

using Annotations = std::unordered_map<const Node*, QuantizationAnnotation>;

// "int8 per_tensor_affine [-128, 127] histogram", "shared with %conv2d", ... (dumps, errors).
std::string describe(const QuantizationSpecBase& spec);
std::string describe(const EdgeOrNode& edge_or_node);

// The usual bias derivation (PyTorch's tests write it as derive_qparams_fn): from the
// qparams of (input activation, weight), scale = float32(float32(x_scale) * float32(w_scale))
// per weight channel when the weight is per channel (axis 0), else per tensor; zero point 0.
QParams derive_bias_qparams(std::span<const QParams> input_and_weight);
// DerivedQuantizationSpec for a bias: int32, derived from the (x, node) and (weight, node)
// edges with derive_bias_qparams; per-channel (axis 0) when `per_channel_weight`.
DerivedQuantizationSpec derived_bias_spec(const Node* node, const Value* x, const Value* weight,
                                          bool per_channel_weight);

}  // namespace quantkit::pt2e
