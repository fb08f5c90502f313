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
#include "quantkit/onnx/onnx_export.h"
#include "quantkit/onnx/onnx_import.h"
#include "quantkit/pipeline/loaded_model.h"
#include "quantkit/pipeline/quantize_model.h"
#include "quantkit/runtime/runtime.h"

namespace quantkit::onnx {
namespace {

namespace fs = std::filesystem;
using graph::OpKind;
using testing::ModelWriter;
using Ints = std::vector<std::int64_t>;

// ||a - b|| / ||b|| (L2).
double relative_l2(const Tensor& a, const Tensor& b) {
  double diff = 0.0, norm = 0.0;
  for (std::int64_t i = 0; i < b.numel(); ++i) {
    const double d = static_cast<double>(a.data<float>()[i]) - b.data<float>()[i];
    diff += d * d;
    norm += static_cast<double>(b.data<float>()[i]) * b.data<float>()[i];
  }
  return std::sqrt(diff / norm);
}

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

class OrtTransformer : public testing::OrtTest {
 protected:
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

// Each test writes only its own model (PyTorch's start-up is most of the test's time).
class TorchTransformerExports : public OrtTransformer {
 protected:
  void SetUp() override {
    OrtTransformer::SetUp();
    if (IsSkipped()) return;
    python_ = torch_python();
    if (python_.empty()) {
      GTEST_SKIP() << "no Python with torch and torchvision (install python3-torch and "
                      "python3-torchvision, or set QUANTKIT_PYTHON)";
    }
  }

  // Runs tests/onnx/export_transformers.py for `name` into dir_.
  void export_model(const std::string& name) {
    const fs::path script =
        fs::path(QUANTKIT_TEST_DATA_DIR) / ".." / "onnx" / "export_transformers.py";
    const std::string command = testing::shell_quote(python_) + " " +
                                testing::shell_quote(script.string()) + " " +
                                testing::shell_quote(dir_.string()) + " " + name +
                                " > /dev/null 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }

  // Imports, verifies and runs `name`_opset13/17.onnx in the interpreter and the runtime;
  // both within 1e-4 of ORT (relative to the largest output) and of PyTorch.
  void check_exports(const std::string& name, std::size_t layer_norms) {
    ASSERT_NO_FATAL_FAILURE(export_model(name));
    const Tensor x = read_npy(dir_ / (name + "_input.npy"));
    const Tensor torch_out = read_npy(dir_ / (name + "_torch.npy"));
    for (const std::string opset : {"13", "17"}) {
      const std::string what = name + " opset " + opset;
      const fs::path model = dir_ / (name + "_opset" + opset + ".onnx");
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
      if (opset == "17") check_existing_configs(g, x, interpreted, what);
    }
  }

  // The CNN configs on a transformer (attention's activation x activation matmul and softmax
  // stay float; the transformer configs are separate work): `quantkit quantize`'s path —
  // quantize_model, export, LoadedModel (lowered, the runtime) — runs, and its output stays
  // near fp32's (measured: relative L2 0.004 to 0.045; the bound only catches a broken path).
  void check_existing_configs(const graph::Graph& fp32, const Tensor& x, const Tensor& expected,
                              const std::string& what) {
    std::vector<Tensor> calibration{x};  // the input's own range, and three more
    for (std::uint32_t seed = 1; seed <= 3; ++seed)
      calibration.push_back(graph::testing::random_tensor(x.shape(), seed, -2.0f, 2.0f));
    for (const std::string config : {"int8-dynamic", "int8-per-channel"}) {
      const fs::path file = dir_ / (config + ".onnx");
      export_onnx(pipeline::quantize_model(fp32, config, calibration), file);
      const pipeline::LoadedModel model(file, 1);
      EXPECT_TRUE(model.lowered()) << what << ", " << config;
      const Tensor y = model.run({x}).at(0);
      ASSERT_EQ(y.shape(), expected.shape()) << what << ", " << config;
      const double error = relative_l2(y, expected);
      std::cout << "[" << config << "] " << what << ": relative L2 from fp32 = " << error << "\n";
      EXPECT_LE(error, 0.15) << what << ", " << config;
    }
  }

  std::string python_;
};

TEST_F(TorchTransformerExports, ReducedVisionTransformerMatchesOrt) {
  check_exports("vit", 5);  // 2 layers x 2 + the final one
}

TEST_F(TorchTransformerExports, BertLikeEncoderMatchesOrt) { check_exports("encoder", 4); }

}  // namespace
}  // namespace quantkit::onnx
