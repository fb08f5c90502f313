#pragma once
// The graph verifier: checks every invariant the interpreter and the passes rely on, and
// throws quantkit::Error naming the first offending node or value:
//  * every node input is a live value of this graph, defined before the node (by a graph
//    input, parameter, constant or an earlier node) — this also rules out cycles;
//  * every node output is produced by that node alone (single producer), names are unique;
//  * input count, attribute presence and attribute kinds match the op's schema (unknown
//    attributes are errors too);
//  * output dtypes/shapes equal what the op's type inference gives for the input types;
//  * parameters and constants hold a tensor of their declared type;
//  * the graph has at least one output and every output is a defined value of this graph.
// Passes run it after each transformation (see docs/graph.md).
#include "quantkit/graph/graph.h"

namespace quantkit::graph {

void verify(const Graph& graph);

}  // namespace quantkit::graph
