// libFuzzer target for the ONNX path a user's model takes: import → verify → interpret. Any
// byte string must either be rejected with quantkit::Error, or import into a graph that
// verifies and then runs on small deterministic inputs — producing outputs of exactly the
// types the graph declares — or fails that run with quantkit::Error. Never a crash, hang, leak
// or undefined behaviour (built with -fsanitize=fuzzer,address,undefined; see scripts/fuzz).
//
// Models whose estimated work exceeds kMaxWork are imported and verified but not run: a
// 40-byte protobuf can declare a 1000x1000 MatMul, and spending seconds on it would only
// make libFuzzer report a timeout, not a bug.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/graph/verifier.h"
#include "quantkit/onnx/onnx_import.h"

namespace {

using quantkit::graph::Graph;
using quantkit::graph::Node;
using quantkit::graph::OpKind;

// Well under a second of reference kernels under ASan; the seed models need at most 0.6 M
// (resnet_small), so mutations that grow them a little still run.
constexpr double kMaxWork = 1 << 23;

bool is_one_of(OpKind op, std::initializer_list<OpKind> kinds) {
  return std::find(kinds.begin(), kinds.end(), op) != kinds.end();
}

double numel(const quantkit::graph::Value* v) {
  double n = 1;
  for (const std::int64_t d : v->shape()) n *= static_cast<double>(d);
  return n;
}

// Upper bound on the inputs each output element reads (the reduction length of the
// dot-product ops, the window of the pools); 1 for the elementwise and data-movement ops.
double reads_per_output(const Node& n) {
  if (n.has_attr("kernel_size")) {
    double window = 1;
    for (const std::int64_t k : n.attr_ints("kernel_size")) window *= static_cast<double>(k);
    return std::max(window, 1.0);
  }
  if (is_one_of(n.op(), {OpKind::Conv2d, OpKind::IntegerConv2d, OpKind::QuantizedConv2d}) &&
      n.num_inputs() > 1 && !n.input(1)->shape().empty() && n.input(1)->shape()[0] > 0) {
    return numel(n.input(1)) / static_cast<double>(n.input(1)->shape()[0]);
  }
  if (is_one_of(n.op(), {OpKind::Linear, OpKind::IntegerLinear, OpKind::QuantizedLinear,
                         OpKind::DynamicQuantizedLinear, OpKind::MatMul}) &&
      !n.input(0)->shape().empty()) {
    return static_cast<double>(n.input(0)->shape().back());
  }
  if (n.op() == OpKind::ConvTranspose2d && n.num_inputs() > 1 &&
      n.input(1)->shape().size() == 4 && n.input(1)->shape()[1] > 0) {
    // Each output visits every kernel tap, and up to C_in input channels where one lands.
    return numel(n.input(1)) / static_cast<double>(n.input(1)->shape()[1]);
  }
  if (n.op() == OpKind::Resize) return 4;  // bilinear reads four pixels
  if (n.op() == OpKind::AdaptiveAvgPool2d && n.input(0)->shape().size() >= 2) {
    const auto& s = n.input(0)->shape();
    return static_cast<double>(s[s.size() - 1]) * static_cast<double>(s[s.size() - 2]);
  }
  return 1;
}

// Elements read and written by all nodes (doubles: a hostile shape must not overflow this).
double estimated_work(const Graph& g) {
  double work = 0;
  for (const quantkit::graph::Value* v : g.inputs()) work += numel(v);
  for (const Node* n : g.nodes()) {
    for (const quantkit::graph::Value* in : n->inputs()) work += numel(in);
    for (const quantkit::graph::Value* out : n->outputs())
      work += numel(out) * reads_per_output(*n);
  }
  return work;
}

// Small values of both signs for float inputs (so Relu, Div, Softmax, quantize see more than
// zero), zeros for integer inputs (valid codes for every integer dtype).
quantkit::Tensor make_input(const quantkit::graph::TensorType& type) {
  quantkit::Tensor t = quantkit::Tensor::zeros(type.shape, type.dtype);
  if (type.dtype == quantkit::DType::Float32) {
    float* p = t.data<float>();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(i % 7 - 3) * 0.37f;
  }
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const Graph g = quantkit::onnx::import_onnx_bytes(bytes, "fuzz.onnx");
    // import_onnx verifies; verifying again checks that what it returns is self-consistent.
    quantkit::graph::verify(g);
    if (estimated_work(g) > kMaxWork) return 0;
    std::vector<quantkit::Tensor> inputs;
    for (const quantkit::graph::Value* in : g.inputs()) inputs.push_back(make_input(in->type()));
    const quantkit::graph::Interpreter interpreter(g);
    const std::vector<quantkit::Tensor> outputs = interpreter.run(inputs);
    // The kernels must produce what type inference promised (the passes rely on it).
    if (outputs.size() != g.outputs().size()) std::abort();
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      if (outputs[i].dtype() != g.outputs()[i]->dtype() ||
          outputs[i].shape() != g.outputs()[i]->shape()) {
        std::abort();
      }
    }
  } catch (const quantkit::Error&) {
    // Rejected cleanly. Any other exception escapes and libFuzzer reports it.
  }
  return 0;
}
