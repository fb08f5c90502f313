// PlaceholderObserver: marks a tensor for dynamic quantization; it observes nothing.
#include "observer_codec.h"
#include "observer_internal.h"
#include "quantkit/core/error.h"
#include "quantkit/quant/observers.h"

namespace quantkit {

using namespace observer_detail;

PlaceholderObserver::PlaceholderObserver(const ObserverOptions& options) : Observer(options) {
  validate_options(kPlaceholder, options_);
}

void PlaceholderObserver::observe(const Tensor& x) { check_observer_input(x, kind()); }

QParams PlaceholderObserver::calculate_qparams() const {
  // torch: Exception("calculate_qparams should not be called for PlaceholderObserver").
  throw Error(
      "placeholder observer: calculate_qparams should not be called for a placeholder "
      "observer (dynamic quantization chooses qparams at run time, see "
      "choose_qparams_per_tensor_dynamic)");
}

std::string_view PlaceholderObserver::kind() const { return kPlaceholder; }

std::string PlaceholderObserver::save() const { return encode_observer(*this); }

void PlaceholderObserver::merge(const Observer& other) { check_mergeable(other); }

std::unique_ptr<Observer> PlaceholderObserver::clone() const {
  return std::make_unique<PlaceholderObserver>(*this);
}

}  // namespace quantkit
