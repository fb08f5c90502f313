// Per-channel min/max observers: PerChannelMinMaxObserver and
// MovingAveragePerChannelMinMaxObserver.
#include <cmath>
#include <limits>
#include <string>

#include "observer_codec.h"
#include "observer_internal.h"
#include "quantkit/core/error.h"
#include "quantkit/quant/observers.h"

namespace quantkit {
namespace {

using namespace observer_detail;

constexpr float kInf = std::numeric_limits<float>::infinity();

void validate_state(const PerChannelState& s, std::string_view where, bool require_ordered) {
  check_argument(s.min_val.size() == s.max_val.size(), where, "state.max_val.size()",
                 s.max_val.size(), "the size of state.min_val");
  for (std::size_t c = 0; c < s.min_val.size(); ++c) {
    const std::string at = "[" + std::to_string(c) + "]";
    check_argument(std::isfinite(s.min_val[c]), where, "state.min_val" + at, s.min_val[c],
                   "a finite value");
    check_argument(std::isfinite(s.max_val[c]), where, "state.max_val" + at, s.max_val[c],
                   "a finite value");
    if (require_ordered) {
      check_argument(s.min_val[c] <= s.max_val[c], where, "state.min_val" + at, s.min_val[c],
                     "a value <= state.max_val" + at);
    }
  }
}

}  // namespace

// ---- PerChannelMinMaxObserver ----

PerChannelMinMaxObserver::PerChannelMinMaxObserver(const ObserverOptions& options)
    : PerChannelMinMaxObserver(options, kPerChannelMinMax) {}

PerChannelMinMaxObserver::PerChannelMinMaxObserver(const ObserverOptions& options,
                                                   std::string_view kind_name)
    : Observer(options) {
  validate_options(kind_name, options_);
}

PerChannelMinMaxObserver::PerChannelMinMaxObserver(const ObserverOptions& options,
                                                   const PerChannelState& state)
    : PerChannelMinMaxObserver(options) {
  set_state(state);
}

bool PerChannelMinMaxObserver::batch_min_max(const Tensor& x, std::vector<float>& mins,
                                             std::vector<float>& maxs) const {
  const std::string_view where = kind();
  check_observer_input(x, where);
  if (x.numel() == 0) return false;
  const std::int64_t ndim = x.dim();
  check_argument(options_.ch_axis >= -ndim && options_.ch_axis < ndim, where, "ch_axis",
                 options_.ch_axis,
                 "an axis in [-" + std::to_string(ndim) + ", " + std::to_string(ndim) +
                     ") for x of shape " + shape_to_string(x.shape()));
  const std::int64_t axis = options_.ch_axis < 0 ? options_.ch_axis + ndim : options_.ch_axis;
  const std::int64_t channels = x.shape()[static_cast<std::size_t>(axis)];
  if (state_.initialized()) {
    check_argument(
        static_cast<std::size_t>(channels) == state_.min_val.size(), where, "x.shape()[ch_axis]",
        channels,
        std::to_string(state_.min_val.size()) + " channels, as in the batches observed before");
  }
  std::int64_t outer = 1;
  std::int64_t inner = 1;
  for (std::int64_t d = 0; d < axis; ++d) outer *= x.shape()[static_cast<std::size_t>(d)];
  for (std::int64_t d = axis + 1; d < ndim; ++d) inner *= x.shape()[static_cast<std::size_t>(d)];

  const auto c_count = static_cast<std::size_t>(channels);
  mins.assign(c_count, kInf);
  maxs.assign(c_count, -kInf);
  const float* data = x.data<float>();
  bool finite = true;
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::size_t c = 0; c < c_count; ++c) {
      const float* row = data + (o * channels + static_cast<std::int64_t>(c)) * inner;
      float lo = mins[c];
      float hi = maxs[c];
      for (std::int64_t i = 0; i < inner; ++i) {
        const float v = row[i];
        finite &= std::isfinite(v);
        lo = v < lo ? v : lo;
        hi = hi < v ? v : hi;
      }
      mins[c] = lo;
      maxs[c] = hi;
    }
  }
  if (!finite) finite_min_max(x.span<float>(), where);  // throws, naming the element
  return true;
}

void PerChannelMinMaxObserver::observe(const Tensor& x) {
  std::vector<float> mins;
  std::vector<float> maxs;
  if (!batch_min_max(x, mins, maxs)) return;
  if (!state_.initialized()) {
    state_ = {std::move(mins), std::move(maxs)};
    return;
  }
  for (std::size_t c = 0; c < mins.size(); ++c) {
    // torch.min(cur, running): a tie keeps the batch's value.
    state_.min_val[c] = state_.min_val[c] < mins[c] ? state_.min_val[c] : mins[c];
    state_.max_val[c] = maxs[c] < state_.max_val[c] ? state_.max_val[c] : maxs[c];
  }
}

QParams PerChannelMinMaxObserver::calculate_qparams() const {
  if (!state_.initialized()) return default_qparams(options_.qscheme, options_.ch_axis);
  return qparams_from_min_max(*this, state_.min_val, state_.max_val, options_.ch_axis);
}

void PerChannelMinMaxObserver::reset() { state_ = PerChannelState{}; }

std::string_view PerChannelMinMaxObserver::kind() const { return kPerChannelMinMax; }

std::string PerChannelMinMaxObserver::save() const { return encode_observer(*this, state_); }

void PerChannelMinMaxObserver::merge(const Observer& other) {
  check_mergeable(other);
  const PerChannelState& o = static_cast<const PerChannelMinMaxObserver&>(other).state_;
  if (!o.initialized()) return;
  if (!state_.initialized()) {
    state_ = o;
    return;
  }
  check_argument(o.min_val.size() == state_.min_val.size(),
                 "Observer::merge (" + std::string(kind()) + ")", "other channel count",
                 o.min_val.size(), std::to_string(state_.min_val.size()) + " channels");
  for (std::size_t c = 0; c < o.min_val.size(); ++c) {
    state_.min_val[c] = state_.min_val[c] < o.min_val[c] ? state_.min_val[c] : o.min_val[c];
    state_.max_val[c] = o.max_val[c] < state_.max_val[c] ? state_.max_val[c] : o.max_val[c];
  }
}

std::unique_ptr<Observer> PerChannelMinMaxObserver::clone() const {
  return std::make_unique<PerChannelMinMaxObserver>(*this);
}

void PerChannelMinMaxObserver::set_state(const PerChannelState& state) {
  validate_state(state, std::string(kind()) + " set_state", kind() == kPerChannelMinMax);
  state_ = state;
}

// ---- MovingAveragePerChannelMinMaxObserver ----

MovingAveragePerChannelMinMaxObserver::MovingAveragePerChannelMinMaxObserver(
    const ObserverOptions& options)
    : PerChannelMinMaxObserver(options, kMovingAveragePerChannelMinMax) {}

MovingAveragePerChannelMinMaxObserver::MovingAveragePerChannelMinMaxObserver(
    const ObserverOptions& options, const PerChannelState& state)
    : MovingAveragePerChannelMinMaxObserver(options) {
  set_state(state);
}

void MovingAveragePerChannelMinMaxObserver::observe(const Tensor& x) {
  std::vector<float> mins;
  std::vector<float> maxs;
  if (!batch_min_max(x, mins, maxs)) return;
  if (!state_.initialized()) {
    state_ = {std::move(mins), std::move(maxs)};
    return;
  }
  const float c = options_.averaging_constant;
  for (std::size_t i = 0; i < mins.size(); ++i) {
    state_.min_val[i] = moving_average_step(state_.min_val[i], mins[i], c);
    state_.max_val[i] = moving_average_step(state_.max_val[i], maxs[i], c);
  }
}

std::string_view MovingAveragePerChannelMinMaxObserver::kind() const {
  return kMovingAveragePerChannelMinMax;
}

void MovingAveragePerChannelMinMaxObserver::merge(const Observer& other) {
  check_mergeable(other);
  const PerChannelState& o =
      static_cast<const MovingAveragePerChannelMinMaxObserver&>(other).state();
  if (!o.initialized()) return;
  if (!state_.initialized()) {
    state_ = o;
    return;
  }
  check_argument(o.min_val.size() == state_.min_val.size(),
                 "Observer::merge (" + std::string(kind()) + ")", "other channel count",
                 o.min_val.size(), std::to_string(state_.min_val.size()) + " channels");
  // other's averages arrive as one more batch (see observers.h).
  const float c = options_.averaging_constant;
  for (std::size_t i = 0; i < o.min_val.size(); ++i) {
    state_.min_val[i] = moving_average_step(state_.min_val[i], o.min_val[i], c);
    state_.max_val[i] = moving_average_step(state_.max_val[i], o.max_val[i], c);
  }
}

std::unique_ptr<Observer> MovingAveragePerChannelMinMaxObserver::clone() const {
  return std::make_unique<MovingAveragePerChannelMinMaxObserver>(*this);
}

}  // namespace quantkit
