// Converters for the indexing ops transformer exports use: Slice, Split, Gather, Expand, and
// the boolean shape arithmetic around Expand (Equal, Not, Where).
//
// Slice, Split (as one slice per output), Gather and Expand become the graph's slice / gather
// / expand ops, on run-time data as on constants (emit folds constants with the same
// kernels). Shape vectors with dynamic entries (Importer::symbolic) keep their entry names
// through Slice and Gather.
//
// The graph has no bool dtype. torch.onnx.export writes Equal / Not / Where only in the
// static shape arithmetic of `expand(n, -1, -1)` (ConstantOfShape → Equal → Where → Expand),
// so they are folded at import: a boolean is a uint8 constant of 0 / 1 remembered in
// Importer::booleans, and Where needs its condition to be one. On run-time data they are
// refused by name.
#include <cstring>
#include <string>

#include "import_context.h"

namespace quantkit::onnx::detail {
namespace {

using graph::OpKind;
using graph::Value;
using Ints = std::vector<std::int64_t>;

Ints iota(std::int64_t n) {
  Ints v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

// The dim names a folded shape vector keeps through an indexing op: the op applied to the
// positions 0..n-1 says which entry each output entry came from.
void keep_symbols_through(NodeContext& ctx, Value* result, OpKind op, graph::AttributeMap attrs) {
  const std::vector<std::string>* names = ctx.symbols(0);
  if (names == nullptr) return;
  ctx.check(result->shape().size() <= 1, "indexing a shape with dynamic dims needs a vector");
  Value* positions = ctx.emit(
      op, {ctx.constant(Tensor::from_vector(iota(static_cast<std::int64_t>(names->size()))))},
      std::move(attrs));
  std::vector<std::string> kept;
  for (std::int64_t p : positions->data().to_vector<std::int64_t>())
    kept.push_back((*names)[static_cast<std::size_t>(p)]);
  ctx.set_symbols(result, std::move(kept));
}

void convert_slice(NodeContext& ctx) {
  ctx.require_outputs(1);
  ctx.accept_symbolic();
  for (std::size_t i = 1; i < ctx.num_inputs(); ++i) {
    ctx.check(ctx.symbols(i) == nullptr,
              "starts, ends, axes and steps computed from a dynamic dim are not supported");
  }
  // Opset 10 made starts / ends / axes / steps inputs (the importer starts at 10).
  ctx.require_inputs(3, 5);
  const Ints starts = int_values(ctx, ctx.require_known(1, "starts"), "starts");
  const Ints ends = int_values(ctx, ctx.require_known(2, "ends"), "ends");
  Ints axes = ctx.has_input(3) ? int_values(ctx, ctx.require_known(3, "axes"), "axes")
                               : iota(static_cast<std::int64_t>(starts.size()));
  Ints steps;
  if (ctx.has_input(4)) steps = int_values(ctx, ctx.require_known(4, "steps"), "steps");
  if (steps.empty()) steps.assign(starts.size(), 1);
  ctx.check(ends.size() == starts.size() && axes.size() == starts.size() &&
                steps.size() == starts.size(),
            "starts, ends, axes and steps must have the same length");
  Value* x = shape_operand(ctx, 0);
  const auto rank = static_cast<std::int64_t>(x->shape().size());
  for (std::int64_t& a : axes) a = normalize_axis(ctx, a, rank, "axis");
  graph::AttributeMap attrs{{"dims", axes}, {"starts", starts}, {"ends", ends}, {"steps", steps}};
  Value* out = ctx.emit(OpKind::Slice, {x}, attrs);
  keep_symbols_through(ctx, out, OpKind::Slice, std::move(attrs));
  ctx.set_output(0, out);
}

// Split into slices along `axis`: sizes from the `split` attribute (< 13) or input (>= 13),
// else num_outputs (an attribute from opset 18) parts — equal, or ceil(size / n) each with a
// smaller last part (opset 18); before 18 the outputs must divide the dim evenly.
void convert_split(NodeContext& ctx) {
  ctx.require_inputs(1, ctx.opset() >= 13 ? 2 : 1);
  Value* x = shape_operand(ctx, 0);
  const auto rank = static_cast<std::int64_t>(x->shape().size());
  const std::int64_t axis = normalize_axis(ctx, ctx.attr_int("axis", 0), rank, "axis");
  const std::int64_t size = x->shape()[static_cast<std::size_t>(axis)];
  const auto outputs = static_cast<std::int64_t>(ctx.num_outputs());
  Ints sizes;
  if (ctx.opset() < 13 && ctx.has_attr("split")) {
    sizes = ctx.attr_ints("split", {});
  } else if (ctx.opset() >= 13 && ctx.has_input(1)) {
    sizes = int_values(ctx, ctx.require_known(1, "split"), "split");
  } else {
    std::int64_t parts = outputs;
    if (ctx.opset() >= 18) {
      ctx.check(ctx.has_attr("num_outputs"), "needs the 'split' input or 'num_outputs'");
      parts = ctx.attr_int("num_outputs", 0);
      ctx.check(parts == outputs, "num_outputs is " + std::to_string(parts) + " but the node has " +
                                      std::to_string(outputs) + " outputs");
    }
    ctx.check(parts >= 1, "needs at least one output");
    const std::int64_t chunk = ctx.opset() >= 18 ? (size + parts - 1) / parts : size / parts;
    ctx.check(ctx.opset() >= 18 || size % parts == 0,
              "dim " + std::to_string(axis) + " of size " + std::to_string(size) +
                  " does not split evenly into " + std::to_string(parts) + " outputs");
    for (std::int64_t i = 0; i < parts; ++i)
      sizes.push_back(std::max<std::int64_t>(0, std::min(chunk, size - i * chunk)));
  }
  ctx.check(static_cast<std::int64_t>(sizes.size()) == outputs,
            "split has " + std::to_string(sizes.size()) + " sizes for " +
                std::to_string(outputs) + " outputs");
  std::int64_t start = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    ctx.check(sizes[i] >= 0, "split has a negative size " + std::to_string(sizes[i]));
    const std::int64_t end = start + sizes[i];
    ctx.check(end <= size, "split sizes add up to more than the dim's " + std::to_string(size));
    if (!ctx.proto().output(static_cast<int>(i)).empty()) {
      ctx.set_output(i, ctx.emit(OpKind::Slice, {x},
                                 {{"dims", Ints{axis}},
                                  {"starts", Ints{start}},
                                  {"ends", Ints{end}},
                                  {"steps", Ints{1}}}));
    }
    start = end;
  }
  ctx.check(start == size, "split sizes add up to " + std::to_string(start) + ", not the dim's " +
                               std::to_string(size));
}

void convert_gather(NodeContext& ctx) {
  ctx.require_inputs(2, 2);
  ctx.require_outputs(1);
  ctx.accept_symbolic();
  ctx.check(ctx.symbols(1) == nullptr, "indices computed from a dynamic dim are not supported");
  const Tensor indices_t = ctx.require_known(1, "indices");
  const std::int64_t axis_attr = ctx.attr_int("axis", 0);
  if (std::optional<Tensor> data = ctx.known(0)) {
    if (convert_table_lookup(ctx, *data, indices_t, axis_attr)) return;
  }
  ctx.check(indices_t.shape().size() <= 1, "indices of rank > 1 are only supported as a table "
                                           "lookup (a constant 1-D float32 table on axis 0)");
  const Ints indices = int_values(ctx, indices_t, "indices");
  Value* x = shape_operand(ctx, 0);
  const auto rank = static_cast<std::int64_t>(x->shape().size());
  ctx.check(rank >= 1, "data must have rank >= 1");
  const std::int64_t axis = normalize_axis(ctx, axis_attr, rank, "axis");
  graph::AttributeMap attrs{{"dim", axis}, {"indices", indices}};
  Value* out = ctx.emit(OpKind::Gather, {x}, attrs);
  keep_symbols_through(ctx, out, OpKind::Gather, std::move(attrs));
  if (indices_t.shape().empty()) {
    // A scalar index removes the axis (x[:, 0]): a view without the gathered dim of 1.
    Shape s = out->shape();
    s.erase(s.begin() + axis);
    std::optional<std::size_t> dynamic_at;
    for (std::size_t d = 0, o = 0; d < out->shape().size(); ++d) {
      if (static_cast<std::int64_t>(d) == axis) continue;
      if (out->is_dynamic() && !out->dim_names()[d].empty()) dynamic_at = o;
      ++o;
    }
    const std::vector<std::string>* names = ctx.symbols(0);
    Value* squeezed = reshape_to(ctx, out, s, dynamic_at);
    if (names != nullptr) {
      const auto idx = indices[0] < 0 ? indices[0] + static_cast<std::int64_t>(names->size())
                                      : indices[0];
      ctx.set_symbols(squeezed, {(*names)[static_cast<std::size_t>(idx)]});
    }
    out = squeezed;
  }
  ctx.set_output(0, out);
}

void convert_expand(NodeContext& ctx) {
  ctx.require_inputs(2, 2);
  ctx.require_outputs(1);
  const Ints shape = int_values(ctx, ctx.require_known(1, "shape"), "shape");
  // A weight stays a parameter (ViT's class token), a folded value folds again.
  ctx.set_output(0, ctx.emit(OpKind::Expand, {ctx.input(0)}, {{"shape", shape}}));
}

// ---- booleans, folded ----

// Input i broadcast to `shape` (folded: every operand here is a constant).
Tensor broadcast_known(NodeContext& ctx, std::size_t i, const Shape& shape) {
  return ctx.emit(OpKind::Expand, {ctx.input_as_constant(i)}, {{"shape", Ints(shape)}})->data();
}

// The numpy broadcast shape of the inputs, which must all be known.
Shape broadcast_inputs(NodeContext& ctx) {
  Shape out;
  for (std::size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Shape s = ctx.require_known(i, "input " + std::to_string(i) +
                                             " (Equal, Not and Where only fold, on constants)")
                        .shape();
    if (s.size() > out.size()) out.insert(out.begin(), s.size() - out.size(), 1);
    for (std::size_t d = 0; d < s.size(); ++d) {
      std::int64_t& o = out[out.size() - s.size() + d];
      ctx.check(o == s[d] || o == 1 || s[d] == 1, "input shapes do not broadcast");
      if (o == 1) o = s[d];
    }
  }
  return out;
}

Value* boolean_constant(NodeContext& ctx, Tensor values) {
  Value* v = ctx.constant(std::move(values), "bool");
  ctx.mark_boolean(v);
  return v;
}

void convert_equal(NodeContext& ctx) {
  ctx.require_inputs(2, 2);
  ctx.require_outputs(1);
  const Shape shape = broadcast_inputs(ctx);
  const Tensor a = broadcast_known(ctx, 0, shape), b = broadcast_known(ctx, 1, shape);
  ctx.check(a.dtype() == b.dtype(), "inputs have different dtypes");
  Tensor out = Tensor::empty(shape, DType::UInt8);
  visit_dtype(a.dtype(), [&](auto zero) {
    using T = decltype(zero);
    for (std::int64_t i = 0; i < out.numel(); ++i)
      out.data<std::uint8_t>()[i] = a.data<T>()[i] == b.data<T>()[i] ? 1 : 0;
  });
  ctx.set_output(0, boolean_constant(ctx, std::move(out)));
}

void convert_not(NodeContext& ctx) {
  ctx.require_inputs(1, 1);
  ctx.require_outputs(1);
  ctx.check(ctx.input_is_boolean(0), "input 0 must be a boolean computed at import");
  Tensor out = ctx.require_known(0, "input").clone();
  for (std::uint8_t& v : std::span(out.data<std::uint8_t>(), static_cast<std::size_t>(out.numel())))
    v = v == 0 ? 1 : 0;
  ctx.set_output(0, boolean_constant(ctx, std::move(out)));
}

void convert_where(NodeContext& ctx) {
  ctx.require_inputs(3, 3);
  ctx.require_outputs(1);
  ctx.check(ctx.input_is_boolean(0), "condition must be a boolean computed at import (Equal, "
                                     "Not); quantkit has no bool dtype");
  const Shape shape = broadcast_inputs(ctx);
  const Tensor cond = broadcast_known(ctx, 0, shape);
  const Tensor x = broadcast_known(ctx, 1, shape), y = broadcast_known(ctx, 2, shape);
  ctx.check(x.dtype() == y.dtype(), "X and Y have different dtypes");
  Tensor out = Tensor::empty(shape, x.dtype());
  const std::size_t elem = dtype_size(x.dtype());
  for (std::int64_t i = 0; i < out.numel(); ++i) {
    const Tensor& from = cond.data<std::uint8_t>()[i] != 0 ? x : y;
    std::memcpy(static_cast<std::byte*>(out.raw_data()) + static_cast<std::size_t>(i) * elem,
                static_cast<const std::byte*>(from.raw_data()) + static_cast<std::size_t>(i) * elem,
                elem);
  }
  ctx.set_output(0, ctx.constant(std::move(out), "where"));
}

}  // namespace

void register_indexing_ops(ConverterTable& t) {
  t["Slice"] = convert_slice;
  t["Split"] = convert_split;
  t["Gather"] = convert_gather;
  t["Expand"] = convert_expand;
  t["Equal"] = convert_equal;
  t["Not"] = convert_not;
  t["Where"] = convert_where;
}

}  // namespace quantkit::onnx::detail
