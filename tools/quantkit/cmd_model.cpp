// `quantkit inspect | run | bench`: look at an ONNX model, run it on .npy inputs, time it.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli_support.h"
#include "model_support.h"
#include "nonfinite_inputs.h"
#include "quantkit/core/error.h"
#include "quantkit/core/npy.h"
#include "quantkit/onnx/onnx_import.h"
#include "quantkit/pipeline/batched_run.h"

namespace quantkit::cli {
namespace {

// Runs of at least this many samples show a progress bar (on a terminal).
constexpr std::size_t kProgressSamples = 1000;

struct InspectArgs {
  std::string model;
  bool json = false;
};

void inspect(const InspectArgs& a) {
  const graph::Graph g = import_for_running(a.model);
  std::map<std::string, std::size_t> ops;
  for (const graph::Node* n : g.nodes()) ops[std::string(graph::op_name(n->op()))]++;
  std::int64_t params = 0, param_bytes = 0;
  for (const graph::Value* v : g.parameters()) {
    params += v->type().numel();
    param_bytes += static_cast<std::int64_t>(v->data().nbytes());
  }
  for (const graph::Value* v : g.constants()) {
    params += v->type().numel();
    param_bytes += static_cast<std::int64_t>(v->data().nbytes());
  }
  nlohmann::json j;
  j["model"] = a.model;
  j["quantized"] = is_quantized(g);
  for (const graph::Value* v : g.inputs()) {
    j["inputs"].push_back({{"name", v->name()}, {"type", v->type_string()}});
  }
  for (const graph::Value* v : g.outputs()) {
    j["outputs"].push_back({{"name", v->name()}, {"type", v->type_string()}});
  }
  j["nodes"] = g.num_nodes();
  j["ops"] = ops;
  j["parameters"] = params;
  j["parameter_bytes"] = param_bytes;
  j["file_bytes"] = file_size_bytes(a.model);
  if (a.json) {
    print_json(j);
    return;
  }
  std::cout << fmt::format("model       {}\n", a.model);
  std::cout << fmt::format("quantized   {}\n", is_quantized(g) ? "yes (Q/DQ)" : "no (fp32)");
  for (const graph::Value* v : g.inputs()) {
    std::cout << fmt::format("input       {}: {}\n", v->name(), v->type_string());
  }
  for (const graph::Value* v : g.outputs()) {
    std::cout << fmt::format("output      {}: {}\n", v->name(), v->type_string());
  }
  std::cout << fmt::format("parameters  {} ({:.1f} KiB in tensors, file {:.1f} KiB)\n", params,
                           static_cast<double>(param_bytes) / 1024.0,
                           static_cast<double>(file_size_bytes(a.model)) / 1024.0);
  std::cout << fmt::format("nodes       {}\n", g.num_nodes());
  for (const auto& [op, count] : ops) std::cout << fmt::format("  {:<28} {}\n", op, count);
}

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::size_t batch_size = 64;
  int threads = 1;
  bool allow_nonfinite = false;
};

// Dim 0 of every --input is the sample axis: N samples run in batches (pipeline::run_batched:
// --batch-size for a dynamic-batch model, the model's own batch otherwise) and each
// --output stacks the N outputs on dim 0.
void run(const RunArgs& a) {
  const LoadedModel model(a.model, a.threads);
  const auto graph_inputs = model.graph().inputs();
  check_argument(a.inputs.size() == graph_inputs.size(), "run", "--input",
                 std::to_string(a.inputs.size()) + " files",
                 std::to_string(graph_inputs.size()) + " (one per model input)");
  const auto graph_outputs = model.graph().outputs();
  check_argument(a.outputs.size() == graph_outputs.size(), "run", "--output",
                 std::to_string(a.outputs.size()) + " files",
                 std::to_string(graph_outputs.size()) + " (one per model output)");
  // A scalar (0-d) input has no sample axis: such a model runs once on exactly its inputs.
  const bool unbatched = std::any_of(graph_inputs.begin(), graph_inputs.end(),
                                     [](const graph::Value* v) { return v->shape().empty(); });
  std::vector<Tensor> xs;
  for (std::size_t i = 0; i < a.inputs.size(); ++i) {
    const std::string what = "--input " + a.inputs[i];
    Tensor x = unbatched ? read_npy(a.inputs[i])
                         : pipeline::as_samples(read_npy(a.inputs[i]), *graph_inputs[i], what);
    if (unbatched && x.numel() == graph_inputs[i]->type().numel()) {
      x = x.reshape(graph_inputs[i]->shape());
    }
    if (is_quantized(model.graph())) {  // an fp32 model propagates NaN itself
      check_finite_model_input(std::span<const Tensor>(&x, 1), 1, "run", what, a.allow_nonfinite);
    }
    xs.push_back(std::move(x));
  }
  if (unbatched) {
    const std::vector<Tensor> ys = model.run(xs);  // Errors name a mistyped input
    for (std::size_t i = 0; i < ys.size(); ++i) write_npy(a.outputs[i], ys[i]);
    return;
  }
  pipeline::BatchedRunOptions options{a.batch_size, {}};
  // A bar for long runs on a terminal only: scripts and tests read stderr.
  std::optional<ProgressBar> bar;
  const std::size_t samples = static_cast<std::size_t>(xs.at(0).shape().at(0));
  if (isatty(STDERR_FILENO) != 0 && samples >= kProgressSamples) {
    bar.emplace("running", samples);
    options.progress = [&](std::size_t done, std::size_t) { bar->update(done); };
  }
  const std::vector<Tensor> ys = pipeline::run_batched(model, xs, options);
  if (bar) bar->finish();
  for (std::size_t i = 0; i < ys.size(); ++i) write_npy(a.outputs[i], ys[i]);
}

struct BenchArgs {
  std::string model;
  std::vector<int> threads{1};
  std::size_t iterations = 200;
  std::size_t warmup = 20;
  bool json = false;
  bool show_plan = false;
};

void bench(const BenchArgs& a) {
  nlohmann::json rows = nlohmann::json::array();
  if (!a.json) {
    std::cout << fmt::format("{:<8} {:>10} {:>10} {:>10} {:>10} {:>10}\n", "threads", "mean ms",
                             "p50 ms", "p90 ms", "p99 ms", "min ms");
  }
  for (int t : a.threads) {
    const LoadedModel model(a.model, t);
    if (a.show_plan && t == a.threads.front()) {
      // What the runtime runs for each node (stderr: the table / JSON stay parseable).
      for (const std::string& label : model.plan_labels()) std::cerr << "  " << label << "\n";
    }
    std::vector<Tensor> xs;
    for (const graph::Value* v : model.graph().inputs()) {
      // Deterministic inputs in [0, 1): latency does not depend on the values.
      Tensor x = Tensor::empty(v->shape(), v->dtype());
      check_argument(v->dtype() == DType::Float32, "bench", "MODEL", a.model,
                     "a model with float32 inputs");
      float* p = x.data<float>();
      for (std::int64_t i = 0; i < x.numel(); ++i) p[i] = static_cast<float>(i % 97) / 97.0f;
      xs.push_back(std::move(x));
    }
    const LatencyStats s = measure_latency(model, xs, a.warmup, a.iterations);
    rows.push_back({{"threads", t}, {"mean_ms", s.mean_ms}, {"p50_ms", s.p50_ms},
                    {"p90_ms", s.p90_ms}, {"p99_ms", s.p99_ms}, {"min_ms", s.min_ms},
                    {"iterations", s.iterations}, {"lowered", model.lowered()}});
    if (!a.json) {
      std::cout << fmt::format("{:<8} {:>10.3f} {:>10.3f} {:>10.3f} {:>10.3f} {:>10.3f}\n", t,
                               s.mean_ms, s.p50_ms, s.p90_ms, s.p99_ms, s.min_ms);
    }
  }
  if (a.json) print_json({{"model", a.model}, {"runs", rows}});
}

}  // namespace

void register_model_commands(CLI::App& app) {
  {
    auto args = std::make_shared<InspectArgs>();
    CLI::App* c = app.add_subcommand("inspect", "Show an ONNX model's inputs, outputs, ops and size");
    c->add_option("MODEL", args->model, "ONNX model")->required()->check(CLI::ExistingFile);
    c->add_flag("--json", args->json, "Print JSON instead of text");
    c->callback([args] { inspect(*args); });
  }
  {
    auto args = std::make_shared<RunArgs>();
    CLI::App* c = app.add_subcommand(
        "run", "Run an ONNX model (fp32 or Q/DQ, lowered to integer kernels) on .npy inputs");
    c->add_option("MODEL", args->model, "ONNX model")->required()->check(CLI::ExistingFile);
    c->add_option("--input", args->inputs, "Input .npy, one per model input, in order")
        ->required()
        ->check(CLI::ExistingFile);
    c->add_option("--output", args->outputs, "Output .npy, one per model output, in order")
        ->required();
    c->add_option("--batch-size", args->batch_size,
                  "Samples per call of a dynamic-batch model, 1 to 2^20 (a fixed-batch model "
                  "runs its own batch; fp32 and static int8 results do not depend on it)")
        ->transform(integer_in(1, kMaxBatchSize));
    c->add_option("--threads", args->threads, "Threads, 1 to 256 (results do not depend on it)")
        ->transform(integer_in(1, kMaxThreads));
    add_allow_nonfinite_flag(*c, args->allow_nonfinite);
    c->callback([args] { run(*args); });
  }
  {
    auto args = std::make_shared<BenchArgs>();
    CLI::App* c = app.add_subcommand("bench", "Single-input latency percentiles of an ONNX model");
    c->add_option("MODEL", args->model, "ONNX model")->required()->check(CLI::ExistingFile);
    c->add_option("--threads", args->threads,
                  "Thread counts to measure, each 1 to 256 (e.g. --threads 1 2)")
        ->transform(integer_in(1, kMaxThreads));
    c->add_option("--iterations", args->iterations, "Timed runs per thread count, 1 to 10^7")
        ->transform(integer_in(1, 10'000'000));
    c->add_option("--warmup", args->warmup, "Untimed runs first, 0 to 10^6")
        ->transform(integer_in(0, 1'000'000));
    c->add_flag("--json", args->json, "Print JSON instead of a table");
    c->add_flag("--show-plan", args->show_plan,
                "Print the runtime's plan (one kernel per op, layout conversions, fallbacks) "
                "on stderr");
    c->callback([args] { bench(*args); });
  }
}

}  // namespace quantkit::cli
