#include "quantkit/graph/printer.h"

#include <ostream>
#include <sstream>

namespace quantkit::graph {
namespace {

constexpr std::int64_t kMaxInlineElements = 8;

std::string tensor_values(const Tensor& t) {
  std::ostringstream os;
  os.precision(9);
  visit_dtype(t.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* p = t.data<T>();
    if (t.dim() > 0) os << "[";
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      if (i > 0) os << ", ";
      if constexpr (sizeof(T) == 1) {
        os << static_cast<int>(p[i]);  // not as characters
      } else {
        os << p[i];
      }
    }
    if (t.dim() > 0) os << "]";
  });
  return os.str();
}

std::string declaration(const Value* v) { return "%" + v->name() + ": " + v->type_string(); }

}  // namespace

std::string to_string(const Node& node) {
  std::string line;
  for (std::size_t i = 0; i < node.num_outputs(); ++i) {
    line += (i > 0 ? ", " : "") + declaration(node.output(i));
  }
  line += " = " + std::string(node.schema().name) + "(";
  bool first = true;
  for (const Value* in : node.inputs()) {
    line += (first ? "%" : ", %") + in->name();
    first = false;
  }
  for (const auto& [name, value] : node.attrs()) {
    line += (first ? "" : ", ") + name + "=" + value.to_string();
    first = false;
  }
  line += ")";
  if (!node.source().module_path.empty() || !node.source().module_type.empty()) {
    line += "  # " + node.source().module_path;
    if (!node.source().module_type.empty()) line += " (" + node.source().module_type + ")";
  }
  return line;
}

std::string to_string(const Graph& graph) {
  std::string out = "graph(";
  for (std::size_t i = 0; i < graph.inputs().size(); ++i) {
    out += (i > 0 ? ", " : "") + declaration(graph.inputs()[i]);
  }
  out += "):\n";
  if (!graph.parameters().empty()) {
    out += "  parameters:\n";
    for (const Value* p : graph.parameters()) out += "    " + declaration(p) + "\n";
  }
  if (!graph.constants().empty()) {
    out += "  constants:\n";
    for (const Value* c : graph.constants()) {
      out += "    " + declaration(c);
      if (c->data().numel() <= kMaxInlineElements) out += " = " + tensor_values(c->data());
      out += "\n";
    }
  }
  for (const Node* node : graph.nodes()) out += "  " + to_string(*node) + "\n";
  out += "  return (";
  for (std::size_t i = 0; i < graph.outputs().size(); ++i) {
    out += (i > 0 ? ", %" : "%") + graph.outputs()[i]->name();
  }
  out += ")\n";
  return out;
}

std::ostream& operator<<(std::ostream& os, const Graph& graph) { return os << to_string(graph); }

}  // namespace quantkit::graph
