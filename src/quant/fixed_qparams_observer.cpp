// FixedQParamsObserver: qparams fixed at construction (e.g. sigmoid's 1/256, 0).
#include "observer_codec.h"
#include "observer_internal.h"
#include "quantkit/core/error.h"
#include "quantkit/quant/observers.h"

namespace quantkit {

using namespace observer_detail;

FixedQParamsObserver::FixedQParamsObserver(const ObserverOptions& options) : Observer(options) {
  validate_options(kFixedQParams, options_);
  check_argument(options_.fixed_zero_point >= range_.quant_min &&
                     options_.fixed_zero_point <= range_.quant_max,
                 "fixed-qparams observer", "fixed_zero_point", options_.fixed_zero_point,
                 "a value in [" + std::to_string(range_.quant_min) + ", " +
                     std::to_string(range_.quant_max) + "]");
}

void FixedQParamsObserver::observe(const Tensor& x) { check_observer_input(x, kind()); }

QParams FixedQParamsObserver::calculate_qparams() const {
  // torch keeps the scale in a float32 buffer.
  QParams out;
  out.qscheme = options_.qscheme;
  out.scale = {static_cast<double>(static_cast<float>(options_.fixed_scale))};
  out.zero_point = {options_.fixed_zero_point};
  return out;
}

std::string_view FixedQParamsObserver::kind() const { return kFixedQParams; }

std::string FixedQParamsObserver::save() const { return encode_observer(*this); }

void FixedQParamsObserver::merge(const Observer& other) { check_mergeable(other); }

std::unique_ptr<Observer> FixedQParamsObserver::clone() const {
  return std::make_unique<FixedQParamsObserver>(*this);
}

}  // namespace quantkit
