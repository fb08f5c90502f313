// Per-layer SQNR / cosine between an fp32 graph and its quantized form (compare.h).
#include "quantkit/pipeline/compare.h"

#include <cmath>
#include <limits>
#include <map>

#include "quantkit/core/error.h"
#include "quantkit/graph/interpreter.h"

namespace quantkit::pipeline {
namespace {

struct Sums {
  double ref2 = 0, err2 = 0, dot = 0, q2 = 0, max_abs = 0;
};

using Captured = std::map<std::string, Tensor>;

Captured capture(const graph::Graph& g, const Tensor& input) {
  Captured out;
  graph::Interpreter run(g);
  run.set_observer([&](const graph::Node& node, std::span<const Tensor> outputs) {
    if (outputs.size() == 1 && outputs[0].dtype() == DType::Float32) {
      out[node.name()] = outputs[0].clone();
    }
  });
  run.run(std::span<const Tensor>(&input, 1));
  return out;
}

}  // namespace

double sqnr_db(std::span<const float> ref, std::span<const float> q) {
  check_argument(ref.size() == q.size(), "sqnr_db", "q", q.size(),
                 std::to_string(ref.size()) + " values (as many as ref)");
  double signal = 0, noise = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double r = ref[i];
    const double e = r - static_cast<double>(q[i]);
    signal += r * r;
    noise += e * e;
  }
  if (noise == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

std::vector<LayerComparison> compare_layers(const graph::Graph& fp32, const graph::Graph& quantized,
                                            std::span<const Tensor> inputs) {
  check_argument(!inputs.empty(), "compare_layers", "inputs", "0 batches", "at least one batch");
  check_argument(fp32.inputs().size() == 1 && quantized.inputs().size() == 1, "compare_layers",
                 "graphs", "multi-input graphs", "graphs with one input each");
  // The layers: fp32 nodes with one float output whose name exists in the quantized graph
  // with a float output of the same shape.
  std::vector<const graph::Node*> layers;
  for (const graph::Node* n : fp32.nodes()) {
    if (n->num_outputs() != 1 || n->output()->dtype() != DType::Float32) continue;
    const graph::Node* other = quantized.find_node(n->name());
    if (other == nullptr || other->num_outputs() != 1 ||
        other->output()->type() != n->output()->type()) {
      continue;
    }
    layers.push_back(n);
  }
  if (layers.empty()) {
    throw Error("compare_layers: no node of the fp32 graph has a same-named float node in the "
                "quantized graph (was it produced by convert_pt2e from this model?)");
  }
  std::map<std::string, Sums> sums;
  for (const Tensor& input : inputs) {
    const Captured ref = capture(fp32, input);
    const Captured q = capture(quantized, input);
    for (const graph::Node* n : layers) {
      const auto r = ref.find(n->name());
      const auto o = q.find(n->name());
      if (r == ref.end() || o == q.end()) continue;
      Sums& s = sums[n->name()];
      const float* pr = r->second.data<float>();
      const float* po = o->second.data<float>();
      for (std::int64_t i = 0; i < r->second.numel(); ++i) {
        const double a = pr[i], b = po[i];
        s.ref2 += a * a;
        s.q2 += b * b;
        s.dot += a * b;
        s.err2 += (a - b) * (a - b);
        s.max_abs = std::max(s.max_abs, std::abs(a - b));
      }
    }
  }
  std::vector<LayerComparison> out;
  for (const graph::Node* n : layers) {
    const Sums& s = sums[n->name()];
    LayerComparison c;
    c.node = n->name();
    c.op = std::string(graph::op_name(n->op()));
    c.shape = n->output()->type().to_string();
    c.sqnr_db = s.err2 == 0 ? std::numeric_limits<double>::infinity()
                            : 10.0 * std::log10(s.ref2 / s.err2);
    c.cosine = (s.ref2 == 0 || s.q2 == 0) ? (s.ref2 == s.q2 ? 1.0 : 0.0)
                                          : s.dot / std::sqrt(s.ref2 * s.q2);
    c.max_abs_error = s.max_abs;
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace quantkit::pipeline
