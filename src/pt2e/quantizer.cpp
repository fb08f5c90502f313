// The Quantizer base: the default validate() accepts every annotation.
#include "quantkit/pt2e/quantizer.h"

namespace quantkit::pt2e {

void Quantizer::validate(const Graph& graph, const Annotations& annotations) const {
  (void)graph;
  (void)annotations;
}

}  // namespace quantkit::pt2e
