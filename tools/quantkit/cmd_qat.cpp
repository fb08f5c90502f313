// `quantkit qat`: flags and validation. The training itself is torch/qat_training.cpp
// (LibTorch); without LibTorch the command exists and says how to get it.
#include <limits>
#include <memory>

#include "cli_numbers.h"
#include "cli_support.h"
#include "qat_command.h"
#include "quantkit/core/error.h"
#include "quantkit/pipeline/quantize_model.h"

namespace quantkit::cli {
namespace {

std::string config_list() {
  std::string names;
  for (std::string_view n : pipeline::config_names()) names += (names.empty() ? "" : ", ") + std::string(n);
  return names;
}

void validate(const QatArgs& a) {
  check_argument(a.test_images.empty() == a.test_labels.empty(), "qat",
                 a.test_images.empty() ? "--test-labels" : "--test-images",
                 a.test_images.empty() ? a.test_labels : a.test_images,
                 "--test-images and --test-labels together");
  check_argument(a.optimizer == "adam" || a.optimizer == "sgd", "qat", "--optimizer", a.optimizer,
                 "adam or sgd");
  pipeline::config_by_name(a.config, /*is_qat=*/true);  // an unknown name lists the valid ones
}

}  // namespace

#ifndef QUANTKIT_CLI_WITH_TORCH
void run_qat(const QatArgs&) {
  throw Error(
      "qat: this quantkit was built without LibTorch; quantization-aware training needs the "
      "optional quantkit::torch component: rebuild with -DQUANTKIT_WITH_TORCH=ON (Debian "
      "libtorch-dev; scripts/build does it, docs/torch.md)");
}
#endif

void register_qat_command(CLI::App& app) {
  auto args = std::make_shared<QatArgs>();
  CLI::App* c = app.add_subcommand(
      "qat",
      "Quantization-aware training (LibTorch): prepare_qat_pt2e, train with fake quantization, "
      "convert, write the Q/DQ ONNX model that `quantize` would write");
  c->add_option("MODEL", args->model, "fp32 ONNX model")->required()->check(CLI::ExistingFile);
  c->add_option("-o,--output", args->output, "Quantized ONNX model to write")->required();
  c->add_option("--train-images", args->train_images,
                "Training samples: IDX images (raw pixel values as float) or a .npy of stacked samples")
      ->required()
      ->check(CLI::ExistingPath);
  c->add_option("--train-labels", args->train_labels, "Training labels: IDX or an int64 .npy")
      ->required()
      ->check(CLI::ExistingFile);
  c->add_option("--config", args->config, "One of: " + config_list())->required();
  c->add_option("--epochs", args->epochs, "Passes over the training samples, 1 to 10^4 (1)")
      ->transform(integer_in(1, 10'000));
  c->add_option("--lr", args->lr, "Learning rate, > 0 and <= 10 (0.001)")
      ->transform(number_in(1e-12, 10.0));
  c->add_option("--batch-size", args->batch_size,
                "Samples per training step, 1 to 2^16, whatever batch the file declares (64)")
      ->transform(integer_in(1, std::int64_t{1} << 16));
  c->add_option("--train-samples", args->train_samples,
                "Use the first N training samples (default: all), 1 to 10^8")
      ->transform(integer_in(1, 100'000'000));
  c->add_option("--test-images", args->test_images,
                "Test samples (as --train-images): test top-1 after every epoch")
      ->check(CLI::ExistingPath);
  c->add_option("--test-labels", args->test_labels, "Test labels (as --train-labels)")
      ->check(CLI::ExistingFile);
  c->add_option("--test-samples", args->test_samples,
                "Use the first N test samples (default: all), 1 to 10^8")
      ->transform(integer_in(1, 100'000'000));
  c->add_option("--seed", args->seed,
                "Seed of the sample order and of LibTorch's generator (0), 0 to 2^63-1")
      ->transform(integer_in(0, std::numeric_limits<std::int64_t>::max()));
  c->add_option("--report", args->report, "Write a JSON report (per-epoch loss and accuracy)");
  c->add_option("--optimizer", args->optimizer, "adam or sgd (adam)");
  c->add_option("--momentum", args->momentum, "SGD momentum, 0 to 1 (0.9)")
      ->transform(number_in(0.0, 1.0));
  c->add_option("--freeze-observers-after", args->freeze_observers_after,
                "Freeze the fake quantizers' observers (qparams) after this many epochs")
      ->transform(integer_in(0, 10'000));
  c->add_option("--freeze-bn-after", args->freeze_bn_after,
                "Freeze batch-norm running statistics after this many epochs")
      ->transform(integer_in(0, 10'000));
  c->add_option("--opset", args->opset, "ONNX opset of the written model, 13 to 21 (17)")
      ->transform(integer_in(13, 21));
  c->callback([args] {
    validate(*args);
    run_qat(*args);
  });
}

}  // namespace quantkit::cli
