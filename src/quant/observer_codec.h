#pragma once
// Observer <-> JSON (Observer::save / load_observer). Floats are written as their IEEE bit
// patterns ("0x3f800000"; doubles with 16 digits) so a load restores them exactly.
#include <string>

#include "quantkit/quant/observers.h"

namespace quantkit::observer_detail {

std::string encode_observer(const Observer& observer, const MinMaxState& state);
std::string encode_observer(const Observer& observer, const PerChannelState& state);
std::string encode_observer(const Observer& observer, const HistogramState& state);
// Observers without statistics (placeholder, fixed-qparams).
std::string encode_observer(const Observer& observer);

}  // namespace quantkit::observer_detail
