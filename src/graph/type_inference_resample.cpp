// Type inference of the resampling ops: conv_transpose2d (ONNX ConvTranspose) and resize
// (ONNX Resize over the last two dims). Kept apart from type_inference.cpp: one file per
// op family the ONNX importer grew.
#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <string>

#include "type_inference.h"

namespace quantkit::graph::infer {
namespace {

// Bound on strides, dilations, pads and sizes: keeps every size computation far from
// int64 overflow whatever a (possibly hostile) model says.
constexpr std::int64_t kMaxSpatialAttr = std::int64_t{1} << 20;

// The ints attribute `name` with `count` entries, each in [min_value, kMaxSpatialAttr].
const std::vector<std::int64_t>& bounded_ints(const InferContext& ctx, std::string_view name,
                                              std::size_t count, std::int64_t min_value) {
  const auto& v = ctx.attr_ints(name);
  ctx.check(v.size() == count, "attribute '" + std::string(name) + "' must have " +
                                   std::to_string(count) + " entries, got " +
                                   std::to_string(v.size()));
  for (std::int64_t e : v) {
    ctx.check(e >= min_value && e <= kMaxSpatialAttr,
              "attribute '" + std::string(name) + "' entries must be in [" +
                  std::to_string(min_value) + ", 2^20], got " + std::to_string(e));
  }
  return v;
}

void expect_float32_rank4(const InferContext& ctx, std::size_t i) {
  const TensorType& t = ctx.input(i);
  ctx.check(t.dtype == DType::Float32 && t.shape.size() == 4,
            "input " + std::to_string(i) + " has type " + t.to_string() +
                ", expected a 4-D float32 tensor");
}

// The string attribute `name`, which must be one of `allowed`.
const std::string& one_of(const InferContext& ctx, std::string_view name,
                          std::initializer_list<std::string_view> allowed) {
  const std::string& v = ctx.attr_string(name);
  std::string list;
  for (std::string_view a : allowed) {
    if (v == a) return v;
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  ctx.fail("attribute '" + std::string(name) + "' is '" + v + "', expected one of " + list);
}

}  // namespace

Types conv_transpose2d(const InferContext& ctx) {
  expect_float32_rank4(ctx, 0);
  expect_float32_rank4(ctx, 1);
  const Shape& x = ctx.input(0).shape;
  const Shape& w = ctx.input(1).shape;
  const auto& stride = bounded_ints(ctx, "stride", 2, 1);
  const auto& pads = bounded_ints(ctx, "pads", 4, 0);
  const auto& output_padding = bounded_ints(ctx, "output_padding", 2, 0);
  const auto& dilation = bounded_ints(ctx, "dilation", 2, 1);
  const std::int64_t groups = ctx.attr_int("groups");
  ctx.check(groups >= 1 && x[1] % groups == 0,
            "attribute 'groups' is " + std::to_string(groups) + ", expected >= 1 dividing the " +
                std::to_string(x[1]) + " input channels");
  ctx.check(w[0] == x[1], "weight " + ctx.input(1).to_string() + " expects " +
                              std::to_string(w[0]) + " input channels, x " +
                              ctx.input(0).to_string() + " has " + std::to_string(x[1]));
  const std::int64_t out_channels = w[1] * groups;
  if (ctx.num_inputs() == 3) {
    const TensorType& b = ctx.input(2);
    ctx.check(b.dtype == DType::Float32 && b.shape == Shape{out_channels},
              "input 2 (bias) has type " + b.to_string() + ", expected f32[" +
                  std::to_string(out_channels) + "]");
  }
  Shape out{x[0], out_channels, 0, 0};
  for (std::size_t d = 0; d < 2; ++d) {
    // torch's rule (ONNX leaves it implicit): an output padding reaches at most one step
    // past the last position a stride or a dilation can produce.
    ctx.check(output_padding[d] < std::max(stride[d], dilation[d]),
              "attribute 'output_padding' entry " + std::to_string(output_padding[d]) +
                  " must be smaller than the stride or the dilation");
    const std::int64_t full = stride[d] * (x[2 + d] - 1) + output_padding[d] +
                              dilation[d] * (w[2 + d] - 1) + 1;
    out[2 + d] = full - pads[d] - pads[d + 2];
    ctx.check(w[2 + d] >= 1 && out[2 + d] >= 1,
              "pads " + std::to_string(pads[d]) + " + " + std::to_string(pads[d + 2]) +
                  " leave no output in spatial dim " + std::to_string(d) + " (full size " +
                  std::to_string(full) + ")");
  }
  return {TensorType{DType::Float32, out}};
}

Types resize(const InferContext& ctx) {
  const TensorType& x = ctx.input(0);
  ctx.check(x.shape.size() >= 2 && x.shape.size() <= 8,
            "input 0 has type " + x.to_string() + ", expected rank 2 to 8");
  // Every output pixel reads some input pixel: an empty image has none to read.
  ctx.check(x.shape[x.shape.size() - 2] >= 1 && x.shape.back() >= 1,
            "input 0 has type " + x.to_string() + ", expected non-empty last two dims");
  const std::string& mode = one_of(ctx, "mode", {"nearest", "linear"});
  one_of(ctx, "coordinate_transformation_mode",
         {"half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel"});
  one_of(ctx, "nearest_mode", {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"});
  ctx.check(mode == "nearest" || is_floating(x.dtype),
            "mode 'linear' needs a floating input, got " + x.to_string());
  const auto& scales = ctx.attr_floats("scales");
  ctx.check(scales.size() == 2,
            "attribute 'scales' must have 2 entries, got " + std::to_string(scales.size()));
  for (double s : scales) {
    ctx.check(std::isfinite(s) && s > 0 && s <= 3.4028234663852886e38,
              "attribute 'scales' entries must be finite float32 values > 0, got " +
                  std::to_string(s));
  }
  const auto& size = bounded_ints(ctx, "output_size", 2, 1);
  Shape out = x.shape;
  out[out.size() - 2] = size[0];
  out[out.size() - 1] = size[1];
  return {TensorType{x.dtype, out}};
}

}  // namespace quantkit::graph::infer
