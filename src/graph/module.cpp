#include "quantkit/graph/module.h"

#include <algorithm>

#include "quantkit/core/error.h"

namespace quantkit::graph {

// ---- Proxy ----

Proxy::Proxy(Tracer* tracer, Value* value) : tracer_(tracer), value_(value) {
  check_argument(tracer != nullptr && value != nullptr, "Proxy", "tracer/value", "null",
                 "a tracer and a value of the graph being traced");
}

std::int64_t Proxy::size(std::int64_t d) const {
  const std::int64_t rank = dim();
  check_argument(d >= -rank && d < rank, "Proxy::size", "d", d,
                 "a dim in [" + std::to_string(-rank) + ", " + std::to_string(rank) + ")");
  return shape()[static_cast<std::size_t>(d < 0 ? d + rank : d)];
}

// ---- ParameterInit ----

void ParameterInit::uniform(Tensor& t, float lo, float hi) {
  check_argument(lo <= hi, "ParameterInit::uniform", "lo", lo, "lo <= hi");
  for (float& v : t.span<float>()) {
    // 24 random bits -> [0, 1) exactly representable in float32.
    const float u = static_cast<float>(engine_() >> 8) * (1.0f / 16777216.0f);
    v = lo + (hi - lo) * u;
  }
}

// ---- Module ----

Proxy Module::forward(const Proxy& x) {
  in_default_forward_ = true;
  std::vector<Proxy> out;
  try {
    out = forward_multi({x});
  } catch (...) {
    in_default_forward_ = false;
    throw;
  }
  in_default_forward_ = false;
  check_argument(out.size() == 1, type_name_ + "::forward", "outputs", out.size(),
                 "exactly one output from forward_multi when called with one input");
  return out[0];
}

std::vector<Proxy> Module::forward_multi(const std::vector<Proxy>& inputs) {
  if (in_default_forward_) {
    throw Error("module '" + type_name_ + "' overrides neither forward nor forward_multi");
  }
  check_argument(inputs.size() == 1, type_name_ + "::forward_multi", "inputs", inputs.size(),
                 "one input (this module only overrides forward(x))");
  return {forward(inputs[0])};
}

namespace {
// Enters the module's tracing scope and leaves it on every path out.
class ScopeGuard {
 public:
  ScopeGuard(Tracer& tracer, const Module& module) : tracer_(tracer) { tracer_.enter(module); }
  ~ScopeGuard() { tracer_.exit(); }
  ScopeGuard(const ScopeGuard&) = delete;
  ScopeGuard& operator=(const ScopeGuard&) = delete;

 private:
  Tracer& tracer_;
};
}  // namespace

Proxy Module::operator()(const Proxy& x) {
  ScopeGuard scope(x.tracer(), *this);
  return forward(x);
}

std::vector<Proxy> Module::operator()(const std::vector<Proxy>& inputs) {
  check_argument(!inputs.empty(), type_name_, "inputs", "an empty list", "at least one input");
  ScopeGuard scope(inputs[0].tracer(), *this);
  return forward_multi(inputs);
}

void Module::check_new_name(const std::string& name) const {
  check_argument(!name.empty() && name.find('.') == std::string::npos, type_name_, "name", name,
                 "a non-empty name without '.'");
  const bool taken = std::any_of(children_.begin(), children_.end(),
                                 [&](const auto& c) { return c.first == name; }) ||
                     std::any_of(parameters_.begin(), parameters_.end(),
                                 [&](const auto& p) { return p.first == name; });
  check_argument(!taken, type_name_, "name", name, "a name not yet registered in this module");
}

void Module::add_child(std::string name, Module& child) {
  check_new_name(name);
  check_argument(&child != this, type_name_, "child", name, "a module other than itself");
  children_.emplace_back(std::move(name), &child);
}

void Module::register_parameter(std::string name, Tensor& storage) {
  check_new_name(name);
  parameters_.emplace_back(std::move(name), &storage);
}

void Module::collect_modules(const std::string& prefix,
                             std::vector<std::pair<std::string, Module*>>& out) {
  out.emplace_back(prefix, this);
  for (auto& [name, child] : children_) {
    child->collect_modules(prefix.empty() ? name : prefix + "." + name, out);
  }
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out;
  collect_modules("", out);
  return out;
}

std::vector<std::pair<std::string, const Module*>> Module::named_modules() const {
  std::vector<std::pair<std::string, const Module*>> out;
  for (auto& [name, m] : const_cast<Module*>(this)->named_modules()) out.emplace_back(name, m);
  return out;
}

std::vector<std::pair<std::string, Tensor*>> Module::named_parameters() {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (auto& [path, m] : named_modules()) {
    for (auto& [name, t] : m->parameters_)
      out.emplace_back(path.empty() ? name : path + "." + name, t);
  }
  return out;
}

std::vector<std::pair<std::string, const Tensor*>> Module::named_parameters() const {
  std::vector<std::pair<std::string, const Tensor*>> out;
  for (auto& [name, t] : const_cast<Module*>(this)->named_parameters()) out.emplace_back(name, t);
  return out;
}

const Tensor& Module::parameter(std::string_view qualified_name) const {
  for (const auto& [name, t] : named_parameters()) {
    if (name == qualified_name) return *t;
  }
  throw_invalid_argument(type_name_ + "::parameter", "qualified_name", qualified_name,
                         "the qualified name of a parameter of this module tree");
}

void Module::set_parameter(std::string_view qualified_name, const Tensor& value) {
  for (auto& [name, t] : named_parameters()) {
    if (name != qualified_name) continue;
    const TensorType want{t->dtype(), t->shape()};
    const TensorType got{value.dtype(), value.shape()};
    check_argument(want == got, type_name_ + "::set_parameter", "value", got.to_string(),
                   "a tensor of type " + want.to_string() + " for '" + name + "'");
    *t = value.clone();
    return;
  }
  throw_invalid_argument(type_name_ + "::set_parameter", "qualified_name", qualified_name,
                         "the qualified name of a parameter of this module tree");
}

void Module::reset_parameters(std::uint64_t seed) {
  ParameterInit init(seed);
  for (auto& [path, m] : named_modules()) m->init_parameters(init);
}

Value* Module::param(const Proxy& like, std::string_view local_name) const {
  for (const auto& [name, t] : parameters_) {
    if (name == local_name) return like.tracer().parameter(*this, local_name, *t);
  }
  throw_invalid_argument(type_name_ + "::param", "local_name", local_name,
                         "a parameter registered by this module");
}

}  // namespace quantkit::graph
