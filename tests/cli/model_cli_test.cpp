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

TEST(ModelCli, RunGivesBitIdenticalOutputsAtEveryThreadCount) {
  TempDir dir;
  const std::string q = dir.file("q.onnx");
  ASSERT_EQ(run_cli("quantize " + kModel + " -o " + q + " --calib " + kInput +
                        " --config int8-per-channel",
                    dir)
                .exit_code,
            0);
  for (const std::string &model : {kModel, q}) {
    const std::string base =
        "run " + model + " --input " + kInput + " --output ";
    ASSERT_EQ(
        run_cli(base + dir.file("t1.npy") + " --threads 1", dir).exit_code, 0);
    for (const char *threads : {"2", "3", "8", "256"}) {
      const CliResult r =
          run_cli(base + dir.file("tn.npy") + " --threads " + threads, dir);
      ASSERT_EQ(r.exit_code, 0)
          << model << " --threads " << threads << ": " << r.err;
      EXPECT_TRUE(bitwise_equal(read_npy(dir.file("tn.npy")),
                                read_npy(dir.file("t1.npy"))))
          << model << " --threads " << threads;
    }
  }
}

TEST(ModelCli, BenchMeasuresEveryThreadCountGiven) {
  TempDir dir;
  const CliResult r = run_cli(
      "bench " + kModel + " --threads 1 3 2 --iterations 4 --warmup 0 --json",
      dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto runs = nlohmann::json::parse(r.out)["runs"];
  ASSERT_EQ(runs.size(), 3u);
  const int expected[] = {1, 3, 2};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(runs[i]["threads"].get<int>(), expected[i]);
    EXPECT_EQ(runs[i]["iterations"].get<int>(), 4);
    EXPECT_GT(runs[i]["min_ms"].get<double>(), 0.0);
    EXPECT_LE(runs[i]["min_ms"].get<double>(), runs[i]["p50_ms"].get<double>());
  }
}

TEST(ModelCli, QuantizeCalibBatchesCapsTheCalibrationData) {
  TempDir dir;
  // Five samples stacked on dim 0 (the model's input is [1, 3, 32, 32]: five
  // batches), each a scaled copy of the shipped input so that the observed
  // ranges depend on how many ran.
  const Tensor x = read_npy(kInput);
  std::vector<float> five;
  for (int s = 1; s <= 5; ++s) {
    for (float v : x.to_vector<float>())
      five.push_back(v * static_cast<float>(s));
  }
  Shape shape = x.shape();
  shape[0] = 5;
  write_npy(dir.file("five.npy"), Tensor::from_vector(five, shape));
  const std::string base = "quantize " + kModel + " --calib " +
                           dir.file("five.npy") + " --config int8 -o ";
  const CliResult all = run_cli(base + dir.file("all.onnx"), dir);
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(nlohmann::json::parse(all.out)["calibration"]["batches"], 5);
  const CliResult two =
      run_cli(base + dir.file("two.onnx") + " --calib-batches 2", dir);
  ASSERT_EQ(two.exit_code, 0) << two.err;
  const auto report = nlohmann::json::parse(two.out);
  EXPECT_EQ(report["calibration"]["batches"], 2);
  EXPECT_EQ(report["calibration"]["samples"], 2);
  // Fewer (smaller) batches observed: different qparams, so a different model
  // file.
  EXPECT_NE(slurp(dir.file("two.onnx")), slurp(dir.file("all.onnx")));
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
          "--configs int8-per-channel,int8-dynamic,apot-w4 --out " + out,
      dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("int8-per-channel"), std::string::npos);
  // The bits a weight really spends: log2 of its distinct values.
  EXPECT_NE(r.out.find("weight bits"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3.9 (15 levels)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("8.0 (255 levels)"), std::string::npos) << r.out;
  const auto report = nlohmann::json::parse(slurp(out + "/report.json"));
  ASSERT_EQ(report["results"].size(), 4u);
  EXPECT_EQ(report["results"][0]["weight_bits"].get<double>(), 32.0);
  EXPECT_EQ(report["results"][3]["weight_levels"].get<int>(), 15);
  EXPECT_EQ(report["results"][3]["weight_codes"].get<int>(), 15);
  EXPECT_NEAR(report["results"][3]["weight_bits"].get<double>(), std::log2(15.0), 1e-12);
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
