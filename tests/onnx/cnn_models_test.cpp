// End to end on CNNs torch.onnx.export writes (tests/onnx/export_cnn_models.py, run at test
// time into a temporary folder: torchvision's shufflenet_v2_x1_0 and mobilenet_v3_small at
// 1x3x64x64 and a tiny net of Conv1d, ConvTranspose2d and Upsample nearest / bilinear at
// opsets 11 and 17):
//  * fp32: import, verify, the interpreter and runtime::Runtime on the same input, ONNX
//    Runtime on the same file: max |diff| <= 1e-4 relative to max |ORT|;
//  * int8-per-channel (pipeline::quantize_model, two random calibration inputs), lowered:
//    the runtime equals the lowered graph's interpreter bit for bit, and the ops it leaves to
//    reference kernels (fallbacks) are counted, printed and pinned.
// Skips (saying why) only without python3-torch / python3-torchvision or ONNX Runtime.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "graph/graph_test_util.h"
#include "onnx/ort_runner.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/graph/verifier.h"
#include "quantkit/onnx/onnx_import.h"
#include "quantkit/pipeline/quantize_model.h"
#include "quantkit/pt2e/lowering.h"
#include "quantkit/runtime/runtime.h"

namespace quantkit::onnx {
namespace {

namespace fs = std::filesystem;
using graph::testing::random_tensor;

const fs::path kExportScript = fs::path(QUANTKIT_TEST_DATA_DIR) / ".." / "onnx" / "export_cnn_models.py";

// A python3 that imports torch and torchvision: $QUANTKIT_PYTHON, else python3 on PATH, else
// Debian's /usr/bin/python3 (a pyenv or venv python3 on PATH may lack the Debian packages).
std::string torch_python() {
  std::vector<std::string> candidates;
  if (const char* p = std::getenv("QUANTKIT_PYTHON"); p != nullptr && *p != '\0') candidates.push_back(p);
  candidates.insert(candidates.end(), {"python3", "/usr/bin/python3"});
  for (const std::string& python : candidates) {
    const std::string probe =
        testing::shell_quote(python) + " -c 'import torch, torchvision' > /dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) return python;
  }
  return "";
}

struct Fallbacks {
  std::vector<std::string> labels;  // runtime labels of the ops run by reference kernels
  std::map<graph::OpKind, std::int64_t> int8_nodes;  // lowered nodes with an int8 output, by op
};

class CnnModels : public ::testing::Test {
 protected:
  void SetUp() override {
    python_ = torch_python();
    if (python_.empty()) {
      GTEST_SKIP() << "python3 with torch and torchvision is absent (Debian: python3-torch, "
                      "python3-torchvision; or set QUANTKIT_PYTHON)";
    }
    const std::string why = testing::ort_unavailable_reason();
    if (!why.empty()) GTEST_SKIP() << why;
    dir_ = fs::temp_directory_path() /
           ("quantkit_cnn_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Exports `name`, checks fp32 against ORT and the runtime, quantizes and lowers it, and
  // returns the lowered runtime's fallbacks.
  Fallbacks check_model(const std::string& name) {
    const std::string command = testing::shell_quote(python_) + " " +
                                testing::shell_quote(kExportScript.string()) + " " +
                                testing::shell_quote(dir_.string()) + " " + name;
    if (std::system(command.c_str()) != 0) throw Error("export failed: " + command);
    const fs::path file = dir_ / (name + ".onnx");
    const graph::Graph fp32 = import_onnx(file);
    graph::verify(fp32);
    const Shape shape = fp32.inputs()[0]->shape();
    const Tensor x = random_tensor(shape, 1);
    const Tensor interpreted = graph::run_graph(fp32, {x}).at(0);
    const Tensor ort = testing::run_ort_file(file, std::span(&x, 1), dir_, "all").at(0);
    const double vs_ort = testing::relative_max_diff(interpreted, ort);
    const runtime::Runtime fp32_runtime(fp32);
    const double vs_runtime =
        testing::relative_max_diff(fp32_runtime.run(std::vector<Tensor>{x}).at(0), interpreted);
    std::cout << "[" << name << "] fp32 max |diff| / max |ref|: interpreter vs ORT " << vs_ort
              << ", runtime vs interpreter " << vs_runtime << "\n";
    EXPECT_LE(vs_ort, 1e-4) << name;
    EXPECT_LE(vs_runtime, 1e-4) << name;

    const std::vector<Tensor> calibration{random_tensor(shape, 2), random_tensor(shape, 3)};
    const graph::Graph lowered =
        pt2e::lower_to_fused_kernels(pipeline::quantize_model(fp32, "int8-per-channel", calibration));
    const runtime::Runtime rt(lowered);
    const Tensor fast = rt.run(std::vector<Tensor>{x}).at(0);
    const Tensor reference = graph::run_graph(lowered, {x}).at(0);
    EXPECT_EQ(fast.shape(), reference.shape());
    EXPECT_EQ(0, std::memcmp(fast.raw_data(), reference.raw_data(), fast.nbytes())) << name;
    Fallbacks f;
    for (const graph::Node* n : lowered.nodes()) {
      if (n->num_outputs() == 1 && n->output()->dtype() == DType::Int8) ++f.int8_nodes[n->op()];
    }
    for (const std::string& label : rt.op_labels()) {
      if (label.find("(reference)") != std::string::npos) f.labels.push_back(label);
    }
    std::cout << "[" << name << "] int8-per-channel lowered: " << rt.op_labels().size()
              << " runtime ops, " << f.labels.size() << " fallbacks\n";
    for (const std::string& label : f.labels) std::cout << "  fallback: " << label << "\n";
    return f;
  }

  std::string python_;
  fs::path dir_;
};

// The ops each model leaves to reference kernels once quantized: conv_transpose2d and the
// bilinear resizes stay float (the quantizer annotates neither); the nearest resize shares
// its producer's int8 qparams and runs on the codes, still on the reference kernel (the
// runtime has no int8 resize kernel of its own).
std::size_t count_with(const Fallbacks& f, const std::string& op) {
  std::size_t n = 0;
  for (const std::string& label : f.labels) n += label.rfind(op + " ", 0) == 0 ? 1 : 0;
  return n;
}

// shufflenet: chunk's two Slices and the channel shuffle (reshape, transpose, reshape) share
// their producer's qparams and run on int8 codes; the reshapes are views, but the runtime
// has no kernel of its own for int8 slice or transpose, so they run on reference kernels (26
// slices, 16 transposes), and so does the final ReduceMean (a float mean the quantizer does
// not annotate).
TEST_F(CnnModels, ShufflenetV2) {
  Fallbacks f = check_model("shufflenet_v2_x1_0");
  EXPECT_EQ(count_with(f, "slice"), 26u);
  EXPECT_EQ(count_with(f, "transpose"), 16u);
  EXPECT_EQ(count_with(f, "mean"), 1u);
  EXPECT_EQ(f.labels.size(), 43u);
  EXPECT_EQ(f.int8_nodes[graph::OpKind::Slice], 26);
  EXPECT_EQ(f.int8_nodes[graph::OpKind::Transpose], 16);
}

TEST_F(CnnModels, MobilenetV3Small) {
  const Fallbacks f = check_model("mobilenet_v3_small");
  EXPECT_TRUE(f.labels.empty());
}

TEST_F(CnnModels, ResampleTinyOpset11) {
  Fallbacks f = check_model("resample_tiny_op11");
  EXPECT_EQ(count_with(f, "conv_transpose2d"), 1u);
  EXPECT_EQ(count_with(f, "resize"), 3u);
  EXPECT_EQ(f.int8_nodes[graph::OpKind::Resize], 1);  // the nearest one
  EXPECT_EQ(count_with(f, "conv2d"), 0u);  // the Conv1d is a quantized_conv2d
}

TEST_F(CnnModels, ResampleTinyOpset17) {
  Fallbacks f = check_model("resample_tiny_op17");
  EXPECT_EQ(count_with(f, "conv_transpose2d"), 1u);
  EXPECT_EQ(count_with(f, "resize"), 3u);
  EXPECT_EQ(f.int8_nodes[graph::OpKind::Resize], 1);  // the nearest one
  EXPECT_EQ(count_with(f, "conv2d"), 0u);
}

}  // namespace
}  // namespace quantkit::onnx
