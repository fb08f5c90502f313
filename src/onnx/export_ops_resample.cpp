// ONNX forms of the resampling ops: conv_transpose2d → ConvTranspose (explicit pads and
// output_padding), resize → Resize (opset 13+ layout: X, roi, scales or sizes).
#include <cmath>
#include <string>

#include "export_context.h"

namespace quantkit::onnx::export_detail {

using graph::Node;

void export_conv_transpose2d(ExportContext& ctx, const Node& node, const std::string& output) {
  std::vector<std::string> inputs{ctx.use(node.input(0)), ctx.use(node.input(1))};
  if (node.num_inputs() > 2) inputs.push_back(ctx.use(node.input(2)));
  auto* conv = ctx.add_node("ConvTranspose", std::move(inputs), {output}, node.name());
  const Shape& w = node.input(1)->shape();
  set_attr(conv, "kernel_shape", std::vector<std::int64_t>{w[2], w[3]});
  set_attr(conv, "strides", node.attr_ints("stride"));
  set_attr(conv, "pads", node.attr_ints("pads"));
  set_attr(conv, "output_padding", node.attr_ints("output_padding"));
  set_attr(conv, "dilations", node.attr_ints("dilation"));
  set_attr(conv, "group", node.attr_int("groups"));
}

// Resize takes either scales (the output size is then floor(scale · size) in float32) or
// sizes (the scale is then size_out / size_in in float32), never both: the node's scales
// and output_size must agree with one of the two, or the ONNX form would compute something
// else.
void export_resize(ExportContext& ctx, const Node& node, const std::string& output) {
  const graph::Value* x = node.input(0);
  const Shape& in = x->shape();
  const std::size_t rank = in.size();
  const auto& scales = node.attr_floats("scales");
  const auto& size = node.attr_ints("output_size");
  bool scales_agree = true, sizes_agree = true;
  for (std::size_t d = 0; d < 2; ++d) {
    const auto s = static_cast<float>(scales[d]);
    const auto length = static_cast<float>(in[rank - 2 + d]);
    scales_agree = scales_agree && static_cast<std::int64_t>(std::floor(s * length)) == size[d];
    sizes_agree = sizes_agree && static_cast<float>(size[d]) / length == s;
  }
  std::string scales_name, sizes_name;
  if (scales_agree) {
    std::vector<float> factors(rank, 1.0f);
    factors[rank - 2] = static_cast<float>(scales[0]);
    factors[rank - 1] = static_cast<float>(scales[1]);
    scales_name = ctx.add_initializer(
        Tensor::from_vector(factors, Shape{static_cast<std::int64_t>(rank)}), node.name() + "_scales");
  } else if (sizes_agree && !x->is_dynamic()) {
    std::vector<std::int64_t> sizes(in.begin(), in.end());
    sizes[rank - 2] = size[0];
    sizes[rank - 1] = size[1];
    sizes_name = ctx.add_initializer(
        Tensor::from_vector(sizes, Shape{static_cast<std::int64_t>(rank)}), node.name() + "_sizes");
  } else {
    ctx.fail(node, "its scales and output_size agree neither with ONNX Resize's scales "
                   "(floor(scale * size)) nor, on a static input, with its sizes (size_out / "
                   "size_in)");
  }
  auto* resize =
      ctx.add_node("Resize", {ctx.use(x), "", scales_name, sizes_name}, {output}, node.name());
  if (sizes_name.empty()) resize->mutable_input()->RemoveLast();
  set_attr(resize, "mode", node.attr_string("mode"));
  set_attr(resize, "coordinate_transformation_mode",
           node.attr_string("coordinate_transformation_mode"));
  set_attr(resize, "nearest_mode", node.attr_string("nearest_mode"));
}

}  // namespace quantkit::onnx::export_detail
