// Batched model commands as a black box: `run` takes N samples stacked on dim 0 and writes N
// outputs, bit-identical at every --batch-size for fp32 and static int8; `inspect` names the
// dynamic batch; `quantize --calib-batch-size` batches the calibration of a dynamic model.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "cli/cli_runner.h"
#include "quantkit/core/npy.h"
#include "quantkit/onnx/onnx_export.h"
#include "quantkit/pipeline/loaded_model.h"
#include "support/small_cnn.h"

namespace quantkit::testing {
namespace {

using graph::testing::random_tensor;
using ::testing::HasSubstr;

class BatchCli : public ::testing::Test {
 protected:
  void SetUp() override {
    onnx::export_onnx(small_cnn("N"), dir.file("dynamic.onnx"));
    onnx::export_onnx(small_cnn(""), dir.file("fixed.onnx"));
    write_npy(dir.file("x.npy"), x);
  }
  // `quantkit run MODEL` on x.npy with `flags`; the output tensor.
  Tensor run(const std::string& model, const std::string& flags) {
    const std::string y = dir.file("y" + std::to_string(runs++) + ".npy");
    const CliResult r = run_cli(
        "run " + model + " --input " + dir.file("x.npy") + " --output " + y + " " + flags, dir);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");  // no progress bar when stderr is not a terminal
    return read_npy(y);
  }

  TempDir dir;
  const Tensor x = random_tensor({11, 2, 8, 8}, 5);
  int runs = 0;
};

TEST_F(BatchCli, InspectNamesTheDynamicBatch) {
  const CliResult r = run_cli("inspect " + dir.file("dynamic.onnx"), dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("input       x: f32[N, 2, 8, 8]"));
  EXPECT_THAT(r.out, HasSubstr("f32[N, 5]"));
  const CliResult j = run_cli("inspect --json " + dir.file("dynamic.onnx"), dir);
  EXPECT_EQ(nlohmann::json::parse(j.out)["inputs"][0]["type"], "f32[N, 2, 8, 8]");
}

TEST_F(BatchCli, RunWritesEverySampleAndTheBatchSizeChangesNothing) {
  const Tensor alone = run(dir.file("dynamic.onnx"), "--batch-size 1");
  ASSERT_EQ(alone.shape(), (Shape{11, 5}));
  for (const char* flags :
       {"--batch-size 4", "--batch-size 11", "", "--batch-size 64 --threads 2"}) {
    EXPECT_TRUE(bitwise_equal(run(dir.file("dynamic.onnx"), flags), alone)) << flags;
  }
  // Row i is sample i through the model (the library, in process).
  const pipeline::LoadedModel model(dir.file("dynamic.onnx"), 1);
  EXPECT_TRUE(bitwise_equal(sample_row(alone, 7), model.run({sample_row(x, 7)})[0]));
  // A fixed-batch-1 model runs the samples one by one: the same rows.
  EXPECT_TRUE(bitwise_equal(run(dir.file("fixed.onnx"), "--batch-size 4"), alone));
}

TEST_F(BatchCli, QuantizedRunDoesNotDependOnTheBatchSize) {
  const std::string q = dir.file("q.onnx");
  const CliResult r =
      run_cli("quantize " + dir.file("dynamic.onnx") + " -o " + q + " --calib " +
                  dir.file("x.npy") + " --config int8 --calib-batch-size 4 " + "--calib-batches 2",
              dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["calibration"]["batches"], 2);
  EXPECT_EQ(report["calibration"]["samples"], 8);  // --calib-batches counts batches of 4
  const Tensor alone = run(q, "--batch-size 1");
  ASSERT_EQ(alone.shape(), (Shape{11, 5}));
  EXPECT_TRUE(bitwise_equal(run(q, "--batch-size 5"), alone));
  EXPECT_TRUE(bitwise_equal(run(q, ""), alone));
}

TEST_F(BatchCli, CalibBatchesCountSamplesWithoutCalibBatchSize) {
  const CliResult r =
      run_cli("quantize " + dir.file("dynamic.onnx") + " -o " + dir.file("q.onnx") + " --calib " +
                  dir.file("x.npy") + " --config int8 --calib-batches 3",
              dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["calibration"]["samples"], 3);
  // A fixed-batch model cannot calibrate in batches of another size.
  const CliResult fixed =
      run_cli("quantize " + dir.file("fixed.onnx") + " -o " + dir.file("f.onnx") + " --calib " +
                  dir.file("x.npy") + " --config int8 --calib-batch-size 4",
              dir);
  EXPECT_NE(fixed.exit_code, 0);
  EXPECT_THAT(fixed.err, HasSubstr("--calib-batch-size"));
}

TEST_F(BatchCli, RunRejectsSamplesOfAnotherShape) {
  write_npy(dir.file("bad.npy"), random_tensor({4, 3, 8, 8}, 6));
  const CliResult r = run_cli("run " + dir.file("dynamic.onnx") + " --input " +
                                  dir.file("bad.npy") + " --output " + dir.file("y.npy"),
                              dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("f32[N, 2, 8, 8]"));
  EXPECT_FALSE(std::filesystem::exists(dir.file("y.npy")));
  const CliResult zero =
      run_cli("run " + dir.file("dynamic.onnx") + " --input " + dir.file("x.npy") + " --output " +
                  dir.file("y.npy") + " --batch-size 0",
              dir);
  EXPECT_NE(zero.exit_code, 0);
}

}  // namespace
}  // namespace quantkit::testing
