#pragma once
// One-call post-training quantization of an fp32 graph with a named configuration — what
// `quantkit quantize` and the main job run:
//
//   Graph fp32 = onnx::import_onnx("model.onnx");
//   auto batches = data::load_batches("train-images-idx3-ubyte.gz", fp32.inputs()[0]->type(), 1000);
//   Graph qdq = pipeline::quantize_model(fp32, "int8-per-channel", batches.batches);
//   onnx::export_onnx(qdq, "model.int8.onnx");
//
// Named configurations (XNNPACKQuantizer underneath). Low-bit names count storage bits: wN
// weights have at most 2^N codes per weight, sign included; aN activations 2^N codes.
//   int8               static int8 activations (histogram), int8 per-tensor symmetric weights
//   int8-per-channel   the same with per-channel weights (axis 0)
//   int8-dynamic       int8 per-channel weights, activations quantized at run time (linear)
//   apot-w4            the APoT paper's signed 4-bit weights (1 sign bit + 3-bit additive
//                      powers-of-two magnitudes: 15 levels, apot/paper_levels.h), alpha =
//                      max |w| per tensor; static int8 activations
//   apot-w3, apot-w2   the same with 3 bits (7 levels) and 2 bits (ternary)
//   apot-b4k2-signed   PyTorch's experimental signed APoT b=4, k=2 (49 codes, 39 distinct
//                      levels: about 5.3 bits), static int8 activations
//   uniform-w4/w3/w2   per-channel symmetric weights in [-2^(N-1), 2^(N-1) - 1], int8 acts
//   apot-w4a4          apot-w4 weights, static activations in int8 storage with the 4-bit
//                      range [-8, 7] (per-tensor affine, histogram observer)
//   uniform-w4a4       uniform-w4 weights, the same 4-bit activations
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
// Error naming the argument and listing the valid names for an unknown one. is_qat: the same
// config for quantization-aware training (prepare_qat_pt2e): activations through fused
// moving-average fake quants, uniform weights through moving-average fake quants, APoT weights
// fake-quantized with their level set (get_symmetric_quantization_config(..., is_qat = true)).
pt2e::QuantizationConfig config_by_name(std::string_view name, bool is_qat = false);

// How many codes a config's weights use, and how many distinct values they stand for (the
// main job prints log2 of the latter: the bits a weight really spends). Error for an unknown
// name.
struct WeightLevels {
  std::int64_t codes = 0;
  std::int64_t distinct = 0;
};
WeightLevels weight_levels(std::string_view name);

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
