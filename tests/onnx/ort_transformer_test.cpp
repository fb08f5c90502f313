// Transformer encoders from ONNX, against ONNX Runtime on the same file:
//  * each indexing op the exports use (Slice with a negative step, Split, Gather with a
//    scalar index, Expand), Softmax on an inner axis at opsets 11 and 13, and a batched
//    MatMul of two activations — one-node models, our import + interpreter vs ORT;
//  * the reduced torchvision ViT and the BERT-like TransformerEncoder that
//    tests/onnx/export_transformers.py writes (opsets 13 and 17): imported, verified, run
//    in the interpreter and in runtime::Runtime, within 1e-4 of ORT relative to the largest
//    output magnitude (and of PyTorch's own output).
//
// Skips (saying why) without ORT (QUANTKIT_ORT_DIR, tests/onnx/ort_runner.h), and the
// end-to-end part without a Python that has torch and torchvision (Debian's python3-torch;
// QUANTKIT_PYTHON names another interpreter).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "graph/graph_test_util.h"
#include "onnx/model_writer.h"
#include "onnx/ort_runner.h"
#include "quantkit/core/npy.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/graph/verifier.h"
#include "quantkit/onnx/onnx_import.h"
#include "quantkit/runtime/runtime.h"

namespace quantkit::onnx {
namespace {

namespace fs = std::filesystem;
using graph::OpKind;
using testing::ModelWriter;
using Ints = std::vector<std::int64_t>;

// max |a - b| / max |b|.
double relative_max_diff(const Tensor& a, const Tensor& b) {
  double max_abs = 0.0, max_diff = 0.0;
  for (std::int64_t i = 0; i < b.numel(); ++i) {
    max_abs = std::max(max_abs, std::fabs(static_cast<double>(b.data<float>()[i])));
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(a.data<float>()[i]) -
                                            static_cast<double>(b.data<float>()[i])));
  }
  return max_diff / max_abs;
}

class OrtTransformer : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = testing::ort_unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
    dir_ = fs::temp_directory_path() /
           ("quantkit_ort_xformer_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // The model in `m` run by ORT and by our import + interpreter: every output within
  // `tolerance` of ORT's relative to its largest magnitude (0: identical).
  void expect_agreement(const ModelWriter& m, const std::vector<Tensor>& inputs,
                        double tolerance) {
    const fs::path model = dir_ / "model.onnx";
    m.save(model);
    const graph::Graph g = import_onnx(model);
    const std::vector<Tensor> ours = graph::run_graph(g, inputs);
    const std::vector<Tensor> ort = testing::run_ort_file(model, inputs, dir_, "all", ours.size());
    for (std::size_t i = 0; i < ours.size(); ++i) {
      ASSERT_EQ(ort[i].shape(), ours[i].shape()) << "output " << i;
      if (tolerance == 0.0) {
        EXPECT_TRUE(graph::testing::identical(ours[i], ort[i])) << "output " << i;
      } else {
        EXPECT_LE(relative_max_diff(ours[i], ort[i]), tolerance) << "output " << i;
      }
    }
  }

  fs::path dir_;
};

Tensor int64s(Ints v) { return Tensor::from_vector<std::int64_t>(v); }

TEST_F(OrtTransformer, SliceSplitGatherExpandAreExact) {
  const Tensor x = graph::testing::random_tensor({2, 6, 4}, 1);
  ModelWriter m(13);
  m.input("x", x.shape());
  m.initializer("starts", int64s({-1, 1}));
  m.initializer("ends", int64s({-100, 100}));
  m.initializer("axes", int64s({1, 2}));
  m.initializer("steps", int64s({-2, 2}));
  m.node("Slice", {"x", "starts", "ends", "axes", "steps"}, {"sliced"});
  m.initializer("split", int64s({1, 3, 2}));
  m.node("Split", {"x", "split"}, {"s0", "s1", "s2"}, {{"axis", std::int64_t{1}}});
  m.initializer("first", Tensor::scalar<std::int64_t>(0));
  m.node("Gather", {"x", "first"}, {"token"}, {{"axis", std::int64_t{1}}});
  m.initializer("picked", int64s({-1, 0, 2}));
  m.node("Gather", {"x", "picked"}, {"rows"}, {{"axis", std::int64_t{-1}}});
  m.initializer("shape", int64s({3, 1, 1, 1}));
  m.node("Expand", {"x", "shape"}, {"expanded"});
  for (const char* out : {"sliced", "s0", "s1", "s2", "token", "rows", "expanded"}) m.output(out);
  expect_agreement(m, {x}, 0.0);
}

TEST_F(OrtTransformer, Opset18SplitByNumOutputs) {
  const Tensor x = graph::testing::random_tensor({2, 7}, 2);
  ModelWriter m(18);
  m.input("x", x.shape());
  m.node("Split", {"x"}, {"a", "b", "c"}, {{"axis", std::int64_t{1}}, {"num_outputs", std::int64_t{3}}});
  for (const char* out : {"a", "b", "c"}) m.output(out);
  expect_agreement(m, {x}, 0.0);
}

TEST_F(OrtTransformer, SoftmaxOnAnInnerAxisBeforeAndFromOpset13) {
  // Opset 11 normalizes over all dims from the axis on (x coerced to 2-D), 13 over the axis.
  const Tensor x = graph::testing::random_tensor({2, 3, 4}, 3, -4.0f, 4.0f);
  for (std::int64_t opset : {11, 13}) {
    ModelWriter m(opset);
    m.input("x", x.shape());
    m.node("Softmax", {"x"}, {"y"}, {{"axis", std::int64_t{1}}});
    m.output("y");
    expect_agreement(m, {x}, 1e-6);
  }
}

TEST_F(OrtTransformer, BatchedMatMulOfTwoActivations) {
  // Attention's q @ k^T: numpy batch broadcasting over rank-4 and rank-3 operands.
  const Tensor a = graph::testing::random_tensor({2, 1, 3, 5}, 4);
  const Tensor b = graph::testing::random_tensor({3, 5, 4}, 5);
  ModelWriter m(13);
  m.input("a", a.shape());
  m.input("b", b.shape());
  m.node("MatMul", {"a", "b"}, {"y"});
  m.output("y");
  expect_agreement(m, {a, b}, 1e-5);
}

// A Python with torch and torchvision, or empty.
std::string torch_python() {
  std::vector<std::string> candidates;
  if (const char* p = std::getenv("QUANTKIT_PYTHON"); p != nullptr && *p != '\0') candidates.push_back(p);
  candidates.push_back("/usr/bin/python3");  // Debian's python3-torch (pyenv shims lack it)
  candidates.push_back("python3");
  for (const std::string& python : candidates) {
    const std::string probe =
        testing::shell_quote(python) + " -c 'import torch, torchvision' > /dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) return python;
  }
  return {};
}

// The exports are written once for the suite (about 2 s of PyTorch), into its own folder.
class TorchTransformerExports : public OrtTransformer {
 protected:
  static void SetUpTestSuite() {
    python_ = torch_python();
    if (python_.empty() || !testing::ort_unavailable_reason().empty()) return;
    exports_ = fs::temp_directory_path() / ("quantkit_xformer_exports_" + std::to_string(::getpid()));
    const fs::path script =
        fs::path(QUANTKIT_TEST_DATA_DIR) / ".." / "onnx" / "export_transformers.py";
    const std::string command = testing::shell_quote(python_) + " " +
                                testing::shell_quote(script.string()) + " " +
                                testing::shell_quote(exports_.string()) + " > /dev/null 2>&1";
    export_status_ = std::system(command.c_str());
  }
  static void TearDownTestSuite() {
    if (!exports_.empty()) fs::remove_all(exports_);
  }
  void SetUp() override {
    OrtTransformer::SetUp();
    if (IsSkipped()) return;
    if (python_.empty()) {
      GTEST_SKIP() << "no Python with torch and torchvision (install python3-torch and "
                      "python3-torchvision, or set QUANTKIT_PYTHON)";
    }
    ASSERT_EQ(export_status_, 0) << "tests/onnx/export_transformers.py failed";
  }

  // Imports, verifies and runs `name`_opset13/17.onnx in the interpreter and the runtime;
  // both within 1e-4 of ORT (relative to the largest output) and of PyTorch.
  void check_exports(const std::string& name, std::size_t layer_norms) {
    const Tensor x = read_npy(exports_ / (name + "_input.npy"));
    const Tensor torch_out = read_npy(exports_ / (name + "_torch.npy"));
    for (const std::string opset : {"13", "17"}) {
      const std::string what = name + " opset " + opset;
      const fs::path model = exports_ / (name + "_opset" + opset + ".onnx");
      const graph::Graph g = import_onnx(model);
      graph::verify(g);
      EXPECT_EQ(graph::count_nodes(g, OpKind::Softmax), 2u) << what;
      EXPECT_EQ(graph::count_nodes(g, OpKind::LayerNorm), layer_norms) << what;
      const Tensor interpreted = graph::run_graph(g, {x}).at(0);
      const Tensor planned = runtime::Runtime(g).run(std::vector<Tensor>{x}).at(0);
      const Tensor ort = testing::run_ort_file(model, std::span(&x, 1), dir_, "all").at(0);
      ASSERT_EQ(interpreted.shape(), ort.shape()) << what;
      ASSERT_EQ(planned.shape(), ort.shape()) << what;
      std::cout << "[ORT agreement] " << what << ": max |diff| / max |ORT| = "
                << relative_max_diff(interpreted, ort) << " (interpreter), "
                << relative_max_diff(planned, ort) << " (runtime), "
                << relative_max_diff(interpreted, torch_out) << " vs PyTorch\n";
      EXPECT_LE(relative_max_diff(interpreted, ort), 1e-4) << what;
      EXPECT_LE(relative_max_diff(planned, ort), 1e-4) << what;
      EXPECT_LE(relative_max_diff(interpreted, torch_out), 1e-4) << what;
    }
  }

  static inline std::string python_;
  static inline fs::path exports_;
  static inline int export_status_ = -1;
};

TEST_F(TorchTransformerExports, ReducedVisionTransformerMatchesOrt) {
  check_exports("vit", 5);  // 2 layers x 2 + the final one
}

TEST_F(TorchTransformerExports, BertLikeEncoderMatchesOrt) { check_exports("encoder", 4); }

}  // namespace
}  // namespace quantkit::onnx
