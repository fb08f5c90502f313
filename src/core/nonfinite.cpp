#include "quantkit/core/nonfinite.h"

#include <cmath>

namespace quantkit {
namespace {

template <class T>
void scan(const T* p, std::int64_t n, NonFiniteCount& count) {
  for (std::int64_t i = 0; i < n; ++i) {
    if (std::isfinite(p[i])) continue;
    if (std::isnan(p[i])) {
      ++count.nan;
    } else {
      ++count.inf;
    }
    if (count.first_index < 0) {
      count.first_index = i;
      count.first_value = static_cast<double>(p[i]);
    }
  }
}

}  // namespace

std::string NonFiniteCount::to_string() const {
  if (total() == 0) return "no non-finite values";
  const std::string first = std::isnan(first_value) ? "nan" : first_value > 0 ? "inf" : "-inf";
  return std::to_string(total()) + " non-finite value" + (total() == 1 ? "" : "s") + " (" +
         std::to_string(nan) + " NaN, " + std::to_string(inf) + " infinite; the first, at flat " +
         "index " + std::to_string(first_index) + ", is " + first + ")";
}

NonFiniteCount count_nonfinite(const Tensor& t) {
  NonFiniteCount count;
  if (t.dtype() == DType::Float32) scan(t.data<float>(), t.numel(), count);
  if (t.dtype() == DType::Float64) scan(t.data<double>(), t.numel(), count);
  return count;
}

}  // namespace quantkit
