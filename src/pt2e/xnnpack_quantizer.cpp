// XNNPACKQuantizer: configuration scopes (module name > object type > operator type >
// global) and the entry point that runs the pattern annotators.
#include "quantkit/pt2e/xnnpack_quantizer.h"

#include <algorithm>

#include "quantkit/core/error.h"
#include "xnnpack_annotators.h"

namespace quantkit::pt2e {

namespace {

template <class Key>
void set_entry(std::vector<std::pair<Key, std::optional<QuantizationConfig>>>& entries, Key key,
               std::optional<QuantizationConfig> config) {
  for (auto& [k, c] : entries) {
    if (k == key) {
      c = std::move(config);  // a later call replaces the earlier one, like PyTorch's dicts
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(config));
}

// "features" matches "features" and "features.0.conv", not "features2".
bool module_path_in(const std::string& path, const std::string& module_name) {
  if (path.size() < module_name.size()) return false;
  if (path.compare(0, module_name.size(), module_name) != 0) return false;
  return path.size() == module_name.size() || path[module_name.size()] == '.';
}

// Scope ids: one range per level so that entries of different levels never compare equal.
constexpr int kModuleNameScope = 0;
constexpr int kObjectTypeScope = 1 << 20;
constexpr int kOperatorScope = 2 << 20;
constexpr int kGlobalScope = 3 << 20;

}  // namespace

XNNPACKQuantizer& XNNPACKQuantizer::set_global(std::optional<QuantizationConfig> config) {
  global_ = std::move(config);
  return *this;
}

XNNPACKQuantizer& XNNPACKQuantizer::set_object_type(std::string module_type,
                                                    std::optional<QuantizationConfig> config) {
  check_argument(!module_type.empty(), "XNNPACKQuantizer::set_object_type", "module_type",
                 module_type, "a module type name such as 'Linear'");
  set_entry(object_types_, std::move(module_type), std::move(config));
  return *this;
}

XNNPACKQuantizer& XNNPACKQuantizer::set_operator_type(graph::OpKind op,
                                                      std::optional<QuantizationConfig> config) {
  set_entry(operator_types_, op, std::move(config));
  return *this;
}

XNNPACKQuantizer& XNNPACKQuantizer::set_module_name(std::string module_name,
                                                    std::optional<QuantizationConfig> config) {
  check_argument(!module_name.empty() && module_name.front() != '.' && module_name.back() != '.',
                 "XNNPACKQuantizer::set_module_name", "module_name", module_name,
                 "a qualified module path such as 'features.0'");
  set_entry(module_names_, std::move(module_name), std::move(config));
  return *this;
}

Annotations XNNPACKQuantizer::annotate(const Graph& graph) const {
  using xnnpack_detail::ScopedConfig;
  auto resolve = [this](const graph::Node& node, graph::OpKind anchor) -> ScopedConfig {
    const graph::SourceInfo& src = node.source();
    // Module names: the most specific (longest) configured path containing the node.
    int best = -1;
    for (std::size_t i = 0; i < module_names_.size(); ++i) {
      const std::string& name = module_names_[i].first;
      if (!module_path_in(src.module_path, name)) continue;
      if (best < 0 || name.size() > module_names_[static_cast<std::size_t>(best)].first.size()) {
        best = static_cast<int>(i);
      }
    }
    if (best >= 0) {
      return {kModuleNameScope + best, &module_names_[static_cast<std::size_t>(best)].second};
    }
    for (std::size_t i = 0; i < object_types_.size(); ++i) {
      if (!src.module_type.empty() && object_types_[i].first == src.module_type) {
        return {kObjectTypeScope + static_cast<int>(i), &object_types_[i].second};
      }
    }
    for (std::size_t i = 0; i < operator_types_.size(); ++i) {
      if (operator_types_[i].first == anchor) {
        return {kOperatorScope + static_cast<int>(i), &operator_types_[i].second};
      }
    }
    if (global_) return {kGlobalScope, &global_};
    return {};
  };
  return xnnpack_detail::annotate_xnnpack_patterns(graph, resolve);
}

}  // namespace quantkit::pt2e
