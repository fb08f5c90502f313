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

// prepare_pt2e → run every batch (calibration; batches must match the graph's single
// input) → convert_pt2e (Q/DQ form). `model` is not modified.
graph::Graph quantize_model(const graph::Graph& model, std::string_view config,
                            std::span<const Tensor> calibration, const Progress& progress = {});

}  // namespace quantkit::pipeline
