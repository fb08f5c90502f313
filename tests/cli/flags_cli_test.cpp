// Numeric flags as a hostile user types them: every one is parsed strictly and range-checked before
// anything runs, and every error is printed behind exactly one "quantkit: error: ".
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/cli_runner.h"
#include "quantkit/core/npy.h"

namespace quantkit::testing {
namespace {

const std::string kData = std::string(QUANTKIT_TEST_DATA_DIR) + "/onnx/";
const std::string kModel = kData + "resnet_small.onnx";
const std::string kInput = kData + "resnet_small.input.npy";

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
    ++n;
  }
  return n;
}

struct Case {
  std::string args;
  std::string message;  // a part of stderr specific to this failure
};

// Each case fails with exit code != 0, its message, the prefix once, and writes no output.
void expect_failures(const std::vector<Case>& cases, const TempDir& dir, const std::string& out) {
  for (const Case& c : cases) {
    const CliResult r = run_cli(c.args, dir);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\nstderr: " << r.err;
    EXPECT_EQ(r.err.rfind("quantkit: error: ", 0), 0u) << c.args << "\nstderr: " << r.err;
    EXPECT_EQ(count(r.err, "quantkit: "), 1u) << c.args << "\nstderr: " << r.err;
    EXPECT_FALSE(std::filesystem::exists(out)) << c.args;
  }
}

TEST(FlagsCli, ScaleAndZeroPointAreNumbersOrNpyFilesParsedStrictly) {
  TempDir dir;
  write_npy(dir.file("x.npy"), Tensor::from_vector<float>({0.5f, -1.0f}));
  const std::string out = dir.file("y.npy");
  const std::string head =
      "tensor fake-quantize --in " + dir.file("x.npy") + " --out " + out + " --dtype int8 ";
  const std::string scale = "invalid argument '--scale': got '";
  expect_failures(
      {
          {head + "--scale abc", scale + "abc', expected a number (per-tensor scale) or a .npy "
                                         "file of per-channel scales; 'abc' is not a number"},
          {head + "--scale 1,5", scale + "1,5'"},
          {head + "--scale 1,5", "'1,5' is not a number"},
          {head + "--scale 1e400", "'1e400' is out of range"},
          {head + "--scale 0x10", "'0x10' is not a number"},
          {head + "--scale 0.5 --zero-point 1.5", "'--zero-point': got '1.5'"},
          {head + "--scale 0.5 --zero-point 99999999999999999999", "is out of range"},
          // The command is named once, after the prefix; the old text was "quantkit: error:
          // quantkit: invalid argument ...".
          {head + "--scale abc", "quantkit: error: tensor fake-quantize: invalid argument"},
      },
      dir, out);
  // A typo in the scale is not reported as a missing file or a missing --axis.
  const CliResult r = run_cli(head + "--scale abc", dir);
  EXPECT_EQ(r.err.find("--axis"), std::string::npos) << r.err;
  // Numbers in every accepted spelling still work.
  for (const std::string s : {"0.25", "+0.25", "2.5e-1", "25e-2"}) {
    const CliResult ok = run_cli(head + "--scale " + s, dir);
    ASSERT_EQ(ok.exit_code, 0) << s << ": " << ok.err;
    EXPECT_EQ(read_npy(out).to_vector<float>(), (std::vector<float>{0.5f, -1.0f})) << s;
    std::filesystem::remove(out);
  }
}

TEST(FlagsCli, ModelCommandCountsAreRangeChecked) {
  TempDir dir;
  const std::string out = dir.file("y.npy");
  const std::string run = "run " + kModel + " --input " + kInput + " --output " + out;
  const std::string bench = "bench " + kModel + " --iterations 1 --warmup 0";
  const std::string quantize =
      "quantize " + kModel + " -o " + out + " --calib " + kInput + " --config int8";
  const std::string compare = "compare " + kModel + " " + kModel + " --data " + kInput;
  const std::string evaluate = "evaluate " + kModel + " --calib " + kInput + " --test-images " +
                               kInput + " --test-labels " + kInput + " --out " + dir.file("ev");
  const auto start = std::chrono::steady_clock::now();
  expect_failures(
      {
          // --warmup -1 used to wrap to 2^64 - 1 and spin until killed.
          {bench + " --warmup -1", "--warmup: '-1' is out of range (expected an integer from 0"},
          {bench + " --warmup 1e3", "--warmup: '1e3' is not an integer"},
          {bench + " --iterations 0", "--iterations: '0' is out of range"},
          // bench used to accept any thread count while run capped at 256.
          {bench + " --threads 100000",
           "--threads: '100000' is out of range (expected an "
           "integer from 1 to 256)"},
          {bench + " --threads 1 0", "--threads: '0' is out of range"},
          {bench + " --threads 2x", "--threads: '2x' is not an integer"},
          {run + " --threads 257",
           "--threads: '257' is out of range (expected an integer from "
           "1 to 256)"},
          {run + " --threads 0", "--threads: '0' is out of range"},
          {run + " --threads 0x4", "--threads: '0x4' is not an integer"},
          {quantize + " --calib-batches 0", "--calib-batches: '0' is out of range"},
          {quantize + " --calib-batches -3", "--calib-batches: '-3' is out of range"},
          {compare + " --batches 0", "--batches: '0' is out of range"},
          {evaluate + " --threads 300", "--threads: '300' is out of range"},
          {evaluate + " --latency-iterations 0", "--latency-iterations: '0' is out of range"},
          {evaluate + " --calib-samples -1", "--calib-samples: '-1' is out of range"},
          {evaluate + " --test-limit abc", "--test-limit: 'abc' is not an integer"},
      },
      dir, out);
  // Refused while parsing: nothing ran (a wrapped --warmup would not return at all).
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
  EXPECT_FALSE(std::filesystem::exists(dir.file("ev")));
}

TEST(FlagsCli, TensorAndApotFlagsAreRangeChecked) {
  TempDir dir;
  write_npy(dir.file("x.npy"), Tensor::from_vector<float>({0.5f, -1.0f}));
  const std::string x = dir.file("x.npy");
  const std::string out = dir.file("o.npy");
  const std::string observe = "tensor observe --dtype int8 " + x;
  expect_failures(
      {
          {observe + " --observer histogram --bins 0x10", "--bins: '0x10' is not an integer"},
          {observe + " --observer histogram --bins 70000", "--bins: '70000' is out of range"},
          {observe + " --observer minmax --eps -1", "--eps: '-1' is out of range"},
          {observe + " --observer minmax --eps nan", "--eps: 'nan' is not a number"},
          {observe + " --observer moving-average-minmax --averaging-constant 2",
           "--averaging-constant: '2' is out of range"},
          {observe + " --observer per-channel-minmax --axis 64", "--axis: '64' is out of range"},
          {"tensor quantize --in " + x + " --out " + out +
               " --dtype int8 --scale 1 --quant-min 1.5 --quant-max 2",
           "--quant-min: '1.5' is not an integer"},
          {"apot qparams --b four --k 2 --alpha 1", "--b: 'four' is not an integer"},
          {"apot qparams --b 4 --k 2 --alpha 1e39", "--alpha: '1e39' is out of range"},
          {"apot quantize --b 4 --k 2 --alpha inf --in " + x + " --codes-out " + out,
           "--alpha: 'inf' is out of range"},
      },
      dir, out);
}

TEST(FlagsCli, AnInputThatIsADirectoryIsNamedNotBadAlloc) {
  TempDir dir;
  const std::string out = dir.file("y.npy");
  std::filesystem::create_directory(dir.file("d"));
  expect_failures(
      {
          {"tensor quantize --in " + dir.file("d") + " --out " + out + " --dtype int8 --scale 1",
           "read_npy: cannot read '" + dir.file("d") + "': it is a directory"},
          {"tensor observe --observer minmax --dtype int8 " + dir.file("d"), "it is a directory"},
          {"apot qparams --b 4 --k 2 " + dir.file("d"), "it is a directory"},
      },
      dir, out);
  const CliResult r =
      run_cli("tensor observe --observer minmax --dtype int8 " + dir.file("d"), dir);
  EXPECT_EQ(r.err.find("bad_alloc"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace quantkit::testing
