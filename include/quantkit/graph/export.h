#pragma once
// export_model: our torch.export. Traces a Module's forward on symbolic inputs of the
// example inputs' types and returns the verified Graph.
//
//   Net net;
//   net.reset_parameters(0);
//   Graph g = export_model(net, {Tensor::zeros({1, 3, 8, 8}, DType::Float32)});
//
// Only the example inputs' dtypes and shapes matter (shapes are static in the graph). Graph
// inputs are named "x" (one input) or "x0", "x1", ... unless names are given. Parameters
// are snapshots of the module's tensors at export time. Unused parameters are dropped.
#include <span>
#include <string>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/graph.h"
#include "quantkit/graph/module.h"

namespace quantkit::graph {

struct ExportOptions {
  std::vector<std::string> input_names;  // empty: "x" or "x0", "x1", ...
};

Graph export_model(Module& model, std::span<const TensorType> input_types,
                   const ExportOptions& options = {});
Graph export_model(Module& model, std::span<const Tensor> example_inputs,
                   const ExportOptions& options = {});
inline Graph export_model(Module& model, std::initializer_list<Tensor> example_inputs,
                          const ExportOptions& options = {}) {
  return export_model(model, std::span<const Tensor>(example_inputs.begin(), example_inputs.size()),
                      options);
}

}  // namespace quantkit::graph
