#include "quantkit/graph/export.h"

#include <unordered_map>

#include "quantkit/core/error.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/verifier.h"

namespace quantkit::graph {
namespace {

// Records the model's forward into a GraphBuilder: module scopes become SourceInfo,
// module tensors become parameters named by their qualified path.
class ExportTracer final : public Tracer {
 public:
  explicit ExportTracer(Module& root) {
    for (auto& [path, m] : root.named_modules()) {
      const bool fresh = paths_.emplace(m, path).second;
      check_argument(fresh, "export_model", "model", path,
                     "a module tree where each module is registered once");
    }
  }

  GraphBuilder& builder() override { return builder_; }

  Value* parameter(const Module& owner, std::string_view local_name, const Tensor& data) override {
    const std::string qualified = qualify(path_of(owner), local_name);
    auto it = parameters_.find(qualified);
    if (it != parameters_.end()) return it->second;
    Value* v = builder_.parameter(qualified, data.clone());
    parameters_.emplace(qualified, v);
    return v;
  }

  void enter(const Module& module) override {
    stack_.push_back(&module);
    builder_.set_source({path_of(module), module.type_name()});
  }

  void exit() override {
    stack_.pop_back();
    if (stack_.empty()) {
      builder_.set_source({});
    } else {
      builder_.set_source({path_of(*stack_.back()), stack_.back()->type_name()});
    }
  }

  GraphBuilder& take_builder() { return builder_; }

 private:
  static std::string qualify(const std::string& path, std::string_view name) {
    return path.empty() ? std::string(name) : path + "." + std::string(name);
  }

  const std::string& path_of(const Module& m) const {
    auto it = paths_.find(&m);
    if (it == paths_.end()) {
      throw Error("export_model: a module of type '" + m.type_name() +
                  "' was called but is not registered in the exported model (register_module "
                  "it in its parent's constructor)");
    }
    return it->second;
  }

  GraphBuilder builder_;
  std::unordered_map<const Module*, std::string> paths_;
  std::unordered_map<std::string, Value*> parameters_;
  std::vector<const Module*> stack_;
};

}  // namespace

Graph export_model(Module& model, std::span<const TensorType> input_types,
                   const ExportOptions& options) {
  check_argument(!input_types.empty(), "export_model", "example_inputs", "an empty list",
                 "at least one input");
  check_argument(options.input_names.empty() || options.input_names.size() == input_types.size(),
                 "export_model", "options.input_names", options.input_names.size(),
                 "one name per input (" + std::to_string(input_types.size()) + ")");
  ExportTracer tracer(model);
  std::vector<Proxy> inputs;
  for (std::size_t i = 0; i < input_types.size(); ++i) {
    std::string name = !options.input_names.empty() ? options.input_names[i]
                       : input_types.size() == 1    ? std::string("x")
                                                    : "x" + std::to_string(i);
    inputs.push_back(tracer.wrap(
        tracer.builder().input(std::move(name), input_types[i].dtype, input_types[i].shape)));
  }
  const std::vector<Proxy> outputs = model(inputs);
  check_argument(!outputs.empty(), "export_model", "model", model.type_name(),
                 "a forward that returns at least one value");
  GraphBuilder& builder = tracer.take_builder();
  for (const Proxy& out : outputs) {
    check_argument(&out.tracer() == &tracer, "export_model", "outputs", out.value()->name(),
                   "values of this trace");
    builder.output(out.value());
  }
  Graph& graph = builder.graph();
  graph.eliminate_dead_code();
  graph.remove_unused_parameters();
  return std::move(builder).build();
}

Graph export_model(Module& model, std::span<const Tensor> example_inputs,
                   const ExportOptions& options) {
  std::vector<TensorType> types;
  for (const Tensor& t : example_inputs) types.push_back({t.dtype(), t.shape()});
  return export_model(model, types, options);
}

}  // namespace quantkit::graph
