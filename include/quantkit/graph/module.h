#pragma once
// Modules and symbolic tracing: write a model the way you would with torch.nn, then
// export_model (export.h) traces it into a Graph.
//
//   struct Net : Module {
//     Conv2d conv{3, 8, 3};
//     ReLU relu;
//     Linear fc{8 * 6 * 6, 10};
//     Net() : Module("Net") {
//       register_module("conv", conv);
//       register_module("relu", relu);
//       register_module("fc", fc);
//     }
//     Proxy forward(const Proxy& x) override {
//       return fc(functional::flatten(relu(conv(x)), 1));
//     }
//   };
//
// forward() runs on Proxy values: symbolic tensors that record a node for every op applied
// to them (like torch.fx's Proxy). Calling a child module records its nodes with the
// child's qualified name and type as their SourceInfo ("conv", "Conv2d"), and its tensors
// become graph parameters named "<path>.<name>" ("conv.weight"), so later passes can select
// nodes by module name or type.
//
// Modules are neither copyable nor movable (parents refer to their children and
// parameters by address): hold children by value and register them in the constructor, or
// use Sequential, which owns what it holds.
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/graph.h"

namespace quantkit::graph {

class Tracer;
class Module;

// A symbolic tensor during tracing: a Value of the graph being built, plus its tracer.
class Proxy {
 public:
  Proxy(Tracer* tracer, Value* value);
  Value* value() const { return value_; }
  Tracer& tracer() const { return *tracer_; }
  const TensorType& type() const { return value_->type(); }
  DType dtype() const { return value_->dtype(); }
  const Shape& shape() const { return value_->shape(); }
  std::int64_t dim() const { return static_cast<std::int64_t>(value_->shape().size()); }
  // Size of dim d (negative counts from the end); Error when out of range.
  std::int64_t size(std::int64_t d) const;

 private:
  Tracer* tracer_;
  Value* value_;
};

// The recording side of tracing, for forward() implementations that need more than the
// functional API: emit any op through builder() and wrap the result.
class Tracer {
 public:
  virtual ~Tracer() = default;
  virtual GraphBuilder& builder() = 0;
  Proxy wrap(Value* value) { return Proxy(this, value); }
  // The graph parameter holding `owner`'s tensor `local_name` (created on first use, a
  // snapshot of `data`), named "<owner path>.<local_name>".
  virtual Value* parameter(const Module& owner, std::string_view local_name,
                           const Tensor& data) = 0;
  // Scope bookkeeping used by Module::operator().
  virtual void enter(const Module& module) = 0;
  virtual void exit() = 0;
};

// torch's default initialisation draws from a uniform distribution; this is a portable,
// seedable source for it (std::mt19937, 24 random bits per float, so the same seed gives
// the same weights with every standard library).
class ParameterInit {
 public:
  explicit ParameterInit(std::uint64_t seed)
      : engine_(static_cast<std::uint32_t>(seed ^ (seed >> 32))) {}
  // Fills `t` (float32) with values uniform in [lo, hi).
  void uniform(Tensor& t, float lo, float hi);

 private:
  std::mt19937 engine_;
};

class Module {
 public:
  explicit Module(std::string type_name = "Module") : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module(Module&&) = delete;
  Module& operator=(Module&&) = delete;

  // The class name recorded in SourceInfo::module_type ("Linear", or what a subclass gives).
  const std::string& type_name() const { return type_name_; }

  // Override forward for one input and one output, or forward_multi for any number.
  // The defaults call each other; overriding neither throws Error when called.
  virtual Proxy forward(const Proxy& x);
  virtual std::vector<Proxy> forward_multi(const std::vector<Proxy>& inputs);

  // Calls forward / forward_multi inside this module's tracing scope. Use these (not
  // forward directly) to call children, as in torch.
  Proxy operator()(const Proxy& x);
  std::vector<Proxy> operator()(const std::vector<Proxy>& inputs);

  // Children and parameters, in registration order. Names must be non-empty, without '.',
  // and unique within the module (Error otherwise).
  template <class M>
  M& register_module(std::string name, M& child) {
    add_child(std::move(name), child);
    return child;
  }
  // `storage` is a member of the module; the graph gets a snapshot when traced.
  void register_parameter(std::string name, Tensor& storage);

  // ("", this) first, then every descendant with its qualified name ("features.0").
  std::vector<std::pair<std::string, Module*>> named_modules();
  std::vector<std::pair<std::string, const Module*>> named_modules() const;
  // Every parameter of the tree with its qualified name ("features.0.weight").
  std::vector<std::pair<std::string, Tensor*>> named_parameters();
  std::vector<std::pair<std::string, const Tensor*>> named_parameters() const;
  // Replaces a parameter by qualified name; dtype and shape must match (Error otherwise).
  void set_parameter(std::string_view qualified_name, const Tensor& value);
  const Tensor& parameter(std::string_view qualified_name) const;

  // Re-initialises every parameter of the tree from one seeded stream, module by module in
  // named_modules order (like calling torch.manual_seed(seed) before constructing the
  // model). Constructors initialise each module from a fixed default seed, so call this on
  // the root to give same-shaped layers different weights.
  void reset_parameters(std::uint64_t seed);

 protected:
  // Leaf modules initialise their own parameters here (torch's reset_parameters).
  virtual void init_parameters(ParameterInit& init) { (void)init; }
  // The graph value of one of this module's registered tensors, for forward().
  Value* param(const Proxy& like, std::string_view local_name) const;

 private:
  void add_child(std::string name, Module& child);
  void check_new_name(const std::string& name) const;
  void collect_modules(const std::string& prefix,
                       std::vector<std::pair<std::string, Module*>>& out);

  std::string type_name_;
  bool in_default_forward_ = false;  // detects a module that overrides neither forward
  std::vector<std::pair<std::string, Module*>> children_;
  std::vector<std::pair<std::string, Tensor*>> parameters_;
};

inline constexpr std::uint64_t kDefaultInitSeed = 0;

}  // namespace quantkit::graph
