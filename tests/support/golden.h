#pragma once
// Helpers for the data-driven golden tests (tests/data/*/…json, written by real PyTorch).
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "quantkit/core/tensor.h"

namespace quantkit::testing {

inline std::string data_path(const std::string& relative) {
  return std::string(QUANTKIT_TEST_DATA_DIR) + "/" + relative;
}

inline nlohmann::json load_json(const std::string& relative) {
  std::ifstream in(data_path(relative));
  if (!in) throw std::runtime_error("cannot open test data " + data_path(relative));
  return nlohmann::json::parse(in);
}

// "0x3f800000" or "3f800000" -> float with those bits.
inline float float_from_bits(const std::string& hex) {
  const std::uint32_t bits = static_cast<std::uint32_t>(std::stoul(hex, nullptr, 16));
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
inline double double_from_bits(const std::string& hex) {
  const std::uint64_t bits = std::stoull(hex, nullptr, 16);
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}
inline std::uint32_t bits_of(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}
inline std::uint64_t bits_of(double d) {
  std::uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}

// A JSON list of bit strings -> floats.
inline std::vector<float> floats_from_bits(const nlohmann::json& list) {
  std::vector<float> out;
  out.reserve(list.size());
  for (const auto& s : list) out.push_back(float_from_bits(s.get<std::string>()));
  return out;
}
inline std::vector<double> doubles_from_bits(const nlohmann::json& list) {
  std::vector<double> out;
  out.reserve(list.size());
  for (const auto& s : list) out.push_back(double_from_bits(s.get<std::string>()));
  return out;
}

inline Shape shape_of(const nlohmann::json& j) { return j.get<Shape>(); }

// Compares two float vectors bit for bit; reports the first few mismatches.
inline ::testing::AssertionResult floats_bitwise_equal(const std::vector<float>& expected,
                                                       const std::vector<float>& actual) {
  if (expected.size() != actual.size()) {
    return ::testing::AssertionFailure()
           << "size " << actual.size() << " != expected " << expected.size();
  }
  int shown = 0;
  std::size_t mismatches = 0;
  auto failure = ::testing::AssertionFailure();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (bits_of(expected[i]) != bits_of(actual[i])) {
      ++mismatches;
      if (shown++ < 5) {
        failure << "\n  [" << i << "] expected " << expected[i] << " (0x" << std::hex
                << bits_of(expected[i]) << ") got " << actual[i] << " (0x" << bits_of(actual[i])
                << std::dec << ")";
      }
    }
  }
  if (mismatches == 0) return ::testing::AssertionSuccess();
  return failure << "\n  " << mismatches << " of " << expected.size() << " differ";
}

template <class A, class B>
::testing::AssertionResult ints_equal(const std::vector<A>& expected, const std::vector<B>& actual) {
  if (expected.size() != actual.size()) {
    return ::testing::AssertionFailure()
           << "size " << actual.size() << " != expected " << expected.size();
  }
  int shown = 0;
  std::size_t mismatches = 0;
  auto failure = ::testing::AssertionFailure();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (static_cast<std::int64_t>(expected[i]) != static_cast<std::int64_t>(actual[i])) {
      ++mismatches;
      if (shown++ < 5) {
        failure << "\n  [" << i << "] expected " << static_cast<std::int64_t>(expected[i])
                << " got " << static_cast<std::int64_t>(actual[i]);
      }
    }
  }
  if (mismatches == 0) return ::testing::AssertionSuccess();
  return failure << "\n  " << mismatches << " of " << expected.size() << " differ";
}

// A short description of a golden case for failure messages.
inline std::string case_label(const nlohmann::json& c) {
  std::string s = "case";
  if (c.contains("id")) s += " id=" + c["id"].dump();
  if (c.contains("tag")) s += " tag=" + c["tag"].dump();
  return s;
}

}  // namespace quantkit::testing
