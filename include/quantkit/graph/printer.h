#pragma once
// A readable text dump of a graph, in the spirit of torch.fx's Graph.__str__:
//
//   graph(%x: f32[1, 3, 8, 8]):
//     parameters:
//       %conv.weight: f32[8, 3, 3, 3]
//     constants:
//       %scale: f32[] = 0.5
//     %conv2d: f32[1, 8, 6, 6] = conv2d(%x, %conv.weight, dilation=[1, 1], groups=1, ...)  # conv
//     (Conv2d) %relu: f32[1, 8, 6, 6] = relu(%conv2d) return (%relu)
//
// Attributes are listed in name order; constants with at most 8 elements show their values;
// the trailing comment gives the module a traced node came from.
#include <iosfwd>
#include <string>

#include "quantkit/graph/graph.h"

namespace quantkit::graph {

std::string to_string(const Graph& graph);
std::ostream& operator<<(std::ostream& os, const Graph& graph);

// One node's line, without indentation or newline.
std::string to_string(const Node& node);

}  // namespace quantkit::graph
