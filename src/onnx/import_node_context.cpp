// NodeContext: how a converter reads its ONNX node (inputs, attributes) and writes graph
// nodes; plus the small graph-building helpers several converters share.
#include <algorithm>
#include <numeric>

#include "import_context.h"
#include "quantkit/graph/interpreter.h"

namespace quantkit::onnx::detail {

using graph::OpKind;
using graph::Value;
using graph::ValueKind;

NodeContext::NodeContext(Importer& importer, const ::onnx::NodeProto& node)
    : importer_(importer), node_(node) {
  name_hint_ = !node.name().empty() ? node.name()
               : node.output_size() > 0 && !node.output(0).empty() ? node.output(0)
                                                                   : node.op_type();
}

void NodeContext::fail(std::string_view message) const { throw Error(std::string(message)); }

bool NodeContext::has_input(std::size_t i) const {
  return i < num_inputs() && !node_.input(static_cast<int>(i)).empty();
}

void NodeContext::require_inputs(std::size_t min, std::size_t max) {
  check(num_inputs() >= min && num_inputs() <= max,
        "has " + std::to_string(num_inputs()) + " inputs, expected " +
            (min == max ? std::to_string(min)
                        : std::to_string(min) + " to " + std::to_string(max)));
  for (std::size_t i = 0; i < min; ++i) {
    check(has_input(i), "input " + std::to_string(i) + " is required but empty");
  }
}

Value* NodeContext::lookup(std::size_t i, bool as_parameter) {
  check(has_input(i), "input " + std::to_string(i) + " is required but missing");
  const std::string& name = node_.input(static_cast<int>(i));
  if (auto it = importer_.values.find(name); it != importer_.values.end()) {
    check_not_symbolic(i, it->second);
    return it->second;
  }
  auto init = importer_.initializers.find(name);
  check(init != importer_.initializers.end(),
        "input '" + name +
            "' is not a graph input, an initializer or the output of an earlier node "
            "(dangling name, or the nodes are not in topological order / form a cycle)");
  Value* v = as_parameter ? graph().add_parameter(name, init->second)
                          : graph().add_constant(init->second, name);
  importer_.values.emplace(name, v);
  importer_.initializers.erase(init);
  return v;
}

Value* NodeContext::input(std::size_t i) { return lookup(i, true); }
Value* NodeContext::input_as_constant(std::size_t i) { return lookup(i, false); }

std::optional<Tensor> NodeContext::known(std::size_t i) {
  if (!has_input(i)) return std::nullopt;
  const std::string& name = node_.input(static_cast<int>(i));
  if (auto it = importer_.values.find(name); it != importer_.values.end()) {
    check_not_symbolic(i, it->second);
    if (it->second->has_data()) return it->second->data();
    return std::nullopt;
  }
  if (auto it = importer_.initializers.find(name); it != importer_.initializers.end()) {
    return it->second;
  }
  lookup(i, false);  // reports the dangling name
  return std::nullopt;
}

Tensor NodeContext::require_known(std::size_t i, std::string_view what) {
  std::optional<Tensor> t = known(i);
  check(t.has_value(), "input " + std::to_string(i) + " (" + std::string(what) +
                           ") must be a constant (an initializer or a Constant node) for "
                           "import; it is computed at run time");
  return *t;
}

graph::TensorType NodeContext::input_type(std::size_t i) {
  if (std::optional<Tensor> t = known(i)) return {t->dtype(), t->shape()};
  return input(i)->type();
}

// ---- dynamic dims ----

const std::vector<std::string>* NodeContext::symbols(std::size_t i) const {
  if (!has_input(i)) return nullptr;
  auto v = importer_.values.find(node_.input(static_cast<int>(i)));
  if (v == importer_.values.end()) return nullptr;
  auto it = importer_.symbolic.find(v->second);
  return it == importer_.symbolic.end() ? nullptr : &it->second;
}

void NodeContext::set_symbols(const graph::Value* v, std::vector<std::string> names) {
  if (std::all_of(names.begin(), names.end(), [](const auto& n) { return n.empty(); })) return;
  importer_.symbolic[v] = std::move(names);
}

void NodeContext::check_not_symbolic(std::size_t i, const graph::Value* v) const {
  if (accept_symbolic_) return;
  auto it = importer_.symbolic.find(v);
  if (it == importer_.symbolic.end()) return;
  std::string names;
  for (const std::string& n : it->second) {
    if (!n.empty()) names += (names.empty() ? "'" : ", '") + n + "'";
  }
  fail("input " + std::to_string(i) + " '" + v->name() + "' holds the size of the dynamic dim " +
       names + ", which this op needs static");
}

// ---- attributes ----

const ::onnx::AttributeProto* NodeContext::find_attr(std::string_view name, int type) {
  for (const auto& a : node_.attribute()) {
    if (a.name() != name) continue;
    used_attrs_.insert(std::string(name));
    // Old writers leave `type` unset; trust the field that is present then.
    if (a.type() != ::onnx::AttributeProto::UNDEFINED && a.type() != type) {
      fail("attribute '" + std::string(name) + "' has type " +
           ::onnx::AttributeProto::AttributeType_Name(a.type()) + ", expected " +
           ::onnx::AttributeProto::AttributeType_Name(
               static_cast<::onnx::AttributeProto::AttributeType>(type)));
    }
    check(a.ref_attr_name().empty(), "attribute '" + std::string(name) +
                                         "' refers to a function attribute (not supported)");
    return &a;
  }
  return nullptr;
}

bool NodeContext::has_attr(std::string_view name) const {
  return std::any_of(node_.attribute().begin(), node_.attribute().end(),
                     [&](const auto& a) { return a.name() == name; });
}

std::int64_t NodeContext::attr_int(std::string_view name, std::int64_t fallback) {
  const auto* a = find_attr(name, ::onnx::AttributeProto::INT);
  return a ? a->i() : fallback;
}

double NodeContext::attr_float(std::string_view name, double fallback) {
  const auto* a = find_attr(name, ::onnx::AttributeProto::FLOAT);
  return a ? static_cast<double>(a->f()) : fallback;
}

std::vector<std::int64_t> NodeContext::attr_ints(std::string_view name,
                                                 std::vector<std::int64_t> fallback) {
  const auto* a = find_attr(name, ::onnx::AttributeProto::INTS);
  if (!a) return fallback;
  return {a->ints().begin(), a->ints().end()};
}

std::vector<double> NodeContext::attr_floats(std::string_view name,
                                             std::vector<double> fallback) {
  const auto* a = find_attr(name, ::onnx::AttributeProto::FLOATS);
  if (!a) return fallback;
  return {a->floats().begin(), a->floats().end()};
}

std::string NodeContext::attr_string(std::string_view name, std::string fallback) {
  const auto* a = find_attr(name, ::onnx::AttributeProto::STRING);
  return a ? a->s() : fallback;
}

std::optional<Tensor> NodeContext::attr_tensor(std::string_view name) {
  const auto* a = find_attr(name, ::onnx::AttributeProto::TENSOR);
  if (!a) return std::nullopt;
  return tensor_from_proto(a->t(), "attribute '" + std::string(name) + "'");
}

void NodeContext::ignore_attr(std::string_view name) { used_attrs_.insert(std::string(name)); }

void NodeContext::check_all_attrs_used() const {
  for (const auto& a : node_.attribute()) {
    check(used_attrs_.contains(a.name()),
          "attribute '" + a.name() + "' is not supported by the importer");
  }
}

// ---- outputs ----

void NodeContext::require_outputs(std::size_t max) {
  check(num_outputs() >= 1, "has no outputs");
  for (std::size_t i = max; i < num_outputs(); ++i) {
    check(node_.output(static_cast<int>(i)).empty(),
          "output " + std::to_string(i) + " ('" + node_.output(static_cast<int>(i)) +
              "') is not supported by the importer");
  }
}

void NodeContext::set_output(std::size_t i, Value* value) {
  if (i >= num_outputs()) return;
  const std::string& name = node_.output(static_cast<int>(i));
  if (name.empty()) return;  // optional output not requested
  check(!importer_.values.contains(name) && !importer_.initializers.contains(name),
        "output '" + name + "' is already defined (each name must be defined once)");
  importer_.values.emplace(name, value);
}

// ---- building ----

Value* NodeContext::emit(OpKind op, std::vector<Value*> inputs, graph::AttributeMap attrs) {
  const bool all_constant = std::all_of(inputs.begin(), inputs.end(), [](const Value* v) {
    return v->kind() == ValueKind::Constant;
  });
  graph::Node* node = graph().add_node(op, std::move(inputs), std::move(attrs), name_hint_);
  if (!all_constant || node->num_outputs() != 1 ||
      node->output()->type().numel() > kMaxFoldedNumel) {
    return node->output();
  }
  // Constant folding: evaluate now with the op's own kernel (same numerics as at run time).
  std::vector<Tensor> args;
  for (Value* v : node->inputs()) args.push_back(v->data());
  std::vector<Tensor> out = graph::evaluate_node(*node, args);
  graph().remove_node(node);
  return constant(std::move(out[0]), name_hint_);
}

Value* NodeContext::constant(Tensor data, std::string_view hint) {
  return graph().add_constant(std::move(data), hint);
}

// ---- shared helpers ----

std::int64_t normalize_axis(NodeContext& ctx, std::int64_t axis, std::int64_t rank,
                            std::string_view what) {
  const std::int64_t r = std::max<std::int64_t>(rank, 1);
  ctx.check(axis >= -r && axis < r, std::string(what) + " " + std::to_string(axis) +
                                        " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + r : axis;
}

Value* reshape_to(NodeContext& ctx, Value* x, const Shape& shape,
                  std::optional<std::size_t> dynamic_at) {
  if (!x->is_dynamic()) {
    if (x->shape() == shape) return x;
    return ctx.emit(OpKind::Reshape, {x}, {{"shape", std::vector<std::int64_t>(shape)}});
  }
  const auto dynamic_dims = std::count_if(x->dim_names().begin(), x->dim_names().end(),
                                          [](const auto& n) { return !n.empty(); });
  ctx.check(dynamic_at.has_value() && *dynamic_at < shape.size() && dynamic_dims == 1,
            "reshaping " + x->type_string() + " to " + shape_to_string(shape) +
                " needs its dynamic dim static");
  if (x->shape() == shape && !x->dim_names()[*dynamic_at].empty()) return x;
  std::vector<std::int64_t> target(shape);
  target[*dynamic_at] = -1;
  return ctx.emit(OpKind::Reshape, {x}, {{"shape", target}});
}

Value* permute(NodeContext& ctx, Value* x, const std::vector<std::int64_t>& perm) {
  // Selection sort by transposes: position i receives source dim perm[i].
  std::vector<std::int64_t> current(perm.size());
  std::iota(current.begin(), current.end(), 0);
  for (std::size_t i = 0; i < perm.size(); ++i) {
    const auto j = static_cast<std::size_t>(
        std::find(current.begin(), current.end(), perm[i]) - current.begin());
    if (j == i) continue;
    x = ctx.emit(OpKind::Transpose, {x},
                 {{"dim0", static_cast<std::int64_t>(i)}, {"dim1", static_cast<std::int64_t>(j)}});
    std::swap(current[i], current[j]);
  }
  return x;
}

namespace {
Value* negate(NodeContext& ctx, Value* x) {
  ctx.check(is_floating(x->dtype()), "min over " + x->type().to_string() +
                                         " is only supported for floating dtypes");
  Tensor minus_one = Tensor::empty({}, x->dtype());
  visit_dtype(x->dtype(), [&](auto zero) { *minus_one.data<decltype(zero)>() = -1; });
  return ctx.emit(OpKind::Mul, {x, ctx.constant(minus_one, "minus_one")});
}

graph::AttributeMap pool_attrs(std::int64_t kw) {
  return {{"kernel_size", std::vector<std::int64_t>{1, kw}},
          {"stride", std::vector<std::int64_t>{1, kw}},
          {"padding", std::vector<std::int64_t>{0, 0}},
          {"dilation", std::vector<std::int64_t>{1, 1}},
          {"ceil_mode", std::int64_t{0}}};
}
}  // namespace

// ONNX Max/Min and ReduceMax/ReduceMin have no op of their own in the graph IR. They are
// exact through max_pool2d (which takes any dtype and lets NaN win, like the ONNX ops):
// the operands are laid side by side in the pooled dim and one window covers them. Min is
// max of the negations (exact for floats).
Value* elementwise_extreme(NodeContext& ctx, std::vector<Value*> xs, bool max) {
  Shape out = xs[0]->shape();
  for (Value* v : xs) {
    const Shape& s = v->shape();
    const std::size_t rank = std::max(out.size(), s.size());
    Shape b(rank);
    for (std::size_t d = 0; d < rank; ++d) {
      const std::int64_t da = d < rank - out.size() ? 1 : out[d - (rank - out.size())];
      const std::int64_t db = d < rank - s.size() ? 1 : s[d - (rank - s.size())];
      ctx.check(da == db || da == 1 || db == 1, "operand shapes " + shape_to_string(out) +
                                                    " and " + shape_to_string(s) +
                                                    " do not broadcast");
      b[d] = da == 1 ? db : da;
    }
    out = b;
  }
  if (xs.size() == 1) return xs[0];
  const std::int64_t n = shape_numel(out);
  ctx.check(n <= kMaxFoldedNumel || std::all_of(xs.begin(), xs.end(), [&](const Value* v) {
              return v->shape() == out;
            }),
            "broadcasting min/max operands to " + shape_to_string(out) + " is not supported");
  std::vector<Value*> columns;
  for (Value* v : xs) {
    ctx.check(v->dtype() == xs[0]->dtype(), "operands have different dtypes");
    if (!max) v = negate(ctx, v);
    if (v->shape() != out) {
      // Broadcast by adding zeros of the output shape (exact).
      v = ctx.emit(OpKind::Add, {v, ctx.constant(Tensor::zeros(out, v->dtype()), "zeros")});
    }
    columns.push_back(reshape_to(ctx, v, {1, 1, n, 1}));
  }
  Value* side_by_side = ctx.emit(OpKind::Cat, columns, {{"dim", std::int64_t{3}}});
  Value* pooled = ctx.emit(OpKind::MaxPool2d, {side_by_side},
                           pool_attrs(static_cast<std::int64_t>(xs.size())));
  Value* result = reshape_to(ctx, pooled, out);
  return max ? result : negate(ctx, result);
}

Value* reduce_trailing_extreme(NodeContext& ctx, Value* x, std::size_t count, bool max) {
  const Shape& s = x->shape();
  const Shape outer_shape(s.begin(), s.end() - static_cast<std::ptrdiff_t>(count));
  const std::int64_t outer = shape_numel(outer_shape);
  const std::int64_t inner = shape_numel(Shape(s.end() - static_cast<std::ptrdiff_t>(count), s.end()));
  ctx.check(inner >= 1, "cannot reduce an empty tensor " + x->type().to_string());
  Value* v = max ? x : negate(ctx, x);
  v = reshape_to(ctx, v, {1, 1, outer, inner});
  v = ctx.emit(OpKind::MaxPool2d, {v}, pool_attrs(inner));
  v = reshape_to(ctx, v, outer_shape);
  return max ? v : negate(ctx, v);
}

}  // namespace quantkit::onnx::detail
