// Observer JSON documents:
//   {"format": "quantkit.observer", "version": 1, "kind": "...",
//    "options": {...every ObserverOptions field...}, "state": {...kind-specific...}}
// Floats are bit patterns so that save -> load is exact; load validates every field and
// then goes through the observers' own validating constructors.
#include "observer_codec.h"

#include <bit>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "observer_internal.h"
#include "quantkit/core/error.h"
#include "quantkit/quant/observers.h"

namespace quantkit {
namespace observer_detail {
namespace {

using nlohmann::json;

constexpr std::string_view kFormat = "quantkit.observer";
constexpr int kVersion = 1;
constexpr std::string_view kWhere = "load_observer";

std::string hex_bits(std::uint64_t bits, int digits) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%0*llx", digits, static_cast<unsigned long long>(bits));
  return buf;
}
std::string float_bits(float v) { return hex_bits(std::bit_cast<std::uint32_t>(v), 8); }
std::string double_bits(double v) { return hex_bits(std::bit_cast<std::uint64_t>(v), 16); }

json float_list(const std::vector<float>& values) {
  json out = json::array();
  for (const float v : values) out.push_back(float_bits(v));
  return out;
}

json options_json(const ObserverOptions& o) {
  json j;
  j["dtype"] = std::string(dtype_name(o.dtype));
  j["qscheme"] = std::string(qscheme_name(o.qscheme));
  j["reduce_range"] = o.reduce_range;
  j["quant_min"] = o.quant_min ? json(*o.quant_min) : json(nullptr);
  j["quant_max"] = o.quant_max ? json(*o.quant_max) : json(nullptr);
  j["eps"] = float_bits(o.eps);
  j["ch_axis"] = o.ch_axis;
  j["averaging_constant"] = float_bits(o.averaging_constant);
  j["bins"] = o.bins;
  j["fixed_scale"] = double_bits(o.fixed_scale);
  j["fixed_zero_point"] = o.fixed_zero_point;
  return j;
}

std::string document(const Observer& observer, json state) {
  json j;
  j["format"] = std::string(kFormat);
  j["version"] = kVersion;
  j["kind"] = std::string(observer.kind());
  j["options"] = options_json(observer.options());
  j["state"] = std::move(state);
  return j.dump();
}

// ---- reading, with errors that name the JSON path ----

[[noreturn]] void malformed(const std::string& path, const json& value, std::string_view expected) {
  std::string shown = value.dump();
  if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
  throw_invalid_argument(kWhere, path, shown, expected);
}

const json& field(const json& object, const std::string& path, const char* key) {
  const auto it = object.find(key);
  if (it == object.end()) {
    throw_invalid_argument(kWhere, path + "." + key, std::string("missing"), "a value");
  }
  return *it;
}

void only_keys(const json& object, const std::string& path, std::set<std::string> keys) {
  if (!object.is_object()) malformed(path, object, "a JSON object");
  for (const auto& item : object.items()) {
    if (keys.count(item.key()) == 0) {
      throw_invalid_argument(kWhere, path + "." + item.key(), std::string("present"),
                             "no such key");
    }
  }
}

std::uint64_t read_bits(const json& v, const std::string& path, int digits) {
  const std::string expected =
      "a string \"0x\" followed by " + std::to_string(digits) + " hex digits (IEEE bit pattern)";
  if (!v.is_string()) malformed(path, v, expected);
  const std::string& s = v.get_ref<const std::string&>();
  if (s.size() != static_cast<std::size_t>(digits) + 2 || s[0] != '0' || s[1] != 'x') {
    malformed(path, v, expected);
  }
  std::uint64_t bits = 0;
  for (std::size_t i = 2; i < s.size(); ++i) {
    const char c = s[i];
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      malformed(path, v, expected);
    }
    bits = bits * 16 + static_cast<std::uint64_t>(d);
  }
  return bits;
}

float read_float(const json& v, const std::string& path) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(read_bits(v, path, 8)));
}
double read_double(const json& v, const std::string& path) {
  return std::bit_cast<double>(read_bits(v, path, 16));
}

std::int64_t read_int(const json& v, const std::string& path) {
  if (!v.is_number_integer()) malformed(path, v, "an integer");
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    malformed(path, v, "an integer that fits in int64");
  }
  return v.get<std::int64_t>();
}

bool read_bool(const json& v, const std::string& path) {
  if (!v.is_boolean()) malformed(path, v, "true or false");
  return v.get<bool>();
}

std::string read_string(const json& v, const std::string& path) {
  if (!v.is_string()) malformed(path, v, "a string");
  return v.get<std::string>();
}

std::optional<std::int64_t> read_optional_int(const json& v, const std::string& path) {
  if (v.is_null()) return std::nullopt;
  return read_int(v, path);
}

std::vector<float> read_float_list(const json& v, const std::string& path) {
  if (!v.is_array()) malformed(path, v, "an array of float bit patterns");
  std::vector<float> out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    out.push_back(read_float(v[i], path + "[" + std::to_string(i) + "]"));
  }
  return out;
}

ObserverOptions read_options(const json& j) {
  const std::string path = "options";
  only_keys(j, path,
            {"dtype", "qscheme", "reduce_range", "quant_min", "quant_max", "eps", "ch_axis",
             "averaging_constant", "bins", "fixed_scale", "fixed_zero_point"});
  ObserverOptions o;
  o.dtype = dtype_from_name(read_string(field(j, path, "dtype"), path + ".dtype"), "options.dtype");
  o.qscheme = qscheme_from_name(read_string(field(j, path, "qscheme"), path + ".qscheme"),
                                "options.qscheme");
  o.reduce_range = read_bool(field(j, path, "reduce_range"), path + ".reduce_range");
  o.quant_min = read_optional_int(field(j, path, "quant_min"), path + ".quant_min");
  o.quant_max = read_optional_int(field(j, path, "quant_max"), path + ".quant_max");
  o.eps = read_float(field(j, path, "eps"), path + ".eps");
  o.ch_axis = read_int(field(j, path, "ch_axis"), path + ".ch_axis");
  o.averaging_constant =
      read_float(field(j, path, "averaging_constant"), path + ".averaging_constant");
  o.bins = read_int(field(j, path, "bins"), path + ".bins");
  o.fixed_scale = read_double(field(j, path, "fixed_scale"), path + ".fixed_scale");
  o.fixed_zero_point = read_int(field(j, path, "fixed_zero_point"), path + ".fixed_zero_point");
  return o;
}

MinMaxState read_min_max(const json& j) {
  only_keys(j, "state", {"min_val", "max_val"});
  return MinMaxState{read_float(field(j, "state", "min_val"), "state.min_val"),
                     read_float(field(j, "state", "max_val"), "state.max_val")};
}

PerChannelState read_per_channel(const json& j) {
  only_keys(j, "state", {"min_val", "max_val"});
  return PerChannelState{read_float_list(field(j, "state", "min_val"), "state.min_val"),
                         read_float_list(field(j, "state", "max_val"), "state.max_val")};
}

HistogramState read_histogram(const json& j) {
  only_keys(j, "state", {"min_val", "max_val", "histogram"});
  return HistogramState{read_float(field(j, "state", "min_val"), "state.min_val"),
                        read_float(field(j, "state", "max_val"), "state.max_val"),
                        read_float_list(field(j, "state", "histogram"), "state.histogram")};
}

}  // namespace

std::string encode_observer(const Observer& observer, const MinMaxState& state) {
  return document(observer, json{{"min_val", float_bits(state.min_val)},
                                 {"max_val", float_bits(state.max_val)}});
}

std::string encode_observer(const Observer& observer, const PerChannelState& state) {
  return document(observer, json{{"min_val", float_list(state.min_val)},
                                 {"max_val", float_list(state.max_val)}});
}

std::string encode_observer(const Observer& observer, const HistogramState& state) {
  return document(observer, json{{"min_val", float_bits(state.min_val)},
                                 {"max_val", float_bits(state.max_val)},
                                 {"histogram", float_list(state.histogram)}});
}

std::string encode_observer(const Observer& observer) { return document(observer, json::object()); }

}  // namespace observer_detail

std::unique_ptr<Observer> load_observer(std::string_view text) {
  using namespace observer_detail;
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    throw_invalid_argument(kWhere, "json", std::string(e.what()), "a valid JSON document");
  }
  only_keys(j, "", {"format", "version", "kind", "options", "state"});
  const std::string format = read_string(field(j, "", "format"), ".format");
  check_argument(format == kFormat, kWhere, ".format", format, "'quantkit.observer'");
  const std::int64_t version = read_int(field(j, "", "version"), ".version");
  check_argument(version == kVersion, kWhere, ".version", version, "1");
  const std::string kind = read_string(field(j, "", "kind"), ".kind");
  const ObserverOptions options = read_options(field(j, "", "options"));
  const json& state = field(j, "", "state");

  if (kind == kMinMax) return std::make_unique<MinMaxObserver>(options, read_min_max(state));
  if (kind == kMovingAverageMinMax) {
    return std::make_unique<MovingAverageMinMaxObserver>(options, read_min_max(state));
  }
  if (kind == kPerChannelMinMax) {
    return std::make_unique<PerChannelMinMaxObserver>(options, read_per_channel(state));
  }
  if (kind == kMovingAveragePerChannelMinMax) {
    return std::make_unique<MovingAveragePerChannelMinMaxObserver>(options,
                                                                   read_per_channel(state));
  }
  if (kind == kHistogram) {
    return std::make_unique<HistogramObserver>(options, read_histogram(state));
  }
  only_keys(state, "state", {});
  return make_observer(kind, options);  // stateless kinds; unknown kinds are rejected there
}

}  // namespace quantkit
