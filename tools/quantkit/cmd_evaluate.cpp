// `quantkit evaluate`: the main job. Quantizes an fp32 classifier with several configs
// (calibrating on training images), evaluates top-1 on a labelled test set and single-image
// latency for the fp32 model and each quantized one, and prints one table; writes the
// quantized ONNX models, a JSON report and a per-layer SQNR chart to --out.
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_support.h"
#include "model_support.h"
#include "nonfinite_inputs.h"
#include "quantkit/core/atomic_file.h"
#include "quantkit/core/error.h"
#include "quantkit/core/npy.h"
#include "quantkit/data/samples.h"
#include "quantkit/onnx/onnx_export.h"
#include "quantkit/onnx/onnx_import.h"
#include "quantkit/pipeline/compare.h"
#include "quantkit/pipeline/quantize_model.h"
#include "svg_bars.h"

namespace quantkit::cli {
namespace {

struct EvaluateArgs {
  std::string model;
  std::string calib;
  std::string test_images;
  std::string test_labels;
  std::vector<std::string> configs{"int8", "int8-per-channel", "int8-dynamic", "apot-w4"};
  std::size_t calib_samples = 1000;
  std::size_t test_limit = 0;
  std::size_t latency_iterations = 300;
  std::size_t compare_samples = 64;
  std::size_t batch_size = 64;       // test images per run of a dynamic-batch model
  std::size_t calib_batch_size = 0;  // 0: the model's batch (one image at a time)
  int threads = 1;
  std::int64_t group_size = 256;  // 8da4w
  std::string out = "out";
  bool allow_nonfinite = false;
};

std::size_t argmax(const Tensor& logits) {
  const float* p = logits.data<float>();
  std::size_t best = 0;
  for (std::int64_t i = 1; i < logits.numel(); ++i) {
    if (p[i] > p[best]) best = static_cast<std::size_t>(i);
  }
  return best;
}

struct Row {
  std::string scheme;
  pipeline::WeightLevels weights;  // {0, 0}: fp32
  double top1 = 0;
  LatencyStats latency;
  std::uintmax_t bytes = 0;
  std::string file;
  bool lowered = false;
  std::vector<pipeline::LayerComparison> layers;
};

// The bits a weight really spends: log2 of its distinct values ("3.9 (15 levels)"; PyTorch's
// 49-code APoT b=4 k=2 "5.3 (39 levels)"), 32 for fp32.
std::string weight_bits_text(const pipeline::WeightLevels& w) {
  if (w.distinct == 0) return "32";
  const double bits = std::log2(static_cast<double>(w.distinct));
  const std::string number = bits == std::round(bits) ? fmt::format("{:.0f}", bits)
                                                      : fmt::format("{:.1f}", bits);
  return fmt::format("{} ({} levels)", number, w.distinct);
}

double evaluate_top1(const LoadedModel& model, const data::Batches& test,
                     const std::vector<std::int64_t>& labels, const std::string& name) {
  ProgressBar bar("evaluating " + name, test.batches.size());
  std::size_t correct = 0, seen = 0;
  for (std::size_t b = 0; b < test.batches.size(); ++b) {
    const std::vector<Tensor> out = model.run(std::span<const Tensor>(&test.batches[b], 1));
    const Tensor& logits = out.at(0);
    // logits [B, classes]: one prediction per row.
    const std::int64_t batch = logits.shape().at(0);
    const std::int64_t classes = logits.numel() / batch;
    for (std::int64_t r = 0; r < batch; ++r) {
      const Tensor row = Tensor::from_vector(
          std::vector<float>(logits.data<float>() + r * classes, logits.data<float>() + (r + 1) * classes));
      correct += static_cast<std::int64_t>(argmax(row)) == labels[seen] ? 1 : 0;
      ++seen;
    }
    if (b % 100 == 99 || b + 1 == test.batches.size()) bar.update(b + 1);
  }
  bar.finish();
  return 100.0 * static_cast<double>(correct) / static_cast<double>(seen);
}

void evaluate(const EvaluateArgs& a) {
  for (const std::string& c : a.configs) pipeline::config_by_name(c);  // validate early
  std::filesystem::create_directories(a.out);
  const graph::Graph fp32 = onnx::import_onnx(a.model);
  check_argument(fp32.inputs().size() == 1 && fp32.outputs().size() >= 1, "evaluate",
                 "MODEL", a.model, "a classifier with one input and logits as first output");
  const graph::TensorType& input = fp32.inputs()[0]->type();
  // A dynamic-batch model runs the test images --batch-size at a time (top-1 of fp32 and
  // static configs does not depend on it) and calibrates --calib-batch-size at a time.
  const std::size_t test_batch = data_batch_size(fp32, a.batch_size);
  const std::size_t calib_batch = data_batch_size(fp32, a.calib_batch_size);
  const std::size_t batch =
      test_batch != 0 ? test_batch
                      : static_cast<std::size_t>(std::max<std::int64_t>(input.shape.at(0), 1));
  const data::Batches calib = data::load_batches(a.calib, input, a.calib_samples, calib_batch);
  const data::Batches test = data::load_batches(a.test_images, input, a.test_limit, test_batch);
  // Every config below runs a quantized model on the test images.
  check_finite_model_input(test.batches, static_cast<std::int64_t>(batch), "evaluate",
                           "--test-images " + a.test_images, a.allow_nonfinite);
  const std::vector<std::int64_t> labels = data::load_labels(a.test_labels, test.samples);
  check_argument(labels.size() == test.samples, "evaluate", "--test-labels",
                 std::to_string(labels.size()) + " labels",
                 std::to_string(test.samples) + " (one per test image)");
  const std::span<const Tensor> compare_inputs(
      test.batches.data(), std::min(test.batches.size(), std::max<std::size_t>(a.compare_samples / batch, 1)));
  // Latency is per model call of the model's own batch: one image for a dynamic model.
  Tensor latency_input = test.batches.at(0);
  if (test_batch != 0) {
    latency_input = Tensor::empty(input.shape, input.dtype);  // the representative batch: 1
    std::memcpy(latency_input.raw_data(), test.batches.at(0).raw_data(), latency_input.nbytes());
  }

  std::vector<Row> rows;
  {
    LoadedModel model(fp32.clone(), a.threads, a.model);
    Row r;
    r.scheme = "fp32";
    r.top1 = evaluate_top1(model, test, labels, "fp32");
    r.latency = measure_latency(model, std::span<const Tensor>(&latency_input, 1), 30,
                                a.latency_iterations);
    r.bytes = file_size_bytes(a.model);
    r.file = a.model;
    rows.push_back(std::move(r));
  }
  const std::string stem = std::filesystem::path(a.model).stem().string();
  for (const std::string& config : a.configs) {
    ProgressBar bar("calibrating " + config, calib.batches.size());
    pipeline::QuantizeReport quantize_report;
    graph::Graph qdq = pipeline::quantize_model(
        fp32, config, calib.batches, pipeline::QuantizeOptions{a.group_size}, &quantize_report,
        [&](std::size_t done, std::size_t) { bar.update(done); });
    bar.finish();
    for (const std::string& layer : quantize_report.group_size_fallbacks) {
      std::cerr << "note: " << config << ": layer '" << layer
                << "' has in_features not divisible by --group-size " << a.group_size
                << ": int8 per-channel weights instead of 4-bit groups\n";
    }
    Row r;
    r.scheme = config;
    r.weights = pipeline::weight_levels(config);
    r.layers = pipeline::compare_layers(fp32, qdq, compare_inputs);
    const std::filesystem::path file = std::filesystem::path(a.out) / (stem + "." + config + ".onnx");
    try {
      onnx::export_onnx(qdq, file);
      r.file = file.string();
      r.bytes = file_size_bytes(file);
    } catch (const Error& e) {
      // A scheme without an ONNX form is still evaluated in memory; say why it has no file.
      std::cerr << "note: " << config << " is not exported to ONNX: " << e.what() << "\n";
    }
    LoadedModel model(std::move(qdq), a.threads, config);
    r.lowered = model.lowered();
    r.top1 = evaluate_top1(model, test, labels, config);
    r.latency = measure_latency(model, std::span<const Tensor>(&latency_input, 1), 30,
                                a.latency_iterations);
    rows.push_back(std::move(r));
  }

  // The table.
  const Row& base = rows.front();
  std::cout << fmt::format("\n{} on {} test images (calibration: {} training images), {} thread{}\n",
                           a.model, test.samples, calib.samples, a.threads, a.threads == 1 ? "" : "s");
  std::cout << fmt::format("{:<18} {:>16} {:>8} {:>11} {:>13} {:>9} {:>11}\n", "scheme",
                           "weight bits", "top-1", "Δ vs fp32", "latency p50", "speed-up",
                           "model size");
  nlohmann::json report_rows = nlohmann::json::array();
  for (const Row& r : rows) {
    const double delta = r.top1 - base.top1;
    const double speedup = base.latency.p50_ms / r.latency.p50_ms;
    std::cout << fmt::format("{:<18} {:>16} {:>7.2f}% {:>11} {:>10.3f} ms {:>8.2f}× {:>11}\n",
                             r.scheme, weight_bits_text(r.weights), r.top1, r.scheme == "fp32" ? std::string("—") : fmt::format("{:+.2f}", delta),
                             r.latency.p50_ms, speedup,
                             r.bytes == 0 ? std::string("—")
                                          : fmt::format("{:.1f} KiB", static_cast<double>(r.bytes) / 1024.0));
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : r.layers) {
      layers.push_back({{"node", l.node}, {"op", l.op}, {"sqnr_db", std::isfinite(l.sqnr_db) ? nlohmann::json(l.sqnr_db) : nlohmann::json()},
                        {"cosine", l.cosine}});
    }
    const double bits =
        r.weights.distinct == 0 ? 32.0 : std::log2(static_cast<double>(r.weights.distinct));
    report_rows.push_back({{"scheme", r.scheme}, {"weight_bits", bits},
                           {"weight_codes", r.weights.codes}, {"weight_levels", r.weights.distinct},
                           {"top1", r.top1}, {"delta_vs_fp32", delta},
                           {"latency_ms", {{"p50", r.latency.p50_ms}, {"p90", r.latency.p90_ms},
                                           {"p99", r.latency.p99_ms}, {"mean", r.latency.mean_ms}}},
                           {"speedup_vs_fp32", speedup}, {"model_bytes", r.bytes},
                           {"model_file", r.file}, {"integer_kernels", r.lowered},
                           {"layers", layers}});
  }
  const nlohmann::json report{{"model", a.model},
                              {"test_images", test.samples},
                              {"calibration_images", calib.samples},
                              {"threads", a.threads},
                              {"latency_iterations", a.latency_iterations},
                              {"results", report_rows}};
  const auto report_path = std::filesystem::path(a.out) / "report.json";
  write_file_atomically(report_path, report.dump(2) + "\n");
  // Chart: per-layer SQNR of every quantized scheme, rows = the fp32 model's layers.
  std::vector<std::string> layer_names;
  std::vector<BarSeries> series;
  for (const auto& l : rows.at(1 % rows.size()).layers) layer_names.push_back(l.node + " (" + l.op + ")");
  for (std::size_t i = 1; i < rows.size(); ++i) {
    BarSeries s{rows[i].scheme, std::vector<double>(layer_names.size(), 0.0)};
    for (std::size_t k = 0; k < layer_names.size(); ++k) {
      for (const auto& l : rows[i].layers) {
        if (l.node + " (" + l.op + ")" == layer_names[k]) s.values[k] = l.sqnr_db;
      }
    }
    series.push_back(std::move(s));
  }
  const auto chart_path = std::filesystem::path(a.out) / "sqnr_per_layer.svg";
  if (!layer_names.empty() && !series.empty()) {
    write_file_atomically(chart_path, bar_chart_svg("Per-layer SQNR vs fp32 (" + stem + ")",
                                                    layer_names, series, "dB"));
  }
  std::cout << fmt::format("\nwrote {} , {} and the quantized models to {}/\n", report_path.string(),
                           chart_path.string(), a.out);
}

}  // namespace

void register_evaluate_command(CLI::App& app) {
  auto args = std::make_shared<EvaluateArgs>();
  CLI::App* c = app.add_subcommand(
      "evaluate",
      "Quantize a classifier with several configs and compare top-1, latency and size (the main job)");
  c->add_option("MODEL", args->model, "fp32 ONNX classifier (input [B, ...], logits [B, classes])")
      ->required()
      ->check(CLI::ExistingFile);
  c->add_option("--calib", args->calib, "Calibration images (IDX, .npy)")->required()->check(CLI::ExistingPath);
  c->add_option("--test-images", args->test_images, "Test images (IDX, .npy)")->required()->check(CLI::ExistingPath);
  c->add_option("--test-labels", args->test_labels, "Test labels (IDX)")->required()->check(CLI::ExistingFile);
  c->add_option("--configs", args->configs, "Quantization configs to evaluate")->delimiter(',');
  c->add_option("--calib-samples", args->calib_samples, "Calibration images to use, 1 to 10^8")
      ->transform(integer_in(1, 100'000'000));
  c->add_option("--test-limit", args->test_limit,
                "Evaluate on the first N test images (0 = all), 0 to 10^8")
      ->transform(integer_in(0, 100'000'000));
  c->add_option("--latency-iterations", args->latency_iterations,
                "Timed single-image runs per model, 1 to 10^6")
      ->transform(integer_in(1, 1'000'000));
  c->add_option("--batch-size", args->batch_size,
                "Test images per run of a dynamic-batch model, 1 to 2^20 (top-1 of fp32 and "
                "static configs does not depend on it)")
      ->transform(integer_in(1, kMaxBatchSize));
  c->add_option("--calib-batch-size", args->calib_batch_size,
                "Calibration images per batch of a dynamic-batch model, 1 to 2^20 (default: "
                "one at a time)")
      ->transform(integer_in(1, kMaxBatchSize));
  c->add_option("--threads", args->threads, "Threads, 1 to 256")
      ->transform(integer_in(1, kMaxThreads));
  add_allow_nonfinite_flag(*c, args->allow_nonfinite);
  c->add_option("--group-size", args->group_size,
                "8da4w: input features per 4-bit weight group, a multiple of 32 (default 256, "
                "as torchao)")
      ->transform(integer_in(32, 1 << 20));
  c->add_option("--out", args->out, "Output folder");
  c->callback([args] { evaluate(*args); });
}

}  // namespace quantkit::cli
