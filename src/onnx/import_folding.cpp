// Converters for the shape ops and the constant folding torch.onnx.export needs:
// Constant, ConstantOfShape, Shape, Unsqueeze, Squeeze, Concat, Cast, Reshape,
// Flatten, Transpose, and Pad (constant mode, spatial dims: torch's F.pad).
//
// Shape is always a constant, and the Shape → Gather → Unsqueeze → Concat → Reshape chains
// torch emits for `x.view(x.size(0), -1)` fold to a constant target shape. Entries that come
// from a dynamic dim stay marked (Importer::symbolic) through these folds, and Reshape turns
// the marked entry into -1, so the reshape holds for any batch. Gather on run-time data is
// not supported (no gather op); Gather from a constant float table by constant codes of rank > 1
// is apot_dequantize.
#include <algorithm>
#include <cmath>
#include <limits>

#include "import_context.h"

namespace quantkit::onnx::detail {

using graph::OpKind;
using graph::Value;
using Ints = std::vector<std::int64_t>;

Value* shape_operand(NodeContext& ctx, std::size_t i) {
  return ctx.known(i) ? ctx.input_as_constant(i) : ctx.input(i);
}

Ints int_values(NodeContext& ctx, const Tensor& t, std::string_view what) {
  ctx.check(t.dtype() == DType::Int64 || t.dtype() == DType::Int32,
            std::string(what) + " must be int64, got " + std::string(dtype_name(t.dtype())));
  ctx.check(t.shape().size() <= 1, std::string(what) + " must be a vector");
  Ints out;
  if (t.dtype() == DType::Int64) {
    out = t.to_vector<std::int64_t>();
  } else {
    for (std::int32_t v : t.span<const std::int32_t>()) out.push_back(v);
  }
  return out;
}

namespace {

bool is_dynamic_dim(const Value* x, std::size_t d) {
  return x->is_dynamic() && !x->dim_names()[d].empty();
}

// Output 0 is input 0 with the same elements in the same order (a reshape or a cast): a
// folded shape vector keeps its dynamic entries.
void set_output_keeping_symbols(NodeContext& ctx, Value* out) {
  if (const std::vector<std::string>* names = ctx.symbols(0)) ctx.set_symbols(out, *names);
  ctx.set_output(0, out);
}

void convert_constant(NodeContext& ctx) {
  ctx.require_inputs(0, 0);
  ctx.require_outputs(1);
  Tensor t;
  if (std::optional<Tensor> v = ctx.attr_tensor("value")) {
    t = *v;
  } else if (ctx.has_attr("value_float")) {
    t = Tensor::scalar(static_cast<float>(ctx.attr_float("value_float", 0)));
  } else if (ctx.has_attr("value_floats")) {
    std::vector<float> v;
    for (double f : ctx.attr_floats("value_floats", {})) v.push_back(static_cast<float>(f));
    t = Tensor::from_vector(v);
  } else if (ctx.has_attr("value_int")) {
    t = Tensor::scalar(ctx.attr_int("value_int", 0));
  } else if (ctx.has_attr("value_ints")) {
    t = Tensor::from_vector(ctx.attr_ints("value_ints", {}));
  } else {
    ctx.fail("needs a value (tensor, float(s) or int(s); sparse and string values are not "
             "supported)");
  }
  ctx.set_output(0, ctx.constant(t, "constant"));
}

void convert_shape(NodeContext& ctx) {
  ctx.require_inputs(1, 1);
  ctx.require_outputs(1);
  ctx.accept_symbolic();  // the shape of a shape vector is static
  const Shape s = ctx.input_type(0).shape;
  const std::vector<std::string> names =
      ctx.known(0) ? std::vector<std::string>{} : ctx.input(0)->dim_names();
  const auto rank = static_cast<std::int64_t>(s.size());
  // Opset 15 slices the shape with start/end (clamped like Python slices).
  auto clamp_index = [&](std::int64_t i) {
    if (i < 0) i += rank;
    return std::clamp<std::int64_t>(i, 0, rank);
  };
  const std::int64_t start = clamp_index(ctx.attr_int("start", 0));
  const std::int64_t end = clamp_index(ctx.attr_int("end", rank));
  Ints dims;
  std::vector<std::string> dim_names;
  for (std::int64_t d = start; d < end; ++d) {
    dims.push_back(s[static_cast<std::size_t>(d)]);
    dim_names.push_back(names.empty() ? std::string() : names[static_cast<std::size_t>(d)]);
  }
  Value* out = ctx.constant(Tensor::from_vector(dims), "shape");
  ctx.set_symbols(out, std::move(dim_names));
  ctx.set_output(0, out);
}

}  // namespace

// Gather(levels, codes) on axis 0 of a constant 1-D float32 table with constant indices of
// rank > 1 is a table lookup over a weight: the form the exporter writes for apot_dequantize
// (uint8 codes → Cast(int32) → Gather, export_ops_quant.cpp). It is read back as
// apot_dequantize(int32 codes) rather than folded, so the imported graph keeps the weight as
// codes + levels, node for node what `quantize` built (and its outputs bit for bit).
bool convert_table_lookup(NodeContext& ctx, const Tensor& table, const Tensor& indices,
                          std::int64_t axis) {
  if (table.dtype() != DType::Float32 || table.shape().size() != 1 || axis != 0 ||
      indices.shape().size() < 2 ||
      (indices.dtype() != DType::Int32 && indices.dtype() != DType::Int64)) {
    return false;
  }
  const std::int64_t levels = table.shape()[0];
  Tensor codes = Tensor::empty(indices.shape(), DType::Int32);
  const Tensor wide = indices.to(DType::Int64);
  const auto in = wide.span<const std::int64_t>();
  auto* out = codes.data<std::int32_t>();
  for (std::size_t i = 0; i < in.size(); ++i) {
    const std::int64_t idx = in[i];
    ctx.check(
        idx >= -levels && idx < levels,
        "index " + std::to_string(idx) + " is out of range for a dim of " + std::to_string(levels));
    out[i] = static_cast<std::int32_t>(idx < 0 ? idx + levels : idx);
  }
  const auto values = table.span<const float>();
  graph::AttributeMap attrs{
      {"levels", graph::Attribute(std::vector<double>(values.begin(), values.end()))}};
  // Added directly: emit() would fold the constant codes into a float weight.
  graph::Node* lookup =
      ctx.graph().add_node(OpKind::ApotDequantize, {ctx.constant(std::move(codes), "codes")},
                           std::move(attrs), ctx.proto().name());
  ctx.set_output(0, lookup->output());
  return true;
}

namespace {

// Axes for Unsqueeze/Squeeze: an attribute before opset 13, an input from 13 on.
std::optional<Ints> read_axes(NodeContext& ctx) {
  if (ctx.opset() < 13) {
    if (!ctx.has_attr("axes")) return std::nullopt;
    return ctx.attr_ints("axes", {});
  }
  if (!ctx.has_input(1)) return std::nullopt;
  return int_values(ctx, ctx.require_known(1, "axes"), "axes");
}

void convert_unsqueeze(NodeContext& ctx) {
  ctx.require_inputs(1, 2);
  ctx.require_outputs(1);
  ctx.accept_symbolic();
  ctx.check(ctx.symbols(1) == nullptr, "axes computed from a dynamic dim are not supported");
  Value* x = shape_operand(ctx, 0);
  std::optional<Ints> axes = read_axes(ctx);
  ctx.check(axes.has_value() && !axes->empty(), "needs axes");
  const auto out_rank = static_cast<std::int64_t>(x->shape().size() + axes->size());
  std::vector<bool> inserted(static_cast<std::size_t>(out_rank), false);
  for (std::int64_t a : *axes) {
    const auto n = static_cast<std::size_t>(normalize_axis(ctx, a, out_rank, "axis"));
    ctx.check(!inserted[n], "axes repeat");
    inserted[n] = true;
  }
  Shape out;
  std::optional<std::size_t> dynamic_at;
  std::size_t src = 0;
  for (std::size_t d = 0; d < inserted.size(); ++d) {
    if (!inserted[d] && x->is_dynamic() && !x->dim_names()[src].empty()) dynamic_at = d;
    out.push_back(inserted[d] ? 1 : x->shape()[src++]);
  }
  set_output_keeping_symbols(ctx, reshape_to(ctx, x, out, dynamic_at));
}

void convert_squeeze(NodeContext& ctx) {
  ctx.require_inputs(1, 2);
  ctx.require_outputs(1);
  ctx.accept_symbolic();
  ctx.check(ctx.symbols(1) == nullptr, "axes computed from a dynamic dim are not supported");
  Value* x = shape_operand(ctx, 0);
  const Shape& s = x->shape();
  std::vector<bool> drop(s.size(), false);
  if (std::optional<Ints> axes = read_axes(ctx)) {
    for (std::int64_t a : *axes) {
      const auto n = static_cast<std::size_t>(
          normalize_axis(ctx, a, static_cast<std::int64_t>(s.size()), "axis"));
      ctx.check(s[n] == 1, "cannot squeeze dim " + std::to_string(n) + " of size " +
                               std::to_string(s[n]));
      drop[n] = true;
    }
  } else {
    // A dynamic dim is never squeezed: its size 1 is only the representative one.
    for (std::size_t d = 0; d < s.size(); ++d) drop[d] = s[d] == 1 && !is_dynamic_dim(x, d);
  }
  Shape out;
  std::optional<std::size_t> dynamic_at;
  for (std::size_t d = 0; d < s.size(); ++d) {
    ctx.check(!drop[d] || !is_dynamic_dim(x, d),
              "cannot squeeze the dynamic dim " + std::to_string(d) + " of " + x->type_string());
    if (drop[d]) continue;
    if (is_dynamic_dim(x, d)) dynamic_at = out.size();
    out.push_back(s[d]);
  }
  set_output_keeping_symbols(ctx, reshape_to(ctx, x, out, dynamic_at));
}

void convert_concat(NodeContext& ctx) {
  ctx.check(ctx.num_inputs() >= 1, "needs at least one input");
  ctx.require_outputs(1);
  ctx.accept_symbolic();
  std::vector<Value*> xs;
  std::vector<std::string> names;  // of the entries, when concatenating shape vectors
  bool symbolic = false;
  for (std::size_t i = 0; i < ctx.num_inputs(); ++i) {
    ctx.check(ctx.has_input(i), "input " + std::to_string(i) + " is empty");
    xs.push_back(shape_operand(ctx, i));
    const std::vector<std::string>* n = ctx.symbols(i);
    symbolic = symbolic || n != nullptr;
    const auto numel = static_cast<std::size_t>(xs.back()->type().numel());
    if (n != nullptr) {
      names.insert(names.end(), n->begin(), n->end());
    } else {
      names.insert(names.end(), numel, std::string());
    }
  }
  ctx.check(!symbolic || xs[0]->shape().size() == 1,
            "concatenating shapes with dynamic dims needs vectors");
  const auto rank = static_cast<std::int64_t>(xs[0]->shape().size());
  ctx.check(rank >= 1, "inputs must have rank >= 1");
  const std::int64_t axis = normalize_axis(ctx, ctx.attr_int("axis", 0), rank, "axis");
  // ONNX allows empty operands (torch emits them in some shape chains); cat does not need them.
  std::vector<Value*> nonempty;
  for (Value* v : xs) {
    if (v->type().numel() != 0 || v->shape().size() != static_cast<std::size_t>(rank)) {
      nonempty.push_back(v);
    }
  }
  if (nonempty.empty()) nonempty.push_back(xs[0]);
  Value* out =
      nonempty.size() == 1 ? nonempty[0] : ctx.emit(OpKind::Cat, nonempty, {{"dim", axis}});
  if (symbolic) ctx.set_symbols(out, std::move(names));
  ctx.set_output(0, out);
}

void convert_cast(NodeContext& ctx) {
  ctx.require_inputs(1, 1);
  ctx.require_outputs(1);
  ctx.check(ctx.has_attr("to"), "needs the 'to' attribute");
  const auto to = static_cast<std::int32_t>(ctx.attr_int("to", 0));
  const DType dtype = dtype_from_onnx(to, "attribute 'to'");
  ctx.ignore_attr("saturate");
  ctx.accept_symbolic();
  Value* x = shape_operand(ctx, 0);
  set_output_keeping_symbols(
      ctx, x->dtype() == dtype ? x : ctx.emit(OpKind::Cast, {x}, {{"dtype", dtype}}));
}

void convert_reshape(NodeContext& ctx) {
  ctx.require_inputs(2, 2);
  ctx.require_outputs(1);
  ctx.accept_symbolic();
  Value* x = shape_operand(ctx, 0);
  Ints target = int_values(ctx, ctx.require_known(1, "shape"), "shape");
  const std::vector<std::string>* target_names = ctx.symbols(1);
  const bool allow_zero = ctx.attr_int("allowzero", 0) != 0;
  const Shape& s = x->shape();
  std::int64_t known = 1;
  int inferred = -1;
  // The target entry that is x's dynamic dim: a size taken from it (x.size(0)) or a 0 that
  // copies it. The reshape then holds for any size of that dim.
  std::optional<std::size_t> dynamic_at;
  auto set_dynamic_at = [&](std::size_t i) {
    ctx.check(!dynamic_at.has_value(), "shape has more than one entry from a dynamic dim");
    dynamic_at = i;
  };
  for (std::size_t i = 0; i < target.size(); ++i) {
    std::int64_t& d = target[i];
    if (target_names != nullptr && !(*target_names)[i].empty()) set_dynamic_at(i);
    if (d == 0 && !allow_zero) {
      ctx.check(i < s.size(), "shape entry 0 copies dim " + std::to_string(i) +
                                  ", which the input " + x->type().to_string() + " lacks");
      if (is_dynamic_dim(x, i)) set_dynamic_at(i);
      d = s[i];
    }
    if (d == -1) {
      ctx.check(inferred < 0, "shape has more than one -1");
      inferred = static_cast<int>(i);
      continue;
    }
    ctx.check(d >= 0, "shape has a negative entry " + std::to_string(d));
    ctx.check(d == 0 || known <= std::numeric_limits<std::int64_t>::max() / d,
              "shape overflows");
    known *= d;
  }
  const std::int64_t numel = x->type().numel();
  if (inferred >= 0) {
    ctx.check(known != 0 && numel % known == 0,
              "cannot infer the -1 entry for " + std::to_string(numel) + " elements");
    target[static_cast<std::size_t>(inferred)] = numel / known;
  }
  ctx.check(shape_numel(target) == numel, "shape " + shape_to_string(target) +
                                              " does not hold the elements of " +
                                              x->type().to_string());
  ctx.check(!dynamic_at || x->is_dynamic(),
            "the shape has an entry from a dynamic dim, but the input " + x->type().to_string() +
                " has none");
  // Without an entry from the dynamic dim, a -1 absorbs it (x.reshape(-1, 784)).
  if (!dynamic_at && x->is_dynamic() && inferred >= 0)
    dynamic_at = static_cast<std::size_t>(inferred);
  set_output_keeping_symbols(ctx, reshape_to(ctx, x, target, dynamic_at));
}

void convert_flatten(NodeContext& ctx) {
  ctx.require_inputs(1, 1);
  ctx.require_outputs(1);
  Value* x = shape_operand(ctx, 0);
  const Shape& s = x->shape();
  const auto rank = static_cast<std::int64_t>(s.size());
  std::int64_t axis = ctx.attr_int("axis", 1);
  ctx.check(axis >= -rank && axis <= rank, "axis " + std::to_string(axis) +
                                               " is out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  if (axis == 1 && rank >= 2) {
    // torch.flatten(x, 1): keep the op so a dump reads like the PyTorch model.
    ctx.set_output(0, ctx.emit(OpKind::Flatten, {x},
                               {{"start_dim", std::int64_t{1}}, {"end_dim", std::int64_t{-1}}}));
    return;
  }
  const std::int64_t outer = shape_numel(Shape(s.begin(), s.begin() + axis));
  const std::int64_t inner = shape_numel(Shape(s.begin() + axis, s.end()));
  std::optional<std::size_t> dynamic_at;
  for (std::size_t d = 0; d < s.size(); ++d) {
    if (is_dynamic_dim(x, d)) dynamic_at = d < static_cast<std::size_t>(axis) ? 0 : 1;
  }
  ctx.set_output(0, reshape_to(ctx, x, {outer, inner}, dynamic_at));
}

void convert_transpose(NodeContext& ctx) {
  ctx.require_inputs(1, 1);
  ctx.require_outputs(1);
  Value* x = shape_operand(ctx, 0);
  const auto rank = static_cast<std::int64_t>(x->shape().size());
  Ints reversed;
  for (std::int64_t d = rank - 1; d >= 0; --d) reversed.push_back(d);
  Ints perm = ctx.attr_ints("perm", reversed);
  ctx.check(static_cast<std::int64_t>(perm.size()) == rank, "perm has the wrong length");
  std::vector<bool> seen(perm.size(), false);
  for (std::int64_t& p : perm) {
    p = normalize_axis(ctx, p, rank, "perm entry");
    ctx.check(!seen[static_cast<std::size_t>(p)], "perm is not a permutation");
    seen[static_cast<std::size_t>(p)] = true;
  }
  ctx.set_output(0, permute(ctx, x, perm));
}



void convert_constant_of_shape(NodeContext& ctx) {
  ctx.require_inputs(1, 1);
  ctx.require_outputs(1);
  const Ints dims = int_values(ctx, ctx.require_known(0, "shape"), "shape");
  for (std::int64_t d : dims) ctx.check(d >= 0, "shape has a negative entry");
  const Shape shape(dims.begin(), dims.end());
  ctx.check(shape_numel(shape) <= kMaxFoldedNumel, "the constant is too large to fold");
  Tensor value = Tensor::scalar(0.0f);
  if (std::optional<Tensor> v = ctx.attr_tensor("value")) {
    ctx.check(v->numel() == 1, "attribute 'value' must hold one element");
    value = *v;
  }
  Tensor out = Tensor::empty(shape, value.dtype());
  const std::size_t elem = dtype_size(value.dtype());
  auto* dst = static_cast<std::byte*>(out.raw_data());
  for (std::int64_t i = 0; i < out.numel(); ++i) {
    std::copy_n(static_cast<const std::byte*>(value.raw_data()), elem, dst + static_cast<std::size_t>(i) * elem);
  }
  ctx.set_output(0, ctx.constant(out, "constant_of_shape"));
}

// Constant padding of the last two dims (what torch's F.pad / ZeroPad2d export); other
// modes, negative pads (cropping) and padding of other dims are not supported.
void convert_pad(NodeContext& ctx) {
  ctx.require_inputs(1, 3);
  ctx.require_outputs(1);
  Value* x = ctx.input(0);
  const auto rank = static_cast<std::int64_t>(x->shape().size());
  const std::string mode = ctx.attr_string("mode", "constant");
  ctx.check(mode == "constant", "mode '" + mode + "' is not supported (only 'constant')");
  Ints pads;
  double value = 0.0;
  if (ctx.opset() < 11) {
    pads = ctx.attr_ints("pads", {});
    value = ctx.attr_float("value", 0.0);
  } else {
    pads = int_values(ctx, ctx.require_known(1, "pads"), "pads");
    if (ctx.has_input(2)) {
      Tensor v = ctx.require_known(2, "constant_value");
      ctx.check(v.numel() == 1, "constant_value must hold one value");
      value = visit_dtype(v.dtype(), [&](auto zero) {
        return static_cast<double>(v.data<decltype(zero)>()[0]);
      });
    }
  }
  ctx.check(static_cast<std::int64_t>(pads.size()) == 2 * rank,
            "pads must have 2 x rank entries");
  ctx.check(rank >= 2, "only inputs of rank >= 2 are supported");
  for (std::int64_t d = 0; d < rank; ++d) {
    const auto b = static_cast<std::size_t>(d), e = static_cast<std::size_t>(d + rank);
    ctx.check(pads[b] >= 0 && pads[e] >= 0, "negative pads (cropping) are not supported");
    ctx.check(d >= rank - 2 || (pads[b] == 0 && pads[e] == 0),
              "only the last two dims may be padded");
  }
  if (is_integer(x->dtype())) {
    // The fill must be a value of x's dtype (checked here, before any conversion).
    ctx.check(std::isfinite(value) && value == std::nearbyint(value) &&
                  value >= static_cast<double>(dtype_min(x->dtype())) &&
                  value <= static_cast<double>(dtype_max(x->dtype())),
              "constant_value does not fit " + std::string(dtype_name(x->dtype())));
  }
  const auto h = static_cast<std::size_t>(rank - 2), w = static_cast<std::size_t>(rank - 1);
  const Ints spatial{pads[h], pads[w], pads[h + static_cast<std::size_t>(rank)],
                     pads[w + static_cast<std::size_t>(rank)]};
  if (std::all_of(spatial.begin(), spatial.end(), [](std::int64_t p) { return p == 0; })) {
    ctx.set_output(0, x);
    return;
  }
  ctx.set_output(0, ctx.emit(OpKind::Pad2d, {x}, {{"pads", spatial}, {"value", value}}));
}
}  // namespace

void register_shape_ops(ConverterTable& t) {
  t["Constant"] = convert_constant;
  t["Shape"] = convert_shape;
  t["Unsqueeze"] = convert_unsqueeze;
  t["Squeeze"] = convert_squeeze;
  t["Concat"] = convert_concat;
  t["Cast"] = convert_cast;
  t["Reshape"] = convert_reshape;
  t["Flatten"] = convert_flatten;
  t["Transpose"] = convert_transpose;
  t["ConstantOfShape"] = convert_constant_of_shape;
  t["Pad"] = convert_pad;
}

}  // namespace quantkit::onnx::detail
