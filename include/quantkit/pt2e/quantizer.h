#pragma once
// The Quantizer interface (torchao.quantization.pt2e.quantizer.Quantizer): it looks at a
// captured fp32 graph and says, per node, how its inputs and output should be quantized.
#include "quantkit/graph/graph.h"
#include "quantkit/pt2e/quantization_spec.h"

namespace quantkit::pt2e {

class Quantizer {
 public:
  virtual ~Quantizer() = default;
  // Annotations for `graph` (nodes not in the map are left in float). Must not modify the
  // graph; may throw Error for graphs it cannot handle.
  virtual Annotations annotate(const Graph& graph) const = 0;
  // Checks the annotated graph (PyTorch's validate); default: nothing.
  virtual void validate(const Graph& graph, const Annotations& annotations) const;
};

}  // namespace quantkit::pt2e
