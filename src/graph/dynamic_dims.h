#pragma once
// Internal to the graph layer: how add_node propagates dynamic dims (graph.h).
#include <string>
#include <string_view>
#include <vector>

#include "quantkit/graph/graph.h"

namespace quantkit::graph::detail {

// The size a dynamic dim of representative size `size` takes in the probe: far from the
// usual static sizes (1, 2, 3, 4, 8, ...), so a static dim that happens to equal the
// representative size cannot be mistaken for a dynamic one.
inline std::int64_t probe_size(std::int64_t size) { return size * 2 + 5; }

// The dim names of each output of a node applying `schema` to `inputs`, whose inference
// gave `output_types`: empty vectors when no input is dynamic. Runs the inference again
// with every dynamic input dim at probe_size(); an output dim that changes is dynamic,
// named like the input dim it equals in both runs, else "?". Error when the op rejects the
// probe (it needs the dim static), naming the node, the input and the dim.
std::vector<std::vector<std::string>> infer_dynamic_dims(
    const OpSchema& schema, std::string_view node_name, const std::vector<Value*>& inputs,
    const AttributeMap& attrs, const std::vector<TensorType>& output_types);

}  // namespace quantkit::graph::detail
