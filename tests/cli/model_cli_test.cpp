// The model commands of the CLI as a black box: inspect, run, quantize, compare, bench and
// evaluate (the main job) on small ONNX models exported by torch (tests/data/onnx) and, when
// Debian's dataset-fashion-mnist is installed, on the shipped Fashion-MNIST CNN.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "quantkit/core/npy.h"

namespace quantkit::testing {
namespace {

const std::string kData = std::string(QUANTKIT_TEST_DATA_DIR) + "/onnx/";
const std::string kModel = kData + "resnet_small.onnx";
const std::string kInput = kData + "resnet_small.input.npy";
const std::string kFashionModel =
    std::string(QUANTKIT_TEST_DATA_DIR) + "/../../models/fashion_mnist/fashion_mnist_cnn.onnx";
const std::string kFashionData = "/usr/share/datasets/fashion-mnist/";

double cosine(const Tensor& a, const Tensor& b) {
  double dot = 0, na = 0, nb = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    const double x = a.data<float>()[i], y = b.data<float>()[i];
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return dot / std::sqrt(na * nb);
}

TEST(ModelCli, InspectReportsOpsShapesAndParameters) {
  TempDir dir;
  const CliResult r = run_cli("inspect " + kModel + " --json", dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j["quantized"].get<bool>());
  EXPECT_GT(j["ops"]["conv2d"].get<int>(), 0);
  EXPECT_GT(j["parameters"].get<std::int64_t>(), 1000);
  const Tensor x = read_npy(kInput);
  EXPECT_EQ(j["inputs"][0]["type"].get<std::string>(),
            "f32" + shape_to_string(x.shape()));
  const CliResult text = run_cli("inspect " + kModel, dir);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("parameters"), std::string::npos);
}

TEST(ModelCli, RunMatchesTorchOutput) {
  TempDir dir;
  const CliResult r = run_cli("run " + kModel + " --input " + kInput + " --output " + dir.file("y.npy"), dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Tensor y = read_npy(dir.file("y.npy"));
  const Tensor want = read_npy(kData + "resnet_small.output.npy");
  ASSERT_EQ(y.numel(), want.numel());
  for (std::int64_t i = 0; i < y.numel(); ++i) {
    const float w = want.data<float>()[i];
    EXPECT_NEAR(y.data<float>()[i], w, 1e-4 * std::max(1.0f, std::abs(w))) << "element " << i;
  }
}

TEST(ModelCli, RunRejectsAnInputOfTheWrongShapeAndWritesNothing) {
  TempDir dir;
  write_npy(dir.file("bad.npy"), Tensor::zeros(Shape{3}, DType::Float32));
  const CliResult r =
      run_cli("run " + kModel + " --input " + dir.file("bad.npy") + " --output " + dir.file("y.npy"), dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--input"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("y.npy")));
}

TEST(ModelCli, QuantizeThenRunCompareAndBench) {
  TempDir dir;
  const std::string q = dir.file("q.onnx");
  const CliResult r = run_cli("quantize " + kModel + " -o " + q + " --calib " + kInput +
                                  " --config int8-per-channel --report " + dir.file("r.json"),
                              dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["config"], "int8-per-channel");
  EXPECT_EQ(report["calibration"]["batches"], 1);
  EXPECT_GT(report["ops"]["dequantize_per_channel"].get<int>(), 0);
  EXPECT_EQ(nlohmann::json::parse(slurp(dir.file("r.json"))), report);
  EXPECT_TRUE(std::filesystem::exists(q));

  const CliResult inspect = run_cli("inspect " + q + " --json", dir);
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_TRUE(nlohmann::json::parse(inspect.out)["quantized"].get<bool>());

  ASSERT_EQ(run_cli("run " + kModel + " --input " + kInput + " --output " + dir.file("f.npy"), dir).exit_code, 0);
  const CliResult run = run_cli("run " + q + " --input " + kInput + " --output " + dir.file("q.npy"), dir);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // Calibrated on this very input: the int8 model's logits point the same way.
  EXPECT_GT(cosine(read_npy(dir.file("f.npy")), read_npy(dir.file("q.npy"))), 0.99);

  const CliResult cmp = run_cli("compare " + kModel + " " + q + " --data " + kInput + " --json --svg " +
                                    dir.file("c.svg"),
                                dir);
  ASSERT_EQ(cmp.exit_code, 0) << cmp.err;
  const auto layers = nlohmann::json::parse(cmp.out)["layers"];
  ASSERT_FALSE(layers.empty());
  EXPECT_EQ(layers[0]["op"], "conv2d");
  EXPECT_GT(layers[0]["sqnr_db"].get<double>(), 25.0);
  EXPECT_NE(slurp(dir.file("c.svg")).find("<svg"), std::string::npos);

  const CliResult bench = run_cli("bench " + q + " --iterations 3 --warmup 1 --json", dir);
  ASSERT_EQ(bench.exit_code, 0) << bench.err;
  const auto b = nlohmann::json::parse(bench.out);
  EXPECT_GT(b["runs"][0]["p50_ms"].get<double>(), 0.0);
  EXPECT_TRUE(b["runs"][0]["lowered"].get<bool>());
}

TEST(ModelCli, QuantizeValidatesConfigAndCalibration) {
  TempDir dir;
  const std::string q = dir.file("q.onnx");
  const CliResult bad = run_cli("quantize " + kModel + " -o " + q + " --calib " + kInput + " --config int3", dir);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("int8-per-channel"), std::string::npos) << bad.err;  // lists the valid names
  const CliResult no_calib = run_cli("quantize " + kModel + " -o " + q + " --config int8", dir);
  EXPECT_NE(no_calib.exit_code, 0);
  EXPECT_NE(no_calib.err.find("--calib"), std::string::npos) << no_calib.err;
  EXPECT_FALSE(std::filesystem::exists(q));
}

TEST(ModelCli, EvaluatePrintsTheTableAndWritesTheReport) {
  if (!std::filesystem::exists(kFashionModel) || !std::filesystem::exists(kFashionData)) {
    GTEST_SKIP() << "needs models/fashion_mnist and Debian's dataset-fashion-mnist";
  }
  TempDir dir;
  const std::string out = dir.file("out");
  const CliResult r = run_cli(
      "evaluate " + kFashionModel + " --calib " + kFashionData + "train-images-idx3-ubyte.gz" +
          " --test-images " + kFashionData + "t10k-images-idx3-ubyte.gz --test-labels " + kFashionData +
          "t10k-labels-idx1-ubyte.gz --calib-samples 32 --test-limit 200 --latency-iterations 5 "
          "--configs int8-per-channel,int8-dynamic --out " + out,
      dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("int8-per-channel"), std::string::npos);
  const auto report = nlohmann::json::parse(slurp(out + "/report.json"));
  ASSERT_EQ(report["results"].size(), 3u);
  EXPECT_EQ(report["test_images"], 200);
  const double fp32 = report["results"][0]["top1"].get<double>();
  EXPECT_GT(fp32, 80.0);  // the shipped model is a trained classifier
  EXPECT_NEAR(report["results"][1]["top1"].get<double>(), fp32, 3.0);
  EXPECT_TRUE(report["results"][1]["integer_kernels"].get<bool>());
  EXPECT_TRUE(std::filesystem::exists(out + "/sqnr_per_layer.svg"));
  EXPECT_TRUE(std::filesystem::exists(out + "/fashion_mnist_cnn.int8-per-channel.onnx"));
}

}  // namespace
}  // namespace quantkit::testing
