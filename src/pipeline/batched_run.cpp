// run_batched: views of consecutive sample rows in, views of the output rows out, so a
// batched run copies nothing and (after the first calls plan the shapes) allocates nothing.
#include "quantkit/pipeline/batched_run.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "quantkit/core/error.h"

namespace quantkit::pipeline {
namespace {

bool dynamic_dim0(const graph::Value& v) {
  return v.is_dynamic() && !v.shape().empty() && !v.dim_names()[0].empty();
}

Shape with_dim0(Shape shape, std::int64_t n) {
  shape[0] = n;
  return shape;
}

std::size_t row_bytes(const Tensor& t) {
  return t.shape()[0] == 0 ? 0 : t.nbytes() / static_cast<std::size_t>(t.shape()[0]);
}

// Rows [start, start + n) of a tensor stacked on dim 0, as a view.
Tensor rows(const Tensor& t, std::int64_t start, std::int64_t n) {
  auto* base = static_cast<std::byte*>(const_cast<void*>(t.raw_data()));
  return Tensor::from_blob(base + static_cast<std::size_t>(start) * row_bytes(t),
                           with_dim0(t.shape(), n), t.dtype());
}

}  // namespace

bool has_dynamic_batch(const graph::Graph& graph) {
  const auto inputs = graph.inputs();
  return !inputs.empty() && std::all_of(inputs.begin(), inputs.end(),
                                        [](const graph::Value* v) { return dynamic_dim0(*v); });
}

Tensor as_samples(const Tensor& x, const graph::Value& input, std::string_view what) {
  const graph::TensorType& want = input.type();
  const std::string expected = "N samples for model input '" + input.name() + "' of type " +
                               input.type_string() + " (stacked on dim 0)";
  check_argument(x.dtype() == want.dtype && !want.shape.empty(), "as_samples", what,
                 std::string(dtype_name(x.dtype())) + shape_to_string(x.shape()), expected);
  const Shape sample(want.shape.begin() + 1, want.shape.end());
  const std::int64_t per_sample = shape_numel(sample);
  if (x.dim() >= 1 && per_sample > 0 &&
      shape_numel(Shape(x.shape().begin() + 1, x.shape().end())) == per_sample) {
    Shape stacked{x.shape()[0]};
    stacked.insert(stacked.end(), sample.begin(), sample.end());
    return x.reshape(stacked);
  }
  check_argument(x.numel() == want.numel(), "as_samples", what,
                 std::string(dtype_name(x.dtype())) + shape_to_string(x.shape()), expected);
  return x.reshape(want.shape);
}

std::vector<Tensor> run_batched(const LoadedModel& model, std::span<const Tensor> inputs,
                                const BatchedRunOptions& options) {
  const graph::Graph& g = model.graph();
  const auto graph_inputs = g.inputs();
  check_argument(inputs.size() == graph_inputs.size(), "run_batched", "inputs", inputs.size(),
                 std::to_string(graph_inputs.size()) + " tensors (one per model input)");
  check_argument(options.batch_size >= 1, "run_batched", "options.batch_size", options.batch_size,
                 "at least 1");
  const bool dynamic = has_dynamic_batch(g);
  const std::int64_t total = inputs[0].dim() >= 1 ? inputs[0].shape()[0] : 0;
  // Samples per call: the batch size, or the model's static batch.
  const std::int64_t per_call = dynamic ? static_cast<std::int64_t>(options.batch_size)
                                : graph_inputs[0]->shape().empty() ? 0
                                                                   : graph_inputs[0]->shape()[0];
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const graph::Value& v = *graph_inputs[i];
    const std::string arg = "inputs[" + std::to_string(i) + "]";
    const bool fits = inputs[i].dtype() == v.dtype() && inputs[i].dim() >= 1 &&
                      inputs[i].shape()[0] == total &&
                      v.accepts_shape(with_dim0(inputs[i].shape(), dynamic ? 1 : per_call)) &&
                      (dynamic || (!v.shape().empty() && v.shape()[0] == per_call));
    check_argument(fits, "run_batched", arg,
                   std::string(dtype_name(inputs[i].dtype())) + shape_to_string(inputs[i].shape()),
                   std::to_string(total) + " samples for model input '" + v.name() + "' " +
                       v.type_string() + " (every input with the same count on dim 0)");
  }
  check_argument(total >= 1 && per_call >= 1 && total % (dynamic ? 1 : per_call) == 0,
                 "run_batched", "inputs", std::to_string(total) + " samples",
                 dynamic ? std::string("at least one sample")
                         : "a multiple of the model's static batch " + std::to_string(per_call));
  if (!dynamic && total == per_call) {
    // One call of the model's own batch: its outputs as they are (batched or not).
    std::vector<Tensor> outputs = model.run(inputs);
    if (options.progress)
      options.progress(static_cast<std::size_t>(total), static_cast<std::size_t>(total));
    return outputs;
  }
  std::vector<Tensor> outputs;
  std::vector<Tensor> xs(inputs.size()), ys;
  for (std::int64_t start = 0; start < total; start += per_call) {
    const std::int64_t n = std::min(per_call, total - start);
    for (std::size_t i = 0; i < inputs.size(); ++i) xs[i] = rows(inputs[i], start, n);
    if (outputs.empty()) {
      // The first call gives the output types; later calls write into the stacked outputs.
      std::vector<Tensor> first = model.run(xs);
      for (std::size_t o = 0; o < first.size(); ++o) {
        check_argument(first[o].dim() >= 1 && first[o].shape()[0] == n, "run_batched", "model",
                       model.path().string(),
                       "outputs with the batch on dim 0 (output " + std::to_string(o) + " is " +
                           shape_to_string(first[o].shape()) + " for " + std::to_string(n) +
                           " samples)");
        outputs.push_back(Tensor::empty(with_dim0(first[o].shape(), total), first[o].dtype()));
        std::memcpy(outputs[o].raw_data(), first[o].raw_data(), first[o].nbytes());
      }
      ys.resize(outputs.size());
    } else {
      for (std::size_t o = 0; o < outputs.size(); ++o) ys[o] = rows(outputs[o], start, n);
      model.run_into(xs, ys);
    }
    if (options.progress) {
      options.progress(static_cast<std::size_t>(start + n), static_cast<std::size_t>(total));
    }
  }
  return outputs;
}

}  // namespace quantkit::pipeline
