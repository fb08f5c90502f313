#pragma once
// Per-layer numeric comparison of an fp32 graph and its quantized (Q/DQ) form — the
// counterpart of torchao's numeric debugger: both graphs run on the same inputs, every
// float node output of the fp32 graph is paired with the node of the same name in the
// quantized graph (convert_pt2e keeps op node names), and their SQNR and cosine similarity
// are accumulated over all inputs.
#include <span>
#include <string>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/graph.h"

namespace quantkit::pipeline {

struct LayerComparison {
  std::string node;     // the node name, shared by both graphs
  std::string op;       // its op name
  std::string shape;    // its output shape
  double sqnr_db = 0;   // 10·log10(Σ ref² / Σ (ref − q)²) over all inputs; +inf when equal
  double cosine = 0;    // Σ ref·q / (‖ref‖·‖q‖) over all inputs
  double max_abs_error = 0;
};

// Layers in the fp32 graph's node order; graph outputs are included under their node
// names. Error if no layer pairs up or an input batch does not match.
std::vector<LayerComparison> compare_layers(const graph::Graph& fp32, const graph::Graph& quantized,
                                            std::span<const Tensor> inputs);

// SQNR of q against ref in dB (10·log10(Σ ref² / Σ (ref − q)²)); +inf when equal.
double sqnr_db(std::span<const float> ref, std::span<const float> q);

}  // namespace quantkit::pipeline
