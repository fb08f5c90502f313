// The files `quantkit quantize` writes, read back by the CLI itself: apot-w4 (uint8 codes →
// Cast → Gather, imported as apot_dequantize) works with inspect, run and compare and takes a
// byte per weight; --opset is range-checked.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "quantkit/core/npy.h"

namespace quantkit::testing {
namespace {

const std::string kData = std::string(QUANTKIT_TEST_DATA_DIR) + "/onnx/";
const std::string kModel = kData + "resnet_small.onnx";
const std::string kInput = kData + "resnet_small.input.npy";

TEST(QuantizedFilesCli, ApotW4FileReadsBackWithABytePerWeight) {
  TempDir dir;
  const std::string q = dir.file("apot.onnx");
  const CliResult r =
      run_cli("quantize " + kModel + " -o " + q + " --calib " + kInput + " --config apot-w4", dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = nlohmann::json::parse(r.out);
  // A byte per weight, as int8-per-channel (int32 codes made it 2.3x that file on this model,
  // whose graph structure is a large share of the bytes; on the Fashion-MNIST CNN the apot-w4
  // file is 1/4 of fp32's).
  const CliResult int8 = run_cli("quantize " + kModel + " -o " + dir.file("int8.onnx") +
                                     " --calib " + kInput + " --config int8-per-channel",
                                 dir);
  ASSERT_EQ(int8.exit_code, 0) << int8.err;
  const double int8_bytes = nlohmann::json::parse(int8.out)["quantized_bytes"].get<double>();
  EXPECT_LT(report["quantized_bytes"].get<double>(), 1.1 * int8_bytes);

  const CliResult inspect = run_cli("inspect " + q + " --json", dir);
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  const auto ops = nlohmann::json::parse(inspect.out)["ops"];
  EXPECT_EQ(ops["apot_dequantize"], report["ops"]["apot_dequantize"]);
  EXPECT_GT(ops["apot_dequantize"].get<int>(), 0);

  const CliResult run =
      run_cli("run " + q + " --input " + kInput + " --output " + dir.file("y.npy"), dir);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_GT(read_npy(dir.file("y.npy")).numel(), 0);

  const CliResult cmp =
      run_cli("compare " + kModel + " " + q + " --data " + kInput + " --json", dir);
  ASSERT_EQ(cmp.exit_code, 0) << cmp.err;
  EXPECT_FALSE(nlohmann::json::parse(cmp.out)["layers"].empty());
}

TEST(QuantizedFilesCli, OpsetIsChecked) {
  TempDir dir;
  const std::string base = "quantize " + kModel + " --calib " + kInput + " --config int8 -o ";
  const CliResult ok = run_cli(base + dir.file("13.onnx") + " --opset 13", dir);
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(run_cli("inspect " + dir.file("13.onnx"), dir).exit_code, 0);
  const CliResult bad = run_cli(base + dir.file("12.onnx") + " --opset 12", dir);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--opset: '12' is out of range (expected an integer from 13 to 21)"),
            std::string::npos)
      << bad.err;
}

// 8da4w's --group-size: a layer it does not divide (resnet_small's fc, 32 inputs, against the
// default 256) is named on stderr and in the JSON report; the file is written (per-token
// activations as decomposed float arithmetic, docs/onnx.md) and `quantkit run` executes it;
// bad sizes are refused naming the flag.
TEST(QuantizedFilesCli, GroupSizeFallbackIsReportedAndTheFileRuns) {
  TempDir dir;
  const std::string q = dir.file("q.onnx");
  const std::string base = "quantize " + kModel + " -o " + q + " --config 8da4w";
  const CliResult r = run_cli(base, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("layer '/fc/Gemm' has in_features not divisible by --group-size 256"),
            std::string::npos)
      << r.err;
  const auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["group_size"], 256);
  EXPECT_EQ(report["group_size_fallbacks"], nlohmann::json::array({"/fc/Gemm"}));
  const CliResult run =
      run_cli("run " + q + " --input " + kInput + " --output " + dir.file("y.npy"), dir);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_GT(read_npy(dir.file("y.npy")).numel(), 0);
  const CliResult grouped = run_cli(base + " --group-size 32", dir);
  ASSERT_EQ(grouped.exit_code, 0) << grouped.err;
  EXPECT_EQ(grouped.err.find("not divisible"), std::string::npos) << grouped.err;
  EXPECT_TRUE(nlohmann::json::parse(grouped.out)["group_size_fallbacks"].empty());
  const CliResult small = run_cli(base + " --group-size 16", dir);
  EXPECT_NE(small.err.find("--group-size: '16' is out of range"), std::string::npos) << small.err;
  const CliResult odd = run_cli(base + " --group-size 48", dir);
  EXPECT_NE(odd.err.find("'group_size': got 48, expected a positive multiple of 32"),
            std::string::npos)
      << odd.err;
}

}  // namespace
}  // namespace quantkit::testing
