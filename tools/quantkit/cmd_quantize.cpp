// `quantkit quantize | compare`: post-training quantization of an ONNX model, and the
// per-layer numeric comparison of a float model with its quantized form.
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli_support.h"
#include "model_support.h"
#include "nonfinite_inputs.h"
#include "quantkit/core/atomic_file.h"
#include "quantkit/core/error.h"
#include "quantkit/core/npy.h"
#include "quantkit/data/samples.h"
#include "quantkit/onnx/onnx_export.h"
#include "quantkit/onnx/onnx_import.h"
#include "quantkit/pipeline/batched_run.h"
#include "quantkit/pipeline/compare.h"
#include "quantkit/pipeline/quantize_model.h"
#include "svg_bars.h"

namespace quantkit::cli {
namespace {

std::string config_help() {
  std::string names;
  for (std::string_view n : pipeline::config_names()) names += (names.empty() ? "" : ", ") + std::string(n);
  return names;
}

nlohmann::json node_counts(const graph::Graph& g) {
  std::map<std::string, std::size_t> ops;
  for (const graph::Node* n : g.nodes()) ops[std::string(graph::op_name(n->op()))]++;
  return ops;
}

// A number for JSON: +inf (an exactly reproduced layer) becomes null.
nlohmann::json finite_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

struct QuantizeArgs {
  std::string model;
  std::string output;
  std::string calib;
  std::string config;
  std::size_t calib_batches = 100;
  std::size_t calib_batch_size = 0;  // 0: not given (the model's batch: one sample at a time)
  std::string report;
  std::int64_t opset = 17;
  std::int64_t group_size = 256;  // 8da4w's weight groups
};

void quantize(const QuantizeArgs& a) {
  const auto start = std::chrono::steady_clock::now();
  const graph::Graph fp32 = onnx::import_onnx(a.model);
  check_argument(fp32.inputs().size() == 1, "quantize", "MODEL", a.model,
                 "a model with one input");
  const pipeline::QuantizeOptions options{a.group_size};
  pipeline::config_by_name(a.config, options);  // validate before reading data
  const graph::TensorType& input = fp32.inputs()[0]->type();
  data::Batches calib;
  if (!a.calib.empty()) {
    const std::size_t model_batch =
        static_cast<std::size_t>(std::max<std::int64_t>(input.shape.at(0), 1));
    // --calib-batch-size B: --calib-batches counts batches of B samples. Without it, batches
    // are the model's own (one sample for a dynamic or batch-1 model), as before.
    const bool batched = a.calib_batch_size != 0 && pipeline::has_dynamic_batch(fp32);
    check_argument(a.calib_batch_size == 0 || batched || a.calib_batch_size == model_batch,
                   "quantize", "--calib-batch-size", a.calib_batch_size,
                   "the model's fixed batch " + std::to_string(model_batch) +
                       " (other sizes need a model with a dynamic batch)");
    const std::size_t batch = batched ? a.calib_batch_size : model_batch;
    calib = data::load_batches(a.calib, input, a.calib_batches * batch, batched ? batch : 0);
  }
  check_argument(pipeline::is_dynamic_config(a.config) || !calib.batches.empty(), "quantize",
                 "--calib", a.calib.empty() ? "(none)" : a.calib,
                 "calibration data (IDX or .npy) for the static config '" + a.config + "'");
  ProgressBar bar("calibrating", calib.batches.size());
  pipeline::QuantizeReport quantize_report;
  const graph::Graph qdq =
      pipeline::quantize_model(fp32, a.config, calib.batches, options, &quantize_report,
                               [&](std::size_t done, std::size_t) { bar.update(done); });
  bar.finish();
  // Said before the export, which refuses the per-token configs (no ONNX form).
  for (const std::string& layer : quantize_report.group_size_fallbacks) {
    std::cerr << "quantize: layer '" << layer << "' has in_features not divisible by --group-size "
              << a.group_size << ": quantized with int8 per-channel weights "
              << "(int8-dynamic-per-token) instead of 4-bit groups\n";
  }
  onnx::export_onnx(qdq, a.output, {.opset = a.opset});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json report{
      {"model", a.model},
      {"output", a.output},
      {"config", a.config},
      {"calibration", {{"data", a.calib}, {"batches", calib.batches.size()},
                       {"samples", calib.samples}, {"dropped_samples", calib.dropped}}},
      {"fp32_bytes", file_size_bytes(a.model)},
      {"quantized_bytes", file_size_bytes(a.output)},
      {"ops", node_counts(qdq)},
      {"group_size", a.group_size},
      {"group_size_fallbacks", quantize_report.group_size_fallbacks},
      {"seconds", seconds}};
  if (!a.report.empty()) write_file_atomically(a.report, report.dump(2) + "\n");
  print_json(report);
}

struct CompareArgs {
  std::string fp32;
  std::string quantized;
  std::string data;
  std::size_t batches = 32;
  std::size_t batch_size = 64;
  std::string svg;
  bool json = false;
  bool allow_nonfinite = false;
};

void compare(const CompareArgs& a) {
  const graph::Graph fp32 = onnx::import_onnx(a.fp32);
  const graph::Graph quant = import_for_running(a.quantized);
  check_argument(fp32.inputs().size() == 1, "compare", "FP32", a.fp32,
                 "a model with one input");
  const graph::TensorType& input = fp32.inputs()[0]->type();
  const std::size_t batch = static_cast<std::size_t>(std::max<std::int64_t>(input.shape.at(0), 1));
  // --batches counts the model's batches (samples for a dynamic or batch-1 model); a dynamic
  // model runs them --batch-size at a time.
  const std::size_t run_batch = data_batch_size(fp32, a.batch_size);
  const data::Batches d = data::load_batches(a.data, input, a.batches * batch, run_batch);
  check_finite_model_input(d.batches, static_cast<std::int64_t>(run_batch != 0 ? run_batch : batch),
                           "compare", "--data " + a.data, a.allow_nonfinite);
  const auto layers = pipeline::compare_layers(fp32, quant, d.batches);
  if (!a.svg.empty()) {
    std::vector<std::string> rows;
    BarSeries s{"SQNR", {}};
    for (const auto& l : layers) {
      rows.push_back(l.node + " (" + l.op + ")");
      s.values.push_back(l.sqnr_db);
    }
    write_file_atomically(a.svg, bar_chart_svg("Per-layer SQNR: " + a.quantized + " vs " + a.fp32,
                                               rows, {s}, "dB"));
  }
  if (a.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& l : layers) {
      j.push_back({{"node", l.node}, {"op", l.op}, {"shape", l.shape},
                   {"sqnr_db", finite_or_null(l.sqnr_db)}, {"cosine", l.cosine},
                   {"max_abs_error", l.max_abs_error}});
    }
    print_json({{"fp32", a.fp32}, {"quantized", a.quantized}, {"batches", d.batches.size()},
                {"layers", j}});
    return;
  }
  std::cout << fmt::format("{:<32} {:<22} {:<20} {:>9} {:>9} {:>11}\n", "node", "op", "shape",
                           "SQNR dB", "cosine", "max |err|");
  for (const auto& l : layers) {
    std::cout << fmt::format("{:<32} {:<22} {:<20} {:>9} {:>9.6f} {:>11.4g}\n", l.node, l.op,
                             l.shape,
                             std::isfinite(l.sqnr_db) ? fmt::format("{:.2f}", l.sqnr_db) : "exact",
                             l.cosine, l.max_abs_error);
  }
}

}  // namespace

void register_quantize_commands(CLI::App& app) {
  {
    auto args = std::make_shared<QuantizeArgs>();
    CLI::App* c = app.add_subcommand(
        "quantize", "Post-training quantization of an fp32 ONNX model to a Q/DQ ONNX model");
    c->add_option("MODEL", args->model, "fp32 ONNX model")->required()->check(CLI::ExistingFile);
    c->add_option("-o,--output", args->output, "Quantized ONNX model to write")->required();
    c->add_option("--calib", args->calib,
                  "Calibration data: IDX images (raw pixel values as float), a .npy of stacked samples, or a "
                  "directory of .npy files")
        ->check(CLI::ExistingPath);
    c->add_option("--config", args->config, "One of: " + config_help())->required();
    c->add_option("--calib-batches", args->calib_batches,
                  "Most calibration batches to run, 1 to 10^7 (without --calib-batch-size: "
                  "batches of the model's batch, i.e. samples for a batch-1 or dynamic model)")
        ->transform(integer_in(1, 10'000'000));
    c->add_option("--calib-batch-size", args->calib_batch_size,
                  "Calibration samples per batch for a dynamic-batch model, 1 to 2^20 "
                  "(histogram observers depend on it: docs/cli.md)")
        ->transform(integer_in(1, kMaxBatchSize));
    c->add_option("--report", args->report, "Also write the JSON report to this file");
    c->add_option("--opset", args->opset,
                  "ONNX opset of the written model, 13 to 21 (default 17; from 21 on, 4-bit "
                  "weights are stored as INT4)")
        ->transform(integer_in(13, 21));
    c->add_option("--group-size", args->group_size,
                  "8da4w: input features per 4-bit weight group, a multiple of 32 (default 256, "
                  "as torchao); layers whose in_features it does not divide get int8 "
                  "per-channel weights, reported on stderr")
        ->transform(integer_in(32, 1 << 20));
    c->callback([args] { quantize(*args); });
  }
  {
    auto args = std::make_shared<CompareArgs>();
    CLI::App* c = app.add_subcommand(
        "compare", "Per-layer SQNR and cosine similarity of a quantized model against its fp32 model");
    c->add_option("FP32", args->fp32, "fp32 ONNX model")->required()->check(CLI::ExistingFile);
    c->add_option("QUANT", args->quantized, "quantized (Q/DQ) ONNX model from `quantkit quantize`")
        ->required()
        ->check(CLI::ExistingFile);
    c->add_option("--data", args->data, "Input data (IDX or .npy, as for --calib)")
        ->required()
        ->check(CLI::ExistingPath);
    c->add_option("--batches", args->batches,
                  "Most batches of the model's batch to compare on (samples for a batch-1 or "
                  "dynamic model), 1 to 10^7")
        ->transform(integer_in(1, 10'000'000));
    c->add_option("--batch-size", args->batch_size,
                  "Samples per run of a dynamic-batch model, 1 to 2^20 (the figures do not "
                  "depend on it for static configs)")
        ->transform(integer_in(1, kMaxBatchSize));
    c->add_option("--svg", args->svg, "Write a per-layer SQNR bar chart (SVG)");
    c->add_flag("--json", args->json, "Print JSON instead of a table");
    add_allow_nonfinite_flag(*c, args->allow_nonfinite);
    c->callback([args] { compare(*args); });
  }
}

}  // namespace quantkit::cli
