// HistogramObserver: the modern (torchao pt2e) algorithm; the arithmetic lives in
// histogram_math.cpp.
#include <cmath>
#include <limits>
#include <string>

#include "histogram_math.h"
#include "observer_codec.h"
#include "observer_internal.h"
#include "quantkit/core/error.h"
#include "quantkit/quant/observers.h"

namespace quantkit {
namespace {

using namespace observer_detail;
using namespace histogram_detail;

constexpr float kInf = std::numeric_limits<float>::infinity();

HistogramState empty_state(std::int64_t bins) {
  return HistogramState{kInf, -kInf, std::vector<float>(static_cast<std::size_t>(bins), 0.0f)};
}

}  // namespace

bool HistogramState::initialized() const { return !(min_val == kInf || max_val == -kInf); }

HistogramObserver::HistogramObserver(const ObserverOptions& options) : Observer(options), state_() {
  validate_options(kHistogram, options_);
  state_ = empty_state(options_.bins);
}

HistogramObserver::HistogramObserver(const ObserverOptions& options, const HistogramState& state)
    : HistogramObserver(options) {
  set_state(state);
}

void HistogramObserver::observe(const Tensor& x) {
  check_observer_input(x, kind());
  if (x.numel() == 0) return;
  std::span<const float> values = x.span<float>();
  bool has_nan = false;
  bool has_inf = false;
  for (const float v : values) {
    has_nan |= std::isnan(v);
    has_inf |= std::isinf(v);
  }
  if (has_nan) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      check_argument(!std::isnan(values[i]), kind(), "x[" + std::to_string(i) + "]", values[i],
                     "no NaN (the observer state is unchanged)");
    }
  }
  // torchao drops +-inf elements (they would make the range infinite) and ignores a batch
  // with nothing left.
  std::vector<float> finite;
  if (has_inf) {
    finite.reserve(values.size());
    for (const float v : values) {
      if (!std::isinf(v)) finite.push_back(v);
    }
    if (finite.empty()) return;
    values = finite;
  }
  float batch_min = values[0];
  float batch_max = values[0];
  for (const float v : values) {
    batch_min = v < batch_min ? v : batch_min;
    batch_max = batch_max < v ? v : batch_max;
  }

  std::vector<float> update(static_cast<std::size_t>(options_.bins), 0.0f);
  if (!state_.initialized()) {
    histc_add(values, batch_min, batch_max, update);
    state_ = HistogramState{batch_min, batch_max, std::move(update)};
    return;
  }
  // torch.min(current, batch) / torch.max(current, batch): a tie keeps the stored value.
  const float new_min = batch_min < state_.min_val ? batch_min : state_.min_val;
  const float new_max = state_.max_val < batch_max ? batch_max : state_.max_val;
  histc_add(values, new_min, new_max, update);
  const std::vector<float> moved =
      move_histogram(state_.histogram, state_.min_val, state_.max_val, new_min, new_max);
  for (std::size_t i = 0; i < update.size(); ++i) update[i] += moved[i];
  state_ = HistogramState{new_min, new_max, std::move(update)};
}

HistogramSearch HistogramObserver::search() const {
  check_argument(state_.initialized(), "histogram observer search", "state",
                 std::string("uninitialized"), "an observer that has seen data");
  return non_linear_param_search(state_.histogram, state_.min_val, state_.max_val, kDstBins);
}

double HistogramObserver::quantization_error(std::int64_t start_bin, std::int64_t end_bin) const {
  constexpr std::string_view where = "histogram observer quantization_error";
  check_argument(state_.initialized(), where, "state", std::string("uninitialized"),
                 "an observer that has seen data");
  check_argument(start_bin >= 0 && start_bin < options_.bins, where, "start_bin", start_bin,
                 "a bin in [0, bins)");
  check_argument(end_bin >= start_bin && end_bin < options_.bins, where, "end_bin", end_bin,
                 "a bin in [start_bin, bins)");
  return histogram_detail::quantization_error(state_.histogram, state_.min_val, state_.max_val,
                                              start_bin, end_bin, kDstBins);
}

QParams HistogramObserver::calculate_qparams() const {
  if (!state_.initialized()) return default_qparams(options_.qscheme, 0);
  const HistogramSearch s = search();
  return qparams_from_min_max(*this, {&s.search_min, 1}, {&s.search_max, 1}, 0);
}

void HistogramObserver::reset() { state_ = empty_state(options_.bins); }

std::string_view HistogramObserver::kind() const { return kHistogram; }

std::string HistogramObserver::save() const { return encode_observer(*this, state_); }

void HistogramObserver::merge(const Observer& other) {
  check_mergeable(other);
  const HistogramState& o = static_cast<const HistogramObserver&>(other).state_;
  if (!o.initialized()) return;
  if (!state_.initialized()) {
    state_ = o;
    return;
  }
  // The union range receives both sides, each moved as forward() moves a stored histogram
  // (see observers.h for the properties this gives).
  const float new_min = o.min_val < state_.min_val ? o.min_val : state_.min_val;
  const float new_max = state_.max_val < o.max_val ? o.max_val : state_.max_val;
  std::vector<float> mine =
      move_histogram(state_.histogram, state_.min_val, state_.max_val, new_min, new_max);
  const std::vector<float> theirs =
      move_histogram(o.histogram, o.min_val, o.max_val, new_min, new_max);
  for (std::size_t i = 0; i < mine.size(); ++i) mine[i] += theirs[i];
  state_ = HistogramState{new_min, new_max, std::move(mine)};
}

std::unique_ptr<Observer> HistogramObserver::clone() const {
  return std::make_unique<HistogramObserver>(*this);
}

void HistogramObserver::set_state(const HistogramState& state) {
  constexpr std::string_view where = "histogram observer set_state";
  check_argument(state.histogram.size() == static_cast<std::size_t>(options_.bins), where,
                 "state.histogram.size()", state.histogram.size(),
                 "bins = " + std::to_string(options_.bins));
  for (std::size_t i = 0; i < state.histogram.size(); ++i) {
    const float h = state.histogram[i];
    check_argument(std::isfinite(h) && h >= 0.0f, where,
                   "state.histogram[" + std::to_string(i) + "]", h, "a finite count >= 0");
  }
  if (!state.initialized()) {
    check_argument(state.min_val == kInf && state.max_val == -kInf, where, "state.min_val",
                   state.min_val, "+inf with max_val -inf (uninitialized) or finite values");
    for (const float h : state.histogram) {
      check_argument(h == 0.0f, where, "state.histogram", h, "all zero while nothing was observed");
    }
  } else {
    check_argument(std::isfinite(state.min_val), where, "state.min_val", state.min_val,
                   "a finite value");
    check_argument(std::isfinite(state.max_val) && state.min_val <= state.max_val, where,
                   "state.max_val", state.max_val, "a finite value >= state.min_val");
  }
  state_ = state;
}

}  // namespace quantkit
