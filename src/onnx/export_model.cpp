// export_onnx: graph IR → ONNX ModelProto (opset 13–21), written atomically.
#include <climits>
#include <string>
#include <unordered_set>

#include "export_context.h"
#include "quantkit/core/error.h"
#include "quantkit/core/atomic_file.h"
#include "quantkit/graph/verifier.h"
#include "quantkit/onnx/onnx_export.h"

namespace quantkit::onnx {
namespace {

using export_detail::ExportContext;

// ONNX IR version that goes with each supported opset (onnx/helper.py's VERSION_TABLE).
std::int64_t ir_version_for(std::int64_t opset) {
  if (opset >= 21) return 10;
  if (opset >= 19) return 9;
  return opset >= 14 ? 8 : 7;
}

void add_graph_value_info(const graph::Value* value, const std::string& name,
                          ::onnx::ValueInfoProto* info) {
  info->set_name(name);
  auto* tensor_type = info->mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(export_detail::onnx_elem_type(value->dtype()));
  export_detail::set_onnx_shape(*value, tensor_type->mutable_shape());
}

::onnx::ModelProto build_model(const graph::Graph& graph, const ExportOptions& options) {
  check_argument(options.opset >= 13 && options.opset <= 21, "export_onnx", "options.opset",
                 options.opset, "an opset in [13, 21]");
  check_argument(!options.producer_name.empty(), "export_onnx", "options.producer_name",
                 options.producer_name, "a non-empty name");
  graph::verify(graph);

  ::onnx::ModelProto model;
  model.set_ir_version(ir_version_for(options.opset));
  model.set_producer_name(options.producer_name);
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(options.opset);
  ::onnx::GraphProto* proto = model.mutable_graph();
  proto->set_name("quantkit_graph");

  ExportContext ctx(graph, options, proto);
  for (const graph::Value* input : graph.inputs()) {
    add_graph_value_info(input, input->name(), proto->add_input());
  }
  for (const graph::Node* node : graph.nodes()) {
    export_detail::export_node(ctx, *node);
  }
  // ONNX graph outputs are distinct node outputs: an input, a weight or a value listed twice
  // is routed through an Identity.
  std::unordered_set<const graph::Value*> listed;
  for (const graph::Value* output : graph.outputs()) {
    std::string name = output->name();
    if (output->producer() == nullptr || !listed.insert(output).second) {
      const std::string source = ctx.use(output);
      name = ctx.fresh_name(output->name() + "_output");
      ctx.add_node("Identity", {source}, {name}, ctx.fresh_name(output->name() + "_identity"));
    }
    add_graph_value_info(output, name, proto->add_output());
  }
  // Graph outputs are typed in graph.output; drop their duplicate value_info entries.
  std::unordered_set<std::string> output_names;
  for (const auto& out : proto->output()) output_names.insert(out.name());
  auto* infos = proto->mutable_value_info();
  for (int i = infos->size() - 1; i >= 0; --i) {
    if (output_names.count(infos->Get(i).name()) != 0) infos->DeleteSubrange(i, 1);
  }
  return model;
}

}  // namespace

std::string export_onnx_bytes(const graph::Graph& graph, const ExportOptions& options) {
  const ::onnx::ModelProto model = build_model(graph, options);
  // Protobuf cannot serialize messages of 2 GiB or more (ONNX's external-data format would
  // be needed; not supported).
  const std::size_t size = model.ByteSizeLong();
  check_argument(size < static_cast<std::size_t>(INT_MAX), "export_onnx", "graph", size,
                 "a model below 2 GiB (protobuf's limit)");
  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw Error("export_onnx: protobuf serialization failed");
  return bytes;
}

void export_onnx(const graph::Graph& graph, const std::filesystem::path& path,
                 const ExportOptions& options) {
  check_argument(!path.empty(), "export_onnx", "path", path.string(), "a file path");
  write_file_atomically(path, export_onnx_bytes(graph, options));
}

}  // namespace quantkit::onnx
