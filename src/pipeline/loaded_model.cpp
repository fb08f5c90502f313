#include "quantkit/pipeline/loaded_model.h"

#include <string>

#include "quantkit/core/error.h"
#include "quantkit/graph/op.h"
#include "quantkit/onnx/onnx_import.h"
#include "quantkit/pt2e/lowering.h"

namespace quantkit::pipeline {

graph::Graph import_for_running(const std::filesystem::path& path) {
  onnx::ImportOptions options;
  options.torch_quantize_numerics = true;
  return onnx::import_onnx(path, options);
}

bool is_quantized(const graph::Graph& graph) {
  for (const graph::Node* n : graph.nodes()) {
    const graph::OpCategory category = graph::op_schema(n->op()).traits.category;
    if (category == graph::OpCategory::Quantize || category == graph::OpCategory::Dequantize) {
      return true;
    }
  }
  return false;
}

LoadedModel::LoadedModel(const std::filesystem::path& path, int num_threads)
    : path_(path), graph_(import_for_running(path)) {
  plan(num_threads);
}

LoadedModel::LoadedModel(graph::Graph graph, int num_threads, std::filesystem::path label)
    : path_(std::move(label)), graph_(std::move(graph)) {
  plan(num_threads);
}

void LoadedModel::plan(int num_threads) {
  if (is_quantized(graph_)) lowered_ = pt2e::lower_to_fused_kernels(graph_);
  executable_ = lowered_ ? &*lowered_ : &graph_;
  runtime_ = std::make_unique<runtime::Runtime>(*executable_, runtime::RuntimeOptions{num_threads});
}

const graph::TensorType& LoadedModel::input_type() const {
  check_argument(graph_.inputs().size() == 1, "LoadedModel::input_type", "model",
                 path_.string() + " (" + std::to_string(graph_.inputs().size()) + " inputs)",
                 "a model with exactly one input");
  return graph_.inputs()[0]->type();
}

}  // namespace quantkit::pipeline
