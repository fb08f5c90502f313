#include "quantkit/graph/functional.h"

#include <cmath>

#include "quantkit/core/error.h"

namespace quantkit::graph::functional {
namespace {

GraphBuilder& builder_of(const Proxy& x) { return x.tracer().builder(); }

Proxy wrap(const Proxy& like, Value* v) { return like.tracer().wrap(v); }

void check_same_trace(const Proxy& a, const Proxy& b, std::string_view where) {
  check_argument(&a.tracer() == &b.tracer(), where, "b", b.value()->name(),
                 "a value of the same trace as the first operand");
}

// A 0-d constant holding `v` in x's dtype (torch's scalar operands do not promote).
Value* scalar_like(const Proxy& x, double v, std::string_view where) {
  if (is_integer(x.dtype())) {
    check_argument(
        v == std::trunc(v) && v >= static_cast<double>(dtype_min(x.dtype())) &&
            v <= static_cast<double>(dtype_max(x.dtype())),
        where, "scalar", v,
        "an integer inside " + std::string(dtype_name(x.dtype())) + " (the tensor's dtype)");
  }
  Tensor t = visit_dtype(x.dtype(),
                         [&](auto zero) { return Tensor::scalar(static_cast<decltype(zero)>(v)); });
  return builder_of(x).constant(std::move(t), "scalar");
}

}  // namespace

Proxy add(const Proxy& a, const Proxy& b) {
  check_same_trace(a, b, "add");
  return wrap(a, builder_of(a).add(a.value(), b.value()));
}
Proxy sub(const Proxy& a, const Proxy& b) {
  check_same_trace(a, b, "sub");
  return wrap(a, builder_of(a).sub(a.value(), b.value()));
}
Proxy mul(const Proxy& a, const Proxy& b) {
  check_same_trace(a, b, "mul");
  return wrap(a, builder_of(a).mul(a.value(), b.value()));
}
Proxy div(const Proxy& a, const Proxy& b) {
  check_same_trace(a, b, "div");
  return wrap(a, builder_of(a).div(a.value(), b.value()));
}
Proxy add(const Proxy& a, double b) {
  return wrap(a, builder_of(a).add(a.value(), scalar_like(a, b, "add")));
}
Proxy mul(const Proxy& a, double b) {
  return wrap(a, builder_of(a).mul(a.value(), scalar_like(a, b, "mul")));
}

Proxy relu(const Proxy& x) { return wrap(x, builder_of(x).relu(x.value())); }

Proxy hardtanh(const Proxy& x, double min_val, double max_val) {
  return wrap(x, builder_of(x).hardtanh(x.value(), min_val, max_val));
}

Proxy clamp(const Proxy& x, std::optional<double> min, std::optional<double> max) {
  return wrap(x, builder_of(x).clamp(x.value(), min, max));
}

Proxy cat(const std::vector<Proxy>& xs, std::int64_t dim) {
  check_argument(!xs.empty(), "cat", "xs", "an empty list", "at least one value");
  std::vector<Value*> values;
  for (const Proxy& p : xs) {
    check_same_trace(xs[0], p, "cat");
    values.push_back(p.value());
  }
  return wrap(xs[0], builder_of(xs[0]).cat(std::move(values), dim));
}

Proxy flatten(const Proxy& x, std::int64_t start_dim, std::int64_t end_dim) {
  return wrap(x, builder_of(x).flatten(x.value(), start_dim, end_dim));
}

Proxy reshape(const Proxy& x, std::vector<std::int64_t> shape) {
  return wrap(x, builder_of(x).reshape(x.value(), std::move(shape)));
}

Proxy transpose(const Proxy& x, std::int64_t dim0, std::int64_t dim1) {
  return wrap(x, builder_of(x).transpose(x.value(), dim0, dim1));
}

Proxy softmax(const Proxy& x, std::int64_t dim) {
  return wrap(x, builder_of(x).softmax(x.value(), dim));
}

Proxy max_pool2d(const Proxy& x, const MaxPool2dOptions& options) {
  return wrap(x, builder_of(x).max_pool2d(x.value(), options));
}

Proxy avg_pool2d(const Proxy& x, const AvgPool2dOptions& options) {
  return wrap(x, builder_of(x).avg_pool2d(x.value(), options));
}

Proxy adaptive_avg_pool2d(const Proxy& x, std::vector<std::int64_t> output_size) {
  return wrap(x, builder_of(x).adaptive_avg_pool2d(x.value(), std::move(output_size)));
}

}  // namespace quantkit::graph::functional
