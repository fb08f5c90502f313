// Per-tensor min/max observers: MinMaxObserver and MovingAverageMinMaxObserver.
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

// torch.min(cur, running) / torch.max(cur, running) on non-NaN floats: std::min/std::max
// with the batch value first, so a tie keeps the batch's value.
float running_min(float current, float running) { return running < current ? running : current; }
float running_max(float current, float running) { return current < running ? running : current; }

void validate_state(const MinMaxState& s, std::string_view where, bool require_ordered) {
  if (!s.initialized()) {
    check_argument(s.min_val == kInf && s.max_val == -kInf, where, "state.min_val", s.min_val,
                   "+inf with max_val -inf (uninitialized) or finite values");
    return;
  }
  check_argument(std::isfinite(s.min_val), where, "state.min_val", s.min_val, "a finite value");
  check_argument(std::isfinite(s.max_val), where, "state.max_val", s.max_val, "a finite value");
  if (require_ordered) {
    check_argument(s.min_val <= s.max_val, where, "state.min_val", s.min_val,
                   "a value <= state.max_val");
  }
}

}  // namespace

bool MinMaxState::initialized() const { return !(min_val == kInf && max_val == -kInf); }

MinMaxState uninitialized_min_max() { return MinMaxState{kInf, -kInf}; }

// ---- MinMaxObserver ----

MinMaxObserver::MinMaxObserver(const ObserverOptions& options) : MinMaxObserver(options, kMinMax) {}

MinMaxObserver::MinMaxObserver(const ObserverOptions& options, std::string_view kind_name)
    : Observer(options), state_(uninitialized_min_max()) {
  validate_options(kind_name, options_);
}

MinMaxObserver::MinMaxObserver(const ObserverOptions& options, const MinMaxState& state)
    : MinMaxObserver(options) {
  set_state(state);
}

void MinMaxObserver::observe(const Tensor& x) {
  check_observer_input(x, kind());
  if (x.numel() == 0) return;
  const FiniteMinMax batch = finite_min_max(x.span<float>(), kind());
  state_.min_val = running_min(batch.min_val, state_.min_val);
  state_.max_val = running_max(batch.max_val, state_.max_val);
}

QParams MinMaxObserver::calculate_qparams() const {
  if (!state_.initialized()) return default_qparams(options_.qscheme, 0);
  return qparams_from_min_max(*this, {&state_.min_val, 1}, {&state_.max_val, 1}, 0);
}

void MinMaxObserver::reset() { state_ = uninitialized_min_max(); }

std::string_view MinMaxObserver::kind() const { return kMinMax; }

std::string MinMaxObserver::save() const { return encode_observer(*this, state_); }

void MinMaxObserver::merge(const Observer& other) {
  check_mergeable(other);
  // Same kind, so the cast is safe; min/max are associative and commutative here (finite,
  // no NaN), so this is exactly what one observer seeing both streams would hold.
  const MinMaxState& o = static_cast<const MinMaxObserver&>(other).state_;
  if (!o.initialized()) return;
  state_.min_val = running_min(o.min_val, state_.min_val);
  state_.max_val = running_max(o.max_val, state_.max_val);
}

std::unique_ptr<Observer> MinMaxObserver::clone() const {
  return std::make_unique<MinMaxObserver>(*this);
}

void MinMaxObserver::set_state(const MinMaxState& state) {
  // A moving average's rounding can put min a last bit above max; calculate_qparams reports
  // that, so only the running min/max must be ordered here.
  validate_state(state, std::string(kind()) + " set_state", kind() == kMinMax);
  state_ = state;
}

// ---- MovingAverageMinMaxObserver ----

MovingAverageMinMaxObserver::MovingAverageMinMaxObserver(const ObserverOptions& options)
    : MinMaxObserver(options, kMovingAverageMinMax) {}

MovingAverageMinMaxObserver::MovingAverageMinMaxObserver(const ObserverOptions& options,
                                                         const MinMaxState& state)
    : MovingAverageMinMaxObserver(options) {
  set_state(state);
}

void MovingAverageMinMaxObserver::observe(const Tensor& x) {
  check_observer_input(x, kind());
  if (x.numel() == 0) return;
  const FiniteMinMax batch = finite_min_max(x.span<float>(), kind());
  if (!state_.initialized()) {
    state_ = {batch.min_val, batch.max_val};
    return;
  }
  const float c = options_.averaging_constant;
  state_.min_val = moving_average_step(state_.min_val, batch.min_val, c);
  state_.max_val = moving_average_step(state_.max_val, batch.max_val, c);
}

std::string_view MovingAverageMinMaxObserver::kind() const { return kMovingAverageMinMax; }

void MovingAverageMinMaxObserver::merge(const Observer& other) {
  check_mergeable(other);
  const MinMaxState& o = static_cast<const MovingAverageMinMaxObserver&>(other).state();
  if (!o.initialized()) return;
  if (!state_.initialized()) {
    state_ = o;
    return;
  }
  // other's averages arrive as one more batch (see observers.h).
  const float c = options_.averaging_constant;
  state_.min_val = moving_average_step(state_.min_val, o.min_val, c);
  state_.max_val = moving_average_step(state_.max_val, o.max_val, c);
}

std::unique_ptr<Observer> MovingAverageMinMaxObserver::clone() const {
  return std::make_unique<MovingAverageMinMaxObserver>(*this);
}

}  // namespace quantkit
