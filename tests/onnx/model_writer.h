#pragma once
// A tiny ONNX model writer over the protobuf classes, for import tests: inputs, outputs,
// initializers and nodes with int / float / ints / string attributes.
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/graph.h"
#include "quantkit/onnx/onnx_import.h"

namespace quantkit::onnx::testing {

class ModelWriter {
 public:
  explicit ModelWriter(std::int64_t opset = 13) {
    model_.set_ir_version(8);
    auto* o = model_.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    model_.mutable_graph()->set_name("test");
  }

  void input(const std::string& name, const Shape& shape, int elem = ::onnx::TensorProto::FLOAT) {
    auto* v = model_.mutable_graph()->add_input();
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(elem);
    for (std::int64_t d : shape) t->mutable_shape()->add_dim()->set_dim_value(d);
  }
  void output(const std::string& name) { model_.mutable_graph()->add_output()->set_name(name); }

  static void fill(::onnx::TensorProto* p, const std::string& name, const Tensor& t) {
    p->set_name(name);
    for (std::int64_t d : t.shape()) p->add_dims(d);
    switch (t.dtype()) {
      case DType::Float32: p->set_data_type(::onnx::TensorProto::FLOAT); break;
      case DType::Int64: p->set_data_type(::onnx::TensorProto::INT64); break;
      case DType::Int32: p->set_data_type(::onnx::TensorProto::INT32); break;
      case DType::Int8: p->set_data_type(::onnx::TensorProto::INT8); break;
      case DType::UInt8: p->set_data_type(::onnx::TensorProto::UINT8); break;
      default: throw std::runtime_error("dtype");
    }
    p->set_raw_data(std::string(static_cast<const char*>(t.raw_data()), t.nbytes()));
  }
  void initializer(const std::string& name, const Tensor& t) {
    fill(model_.mutable_graph()->add_initializer(), name, t);
  }

  struct Attr {
    std::string name;
    std::variant<std::int64_t, float, std::vector<std::int64_t>, std::string> value;
  };
  ::onnx::NodeProto* node(const std::string& op, std::vector<std::string> inputs,
                        std::vector<std::string> outputs, std::vector<Attr> attrs = {},
                        const std::string& name = "") {
    auto* n = model_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? op + "_" + std::to_string(model_.graph().node_size()) : name);
    for (auto& i : inputs) n->add_input(i);
    for (auto& o : outputs) n->add_output(o);
    for (auto& a : attrs) {
      auto* p = n->add_attribute();
      p->set_name(a.name);
      if (auto* i = std::get_if<std::int64_t>(&a.value)) {
        p->set_type(::onnx::AttributeProto::INT);
        p->set_i(*i);
      } else if (auto* f = std::get_if<float>(&a.value)) {
        p->set_type(::onnx::AttributeProto::FLOAT);
        p->set_f(*f);
      } else if (auto* v = std::get_if<std::vector<std::int64_t>>(&a.value)) {
        p->set_type(::onnx::AttributeProto::INTS);
        for (auto x : *v) p->add_ints(x);
      } else {
        p->set_type(::onnx::AttributeProto::STRING);
        p->set_s(std::get<std::string>(a.value));
      }
    }
    return n;
  }

  std::string bytes() const { return model_.SerializeAsString(); }
  graph::Graph import(const quantkit::onnx::ImportOptions& options = {}) const {
    return quantkit::onnx::import_onnx_bytes(bytes(), "test.onnx", options);
  }
  void save(const std::filesystem::path& path) const {
    std::ofstream(path, std::ios::binary) << bytes();
  }
  ::onnx::ModelProto& proto() { return model_; }

 private:
  ::onnx::ModelProto model_;
};

}  // namespace quantkit::onnx::testing
