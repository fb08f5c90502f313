#pragma once
// Running ONNX Runtime (onnxruntime-node, under node) from C++ tests on a model file:
// tools/ort/run_ort.mjs with .npy inputs and outputs. Needs QUANTKIT_ORT_DIR
// (`export QUANTKIT_ORT_DIR="$(scripts/install-ort)"`); tests skip with
// ort_unavailable_reason() otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/core/npy.h"
#include "quantkit/core/tensor.h"

namespace quantkit::onnx::testing {

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Why ORT cannot run here, or empty when it can.
inline std::string ort_unavailable_reason() {
  const char* ort = std::getenv("QUANTKIT_ORT_DIR");
  if (ort == nullptr || *ort == '\0') {
    return "ONNX Runtime interop is off: set QUANTKIT_ORT_DIR to an installed "
           "onnxruntime-node package (export QUANTKIT_ORT_DIR=\"$(scripts/install-ort)\")";
  }
  if (std::system("node --version > /dev/null 2>&1") != 0) {
    return "ONNX Runtime interop is off: QUANTKIT_ORT_DIR is set but 'node' is not on PATH";
  }
  return {};
}

// Runs `model` in ORT (graphOptimizationLevel `optimization`) on `inputs`, written as .npy
// into `dir`; returns its first `num_outputs` outputs.
inline std::vector<Tensor> run_ort_file(const std::filesystem::path& model,
                                        std::span<const Tensor> inputs,
                                        const std::filesystem::path& dir,
                                        const std::string& optimization,
                                        std::size_t num_outputs = 1) {
  const std::filesystem::path run_ort = std::filesystem::path(QUANTKIT_TEST_DATA_DIR) / ".." /
                                        ".." / "tools" / "ort" / "run_ort.mjs";
  const std::filesystem::path out = dir / ("out_" + optimization);
  std::string command = "node " + shell_quote(run_ort.string()) + " --ort " +
                        shell_quote(std::getenv("QUANTKIT_ORT_DIR")) + " --optimization " +
                        optimization + " " + shell_quote(model.string()) + " " +
                        shell_quote(out.string());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::filesystem::path in = dir / ("input_" + std::to_string(i) + ".npy");
    write_npy(in, inputs[i]);
    command += " " + shell_quote(in.string());
  }
  const int status = std::system(command.c_str());
  if (status != 0) throw Error("ORT run failed (" + std::to_string(status) + "): " + command);
  std::vector<Tensor> outputs;
  for (std::size_t i = 0; i < num_outputs; ++i)
    outputs.push_back(read_npy(out / ("output_" + std::to_string(i) + ".npy")));
  return outputs;
}

// A test that needs ORT: skips saying why when it is missing, and owns a fresh temp folder
// (dir_) per test for models, inputs and ORT's outputs.
class OrtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = ort_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
    dir_ = std::filesystem::temp_directory_path() /
           ("quantkit_ort_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
};
// max |a - b| / max |b| over float32 tensors of one shape (max |a - b| when b is all zeros).
inline double relative_max_diff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != DType::Float32 || b.dtype() != DType::Float32) {
    throw Error("relative_max_diff: " + shape_to_string(a.shape()) + " vs " +
                shape_to_string(b.shape()));
  }
  double diff = 0, scale = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    const double x = a.data<float>()[i], y = b.data<float>()[i];
    diff = std::max(diff, std::fabs(x - y));
    scale = std::max(scale, std::fabs(y));
  }
  return scale == 0 ? diff : diff / scale;
}

}  // namespace quantkit::onnx::testing
