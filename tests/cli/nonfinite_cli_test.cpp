// NaN and infinity in data fed to a quantized model: quantization maps NaN to quant_min and +-inf
// to the ends of the range, so the int8 model used to return finite, normal-looking logits with
// exit code 0 on an all-NaN image. The CLI refuses such data (naming it, the counts and the first
// sample) unless --allow-nonfinite, and calibration data always.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "cli/cli_runner.h"
#include "quantkit/core/npy.h"

namespace quantkit::testing {
namespace {

const std::string kData = std::string(QUANTKIT_TEST_DATA_DIR) + "/onnx/";
const std::string kModel = kData + "resnet_small.onnx";
const std::string kInput = kData + "resnet_small.input.npy";

// The shipped input with `count` values from flat index `first` on replaced by `value`.
Tensor poisoned(std::int64_t first, std::int64_t count, float value) {
  Tensor x = read_npy(kInput).clone();
  for (std::int64_t i = first; i < first + count; ++i) x.data<float>()[i] = value;
  return x;
}

class NonFiniteCli : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* config : {"int8", "int8-dynamic"}) {
      const std::string q = dir_.file(std::string(config) + ".onnx");
      const CliResult r = run_cli(
          "quantize " + kModel + " -o " + q + " --calib " + kInput + " --config " + config, dir_);
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  TempDir dir_;
};

TEST_F(NonFiniteCli, RunRefusesNaNInputToAQuantizedModelAndNamesIt) {
  const std::int64_t numel = read_npy(kInput).numel();
  write_npy(dir_.file("nan.npy"), poisoned(0, numel, std::nanf("")));
  for (const char* config : {"int8", "int8-dynamic"}) {
    const CliResult r = run_cli("run " + dir_.file(std::string(config) + ".onnx") + " --input " +
                                    dir_.file("nan.npy") + " --output " + dir_.file("y.npy"),
                                dir_);
    EXPECT_EQ(r.exit_code, 1) << config;
    EXPECT_EQ(r.err, "quantkit: error: run: --input " + dir_.file("nan.npy") + " has " +
                         std::to_string(numel) + " non-finite values (" + std::to_string(numel) +
                         " NaN, 0 infinite); the first is nan, in sample 0 (batch 0, flat "
                         "index "
                         "0): a quantized model would turn them into finite, normal-looking "
                         "outputs (pass --allow-nonfinite to run anyway)\n")
        << config;
    EXPECT_FALSE(std::filesystem::exists(dir_.file("y.npy"))) << config;
  }
}

TEST_F(NonFiniteCli, AllowNonFiniteRunsWithAWarningGivingTheCount) {
  write_npy(dir_.file("inf.npy"), poisoned(17, 3, -std::numeric_limits<float>::infinity()));
  const CliResult r = run_cli("run " + dir_.file("int8.onnx") + " --input " + dir_.file("inf.npy") +
                                  " --output " + dir_.file("y.npy") + " --allow-nonfinite",
                              dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.rfind("quantkit: warning: run: --input " + dir_.file("inf.npy") +
                            " has 3 non-finite values (0 NaN, 3 infinite); the "
                            "first is -inf, in "
                            "sample 0 (batch 0, flat index 17); running anyway",
                        0),
            0u)
      << r.err;
  // The library's defined behaviour: -inf quantizes to quant_min, the outputs stay finite.
  for (float v : read_npy(dir_.file("y.npy")).to_vector<float>()) EXPECT_TRUE(std::isfinite(v));
}

TEST_F(NonFiniteCli, TheFp32ModelIsNotCheckedAndPropagatesNaN) {
  write_npy(dir_.file("nan.npy"), poisoned(0, 1, std::nanf("")));
  const CliResult r = run_cli(
      "run " + kModel + " --input " + dir_.file("nan.npy") + " --output " + dir_.file("y.npy"),
      dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  bool any_nan = false;
  for (float v : read_npy(dir_.file("y.npy")).to_vector<float>()) any_nan |= std::isnan(v);
  EXPECT_TRUE(any_nan);
}

TEST_F(NonFiniteCli, CompareRefusesNonFiniteDataNamingTheSample) {
  // Two samples stacked: the second holds one NaN at its element 5.
  const Tensor x = read_npy(kInput);
  std::vector<float> two = x.to_vector<float>();
  const std::vector<float> second = poisoned(5, 1, std::nanf("")).to_vector<float>();
  two.insert(two.end(), second.begin(), second.end());
  Shape shape = x.shape();
  shape[0] = 2;
  write_npy(dir_.file("data.npy"), Tensor::from_vector(two, shape));
  const CliResult r = run_cli(
      "compare " + kModel + " " + dir_.file("int8.onnx") + " --data " + dir_.file("data.npy"),
      dir_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("compare: --data " + dir_.file("data.npy") +
                       " has 1 non-finite value (1 NaN, 0 infinite); the first "
                       "is nan, in sample "
                       "1 (batch 1, flat index 5)"),
            std::string::npos)
      << r.err;
}

TEST_F(NonFiniteCli, CalibrationDataNamesTheSampleInsteadOfGotNan) {
  // A folder of two batches; the second holds +inf. It used to fail deep inside the model with
  // "histogram: invalid argument 'x[0]': got -nan", naming neither sample nor layer.
  std::filesystem::create_directory(dir_.file("calib"));
  write_npy(dir_.file("calib/a.npy"), read_npy(kInput));
  write_npy(dir_.file("calib/b.npy"), poisoned(9, 1, std::numeric_limits<float>::infinity()));
  const CliResult r = run_cli("quantize " + kModel + " -o " + dir_.file("q.onnx") + " --calib " +
                                  dir_.file("calib") + " --config int8",
                              dir_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("quantkit: error: quantize_model: calibration batch 1 (input '"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("has 1 non-finite value (0 NaN, 1 infinite; the first, "
                       "at flat index 9, "
                       "is inf): sample 1 of the calibration data"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("-nan"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_.file("q.onnx")));
}

}  // namespace
}  // namespace quantkit::testing
