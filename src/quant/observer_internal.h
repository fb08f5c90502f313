#pragma once
// Shared pieces of the observer implementations (not installed).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "quantkit/core/tensor.h"
#include "quantkit/quant/observer.h"
#include "quantkit/quant/qparams.h"

namespace quantkit::observer_detail {

inline constexpr std::string_view kMinMax = "minmax";
inline constexpr std::string_view kMovingAverageMinMax = "moving-average-minmax";
inline constexpr std::string_view kPerChannelMinMax = "per-channel-minmax";
inline constexpr std::string_view kMovingAveragePerChannelMinMax =
    "moving-average-per-channel-minmax";
inline constexpr std::string_view kHistogram = "histogram";
inline constexpr std::string_view kPlaceholder = "placeholder";
inline constexpr std::string_view kFixedQParams = "fixed-qparams";

// Throws Error unless `options` are valid for observers of `kind` (the checks that
// observer_quant_range, run by the Observer constructor, does not make).
void validate_options(std::string_view kind, const ObserverOptions& options);

// True if both option sets are identical (floats compared bit for bit).
bool same_options(const ObserverOptions& a, const ObserverOptions& b);

// Throws Error unless x is float32. `where` names the observer kind.
void check_observer_input(const Tensor& x, std::string_view where);

// Min and max of a float32 batch (first occurrence kept on ties). Throws Error naming the
// first non-finite element: the min/max family accepts finite data only.
struct FiniteMinMax {
  float min_val;
  float max_val;
};
FiniteMinMax finite_min_max(std::span<const float> values, std::string_view where);

// torch's m + c * (cur - m), every step rounded to float32.
inline float moving_average_step(float running, float current, float c) {
  const float delta = current - running;
  const float scaled = c * delta;
  return running + scaled;
}

// What torch returns before any data was observed: scale 1.0, zero point 0, one entry.
QParams default_qparams(QScheme qscheme, std::int64_t axis);

// calculate_qparams with the observer's configuration.
QParams qparams_from_min_max(const Observer& observer, std::span<const float> min_val,
                             std::span<const float> max_val, std::int64_t axis);

}  // namespace quantkit::observer_detail
