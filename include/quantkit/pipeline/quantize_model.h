#pragma once
// One-call post-training quantization of an fp32 graph with a named configuration — what
// `quantkit quantize` and the main job run:
//
//   Graph fp32 = onnx::import_onnx("model.onnx");
//   auto batches = data::load_batches("train-images-idx3-ubyte.gz", fp32.inputs()[0]->type(), 1000);
//   Graph qdq = pipeline::quantize_model(fp32, "int8-per-channel", batches.batches);
//   onnx::export_onnx(qdq, "model.int8.onnx");
//
// Named configurations (XNNPACKQuantizer underneath):
//   int8               static int8 activations (histogram), int8 per-tensor symmetric weights
//   int8-per-channel   the same with per-channel weights (axis 0)
//   int8-dynamic       int8 per-channel weights, activations quantized at run time (linear)
//   apot-w4            APoT b=4, k=2 weights, static int8 activations
//   (uniform-w4/w3/w2: N-bit per-channel weights, static int8 activations)
// Transformer configs (torchao numerics, docs/transformers.md; linear layers only, and
// matmul(x, W) with a constant W, quantized as linear(x, W^T)):
//   int8-dynamic-per-token  int8 per-token (per-row) asymmetric dynamic activations,
//                           int8 per-channel symmetric weights
//   8da4w                   int8 per-token dynamic activations, int4 symmetric groupwise
//                           weights (QuantizeOptions::group_size, default 256 as torchao);
//                           a layer whose in_features is not a multiple of the group size
//                           gets int8-dynamic-per-token's weights (QuantizeReport says which)
// The dynamic configs (int8-dynamic and the two above) need no calibration data.
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/graph.h"
#include "quantkit/pt2e/xnnpack_quantizer.h"

namespace quantkit::pipeline {

// The names above, in that order.
std::span<const std::string_view> config_names();
// Error naming the argument and listing the valid names for an unknown one.
pt2e::QuantizationConfig config_by_name(std::string_view name);

// Called after each calibration batch with (done, total).
using Progress = std::function<void(std::size_t done, std::size_t total)>;

// ---- transformer configs (int8-dynamic-per-token, 8da4w) ----
struct QuantizeOptions {
  // 8da4w's weight group size: a positive multiple of 32 (the fused kernel's 4-bit chunk).
  std::int64_t group_size = 256;
};
struct QuantizeReport {
  // 8da4w: the linear nodes whose in_features is not a multiple of the group size, quantized
  // with int8 per-channel weights (int8-dynamic-per-token) instead, in graph order.
  std::vector<std::string> group_size_fallbacks;
};
// config_by_name with the options' group size (only 8da4w reads it).
pt2e::QuantizationConfig config_by_name(std::string_view name, const QuantizeOptions& options);
// Whether the named config quantizes activations at run time (needs no calibration).
bool is_dynamic_config(std::string_view name);

// prepare_pt2e → run every batch (calibration; batches must match the graph's single
// input) → convert_pt2e (Q/DQ form). `model` is not modified.
graph::Graph quantize_model(const graph::Graph& model, std::string_view config,
                            std::span<const Tensor> calibration, const Progress& progress = {});
// The same with options; `report` (optional) receives what could not be quantized as asked.
graph::Graph quantize_model(const graph::Graph& model, std::string_view config,
                            std::span<const Tensor> calibration, const QuantizeOptions& options,
                            QuantizeReport* report, const Progress& progress = {});

}  // namespace quantkit::pipeline
