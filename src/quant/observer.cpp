// Observer base class, option validation and the factory.
#include "quantkit/quant/observer.h"

#include <bit>
#include <cmath>
#include <string>

#include "observer_internal.h"
#include "quantkit/core/error.h"
#include "quantkit/quant/choose_qparams.h"
#include "quantkit/quant/observers.h"

namespace quantkit {

Observer::Observer(const ObserverOptions& options)
    : options_(options),
      range_(observer_quant_range(options.dtype, options.quant_min, options.quant_max,
                                  options.reduce_range)) {}

void Observer::check_mergeable(const Observer& other) const {
  const std::string where = "Observer::merge (" + std::string(kind()) + ")";
  check_argument(other.kind() == kind(), where, "other.kind()", other.kind(),
                 "the same kind, '" + std::string(kind()) + "'");
  check_argument(observer_detail::same_options(options_, other.options_), where, "other.options()",
                 std::string("a different configuration"),
                 "identical options (dtype, qscheme, range, eps, ch_axis, averaging_constant, "
                 "bins, fixed qparams)");
}

std::unique_ptr<Observer> make_observer(std::string_view kind, const ObserverOptions& options) {
  using namespace observer_detail;
  if (kind == kMinMax) return std::make_unique<MinMaxObserver>(options);
  if (kind == kMovingAverageMinMax) return std::make_unique<MovingAverageMinMaxObserver>(options);
  if (kind == kPerChannelMinMax) return std::make_unique<PerChannelMinMaxObserver>(options);
  if (kind == kMovingAveragePerChannelMinMax) {
    return std::make_unique<MovingAveragePerChannelMinMaxObserver>(options);
  }
  if (kind == kHistogram) return std::make_unique<HistogramObserver>(options);
  if (kind == kPlaceholder) return std::make_unique<PlaceholderObserver>(options);
  if (kind == kFixedQParams) return std::make_unique<FixedQParamsObserver>(options);
  throw_invalid_argument("make_observer", "kind", kind,
                         "one of minmax, moving-average-minmax, per-channel-minmax, "
                         "moving-average-per-channel-minmax, histogram, placeholder, "
                         "fixed-qparams");
}

namespace observer_detail {

void validate_options(std::string_view kind, const ObserverOptions& o) {
  const std::string where(kind.empty() ? "observer" : std::string(kind) + " observer");
  check_argument(std::isfinite(o.eps) && o.eps > 0.0f, where, "eps", o.eps, "a finite value > 0");
  const bool per_channel_kind = kind == kPerChannelMinMax || kind == kMovingAveragePerChannelMinMax;
  if (kind != kPlaceholder) {
    if (per_channel_kind) {
      check_argument(is_per_channel(o.qscheme), where, "qscheme", qscheme_name(o.qscheme),
                     "a per-channel qscheme");
    } else {
      check_argument(!is_per_channel(o.qscheme), where, "qscheme", qscheme_name(o.qscheme),
                     "per_tensor_affine or per_tensor_symmetric");
    }
  }
  // torch: "Cannot reduce range for symmetric quantization for quint8".
  check_argument(!(is_symmetric(o.qscheme) && o.reduce_range && o.dtype == DType::UInt8), where,
                 "reduce_range", true, "false for symmetric uint8 (torch cannot reduce it)");
  if (kind == kMovingAverageMinMax || kind == kMovingAveragePerChannelMinMax) {
    check_argument(o.averaging_constant > 0.0f && o.averaging_constant <= 1.0f, where,
                   "averaging_constant", o.averaging_constant, "a value in (0, 1]");
  }
  if (kind == kHistogram) {
    check_argument(o.dtype == DType::Int8 || o.dtype == DType::UInt8, where, "dtype",
                   dtype_name(o.dtype), "int8 or uint8 (256 destination bins)");
    // Each rebin materializes bins * 16 sub-bin midpoints; 2^16 bins (32x torch's default)
    // keeps that at 4 MiB and every index exact in float32.
    check_argument(o.bins > 0 && o.bins <= (std::int64_t{1} << 16), where, "bins", o.bins,
                   "a value in [1, 65536]");
  }
  if (kind == kFixedQParams) {
    check_argument(!o.reduce_range, where, "reduce_range", o.reduce_range,
                   "false (a fixed-qparams observer takes its range as given)");
    const float scale32 = static_cast<float>(o.fixed_scale);
    check_argument(std::isfinite(o.fixed_scale) && o.fixed_scale > 0.0 && std::isfinite(scale32) &&
                       scale32 > 0.0f,
                   where, "fixed_scale", o.fixed_scale, "a value > 0 that is finite in float32");
  }
}

bool same_options(const ObserverOptions& a, const ObserverOptions& b) {
  return a.dtype == b.dtype && a.qscheme == b.qscheme && a.reduce_range == b.reduce_range &&
         a.quant_min == b.quant_min && a.quant_max == b.quant_max &&
         std::bit_cast<std::uint32_t>(a.eps) == std::bit_cast<std::uint32_t>(b.eps) &&
         a.ch_axis == b.ch_axis &&
         std::bit_cast<std::uint32_t>(a.averaging_constant) ==
             std::bit_cast<std::uint32_t>(b.averaging_constant) &&
         a.bins == b.bins &&
         std::bit_cast<std::uint64_t>(a.fixed_scale) ==
             std::bit_cast<std::uint64_t>(b.fixed_scale) &&
         a.fixed_zero_point == b.fixed_zero_point;
}

void check_observer_input(const Tensor& x, std::string_view where) {
  check_argument(x.dtype() == DType::Float32, where, "x.dtype", dtype_name(x.dtype()), "float32");
}

FiniteMinMax finite_min_max(std::span<const float> values, std::string_view where) {
  float lo = values[0];
  float hi = values[0];
  bool finite = true;
  for (float v : values) {
    // One pass, branch-free: the finiteness flag costs nothing next to the min/max.
    finite &= std::isfinite(v);
    lo = v < lo ? v : lo;
    hi = hi < v ? v : hi;
  }
  if (!finite) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (!std::isfinite(values[i])) {
        throw_invalid_argument(where, "x[" + std::to_string(i) + "]", values[i],
                               "finite values (NaN or infinity has no finite qparams; the "
                               "observer state is unchanged)");
      }
    }
  }
  return {lo, hi};
}

QParams default_qparams(QScheme qscheme, std::int64_t axis) {
  QParams out;
  out.qscheme = qscheme;
  out.axis = axis;
  out.scale = {1.0};
  if (qscheme == QScheme::PerChannelAffineFloatQParams) {
    out.float_zero_point = {0.0f};
  } else {
    out.zero_point = {0};
  }
  return out;
}

QParams qparams_from_min_max(const Observer& observer, std::span<const float> min_val,
                             std::span<const float> max_val, std::int64_t axis) {
  const ObserverOptions& o = observer.options();
  return calculate_qparams(min_val, max_val, o.qscheme, observer.quant_range(), o.eps, axis,
                           o.quant_min.has_value());
}

}  // namespace observer_detail
}  // namespace quantkit
