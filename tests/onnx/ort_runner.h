#pragma once
// Running an ONNX file with ONNX Runtime from a C++ test: tools/ort/run_ort.mjs under node,
// with onnxruntime-node from $QUANTKIT_ORT_DIR (`export QUANTKIT_ORT_DIR=$(scripts/install-ort)`).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
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

// Why ONNX Runtime cannot run here (for GTEST_SKIP), or "" when it can.
inline std::string ort_unavailable() {
  const char* ort = std::getenv("QUANTKIT_ORT_DIR");
  if (ort == nullptr || *ort == '\0') {
    return "ONNX Runtime interop is off: set QUANTKIT_ORT_DIR to an installed onnxruntime-node "
           "package (export QUANTKIT_ORT_DIR=\"$(scripts/install-ort)\")";
  }
  if (std::system("node --version > /dev/null 2>&1") != 0) {
    return "ONNX Runtime interop is off: QUANTKIT_ORT_DIR is set but 'node' is not on PATH";
  }
  return "";
}

// Runs `model` on `inputs` (bound in order) with ORT's graph optimization level
// `optimization`, one thread; scratch files go to `dir`. Returns every output.
inline std::vector<Tensor> run_ort_file(const std::filesystem::path& model,
                                        const std::vector<Tensor>& inputs,
                                        const std::filesystem::path& dir,
                                        const std::string& optimization = "all") {
  namespace fs = std::filesystem;
  const fs::path script =
      fs::path(QUANTKIT_TEST_DATA_DIR) / ".." / ".." / "tools" / "ort" / "run_ort.mjs";
  const fs::path out = dir / ("ort_out_" + optimization);
  fs::remove_all(out);
  std::string command = "node " + shell_quote(script.string()) + " --ort " +
                        shell_quote(std::getenv("QUANTKIT_ORT_DIR")) + " --optimization " +
                        optimization + " " + shell_quote(model.string()) + " " +
                        shell_quote(out.string());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const fs::path in = dir / ("ort_input_" + std::to_string(i) + ".npy");
    write_npy(in, inputs[i]);
    command += " " + shell_quote(in.string());
  }
  const int status = std::system(command.c_str());
  if (status != 0) throw Error("ORT run failed (" + std::to_string(status) + "): " + command);
  std::vector<Tensor> outputs;
  for (std::size_t i = 0; fs::exists(out / ("output_" + std::to_string(i) + ".npy")); ++i) {
    outputs.push_back(read_npy(out / ("output_" + std::to_string(i) + ".npy")));
  }
  return outputs;
}

// max |a - b| / max |b| over float32 tensors of one shape (0 when b is all zeros and a == b).
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
