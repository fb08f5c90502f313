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
  // name; dims left unknown without a value here default to 1.
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> input_shapes;
};

graph::Graph import_onnx(const std::filesystem::path& model_path, const ImportOptions& options = {});
// `bytes` is a serialized ModelProto; `model_name` names it in errors.
graph::Graph import_onnx_bytes(std::string_view bytes, std::string_view model_name,
                               const ImportOptions& options = {});

}  // namespace quantkit::onnx
