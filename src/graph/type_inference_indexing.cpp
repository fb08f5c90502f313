// Type inference of the data-movement ops transformer encoders need (slice, gather,
// expand): kept apart from type_inference.cpp so the transformer op block stays in one place.
#include <algorithm>
#include <limits>
#include <string>

#include "type_inference.h"

namespace quantkit::graph::infer {

SliceRange slice_range(std::int64_t size, std::int64_t start, std::int64_t end,
                       std::int64_t step) {
  SliceRange r;
  r.step = step;
  if (size == 0) return r;
  // A negative index counts from the end; one still before the start stays before it (-1),
  // which the clamp then moves to the first valid bound. Comparing before adding keeps
  // INT64_MIN from overflowing.
  auto from_end = [&](std::int64_t v) { return v >= 0 ? v : (v < -size ? -1 : v + size); };
  if (step > 0) {
    const std::int64_t b = std::clamp<std::int64_t>(from_end(start), 0, size);
    const std::int64_t e = std::clamp<std::int64_t>(from_end(end), 0, size);
    r.first = b;
    r.count = e > b ? (e - b - 1) / step + 1 : 0;
  } else {
    const std::int64_t b = std::clamp<std::int64_t>(from_end(start), 0, size - 1);
    const std::int64_t e = std::clamp<std::int64_t>(from_end(end), -1, size - 1);
    r.first = b;
    r.count = b > e ? (b - e - 1) / -step + 1 : 0;
  }
  return r;
}

Types slice(const InferContext& ctx) {
  const TensorType& x = ctx.input(0);
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  const auto& dims = ctx.attr_ints("dims");
  const auto& starts = ctx.attr_ints("starts");
  const auto& ends = ctx.attr_ints("ends");
  const auto& steps = ctx.attr_ints("steps");
  ctx.check(starts.size() == dims.size() && ends.size() == dims.size() &&
                steps.size() == dims.size(),
            "attributes 'dims', 'starts', 'ends' and 'steps' have " +
                std::to_string(dims.size()) + ", " + std::to_string(starts.size()) + ", " +
                std::to_string(ends.size()) + " and " + std::to_string(steps.size()) +
                " entries, expected the same number");
  Shape out = x.shape;
  std::vector<bool> seen(x.shape.size(), false);
  for (std::size_t i = 0; i < dims.size(); ++i) {
    const auto d = static_cast<std::size_t>(normalize_dim(ctx, dims[i], rank, "dims"));
    ctx.check(!seen[d], "attribute 'dims' names dim " + std::to_string(d) + " twice");
    seen[d] = true;
    ctx.check(steps[i] != 0 && steps[i] != std::numeric_limits<std::int64_t>::min(),
              "attribute 'steps' has " + std::to_string(steps[i]) +
                  ", expected a nonzero step above INT64_MIN");
    out[d] = slice_range(x.shape[d], starts[i], ends[i], steps[i]).count;
  }
  return {TensorType{x.dtype, out}};
}

Types gather(const InferContext& ctx) {
  const TensorType& x = ctx.input(0);
  const auto rank = static_cast<std::int64_t>(x.shape.size());
  ctx.check(rank >= 1, "input 0 has type " + x.to_string() + ", expected rank >= 1");
  const auto d = static_cast<std::size_t>(normalize_dim(ctx, ctx.attr_int("dim"), rank, "dim"));
  const auto& indices = ctx.attr_ints("indices");
  const std::int64_t size = x.shape[d];
  for (std::int64_t idx : indices) {
    ctx.check(idx >= -size && idx < size,
              "attribute 'indices' has " + std::to_string(idx) + ", expected an index in [" +
                  std::to_string(-size) + ", " + std::to_string(size) + ") for dim " +
                  std::to_string(d) + " of " + x.to_string());
  }
  Shape out = x.shape;
  out[d] = static_cast<std::int64_t>(indices.size());
  return {TensorType{x.dtype, out}};
}

Types expand(const InferContext& ctx) {
  const TensorType& x = ctx.input(0);
  const auto& target = ctx.attr_ints("shape");
  for (std::int64_t d : target) {
    ctx.check(d >= 0, "attribute 'shape' has " + std::to_string(d) + ", expected sizes >= 0");
  }
  return {TensorType{x.dtype, broadcast_shapes(ctx, x.shape, Shape(target.begin(), target.end()))}};
}

}  // namespace quantkit::graph::infer
