// `quantkit qat`'s training loop: the only CLI file that includes LibTorch (built when
// QUANTKIT_WITH_TORCH=ON). fp32 ONNX → dynamic batch → prepare_qat_pt2e at --batch-size →
// QatModule (quantkit::torch) trained with torch::optim → write_back → convert_pt2e → the
// model's own batch → Q/DQ ONNX; then the written file is evaluated by quantkit's runtime,
// so the report shows the deployed model's accuracy next to the fake-quantized one.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "../cli_support.h"
#include "../model_support.h"
#include "../qat_command.h"
#include "quantkit/core/atomic_file.h"
#include "quantkit/core/error.h"
#include "quantkit/core/npy.h"
#include "quantkit/data/samples.h"
#include "quantkit/onnx/onnx_export.h"
#include "quantkit/onnx/onnx_import.h"
#include "quantkit/pipeline/batched_run.h"
#include "quantkit/pipeline/quantize_model.h"
#include "quantkit/pt2e/convert.h"
#include "quantkit/pt2e/prepare.h"
#include "quantkit/pt2e/xnnpack_quantizer.h"
#include "quantkit/torch/qat_module.h"
#include "quantkit/torch/tensor_bridge.h"

namespace quantkit::cli {
namespace {

// N samples [N, ...] of the model input and their labels [N] (int64).
struct LabelledSet {
  at::Tensor samples;
  at::Tensor labels;
};

// Labels from IDX or an int64 .npy (the formats; `evaluate` reads IDX only).
std::vector<std::int64_t> read_labels(const std::string& path, std::size_t limit,
                                      const std::string& flag) {
  if (path.size() >= 4 && path.substr(path.size() - 4) == ".npy") {
    const Tensor t = read_npy(path);
    check_argument(t.dtype() == DType::Int64 && t.dim() == 1, "qat", flag,
                   path + " (" + std::string(dtype_name(t.dtype())) + shape_to_string(t.shape()) + ")",
                   "a 1-D int64 .npy of labels");
    std::vector<std::int64_t> v(t.data<std::int64_t>(), t.data<std::int64_t>() + t.numel());
    if (limit != 0 && v.size() > limit) v.resize(limit);
    return v;
  }
  return data::load_labels(path, limit);
}

LabelledSet load_set(const std::string& images, const std::string& labels, std::size_t limit,
                     const graph::TensorType& one_sample, const std::string& what) {
  // One sample per batch of the batch-1 type, then stacked: load_batches shapes every format.
  const data::Batches b = data::load_batches(images, one_sample, limit, 1);
  check_argument(!b.batches.empty(), "qat", "--" + what + "-images", images, "at least one sample");
  const std::vector<std::int64_t> y = read_labels(labels, b.samples, "--" + what + "-labels");
  check_argument(y.size() == b.samples, "qat", "--" + what + "-labels",
                 std::to_string(y.size()) + " labels",
                 std::to_string(b.samples) + " (one per sample of --" + what + "-images)");
  std::vector<at::Tensor> rows;
  rows.reserve(b.batches.size());
  for (const Tensor& t : b.batches) rows.push_back(torch::to_torch(t));
  return {at::cat(rows, 0), at::tensor(y, at::kLong)};
}

graph::Graph at_batch(const graph::Graph& dynamic, std::int64_t batch) {
  Shape s = dynamic.inputs()[0]->shape();
  s[0] = batch;
  return dynamic.specialized(std::span<const Shape>(&s, 1));
}

// Top-1 (%) of the module in eval mode on the whole set.
double top1(torch::QatModule& module, const LabelledSet& set, std::int64_t batch) {
  const ::torch::NoGradGuard no_grad;
  const std::int64_t n = set.samples.size(0);
  std::int64_t correct = 0;
  for (std::int64_t s = 0; s < n; s += batch) {
    const std::int64_t rows = std::min(batch, n - s);
    // QatModule takes any batch on dim 0: the last, partial batch runs as it is.
    const at::Tensor pred = module.forward(set.samples.narrow(0, s, rows)).argmax(1);
    correct += pred.eq(set.labels.narrow(0, s, rows)).sum().item<std::int64_t>();
  }
  return 100.0 * static_cast<double>(correct) / static_cast<double>(n);
}

// Top-1 (%) of the written Q/DQ file in quantkit's runtime (lowered to the fused kernels).
double deployed_top1(const std::string& path, const LabelledSet& set) {
  const LoadedModel model(path, 1);
  const std::int64_t n = set.samples.size(0);
  std::int64_t correct = 0;
  const graph::Value& input = *model.graph().inputs()[0];
  const at::Tensor samples = set.samples.contiguous();
  const Tensor all = pipeline::as_samples(
      Tensor::from_blob(samples.data_ptr<float>(), Shape(samples.sizes().begin(), samples.sizes().end()),
                        DType::Float32),
      input, "--test-images");
  const std::vector<Tensor> out = pipeline::run_batched(model, {all}, {64, {}});
  const Tensor& logits = out.at(0);
  const std::int64_t classes = logits.numel() / n;
  const float* p = logits.data<float>();
  const std::int64_t* y = set.labels.data_ptr<std::int64_t>();
  for (std::int64_t r = 0; r < n; ++r) {
    const float* row = p + r * classes;
    std::int64_t best = 0;
    for (std::int64_t c = 1; c < classes; ++c) best = row[c] > row[best] ? c : best;
    correct += best == y[r] ? 1 : 0;
  }
  return 100.0 * static_cast<double>(correct) / static_cast<double>(n);
}

}  // namespace

void run_qat(const QatArgs& a) {
  const auto start = std::chrono::steady_clock::now();
  // One intra-op thread: LibTorch's parallel reductions would make the trained weights
  // depend on the thread count.
  at::set_num_threads(1);
  ::torch::manual_seed(a.seed);
  const graph::Graph fp32 = onnx::import_onnx(a.model);
  check_argument(fp32.inputs().size() == 1 && fp32.outputs().size() == 1, "qat", "MODEL", a.model,
                 "a classifier with one input and one output (logits [batch, classes])");
  const graph::Graph dynamic = fp32.with_dynamic_batch();
  const auto batch = static_cast<std::int64_t>(a.batch_size);
  const graph::Graph train_graph = at_batch(dynamic, batch);
  const graph::TensorType one_sample = at_batch(dynamic, 1).inputs()[0]->type();

  const LabelledSet train = load_set(a.train_images, a.train_labels, a.train_samples, one_sample, "train");
  std::optional<LabelledSet> test;
  if (!a.test_images.empty())
    test = load_set(a.test_images, a.test_labels, a.test_samples, one_sample, "test");
  const std::int64_t n = train.samples.size(0);
  check_argument(n >= batch, "qat", "--batch-size", a.batch_size,
                 "at most the number of training samples (" + std::to_string(n) + ")");

  pt2e::XNNPACKQuantizer quantizer;
  quantizer.set_global(pipeline::config_by_name(a.config, /*is_qat=*/true));
  pt2e::PreparedModel prepared = pt2e::prepare_qat_pt2e(train_graph, quantizer);
  torch::QatModule module(prepared);
  std::unique_ptr<::torch::optim::Optimizer> optimizer;
  if (a.optimizer == "sgd") {
    optimizer = std::make_unique<::torch::optim::SGD>(
        module.parameters(), ::torch::optim::SGDOptions(a.lr).momentum(a.momentum));
  } else {
    optimizer = std::make_unique<::torch::optim::Adam>(module.parameters(),
                                                       ::torch::optim::AdamOptions(a.lr));
  }

  const std::int64_t steps = n / batch;  // the partial last batch is left out of each epoch
  nlohmann::json epochs = nlohmann::json::array();
  at::Generator gen = at::detail::createCPUGenerator(a.seed);
  for (std::size_t e = 0; e < a.epochs; ++e) {
    module.train();
    if (a.freeze_observers_after && e >= *a.freeze_observers_after) module.enable_observers(false);
    if (a.freeze_bn_after && e >= *a.freeze_bn_after) module.freeze_bn_stats(true);
    const at::Tensor order = at::randperm(n, gen, at::kLong);
    ProgressBar bar(fmt::format("epoch {}/{}", e + 1, a.epochs), static_cast<std::size_t>(steps));
    double loss_sum = 0;
    for (std::int64_t s = 0; s < steps; ++s) {
      const at::Tensor idx = order.narrow(0, s * batch, batch);
      const at::Tensor x = train.samples.index_select(0, idx);
      const at::Tensor y = train.labels.index_select(0, idx);
      optimizer->zero_grad();
      const at::Tensor loss = ::torch::nn::functional::cross_entropy(module.forward(x), y);
      loss.backward();
      optimizer->step();
      loss_sum += loss.item<double>();
      check_argument(std::isfinite(loss_sum), "qat", "--lr", a.lr,
                     "a learning rate that keeps the loss finite (it diverged in epoch " +
                         std::to_string(e + 1) + ")");
      if (s % 20 == 19 || s + 1 == steps) bar.update(static_cast<std::size_t>(s + 1));
    }
    bar.finish();
    nlohmann::json row{{"epoch", e + 1}, {"train_loss", loss_sum / static_cast<double>(steps)}};
    std::string line = fmt::format("epoch {}/{}: train loss {:.4f}", e + 1, a.epochs,
                                   loss_sum / static_cast<double>(steps));
    if (test) {
      module.eval();
      const double acc = top1(module, *test, batch);
      row["test_top1"] = acc;
      line += fmt::format(", test top-1 {:.2f}% (fake-quantized)", acc);
    }
    std::cerr << line << "\n";
    epochs.push_back(row);
  }

  module.eval();
  module.write_back();
  const graph::Graph converted_b = pt2e::convert_pt2e(prepared);
  // Back to the file's own batch: dynamic stays dynamic, a fixed batch is that batch again.
  graph::Graph converted = converted_b.with_dynamic_batch();
  if (!pipeline::has_dynamic_batch(fp32)) converted = at_batch(converted, fp32.inputs()[0]->shape()[0]);
  onnx::export_onnx(converted, a.output, {.opset = a.opset});

  nlohmann::json report{
      {"model", a.model},
      {"output", a.output},
      {"config", a.config},
      {"epochs", a.epochs},
      {"lr", a.lr},
      {"optimizer", a.optimizer},
      {"batch_size", a.batch_size},
      {"seed", a.seed},
      {"train_samples", n},
      {"steps_per_epoch", steps},
      {"history", epochs},
      {"fp32_bytes", file_size_bytes(a.model)},
      {"quantized_bytes", file_size_bytes(a.output)}};
  if (test) {
    const double fake = top1(module, *test, batch);
    const double deployed = deployed_top1(a.output, *test);
    report["test_samples"] = test->samples.size(0);
    report["test_top1_fake_quantized"] = fake;
    report["test_top1_quantized_model"] = deployed;
    std::cerr << fmt::format("written {}: test top-1 {:.2f}% in quantkit's runtime ({:.2f}% fake-quantized)\n",
                             a.output, deployed, fake);
  }
  report["seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!a.report.empty()) write_file_atomically(a.report, report.dump(2) + "\n");
  print_json(report);
}

}  // namespace quantkit::cli
