#pragma once
// ONNX export (opsets 13–17, 17 by default): fp32 graphs, and Q/DQ graphs (convert_pt2e's
// output) as QuantizeLinear / DequantizeLinear with int8 weight initializers (per-channel
// axis), int32 biases and uint8 activations: the layout ONNX Runtime's own quantizer writes
// and fuses into QLinearConv / QGemm (docs/onnx.md). Written atomically (temporary file + rename).
// Ops without an ONNX form (e.g. the fused integer ops of a lowered graph) → Error naming the node.
#include <filesystem>
#include <string>

#include "quantkit/graph/graph.h"

namespace quantkit::onnx {

struct ExportOptions {
  std::string producer_name = "quantkit";
  std::int64_t opset = 17;
  // Activations quantized to int8 (XNNPACK's choice, what the int8 configs produce) are
  // written as uint8 with zero point + 128: the same real values, the same rounding
  // (clamp(round(x / s) + zp + 128, 0, 255) = clamp(round(x / s) + zp, -128, 127) + 128).
  // ONNX Runtime's x86 kernels (MLAS, u8 activations × s8 weights) and its quantizer use
  // uint8 activations; it ran resnet18 2.4x slower on int8 ones. false keeps int8 (runtimes
  // that prefer it, e.g. on ARM). Weights stay int8 either way; a graph input or output keeps
  // its dtype.
  bool uint8_activations = true;
};

void export_onnx(const graph::Graph& graph, const std::filesystem::path& path,
                 const ExportOptions& options = {});
// The serialized ModelProto.
std::string export_onnx_bytes(const graph::Graph& graph, const ExportOptions& options = {});

}  // namespace quantkit::onnx
