// `quantkit qat` on the shipped Fashion-MNIST CNN (a fixed batch of 1 in the file, trained
// at --batch-size 32): the written Q/DQ file runs in quantkit, the report's deployed top-1
// matches the fake-quantized one, the same arguments give the same bytes, and bad flags are
// errors naming them. Built without LibTorch, the command says how to get it.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "quantkit/core/npy.h"

namespace quantkit::testing {
namespace {

const std::string kModel =
    std::string(QUANTKIT_TEST_DATA_DIR) + "/../../models/fashion_mnist/fashion_mnist_cnn.onnx";
const std::string kFashion = "/usr/share/datasets/fashion-mnist/";

std::string base_args(const TempDir& dir, const std::string& out, int seed = 7) {
  return "qat " + kModel + " -o " + dir.file(out) + " --train-images " + kFashion +
         "train-images-idx3-ubyte.gz --train-labels " + kFashion +
         "train-labels-idx1-ubyte.gz --train-samples 256 --batch-size 32 --lr 0.0001 --seed " +
         std::to_string(seed);
}

std::string test_args() {
  return " --test-images " + kFashion + "t10k-images-idx3-ubyte.gz --test-labels " + kFashion +
         "t10k-labels-idx1-ubyte.gz --test-samples 200";
}

std::string bytes_of(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

bool have_data() {
  return std::filesystem::exists(kModel) &&
         std::filesystem::exists(kFashion + "train-images-idx3-ubyte.gz");
}

#ifdef QUANTKIT_CLI_WITH_TORCH

TEST(QatCli, TrainsConvertsAndTheWrittenFileRunsAtTheFakeQuantAccuracy) {
  if (!have_data()) GTEST_SKIP() << "needs models/fashion_mnist and Debian's dataset-fashion-mnist";
  TempDir dir;
  const CliResult r = run_cli(base_args(dir, "w4.onnx") + " --config uniform-w4 --epochs 2" +
                                  test_args() + " --report " + dir.file("r.json"),
                              dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report, nlohmann::json::parse(bytes_of(dir.file("r.json"))));
  ASSERT_EQ(report["history"].size(), 2u);
  for (const auto& e : report["history"]) {
    EXPECT_TRUE(std::isfinite(e["train_loss"].get<double>()));
    EXPECT_GE(e["test_top1"].get<double>(), 0.0);
  }
  EXPECT_EQ(report["steps_per_epoch"], 8);  // 256 samples / 32
  EXPECT_NE(r.err.find("epoch 2/2: train loss"), std::string::npos) << r.err;
  // The shipped model is trained (91% fp32): fine-tuning keeps it far above chance, and the
  // deployed integer model agrees with the fake-quantized one to a couple of the 200 images.
  const double fake = report["test_top1_fake_quantized"].get<double>();
  const double deployed = report["test_top1_quantized_model"].get<double>();
  EXPECT_GT(fake, 60.0);
  EXPECT_NEAR(deployed, fake, 1.5);
  // The file has the model's own batch (1) and runs in quantkit.
  const CliResult inspect = run_cli("inspect " + dir.file("w4.onnx") + " --json", dir);
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  const auto info = nlohmann::json::parse(inspect.out);
  EXPECT_TRUE(info["quantized"].get<bool>()) << inspect.out;
  EXPECT_NE(inspect.out.find("[1, 1, 28, 28]"), std::string::npos) << inspect.out;
}

TEST(QatCli, TheSameArgumentsWriteTheSameBytes) {
  if (!have_data()) GTEST_SKIP() << "needs models/fashion_mnist and Debian's dataset-fashion-mnist";
  TempDir dir;
  const CliResult a = run_cli(base_args(dir, "a.onnx") + " --config int8-per-channel", dir);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const CliResult b = run_cli(base_args(dir, "b.onnx") + " --config int8-per-channel", dir);
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(bytes_of(dir.file("a.onnx")), bytes_of(dir.file("b.onnx")));
  // Another seed trains on another order: other weights.
  const CliResult c =
      run_cli(base_args(dir, "c.onnx", 8) + " --config int8-per-channel", dir);
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(bytes_of(dir.file("a.onnx")), bytes_of(dir.file("c.onnx")));
}

#else

TEST(QatCli, WithoutLibTorchTheCommandSaysHowToGetIt) {
  TempDir dir;
  const CliResult r = run_cli(base_args(dir, "x.onnx") + " --config int8", dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("QUANTKIT_WITH_TORCH=ON"), std::string::npos) << r.err;
}

#endif

TEST(QatCli, BadFlagsAreErrorsNamingThem) {
  if (!have_data()) GTEST_SKIP() << "needs models/fashion_mnist and Debian's dataset-fashion-mnist";
  TempDir dir;
  struct Case {
    std::string extra;
    std::string expected;
  };
  const Case cases[] = {
      {" --config int8-fancy", "uniform-w2"},  // lists the valid names
      {" --config int8 --test-images " + kFashion + "t10k-images-idx3-ubyte.gz", "--test-labels"},
      {" --config int8 --optimizer rmsprop", "--optimizer"},
      {" --config int8 --epochs 0", "--epochs"},
      {" --config int8 --lr -1", "--lr"},
  };
  for (const Case& c : cases) {
    const CliResult r = run_cli(base_args(dir, "x.onnx") + c.extra, dir);
    EXPECT_NE(r.exit_code, 0) << c.extra;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.extra << ": " << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.file("x.onnx"))) << c.extra;
  }
}

}  // namespace
}  // namespace quantkit::testing
