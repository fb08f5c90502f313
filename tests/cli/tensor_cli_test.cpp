// Black-box tests of `quantkit tensor ...`: the binary's results equal the library's.
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "quantkit/core/npy.h"
#include "quantkit/quant/affine.h"
#include "quantkit/quant/observer.h"

namespace quantkit {
namespace {

using testing::run_cli;
using testing::TempDir;

Tensor sample() {
  std::vector<float> v;
  for (int i = 0; i < 24; ++i) v.push_back(static_cast<float>(i) * 0.37f - 4.1f);
  return Tensor::from_vector(v, {2, 3, 4});
}

TEST(TensorCli, QuantizePerTensorMatchesLibrary) {
  TempDir dir;
  write_npy(dir.file("x.npy"), sample());
  const auto r = run_cli("tensor quantize --in " + dir.file("x.npy") + " --out " +
                             dir.file("q.npy") + " --dtype int8 --scale 0.05 --zero-point 3",
                         dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Tensor expected = quantize_per_tensor(sample(), 0.05, 3, QuantRange::full(DType::Int8));
  EXPECT_TRUE(bitwise_equal(read_npy(dir.file("q.npy")), expected));
}

TEST(TensorCli, QuantizeWithCustomRange) {
  TempDir dir;
  write_npy(dir.file("x.npy"), sample());
  const auto r = run_cli("tensor quantize --in " + dir.file("x.npy") + " --out " +
                             dir.file("q.npy") +
                             " --dtype int8 --quant-min -8 --quant-max 7 --scale 0.5",
                         dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Tensor expected = quantize_per_tensor(sample(), 0.5, 0, QuantRange::of(DType::Int8, -8, 7));
  EXPECT_TRUE(bitwise_equal(read_npy(dir.file("q.npy")), expected));
}

TEST(TensorCli, PerChannelRoundTripWithFiles) {
  TempDir dir;
  write_npy(dir.file("x.npy"), sample());
  write_npy(dir.file("s.npy"), Tensor::from_vector<double>({0.1, 0.02, 0.3}));
  write_npy(dir.file("z.npy"), Tensor::from_vector<std::int16_t>({0, 10, 128}));
  const std::string qp = " --scale " + dir.file("s.npy") + " --zero-point " + dir.file("z.npy") +
                         " --axis 1";
  auto r = run_cli("tensor quantize --in " + dir.file("x.npy") + " --out " + dir.file("q.npy") +
                       " --dtype uint8" + qp,
                   dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<double> s = {0.1, 0.02, 0.3};
  const std::vector<std::int64_t> z = {0, 10, 128};
  const Tensor q = quantize_per_channel(sample(), s, z, 1, QuantRange::full(DType::UInt8));
  EXPECT_TRUE(bitwise_equal(read_npy(dir.file("q.npy")), q));

  r = run_cli("tensor dequantize --in " + dir.file("q.npy") + " --out " + dir.file("y.npy") + qp,
              dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(bitwise_equal(read_npy(dir.file("y.npy")), dequantize_per_channel(q, s, z, 1)));

  // float32 scales work too; negative axis counts from the end.
  write_npy(dir.file("s32.npy"), Tensor::from_vector<float>({0.5f, 0.25f, 0.125f, 1.0f}));
  write_npy(dir.file("z4.npy"), Tensor::from_vector<std::int64_t>({0, 0, 0, 0}));
  r = run_cli("tensor fake-quantize --in " + dir.file("x.npy") + " --out " + dir.file("f.npy") +
                  " --dtype int8 --scale " + dir.file("s32.npy") + " --zero-point " +
                  dir.file("z4.npy") + " --axis -1",
              dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<double> s4 = {0.5, 0.25, 0.125, 1.0};
  const std::vector<std::int64_t> z4 = {0, 0, 0, 0};
  EXPECT_TRUE(bitwise_equal(read_npy(dir.file("f.npy")),
                            fake_quantize_per_channel(sample(), s4, z4, 2, -128, 127)));
}

TEST(TensorCli, DequantizeChecksDtypeAgainstFile) {
  TempDir dir;
  write_npy(dir.file("q.npy"), Tensor::from_vector<std::int8_t>({-3, 0, 5}));
  auto r = run_cli("tensor dequantize --in " + dir.file("q.npy") + " --out " + dir.file("y.npy") +
                       " --dtype uint8 --scale 0.5",
                   dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--dtype"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("y.npy")));
  r = run_cli("tensor dequantize --in " + dir.file("q.npy") + " --out " + dir.file("y.npy") +
                  " --dtype int8 --scale 0.5 --zero-point 1",
              dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_npy(dir.file("y.npy")).to_vector<float>(), (std::vector<float>{-2.0f, -0.5f, 2.0f}));
}

TEST(TensorCli, FakeQuantizeDefaultsToUint8Range) {
  TempDir dir;
  write_npy(dir.file("x.npy"), sample());
  const auto r = run_cli("tensor fake-quantize --in " + dir.file("x.npy") + " --out " +
                             dir.file("y.npy") + " --scale 0.1 --zero-point 40",
                         dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(bitwise_equal(read_npy(dir.file("y.npy")),
                            fake_quantize_per_tensor(sample(), 0.1, 40, 0, 255)));
}

TEST(TensorCli, ObservePrintsQParamsAsExactJson) {
  TempDir dir;
  const Tensor b1 = sample();
  const Tensor b2 = Tensor::from_vector<float>({7.25f, -0.5f});
  write_npy(dir.file("b1.npy"), b1);
  write_npy(dir.file("b2.npy"), b2);
  const auto r = run_cli("tensor observe --observer minmax --dtype int8 --symmetric " +
                             dir.file("b1.npy") + " " + dir.file("b2.npy"),
                         dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ObserverOptions o;
  o.dtype = DType::Int8;
  o.qscheme = QScheme::PerTensorSymmetric;
  auto obs = make_observer("minmax", o);
  obs->observe(b1);
  obs->observe(b2);
  const QParams qp = obs->calculate_qparams();
  ASSERT_EQ(j["scale"].size(), 1u);
  EXPECT_EQ(j["scale"][0].get<double>(), qp.scale[0]);  // exact, not approximate
  EXPECT_EQ(j["zero_point"][0].get<std::int64_t>(), qp.zero_point[0]);
  EXPECT_EQ(j.at("min_val").at(0).get<double>(), -4.1f);
  EXPECT_EQ(j.at("max_val").at(0).get<double>(), 7.25f);
}

// The printed qparams and ranges are exactly the library observer's, not just the right size.
void expect_observer_json(const nlohmann::json& j, const std::string& kind,
                          const ObserverOptions& o, const Tensor& batch) {
  auto obs = make_observer(kind, o);
  obs->observe(batch);
  const QParams qp = obs->calculate_qparams();
  ASSERT_EQ(j["scale"].size(), qp.scale.size()) << kind;
  for (std::size_t c = 0; c < qp.scale.size(); ++c) {
    EXPECT_EQ(j["scale"][c].get<double>(), qp.scale[c]) << kind << " channel " << c;
    EXPECT_EQ(j["zero_point"][c].get<std::int64_t>(), qp.zero_point[c]) << kind << " " << c;
  }
  const std::vector<float> lo = obs->min_val(), hi = obs->max_val();
  ASSERT_EQ(j["min_val"].size(), lo.size()) << kind;
  for (std::size_t c = 0; c < lo.size(); ++c) {
    EXPECT_EQ(j["min_val"][c].get<double>(), lo[c]) << kind << " channel " << c;
    EXPECT_EQ(j["max_val"][c].get<double>(), hi[c]) << kind << " channel " << c;
  }
}

TEST(TensorCli, ObservePerChannelAndHistogram) {
  TempDir dir;
  write_npy(dir.file("b.npy"), sample());
  auto r = run_cli("tensor observe --observer per-channel-minmax --dtype uint8 --axis 1 " +
                       dir.file("b.npy"),
                   dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ObserverOptions per_channel;
  per_channel.dtype = DType::UInt8;
  per_channel.qscheme = QScheme::PerChannelAffine;
  per_channel.ch_axis = 1;
  expect_observer_json(nlohmann::json::parse(r.out), "per-channel-minmax", per_channel, sample());
  // Channel 1 of sample() (axis 1 of [2, 3, 4]) spans elements 4..7 and 16..19.
  EXPECT_EQ(nlohmann::json::parse(r.out)["min_val"][1].get<double>(), 4 * 0.37f - 4.1f);

  r = run_cli("tensor observe --observer histogram --dtype uint8 --bins 256 " + dir.file("b.npy"),
              dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ObserverOptions histogram;
  histogram.dtype = DType::UInt8;
  histogram.bins = 256;
  expect_observer_json(nlohmann::json::parse(r.out), "histogram", histogram, sample());
  // --bins reaches the observer: 2048 bins (the default) search a different clipping range.
  histogram.bins = 2048;
  auto other = make_observer("histogram", histogram);
  other->observe(sample());
  EXPECT_NE(nlohmann::json::parse(r.out)["scale"][0].get<double>(),
            other->calculate_qparams().scale[0]);
}

TEST(TensorCli, HelpOnEveryCommand) {
  TempDir dir;
  for (const std::string cmd : {"", "tensor", "tensor quantize", "tensor dequantize",
                                "tensor fake-quantize", "tensor observe", "demo"}) {
    const auto r = run_cli(cmd + " --help", dir);
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << cmd << ": " << r.out;
  }
}

TEST(TensorCli, BadInputsFailWithClearErrorsAndNoOutput) {
  TempDir dir;
  write_npy(dir.file("x.npy"), sample());
  write_npy(dir.file("i.npy"), Tensor::from_vector<std::int32_t>({1, 2}));
  {
    std::ofstream bad(dir.file("bad.npy"), std::ios::binary);
    bad << "\x93NUMPY\x01\x00\x40\x00{'descr': '<f4'";
  }
  const std::string x = dir.file("x.npy"), out = dir.file("o.npy");
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"tensor quantize --in " + x + " --out " + out + " --dtype int8 --scale -1", "scale"},
      {"tensor quantize --in " + x + " --out " + out + " --dtype int8 --scale 0", "scale"},
      {"tensor quantize --in " + x + " --out " + out + " --dtype int8 --scale nan", "scale"},
      {"tensor quantize --in " + x + " --out " + out + " --dtype int8 --scale 1 --zero-point 200", "zero"},
      {"tensor quantize --in " + x + " --out " + out + " --dtype int4 --scale 1", "dtype"},
      {"tensor quantize --in " + x + " --out " + out + " --dtype int8 --scale 1 --quant-min 5 --quant-max 2", "quant_m"},
      {"tensor quantize --in " + x + " --out " + out + " --dtype int8 --scale 1 --quant-min -300 --quant-max 2", "quant_min"},
      {"tensor quantize --in " + x + " --out " + out + " --dtype int8 --scale 1 --quant-min 0", "--quant-max"},
      {"tensor quantize --in " + x + " --out " + out + " --dtype int8 --scale 1 --axis 0", "--axis"},
      {"tensor quantize --in " + x + " --out " + out + " --dtype int8 --scale " + dir.file("nope.npy") + " --axis 0", "nope.npy"},
      {"tensor quantize --in " + dir.file("bad.npy") + " --out " + out + " --dtype int8 --scale 1", "bad.npy"},
      {"tensor quantize --in " + dir.file("i.npy") + " --out " + out + " --dtype int8 --scale 1", "float32"},
      {"tensor quantize --in " + x + " --dtype int8 --scale 1", "--out"},
      {"tensor observe --observer minmax --dtype int8 --axis 1 " + x, "--axis"},
      {"tensor observe --observer minmax --dtype int8 --bins 10 " + x, "--bins"},
      {"tensor observe --observer bogus --dtype int8 " + x, "observer"},
      {"tensor observe --observer histogram --dtype int8 --bins 0 " + x, "bins"},
      {"tensor observe --observer per-channel-minmax --dtype int8 --axis 5 " + x, "axis"},
      {"tensor", "subcommand"},
  };
  for (const auto& c : cases) {
    const auto r = run_cli(c.args, dir);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\nstderr: " << r.err;
    EXPECT_FALSE(std::filesystem::exists(out)) << c.args;
  }
}

TEST(Demo, PrintsEverySchemeWithSqnr) {
  TempDir dir;
  const auto r = run_cli("demo", dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* scheme : {"per-tensor affine", "per-channel symmetric", "Histogram",
                             "per-group", "per-token"}) {
    EXPECT_NE(r.out.find(scheme), std::string::npos) << scheme << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("SQNR"), std::string::npos);
}

}  // namespace
}  // namespace quantkit
