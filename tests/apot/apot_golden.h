#pragma once
// Loading helpers for tests/data/apot/*.json (schema: tests/data/apot/README.md).
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "quantkit/apot/qparams.h"
#include "quantkit/core/tensor.h"
#include "support/golden.h"

namespace quantkit::apot::testing {

using nlohmann::json;
using quantkit::testing::float_from_bits;
using quantkit::testing::load_json;

// Each golden file is parsed once per test binary (apot_levels.json is 5 MB).
inline const json& golden(const std::string& name) {
  static std::map<std::string, json>* cache = new std::map<std::string, json>();
  auto it = cache->find(name);
  if (it == cache->end()) it = cache->emplace(name, load_json("apot/" + name)).first;
  return it->second;
}

// float32 tensor field K: from K_bits (exact).
inline std::vector<float> f32(const json& item, const std::string& key) {
  std::vector<float> out;
  for (const auto& s : item.at(key + "_bits")) out.push_back(float_from_bits(s.get<std::string>()));
  return out;
}
inline float f32_scalar(const json& item, const std::string& key) {
  const json& bits = item.at(key + "_bits");
  return float_from_bits(bits.is_array() ? bits[0].get<std::string>() : bits.get<std::string>());
}
// float64 tensor field: decimals that parse to the exact double; "nan"/"inf" strings.
inline double number(const json& v) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  return v.get<double>();
}
inline std::vector<double> f64(const json& item, const std::string& key) {
  std::vector<double> out;
  for (const auto& v : item.at(key)) out.push_back(number(v));
  return out;
}
template <class T>
std::vector<T> ints(const json& item, const std::string& key) {
  std::vector<T> out;
  for (const auto& v : item.at(key)) out.push_back(v.get<T>());
  return out;
}
inline Shape shape(const json& item, const std::string& key) {
  return item.at(key + "_shape").get<Shape>();
}
inline Tensor f32_tensor(const json& item, const std::string& key) {
  return Tensor::from_vector(f32(item, key), shape(item, key));
}

// Qparams as recorded: inline levels or a reference into apot_levels.json.
inline ApotQParams qparams_of(const json& set) {
  ApotQParams q;
  q.scheme =
      ApotScheme{set.at("b").get<int>(), set.at("k").get<int>(), set.at("signed").get<bool>()};
  q.alpha = f32_scalar(set, "alpha");
  q.gamma = f32_scalar(set, "gamma");
  const json* src = &set;
  if (set.contains("levels_entry")) {
    const std::string id = set["levels_entry"].get<std::string>();
    src = nullptr;
    for (const char* section : {"entries", "edge_entries"}) {
      for (const auto& e : golden("apot_levels.json").at(section)) {
        if (e.at("id") == id) src = &e;
      }
    }
    if (src == nullptr) throw std::runtime_error("levels_entry not found: " + id);
  }
  q.levels = f32(*src, "quantization_levels");
  q.level_indices = ints<std::int64_t>(*src, "level_indices");
  return q;
}

inline const json& qparam_set(const std::string& id) {
  for (const auto& s : golden("apot_quantize.json").at("qparam_sets")) {
    if (s.at("id") == id) return s;
  }
  throw std::runtime_error("qparam set not found: " + id);
}

}  // namespace quantkit::apot::testing
