#pragma once
// `quantkit qat`: quantization-aware training of an fp32 ONNX model (docs/cli.md). The
// arguments live here so the command's registration (cmd_qat.cpp, always built) and its
// training loop (torch/qat_training.cpp, built only with LibTorch: QUANTKIT_WITH_TORCH)
// stay apart: only the latter includes LibTorch.
#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace quantkit::cli {

struct QatArgs {
  std::string model;
  std::string output;
  std::string train_images;
  std::string train_labels;
  std::string config;
  std::size_t epochs = 1;
  double lr = 1e-3;
  std::size_t batch_size = 64;
  std::size_t train_samples = 0;  // 0: all
  std::string test_images;
  std::string test_labels;
  std::size_t test_samples = 0;  // 0: all
  std::uint64_t seed = 0;
  std::string report;
  std::string optimizer = "adam";
  double momentum = 0.9;                    // sgd only
  std::optional<std::size_t> freeze_observers_after;  // epochs
  std::optional<std::size_t> freeze_bn_after;         // epochs
  std::int64_t opset = 17;
};

// Trains, converts and writes the QDQ model and the report. Throws quantkit::Error when
// quantkit was built without LibTorch.
void run_qat(const QatArgs& args);

void register_qat_command(CLI::App& app);

}  // namespace quantkit::cli
