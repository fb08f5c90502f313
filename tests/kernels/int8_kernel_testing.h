#pragma once
// Helpers shared by the int8 NHWC kernel testers (dwconv, pool, eltwise, lut, concat): the
// ISA levels to sweep, a scoped override, random bytes and the float-side quantization used
// by the "reference vs dequantize → float op → quantize" checks.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "quantkit/core/dtype.h"
#include "quantkit/kernels/cpu_features.h"

namespace quantkit::kernels::testing {

// Every level this CPU has, lowest first.
inline std::vector<IsaLevel> isa_levels() {
  std::vector<IsaLevel> out;
  for (int l = 0; l <= static_cast<int>(detected_isa()); ++l) {
    out.push_back(static_cast<IsaLevel>(l));
  }
  return out;
}

class ScopedIsa {
 public:
  explicit ScopedIsa(IsaLevel level) { set_isa_override(level); }
  ~ScopedIsa() { clear_isa_override(); }
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;
};

// Prints each (suite, kernel name) pair once, so a log shows which kernels actually ran.
inline void note_kernel(const std::string& suite, const std::string& kernel) {
  static std::set<std::string> seen;
  if (seen.insert(suite + "/" + kernel).second) {
    std::cout << "[kernel] " << suite << " ran " << kernel << "\n";
  }
}

inline std::int32_t qmin_of(DType t) { return t == DType::Int8 ? -128 : 0; }
inline std::int32_t qmax_of(DType t) { return t == DType::Int8 ? 127 : 255; }

// Random bytes whose values are uniform over the dtype (stored as the raw byte).
inline std::vector<std::uint8_t> random_bytes(std::mt19937& rng, std::size_t n) {
  std::uniform_int_distribution<int> d(0, 255);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(d(rng));
  return v;
}

// The integer value of a stored byte.
inline std::int32_t value_of(std::uint8_t byte, DType t) {
  return t == DType::Int8 ? static_cast<std::int32_t>(static_cast<std::int8_t>(byte)) : byte;
}

// quantize(y) = clamp(round_half_even(y / scale) + zp, qmin, qmax) in double.
inline std::int32_t quantize_double(double y, double scale, std::int32_t zp, std::int32_t qmin,
                                    std::int32_t qmax) {
  const double q = std::nearbyint(y / scale) + zp;
  return static_cast<std::int32_t>(std::clamp(q, double(qmin), double(qmax)));
}

// Splits [0, total) into uneven chunks, as threads would.
inline std::vector<std::int64_t> split_points(std::int64_t total) {
  std::vector<std::int64_t> cuts{0, total / 3, total / 3 + (total > 5 ? 2 : 0), total};
  for (auto& c : cuts) c = std::min(c, total);
  std::sort(cuts.begin(), cuts.end());
  return cuts;
}

}  // namespace quantkit::kernels::testing
