#include "quantkit/apot/observer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "quantkit/core/error.h"

namespace quantkit::apot {
namespace {

std::string float_bits_hex(float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", bits);
  return buf;
}

float float_from_hex(const std::string& hex, const char* arg) {
  const char* where = "ApotObserver::load";
  check_argument(
      hex.size() == 8 && hex.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos,
      where, arg, hex, "8 hex digits (float32 bits)");
  const std::uint32_t bits = static_cast<std::uint32_t>(std::stoul(hex, nullptr, 16));
  float v;
  std::memcpy(&v, &bits, sizeof v);
  check_argument(!std::isnan(v), where, arg, hex, "the bits of a non-NaN float32");
  return v;
}

// torch.aminmax over the elements, as float32 (rounding to float32 is monotone, so the
// min/max of the rounded values is the rounded min/max).
template <class T>
bool minmax_of(const T* p, std::int64_t n, float& lo, float& hi) {
  T mn = p[0], mx = p[0];
  bool nan = false;
  for (std::int64_t i = 0; i < n; ++i) {
    const T v = p[i];
    nan |= (v != v);
    mn = v < mn ? v : mn;
    mx = v > mx ? v : mx;
  }
  lo = static_cast<float>(mn);
  hi = static_cast<float>(mx);
  return !nan;
}

}  // namespace

ApotObserver::ApotObserver(int b, int k, ApotLevelSet level_set)
    : b_(b), k_(k), level_set_(level_set) {
  if (level_set != ApotLevelSet::PyTorch) {
    ApotScheme{b, k, true, level_set}.validate("ApotObserver");
    return;
  }
  check_argument(k > 0, "ApotObserver", "k", k, "k > 0 (bits per additive term)");
  check_argument(b > 0 && b % k == 0, "ApotObserver", "b", b,
                 "a positive multiple of k = " + std::to_string(k));
}

void ApotObserver::observe(const Tensor& x) {
  constexpr const char* where = "ApotObserver::observe";
  if (x.numel() == 0) return;
  float lo = 0.0f, hi = 0.0f;
  bool finite_or_inf = false;
  if (x.dtype() == DType::Float32) {
    finite_or_inf = minmax_of(x.data<float>(), x.numel(), lo, hi);
  } else {
    check_argument(x.dtype() == DType::Float64, where, "x.dtype", dtype_name(x.dtype()),
                   "float32 or float64");
    finite_or_inf = minmax_of(x.data<double>(), x.numel(), lo, hi);
  }
  check_argument(finite_or_inf, where, "x", "a tensor containing NaN", "no NaN values");
  // torch.min / torch.max with the stored values.
  min_val_ = min_val_ ? std::min(*min_val_, lo) : lo;
  max_val_ = max_val_ ? std::max(*max_val_, hi) : hi;
}

float ApotObserver::alpha() const {
  check_argument(min_val_.has_value() && max_val_.has_value(), "ApotObserver::calculate_qparams",
                 "observer", "no observed data and no min_val/max_val set",
                 "observe() or set_min_val()/set_max_val() first");
  const float neg_min = -*min_val_;
  const float a = neg_min < *max_val_ ? *max_val_ : neg_min;
  // alpha is a magnitude: a zero alpha is +0 (PyTorch gives +0 for min = max = -0, while
  // the sign torch.aminmax leaves on a zero min/max depends on its reduction order).
  return a == 0.0f ? 0.0f : a;
}

ApotQParams ApotObserver::calculate_qparams(bool is_signed) const {
  const float a = alpha();
  return make_apot_qparams(ApotScheme{b_, k_, is_signed, level_set_}, a);
}

float ApotObserver::min_val() const {
  check_argument(min_val_.has_value(), "ApotObserver::min_val", "observer", "no data",
                 "observed data or set_min_val()");
  return *min_val_;
}

float ApotObserver::max_val() const {
  check_argument(max_val_.has_value(), "ApotObserver::max_val", "observer", "no data",
                 "observed data or set_max_val()");
  return *max_val_;
}

void ApotObserver::set_min_val(float value) {
  check_argument(!std::isnan(value), "ApotObserver::set_min_val", "value", value, "not NaN");
  min_val_ = value;
}

void ApotObserver::set_max_val(float value) {
  check_argument(!std::isnan(value), "ApotObserver::set_max_val", "value", value, "not NaN");
  max_val_ = value;
}

void ApotObserver::reset() {
  min_val_.reset();
  max_val_.reset();
}

std::string ApotObserver::save() const {
  nlohmann::json j;
  j["kind"] = "apot";
  j["b"] = b_;
  j["k"] = k_;
  if (level_set_ == ApotLevelSet::PaperSigned) j["level_set"] = "paper_signed";
  j["min_val_bits"] = min_val_ ? nlohmann::json(float_bits_hex(*min_val_)) : nlohmann::json();
  j["max_val_bits"] = max_val_ ? nlohmann::json(float_bits_hex(*max_val_)) : nlohmann::json();
  return j.dump();
}

ApotObserver ApotObserver::load(std::string_view text) {
  constexpr const char* where = "ApotObserver::load";
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  check_argument(j.is_object(), where, "json", std::string(text.substr(0, 80)),
                 "a JSON object written by ApotObserver::save");
  check_argument(j.contains("kind") && j["kind"] == "apot", where, "kind",
                 j.contains("kind") ? j["kind"].dump() : std::string("(missing)"), "\"apot\"");
  for (const char* key : {"b", "k"}) {
    check_argument(j.contains(key) && j[key].is_number_integer(), where, key,
                   j.contains(key) ? j[key].dump() : std::string("(missing)"), "an integer");
  }
  const auto b64 = j["b"].get<std::int64_t>(), k64 = j["k"].get<std::int64_t>();
  check_argument(b64 > 0 && b64 <= 1024, where, "b", b64, "an integer in [1, 1024]");
  check_argument(k64 > 0 && k64 <= 1024, where, "k", k64, "an integer in [1, 1024]");
  ApotLevelSet level_set = ApotLevelSet::PyTorch;
  if (j.contains("level_set")) {
    check_argument(j["level_set"] == "paper_signed", where, "level_set", j["level_set"].dump(),
                   "\"paper_signed\" (or absent for PyTorch's level set)");
    level_set = ApotLevelSet::PaperSigned;
  }
  ApotObserver obs(static_cast<int>(b64), static_cast<int>(k64), level_set);
  for (const char* key : {"min_val_bits", "max_val_bits"}) {
    check_argument(j.contains(key) && (j[key].is_null() || j[key].is_string()), where, key,
                   j.contains(key) ? j[key].dump() : std::string("(missing)"),
                   "null or an 8-hex-digit string");
  }
  if (j["min_val_bits"].is_string()) {
    obs.min_val_ = float_from_hex(j["min_val_bits"].get<std::string>(), "min_val_bits");
  }
  if (j["max_val_bits"].is_string()) {
    obs.max_val_ = float_from_hex(j["max_val_bits"].get<std::string>(), "max_val_bits");
  }
  return obs;
}

void ApotObserver::merge(const ApotObserver& other) {
  if (other.b_ != b_ || other.k_ != k_ || other.level_set_ != level_set_) {
    const auto label = [](const ApotObserver& o) {
      return "b=" + std::to_string(o.b_) + " k=" + std::to_string(o.k_) +
             (o.level_set_ == ApotLevelSet::PaperSigned ? " (paper signed)" : "");
    };
    throw_invalid_argument("ApotObserver::merge", "other", label(other),
                           "an observer of the same scheme, " + label(*this));
  }
  if (other.min_val_) min_val_ = min_val_ ? std::min(*min_val_, *other.min_val_) : *other.min_val_;
  if (other.max_val_) max_val_ = max_val_ ? std::max(*max_val_, *other.max_val_) : *other.max_val_;
}

}  // namespace quantkit::apot
