// ONNX import entry points: parse and validate the ModelProto, declare inputs and
// initializers, convert the nodes in order, bind the outputs, clean up and verify.
//
// Every failure is a quantkit::Error that names the model, and for node failures the node
// ("onnx import 'net.onnx': node 'Conv_3' (Conv): attribute 'foo' is not supported ...").
// Hostile files are bounded before anything is allocated: the protobuf parser's own limits
// (message size, recursion depth), tensor payloads checked against their dims, input dims
// capped, and every name checked for definition before use.
#include <limits>

#include <google/protobuf/io/coded_stream.h>

#include "import_context.h"
#include "quantkit/core/read_file.h"
#include "quantkit/graph/verifier.h"

namespace quantkit::onnx {

namespace {

using detail::Importer;
using detail::NodeContext;

constexpr std::int64_t kMinOpset = 10;
constexpr std::int64_t kMaxOpset = 21;
// Static input dims beyond this are rejected (a hostile model could otherwise declare
// shapes whose products overflow downstream arithmetic).
constexpr std::int64_t kMaxInputDim = std::int64_t{1} << 31;
constexpr std::int64_t kMaxInputNumel = std::int64_t{1} << 34;

const detail::ConverterTable& converters() {
  static const detail::ConverterTable table = [] {
    detail::ConverterTable t;
    detail::register_float_ops(t);
    detail::register_shape_ops(t);
    detail::register_indexing_ops(t);
    detail::register_quant_ops(t);
    detail::register_resample_ops(t);
    return t;
  }();
  return table;
}

std::int64_t default_opset(const ::onnx::ModelProto& model) {
  std::int64_t opset = -1;
  for (const auto& o : model.opset_import()) {
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
  }
  if (opset < 0) throw Error("the model imports no opset of the default ONNX domain");
  if (opset < kMinOpset || opset > kMaxOpset) {
    throw Error("opset " + std::to_string(opset) + " is not supported (supported: " +
                std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset) + ")");
  }
  return opset;
}

struct InputShape {
  Shape shape;
  std::vector<std::string> dim_names;  // empty, or one per dim (empty for a static dim)
};

InputShape input_shape(const ::onnx::ValueInfoProto& info, const ImportOptions& options,
                       bool pin_dynamic_dims) {
  for (const auto& [name, shape] : options.input_shapes) {
    if (name == info.name()) return {shape, {}};
  }
  const auto& type = info.type().tensor_type();
  if (!type.has_shape()) {
    throw Error("input '" + info.name() + "' has no shape; give one in ImportOptions::input_shapes");
  }
  InputShape s;
  bool dynamic = false;
  for (const auto& dim : type.shape().dim()) {
    // Symbolic dims keep their name; unknown ones are "?". Their representative size is 1.
    s.shape.push_back(dim.has_dim_value() ? dim.dim_value() : 1);
    s.dim_names.push_back(dim.has_dim_value()                               ? std::string()
                          : dim.has_dim_param() && !dim.dim_param().empty() ? dim.dim_param()
                                                                            : std::string("?"));
    dynamic = dynamic || !dim.has_dim_value();
  }
  if (!dynamic || pin_dynamic_dims) s.dim_names.clear();
  return s;
}

bool has_symbolic_input_dims(const ::onnx::GraphProto& g) {
  for (const auto& info : g.input()) {
    const auto& type = info.type().tensor_type();
    for (const auto& dim : type.shape().dim()) {
      if (!dim.has_dim_value()) return true;
    }
  }
  return false;
}

void declare_inputs(Importer& imp, const ::onnx::GraphProto& g) {
  for (const auto& info : g.input()) {
    if (imp.initializers.contains(info.name())) continue;  // IR < 4 lists initializers here
    if (info.name().empty()) throw Error("a graph input has an empty name");
    if (!info.type().has_tensor_type()) {
      throw Error("input '" + info.name() + "' is not a tensor (sequences/maps unsupported)");
    }
    const DType dtype = detail::dtype_from_onnx(info.type().tensor_type().elem_type(),
                                                "input '" + info.name() + "'");
    auto [shape, dim_names] = input_shape(info, imp.options, imp.pin_dynamic_dims);
    for (std::int64_t d : shape) {
      if (d < 0 || d > kMaxInputDim) {
        throw Error("input '" + info.name() + "' has dim " + std::to_string(d) +
                    ", expected 0 to 2^31");
      }
    }
    if (shape_numel(shape) > kMaxInputNumel) {
      throw Error("input '" + info.name() + "' of shape " + shape_to_string(shape) +
                  " is too large");
    }
    if (imp.values.contains(info.name())) {
      throw Error("input '" + info.name() + "' is declared twice");
    }
    imp.values.emplace(
        info.name(), dim_names.empty()
                         ? imp.graph.add_input(info.name(), {dtype, shape})
                         : imp.graph.add_input(info.name(), {dtype, shape}, std::move(dim_names)));
  }
  for (const auto& [name, shape] : imp.options.input_shapes) {
    if (!imp.values.contains(name)) {
      throw Error("ImportOptions::input_shapes names '" + name +
                  "', which is not an input of the model");
    }
  }
}

void convert_node(Importer& imp, const ::onnx::NodeProto& node) {
  NodeContext ctx(imp, node);
  if (!node.domain().empty() && node.domain() != "ai.onnx") {
    ctx.fail("op domain '" + node.domain() + "' is not supported (only the default domain)");
  }
  const auto& table = converters();
  auto it = table.find(node.op_type());
  if (it == table.end()) ctx.fail("op type '" + node.op_type() + "' is not supported");
  it->second(ctx);
  ctx.check_all_attrs_used();
  for (int i = 0; i < node.output_size(); ++i) {
    const std::string& name = node.output(i);
    ctx.check(name.empty() || imp.values.contains(name),
              "output '" + name + "' was not produced by the importer");
  }
}

// The declared output type, where the model gives one, must be what the import computes.
void check_declared_output(const ::onnx::ValueInfoProto& info, const graph::Value& v) {
  if (!info.type().has_tensor_type()) return;
  const auto& t = info.type().tensor_type();
  if (t.elem_type() != 0) {
    const DType declared = detail::dtype_from_onnx(t.elem_type(), "output '" + info.name() + "'");
    if (declared != v.dtype()) {
      throw Error("output '" + info.name() + "' is declared " +
                  std::string(dtype_name(declared)) + " but computes " + v.type().to_string());
    }
  }
  if (!t.has_shape()) return;
  bool matches = t.shape().dim_size() == static_cast<int>(v.shape().size());
  for (int d = 0; matches && d < t.shape().dim_size(); ++d) {
    const auto& dim = t.shape().dim(d);
    if (dim.has_dim_value() && dim.dim_value() != v.shape()[static_cast<std::size_t>(d)]) {
      matches = false;
    }
  }
  if (!matches) {
    throw Error("output '" + info.name() + "' is declared with another shape than the " +
                v.type().to_string() + " the import computes");
  }
}

graph::Graph import_model(const ::onnx::ModelProto& model, const ImportOptions& options,
                          const std::string& model_name, bool pin_dynamic_dims) {
  Importer imp{options, model_name, default_opset(model), pin_dynamic_dims, {}, {}, {}, {}, {}, {}, {}};
  const ::onnx::GraphProto& g = model.graph();
  for (const auto& init : g.initializer()) {
    if (init.name().empty()) throw Error("an initializer has an empty name");
    Tensor t = detail::tensor_from_proto(init, "initializer '" + init.name() + "'");
    if (detail::is_4bit_onnx_type(init.data_type())) imp.four_bit.insert(init.name());
    if (!imp.initializers.emplace(init.name(), std::move(t)).second) {
      throw Error("initializer '" + init.name() + "' is defined twice");
    }
  }
  if (g.sparse_initializer_size() > 0) throw Error("sparse initializers are not supported");
  declare_inputs(imp, g);
  for (const auto& node : g.node()) {
    try {
      convert_node(imp, node);
    } catch (const Error& e) {
      // Unnamed nodes are named by their first output, as ONNX tools display them.
      const std::string name = !node.name().empty() ? node.name()
                               : node.output_size() > 0 ? "output " + node.output(0)
                                                        : "";
      throw Error("node '" + name + "' (" + node.op_type() + "): " + e.what());
    }
  }
  if (g.output_size() == 0) throw Error("the graph has no outputs");
  std::vector<graph::Value*> outputs;
  for (const auto& info : g.output()) {
    graph::Value* v = nullptr;
    if (auto it = imp.values.find(info.name()); it != imp.values.end()) {
      v = it->second;
    } else if (auto init = imp.initializers.find(info.name()); init != imp.initializers.end()) {
      v = imp.graph.add_constant(init->second, info.name());
      imp.values.emplace(info.name(), v);
      imp.initializers.erase(init);
    } else {
      throw Error("output '" + info.name() + "' is not defined by any node, input or initializer");
    }
    check_declared_output(info, *v);
    outputs.push_back(v);
  }
  imp.graph.set_outputs(outputs);
  detail::fuse_layer_norm_patterns(imp.graph);
  imp.graph.eliminate_dead_code();
  imp.graph.remove_unused_parameters();
  graph::verify(imp.graph);
  return std::move(imp.graph);
}

graph::Graph import_with_context(std::string_view bytes, std::string_view model_name,
                                 const ImportOptions& options) {
  const std::string name(model_name);
  try {
    if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
      throw Error("the file is larger than 2 GiB (protobuf's limit)");
    }
    ::onnx::ModelProto model;
    google::protobuf::io::CodedInputStream stream(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                                  static_cast<int>(bytes.size()));
    stream.SetRecursionLimit(64);
    if (!model.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage()) {
      throw Error("not a valid ONNX model (protobuf parse failed: truncated or corrupt)");
    }
    if (!model.has_graph()) throw Error("the model has no graph");
    try {
      return import_model(model, options, name, /*pin_dynamic_dims=*/false);
    } catch (const Error&) {
      // Some op needs a symbolic dim static (Importer::symbolic): import the model as a
      // fixed-shape one, those dims 1. A model that fails this way too reports that error.
      if (!has_symbolic_input_dims(model.graph())) throw;
    }
    return import_model(model, options, name, /*pin_dynamic_dims=*/true);
  } catch (const Error& e) {
    throw Error("onnx import '" + name + "': " + e.what());
  } catch (const std::exception& e) {
    // Allocation failures and library errors on hostile input surface as Errors too.
    throw Error("onnx import '" + name + "': " + e.what());
  }
}

}  // namespace

graph::Graph import_onnx_bytes(std::string_view bytes, std::string_view model_name,
                               const ImportOptions& options) {
  return import_with_context(bytes, model_name, options);
}

graph::Graph import_onnx(const std::filesystem::path& model_path, const ImportOptions& options) {
  return import_with_context(read_regular_file(model_path, "onnx import"), model_path.string(),
                             options);
}

}  // namespace quantkit::onnx
