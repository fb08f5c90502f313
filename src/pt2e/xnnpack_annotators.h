#pragma once
// Internal: XNNPACKQuantizer's pattern annotators (torchao's _xnnpack_quantizer_utils.py),
// driven by a resolver that says which configuration applies to a node.
#include <functional>
#include <optional>

#include "quantkit/pt2e/xnnpack_quantizer.h"

namespace quantkit::pt2e::xnnpack_detail {

// The configuration scope a node falls in: `scope` identifies the setter entry (module name,
// object type, operator type or global) so that a fused pattern is annotated only when all
// its nodes fall in the same scope (PyTorch's filter_fn over the partition). `config` is
// null when no entry matched (no global config either); it points at std::nullopt when the
// matching entry says "leave in float".
struct ScopedConfig {
  int scope = -1;
  const std::optional<QuantizationConfig>* config = nullptr;
  bool explicitly_float() const { return config != nullptr && !config->has_value(); }
};

// Resolves a node's scope; `anchor` is the op the pattern quantizes (operator-type configs
// select patterns by their main op, so a conv2d -> relu pattern follows the conv2d entry).
using ScopeResolver = std::function<ScopedConfig(const graph::Node& node, graph::OpKind anchor)>;

// Runs every pattern in XNNPACK's order, then propagates shared annotations through
// relu / hardtanh / pooling / flatten / reshape / transpose (propagate_annotation).
Annotations annotate_xnnpack_patterns(const Graph& graph, const ScopeResolver& resolve);

}  // namespace quantkit::pt2e::xnnpack_detail
