// Black-box tests of `quantkit apot ...`: the binary's results equal the library's.
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "quantkit/apot/observer.h"
#include "quantkit/apot/quantizer.h"
#include "quantkit/core/npy.h"

namespace quantkit {
namespace {

using testing::run_cli;
using testing::TempDir;

Tensor sample() {
  std::vector<float> v;
  for (int i = 0; i < 40; ++i) v.push_back(static_cast<float>((i * 37) % 41) * 0.05f - 1.0f);
  return Tensor::from_vector(v, {4, 10});
}

TEST(ApotCli, QParamsFromAlphaMatchLibrary) {
  TempDir dir;
  const auto r = run_cli("apot qparams --b 4 --k 2 --alpha 1.5", dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const apot::ApotQParams qp = apot::make_apot_qparams({4, 2, false}, 1.5f);
  EXPECT_EQ(j["alpha"].get<double>(), 1.5);
  EXPECT_EQ(j["gamma"].get<double>(), qp.gamma);
  ASSERT_EQ(j["levels"].size(), 16u);
  for (std::size_t i = 0; i < 16; ++i) {
    EXPECT_EQ(j["levels"][i].get<double>(), qp.levels[i]);
    EXPECT_EQ(j["level_indices"][i].get<std::int64_t>(), qp.level_indices[i]);
  }
}

TEST(ApotCli, QParamsFromBatchesUseTheObserver) {
  TempDir dir;
  write_npy(dir.file("a.npy"), sample());
  write_npy(dir.file("b.npy"), Tensor::from_vector<float>({2.5f}));
  const auto r = run_cli("apot qparams --b 6 --k 2 --signed " + dir.file("a.npy") + " " +
                             dir.file("b.npy"),
                         dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["alpha"].get<double>(), 2.5);
  EXPECT_EQ(j["levels"].size(), 343u);  // signed: (2^(k+1) - 1)^(b/k) = 7^3
}

TEST(ApotCli, QuantizeWritesCodesAndDequantized) {
  TempDir dir;
  write_npy(dir.file("x.npy"), sample());
  const auto r = run_cli("apot quantize --b 4 --k 2 --signed --in " + dir.file("x.npy") +
                             " --codes-out " + dir.file("c.npy") + " --out " + dir.file("y.npy"),
                         dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  apot::ApotObserver observer(4, 2);
  observer.observe(sample());
  const apot::ApotQuantizer q(observer.calculate_qparams(true));
  const Tensor codes = q.quantize(sample());
  EXPECT_TRUE(bitwise_equal(read_npy(dir.file("c.npy")), codes));
  EXPECT_TRUE(bitwise_equal(read_npy(dir.file("y.npy")), q.dequantize_f32(codes)));
}

TEST(ApotCli, QuantizeWithAlphaClampsOutOfRange) {
  TempDir dir;
  write_npy(dir.file("x.npy"), Tensor::from_vector<float>({-5.0f, 0.3f, 5.0f}));
  const auto r = run_cli("apot quantize --b 4 --k 2 --alpha 1 --in " + dir.file("x.npy") +
                             " --codes-out " + dir.file("c.npy") + " --out " + dir.file("y.npy"),
                         dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto y = read_npy(dir.file("y.npy")).to_vector<float>();
  EXPECT_EQ(y[0], 0.0f);  // unsigned: negative inputs map to level 0
  EXPECT_EQ(y[2], 1.0f);  // beyond alpha clamps to the largest level
}

TEST(ApotCli, LevelsTableAndSvgPlot) {
  TempDir dir;
  const auto r = run_cli("apot levels --b 4 --k 2 --plot " + dir.file("p.svg"), dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("levels=16"), std::string::npos) << r.out;
  std::ifstream svg(dir.file("p.svg"));
  const std::string text((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.rfind("<svg", 0), 0u);
  EXPECT_NE(text.find("</svg>"), std::string::npos);
  EXPECT_NE(text.find("<path d='M"), std::string::npos);
}

TEST(ApotCli, BadInputs) {
  TempDir dir;
  write_npy(dir.file("x.npy"), sample());
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      // Each message is specific to its failure (a bare "b" or "k" is in every message).
      {"apot qparams --b 5 --k 2 --alpha 1",
       "ApotObserver: invalid argument 'b': got 5, expected a positive multiple of k = 2"},
      {"apot qparams --b 4 --k 0 --alpha 1",
       "--k: '0' is out of range (expected an integer from 1 to 32)"},
      {"apot qparams --b 4 --k 3 --alpha 1",
       "ApotObserver: invalid argument 'b': got 4, expected a positive multiple of k = 3"},
      {"apot qparams --b 4 --k 2", "--alpha"},
      {"apot qparams --b 4 --k 2 --alpha -1", "--alpha"},
      {"apot qparams --b 4 --k 2 --alpha 1 " + dir.file("x.npy"), "--alpha"},
      {"apot quantize --b 4 --k 2 --in " + dir.file("missing.npy") + " --codes-out " + dir.file("c.npy"), "missing.npy"},
  };
  for (const auto& c : cases) {
    const auto r = run_cli(c.args, dir);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("c.npy")));
  for (const std::string cmd : {"apot", "apot qparams", "apot quantize", "apot levels"}) {
    EXPECT_EQ(run_cli(cmd + " --help", dir).exit_code, 0) << cmd;
  }
}

}  // namespace
}  // namespace quantkit
