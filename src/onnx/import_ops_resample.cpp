// Converters for ONNX's resampling ops: ConvTranspose (2-D) → conv_transpose2d and Resize
// (opsets 11, 13, 18+ input layouts) → resize. Everything the graph ops cannot express
// exactly (1-D or 3-D ConvTranspose, cubic or tf_crop_and_resize Resize, antialiasing,
// resizing the batch or channel dims) is refused with an Error naming the attribute or input.
#include <cmath>
#include <string>

#include "import_context.h"

namespace quantkit::onnx::detail {
namespace {

using graph::OpKind;
using graph::Value;
using Ints = std::vector<std::int64_t>;

Ints spatial_ints(NodeContext& ctx, std::string_view name, Ints fallback) {
  Ints v = ctx.attr_ints(name, std::move(fallback));
  ctx.check(v.size() == 2, "attribute '" + std::string(name) + "' has " +
                               std::to_string(v.size()) + " entries, expected 2 (a 2-D window)");
  return v;
}

// ---- ConvTranspose ----

// Begin / end pads that make the output `target` long (ONNX's output_shape and SAME_*
// rules): total = full - target; SAME_UPPER puts the odd one at the end, the others at the
// beginning (the ONNX specification's text). A target beyond the full size (a negative
// total) extends the output at the end, as output_padding does: returned in `extra`.
void pads_for_target(const std::string& auto_pad, std::int64_t full, std::int64_t target,
                     std::int64_t& begin, std::int64_t& end, std::int64_t& extra) {
  const std::int64_t total = full - target;
  begin = end = extra = 0;
  if (total < 0) {
    extra = -total;
  } else if (auto_pad == "SAME_UPPER") {
    begin = total / 2;
    end = total - begin;
  } else {
    end = total / 2;
    begin = total - end;
  }
}

void convert_conv_transpose(NodeContext& ctx) {
  ctx.require_inputs(2, 3);
  ctx.require_outputs(1);
  Value* x = ctx.input(0);
  Value* w = ctx.input(1);
  ctx.check(x->shape().size() == 4 && w->shape().size() == 4,
            "only 2-D ConvTranspose is supported (x " + x->type().to_string() + ", weight " +
                w->type().to_string() + ")");
  const Ints kernel{w->shape()[2], w->shape()[3]};
  ctx.check(ctx.attr_ints("kernel_shape", kernel) == kernel,
            "kernel_shape does not match the weight's spatial dims");
  const Ints stride = spatial_ints(ctx, "strides", {1, 1});
  const Ints dilation = spatial_ints(ctx, "dilations", {1, 1});
  Ints output_padding = spatial_ints(ctx, "output_padding", {0, 0});
  for (std::size_t d = 0; d < 2; ++d) {
    ctx.check(stride[d] >= 1 && stride[d] <= (std::int64_t{1} << 20) && dilation[d] >= 1 &&
                  dilation[d] <= (std::int64_t{1} << 20),
              "strides and dilations must be in [1, 2^20]");
    ctx.check(output_padding[d] >= 0 && output_padding[d] <= (std::int64_t{1} << 20),
              "output_padding must be in [0, 2^20]");
  }
  const std::int64_t groups = ctx.attr_int("group", 1);
  const std::string auto_pad = ctx.attr_string("auto_pad", "NOTSET");
  ctx.check(auto_pad == "NOTSET" || auto_pad == "VALID" || auto_pad == "SAME_UPPER" ||
                auto_pad == "SAME_LOWER",
            "auto_pad '" + auto_pad + "' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER");
  Ints pads{0, 0, 0, 0};
  const bool has_output_shape = ctx.has_attr("output_shape");
  if (has_output_shape || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    ctx.check(!ctx.has_attr("pads"), "'pads' and output_shape / auto_pad SAME_* are exclusive");
    Ints target;
    if (has_output_shape) {
      target = ctx.attr_ints("output_shape", {});
      ctx.check(target.size() == 2 || target.size() == 4,
                "output_shape has " + std::to_string(target.size()) + " entries, expected 2");
      if (target.size() == 4) target.erase(target.begin(), target.begin() + 2);
    } else {
      target = {x->shape()[2] * stride[0], x->shape()[3] * stride[1]};
    }
    for (std::size_t d = 0; d < 2; ++d) {
      ctx.check(target[d] >= 1 && target[d] <= (std::int64_t{1} << 24),
                "output_shape entry " + std::to_string(target[d]) + " is not in [1, 2^24]");
      const std::int64_t full = stride[d] * (x->shape()[2 + d] - 1) + output_padding[d] +
                                dilation[d] * (kernel[d] - 1) + 1;
      std::int64_t extra = 0;
      pads_for_target(auto_pad, full, target[d], pads[d], pads[d + 2], extra);
      output_padding[d] += extra;
    }
  } else if (auto_pad == "NOTSET") {
    pads = ctx.attr_ints("pads", pads);
    ctx.check(pads.size() == 4, "attribute 'pads' has " + std::to_string(pads.size()) +
                                    " entries, expected 4");
  } else {
    ctx.check(!ctx.has_attr("pads"), "'pads' and auto_pad VALID are mutually exclusive");
  }
  std::vector<Value*> inputs{x, w};
  if (ctx.has_input(2)) inputs.push_back(ctx.input(2));
  ctx.set_output(0, ctx.emit(OpKind::ConvTranspose2d, inputs,
                             {{"stride", stride},
                              {"pads", pads},
                              {"output_padding", output_padding},
                              {"dilation", dilation},
                              {"groups", groups}}));
}

// ---- Resize ----

// The known tensor of optional input i, or nullopt when it is absent or empty (opset 11
// writes an empty scales tensor next to sizes).
std::optional<Tensor> optional_known(NodeContext& ctx, std::size_t i, std::string_view what) {
  if (!ctx.has_input(i)) return std::nullopt;
  Tensor t = ctx.require_known(i, what);
  if (t.numel() == 0) return std::nullopt;
  return t;
}

void refuse_unless(NodeContext& ctx, bool ok, std::string_view attr, const std::string& value,
                   std::string_view expected) {
  ctx.check(ok, "attribute '" + std::string(attr) + "' is " + value + ", expected " +
                    std::string(expected));
}

void convert_resize(NodeContext& ctx) {
  ctx.require_inputs(1, 4);
  ctx.require_outputs(1);
  ctx.accept_symbolic();  // sizes = Concat(Shape(x)[:2], [H, W]) with a dynamic batch
  Value* x = ctx.input(0);
  const Shape& s = x->shape();
  const auto rank = s.size();
  ctx.check(rank >= 2, "x " + x->type().to_string() + " has no two dims to resize");
  const std::string mode = ctx.attr_string("mode", "nearest");
  const std::string transform = ctx.attr_string("coordinate_transformation_mode", "half_pixel");
  const std::string nearest = ctx.attr_string("nearest_mode", "round_prefer_floor");
  refuse_unless(ctx, mode == "nearest" || mode == "linear", "mode", "'" + mode + "'",
                "nearest or linear (bilinear over the last two dims)");
  refuse_unless(ctx,
                transform == "half_pixel" || transform == "align_corners" ||
                    transform == "asymmetric" || transform == "pytorch_half_pixel",
                "coordinate_transformation_mode", "'" + transform + "'",
                "half_pixel, align_corners, asymmetric or pytorch_half_pixel");
  ctx.ignore_attr("cubic_coeff_a");        // cubic mode only
  ctx.ignore_attr("extrapolation_value");  // tf_crop_and_resize only
  refuse_unless(ctx, ctx.attr_int("exclude_outside", 0) == 0, "exclude_outside",
                std::to_string(ctx.attr_int("exclude_outside", 0)), "0");
  refuse_unless(ctx, ctx.attr_int("antialias", 0) == 0, "antialias",
                std::to_string(ctx.attr_int("antialias", 0)), "0");
  const std::string policy = ctx.attr_string("keep_aspect_ratio_policy", "stretch");
  refuse_unless(ctx, policy == "stretch", "keep_aspect_ratio_policy", "'" + policy + "'",
                "stretch");
  // axes (opset 18): which dims scales / sizes cover; the last two alone, or all of them.
  Ints axes;
  for (std::size_t d = 0; d < rank; ++d) axes.push_back(static_cast<std::int64_t>(d));
  if (ctx.has_attr("axes")) {
    axes = ctx.attr_ints("axes", {});
    for (std::int64_t& a : axes) a = normalize_axis(ctx, a, static_cast<std::int64_t>(rank), "axes");
  }
  const std::optional<Tensor> scales = optional_known(ctx, 2, "scales");
  const std::optional<Tensor> sizes = optional_known(ctx, 3, "sizes");
  ctx.check(scales.has_value() != sizes.has_value(),
            "exactly one of the inputs 'scales' and 'sizes' must be given (non-empty)");
  const Tensor& given = scales ? *scales : *sizes;
  ctx.check(given.shape() == Shape{static_cast<std::int64_t>(axes.size())},
            std::string(scales ? "scales" : "sizes") + " has shape " +
                shape_to_string(given.shape()) + ", expected one entry per axis (" +
                std::to_string(axes.size()) + ")");
  const std::vector<double> values = to_doubles(given);
  const std::vector<std::string>* symbols = ctx.symbols(3);
  std::vector<double> factor(rank, 1.0);
  Shape out = s;
  for (std::size_t i = 0; i < axes.size(); ++i) {
    const auto d = static_cast<std::size_t>(axes[i]);
    const bool dynamic_entry = symbols != nullptr && !(*symbols)[i].empty();
    if (scales) {
      const auto f = static_cast<float>(values[i]);
      ctx.check(std::isfinite(f) && f > 0, "scales entry " + std::to_string(values[i]) +
                                               " is not a finite value > 0");
      factor[d] = f;
      // ONNX Runtime: floor(float32(scale) · float32(size)).
      const float product = f * static_cast<float>(s[d]);
      ctx.check(product < static_cast<float>(std::int64_t{1} << 24),
                "scales entry " + std::to_string(values[i]) + " gives an implausibly large size");
      out[d] = static_cast<std::int64_t>(std::floor(product));
    } else {
      ctx.check(dynamic_entry || (values[i] >= 1 && values[i] <= (std::int64_t{1} << 24)),
                "sizes entry " + std::to_string(values[i]) + " is not in [1, 2^24]");
      if (!dynamic_entry) out[d] = static_cast<std::int64_t>(values[i]);
      factor[d] = static_cast<double>(static_cast<float>(out[d]) / static_cast<float>(s[d]));
    }
    const bool spatial = d + 2 >= rank;
    ctx.check(spatial || (out[d] == s[d] && factor[d] == 1.0),
              "resizing dim " + std::to_string(d) + " (" + std::to_string(s[d]) + " -> " +
                  std::to_string(out[d]) + ") is not supported: only the last two dims resize");
  }
  if (mode == "nearest") {
    refuse_unless(ctx,
                  nearest == "round_prefer_floor" || nearest == "round_prefer_ceil" ||
                      nearest == "floor" || nearest == "ceil",
                  "nearest_mode", "'" + nearest + "'",
                  "round_prefer_floor, round_prefer_ceil, floor or ceil");
  }
  if (out == s) {  // nothing resizes (every scale 1): the identity, exactly
    ctx.set_output(0, x);
    return;
  }
  ctx.set_output(0, ctx.emit(OpKind::Resize, {x},
                             {{"mode", mode},
                              {"coordinate_transformation_mode", transform},
                              {"nearest_mode", mode == "nearest" ? nearest : "round_prefer_floor"},
                              {"scales", std::vector<double>{factor[rank - 2], factor[rank - 1]}},
                              {"output_size", Ints{out[rank - 2], out[rank - 1]}}}));
}

}  // namespace

void register_resample_ops(ConverterTable& t) {
  t["ConvTranspose"] = convert_conv_transpose;
  t["Resize"] = convert_resize;
}

}  // namespace quantkit::onnx::detail
