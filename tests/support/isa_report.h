#pragma once
// Says which kernel ISA levels a kernel suite covered. The suites run every level up to
// kernels::detected_isa() and leave out the rest, so on a CPU without AVX-512 (or under
// QUANTKIT_ISA) a green run covers less than it seems. Including this header (from exactly one
// source file per test binary) adds
//  * a GoogleTest environment that prints, once per run,
//      kernel ISA levels run: portable avx2 avx512 avx512_vnni; skipped: none
//    and records both lists as the properties `isa_levels_run` / `isa_levels_skipped` of the
//    XML / JSON report;
//  * QUANTKIT_ISA_COVERAGE_TESTS(Suite): one test per optimized level, Suite.<level>, SKIPPED
//    (with the reason) when the level did not run, so CTest's summary lists it. Each binary
//    passes its own suite name (CTest test names must be unique across binaries).
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "quantkit/kernels/cpu_features.h"
#include "quantkit/kernels/gemm.h"

namespace quantkit::testing {

struct IsaLevelCoverage {
  std::string name;    // "portable", "avx2", "avx512", "avx512_vnni"
  bool ran = false;    // the suites run it on this machine
  std::string reason;  // why not, when !ran
};

inline std::vector<IsaLevelCoverage> isa_coverage() {
  using kernels::IsaLevel;
  const char* cap = std::getenv("QUANTKIT_ISA");
  const std::string why = cap != nullptr && *cap != '\0'
                              ? std::string("capped by QUANTKIT_ISA=") + cap
                              : std::string("CPU lacks it");
  const IsaLevel top = kernels::detected_isa();
  std::vector<IsaLevelCoverage> out;
  for (IsaLevel level : {IsaLevel::Portable, IsaLevel::Avx2, IsaLevel::Avx512}) {
    const bool ran = static_cast<int>(level) <= static_cast<int>(top);
    out.push_back({std::string(kernels::isa_name(level)), ran, ran ? "" : why});
  }
  // The int8 GEMM has a separate VNNI path inside the AVX-512 level.
  const bool vnni = top == IsaLevel::Avx512 && kernels::cpu_has_avx512_vnni();
  out.push_back({"avx512_vnni", vnni,
                 vnni ? "" : (top == IsaLevel::Avx512 ? std::string("CPU lacks it") : why)});
  return out;
}

inline std::string isa_levels_run() {
  std::string list;
  for (const IsaLevelCoverage& c : isa_coverage()) {
    if (c.ran) list += (list.empty() ? "" : " ") + c.name;
  }
  return list;
}

inline std::string isa_levels_skipped() {
  std::string list;
  for (const IsaLevelCoverage& c : isa_coverage()) {
    if (!c.ran) list += (list.empty() ? "" : ", ") + c.name + " (" + c.reason + ")";
  }
  return list.empty() ? "none" : list;
}

class IsaReportEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const std::string run = isa_levels_run(), skipped = isa_levels_skipped();
    std::cout << "kernel ISA levels run: " << run << "; skipped: " << skipped << std::endl;
    ::testing::Test::RecordProperty("isa_levels_run", run);
    ::testing::Test::RecordProperty("isa_levels_skipped", skipped);
  }
};

// gtest owns the environment.
inline ::testing::Environment* const kIsaReportEnvironment =
    ::testing::AddGlobalTestEnvironment(new IsaReportEnvironment);

inline void skip_unless_isa_ran(const std::string& name) {
  for (const IsaLevelCoverage& c : isa_coverage()) {
    if (c.name == name && !c.ran) GTEST_SKIP() << name << " not run: " << c.reason;
  }
}

}  // namespace quantkit::testing

// Used like TEST, e.g. inside the suite's anonymous namespace.
#define QUANTKIT_ISA_COVERAGE_TESTS(Suite)                                    \
  TEST(Suite, Avx2) { ::quantkit::testing::skip_unless_isa_ran("avx2"); }     \
  TEST(Suite, Avx512) { ::quantkit::testing::skip_unless_isa_ran("avx512"); } \
  TEST(Suite, Avx512Vnni) { ::quantkit::testing::skip_unless_isa_ran("avx512_vnni"); }
