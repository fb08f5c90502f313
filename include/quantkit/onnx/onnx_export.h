#pragma once
// ONNX export (opset 17): fp32 graphs, and Q/DQ graphs (convert_pt2e's output) as
// QuantizeLinear / DequantizeLinear with int8 weight initializers (per-channel axis),
// ready for ONNX Runtime. Written atomically (temporary file + rename). Ops without an
// ONNX form (e.g. the fused integer ops of a lowered graph) → Error naming the node.
#include <filesystem>
#include <string>

#include "quantkit/graph/graph.h"

namespace quantkit::onnx {

struct ExportOptions {
  std::string producer_name = "quantkit";
  std::int64_t opset = 17;
};

void export_onnx(const graph::Graph& graph, const std::filesystem::path& path,
                 const ExportOptions& options = {});
// The serialized ModelProto.
std::string export_onnx_bytes(const graph::Graph& graph, const ExportOptions& options = {});

}  // namespace quantkit::onnx
