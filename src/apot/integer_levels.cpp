// APoT levels as small integers times one step (quantkit/apot/integer_levels.h).
#include "quantkit/apot/integer_levels.h"

#include <algorithm>
#include <cmath>

namespace quantkit::apot {

std::optional<IntegerLevels> integer_levels(std::span<const double> levels) {
  double smallest = 0;
  for (double l : levels) {
    if (!std::isfinite(l)) return std::nullopt;
    const double a = std::abs(l);
    if (a > 0 && (smallest == 0 || a < smallest)) smallest = a;
  }
  if (smallest == 0) return std::nullopt;  // all zero: nothing to compute
  for (int j = 0; j <= 8; ++j) {
    const double step = std::ldexp(smallest, -j);
    IntegerLevels out;
    bool ok = true;
    for (double l : levels) {
      const double ratio = l / step;
      const double n = std::nearbyint(ratio);
      if (std::abs(n) > 127 || std::abs(ratio - n) > 1e-5 * std::max(1.0, std::abs(n))) {
        ok = false;
        break;
      }
      out.integers.push_back(static_cast<std::int8_t>(n));
    }
    if (!ok) continue;
    // The largest level over its integer: the scale with the smallest relative error.
    const auto it = std::max_element(levels.begin(), levels.end(),
                                     [](double a, double b) { return std::abs(a) < std::abs(b); });
    out.scale = std::abs(*it) / std::abs(static_cast<double>(
                                    out.integers[static_cast<std::size_t>(it - levels.begin())]));
    return out;
  }
  return std::nullopt;
}

std::optional<IntegerWeight> integer_weight(const Tensor& codes, std::span<const double> levels) {
  const auto integer = integer_levels(levels);
  if (!integer || !is_integer(codes.dtype())) return std::nullopt;
  Tensor w = Tensor::empty(codes.shape(), DType::Int8);
  std::int8_t* out = w.data<std::int8_t>();
  bool in_range = true;
  visit_dtype(codes.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* c = codes.data<T>();
    for (std::int64_t i = 0; i < codes.numel() && in_range; ++i) {
      const auto code = static_cast<std::int64_t>(c[i]);
      in_range = code >= 0 && code < static_cast<std::int64_t>(levels.size());
      if (in_range) out[i] = integer->integers[static_cast<std::size_t>(code)];
    }
  });
  if (!in_range) return std::nullopt;
  return IntegerWeight{std::move(w), integer->scale};
}

}  // namespace quantkit::apot
