// ONNX forms of the transformer data-movement ops: slice → Slice (starts, ends, axes and
// steps as int64 initializers, opset >= 10), gather → Gather (its 1-D indices as an int64
// initializer), expand → Expand (the shape as an int64 initializer).
#include <string>
#include <vector>

#include "export_context.h"

namespace quantkit::onnx::export_detail {
namespace {

std::string int64_initializer(ExportContext& ctx, const std::vector<std::int64_t>& values,
                              const std::string& hint) {
  return ctx.add_initializer(
      Tensor::from_vector(values, Shape{static_cast<std::int64_t>(values.size())}), hint);
}

std::string output_name(ExportContext& ctx, const graph::Node& node) {
  ctx.add_value_info(node.output());
  return node.output()->name();
}

}  // namespace

void export_slice(ExportContext& ctx, const graph::Node& node) {
  const std::string& name = node.name();
  ctx.add_node("Slice",
               {ctx.use(node.input(0)),
                int64_initializer(ctx, node.attr_ints("starts"), name + "_starts"),
                int64_initializer(ctx, node.attr_ints("ends"), name + "_ends"),
                int64_initializer(ctx, node.attr_ints("dims"), name + "_axes"),
                int64_initializer(ctx, node.attr_ints("steps"), name + "_steps")},
               {output_name(ctx, node)}, name);
}

void export_gather(ExportContext& ctx, const graph::Node& node) {
  auto* gather = ctx.add_node(
      "Gather",
      {ctx.use(node.input(0)),
       int64_initializer(ctx, node.attr_ints("indices"), node.name() + "_indices")},
      {output_name(ctx, node)}, node.name());
  set_attr(gather, "axis", node.attr_int("dim"));
}

void export_expand(ExportContext& ctx, const graph::Node& node) {
  ctx.add_node("Expand",
               {ctx.use(node.input(0)),
                int64_initializer(ctx, node.attr_ints("shape"), node.name() + "_shape")},
               {output_name(ctx, node)}, node.name());
}

}  // namespace quantkit::onnx::export_detail
