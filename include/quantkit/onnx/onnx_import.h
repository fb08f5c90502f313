#pragma once
// ONNX import (opsets 11–17) of fp32 models into the graph IR, through Debian's libonnx
// protobuf definitions. Initializers become parameters (named as in the model), Constant
// nodes and shape-only subgraphs are folded. Unsupported ops / attributes → Error naming
// the op, the node and the model; malformed or hostile files → Error, never a crash.
// Also imports the ONNX quantization ops (QuantizeLinear, DequantizeLinear, QLinearConv,
// QLinearMatMul, ConvInteger, MatMulInteger, DynamicQuantizeLinear) as graph ops.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "quantkit/graph/graph.h"

namespace quantkit::onnx {

struct ImportOptions {
  // Fixed sizes for symbolic / unknown dims of the inputs (e.g. the batch dim), by input
  // name. Dims left unknown here stay dynamic in the graph (graph.h: named by their
  // dim_param, "?" when unnamed, representative size 1) — unless some op needs them static
  // (a reshape to a fixed batch, a shape used as data): then every symbolic dim is 1.
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> input_shapes;
  // ONNX's QuantizeLinear is saturate(round(x / scale) + zero_point); the graph's quantize
  // ops are PyTorch's, x * (1 / scale), which can land on the other side of a rounding tie.
  // By default QuantizeLinear becomes quantize_per_tensor / quantize_per_channel only where
  // the two agree for every x (constant power-of-two scales) and is otherwise spelled out
  // as div, round, add, clamp, cast. Set this to map every QuantizeLinear with constant
  // qparams onto the quantize ops (PyTorch's numerics; what PT2E passes expect to see).
  bool torch_quantize_numerics = false;
};

graph::Graph import_onnx(const std::filesystem::path& model_path, const ImportOptions& options = {});
// `bytes` is a serialized ModelProto; `model_name` names it in errors.
graph::Graph import_onnx_bytes(std::string_view bytes, std::string_view model_name,
                               const ImportOptions& options = {});

}  // namespace quantkit::onnx
