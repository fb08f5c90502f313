#include <algorithm>
#include <cmath>

#include "qadd_kernels.h"

namespace quantkit::runtime::detail {
namespace {

template <typename T>
void qadd_scalar(const T* a, const T* b, T* out, std::int64_t n, const QAddParams& p) {
  for (std::int64_t i = 0; i < n; ++i) {
    double va =
        static_cast<double>(static_cast<std::int32_t>(a[i]) - p.a_zero_point) * p.a_multiplier;
    double vb =
        static_cast<double>(static_cast<std::int32_t>(b[i]) - p.b_zero_point) * p.b_multiplier;
    if (p.half_even) {
      va = std::nearbyint(va);
      vb = std::nearbyint(vb);
    }
    const std::int32_t s =
        static_cast<std::int32_t>(va) + static_cast<std::int32_t>(vb) + p.out_zero_point;
    out[i] = static_cast<T>(std::clamp(s, p.quant_min, p.quant_max));
  }
}

}  // namespace

bool qadd_supported(const QAddParams& p) {
  constexpr double kLimit = 536870912.0 / 255.0;  // 2^29 / 255
  return p.a_multiplier > 0 && p.a_multiplier <= kLimit && p.b_multiplier > 0 &&
         p.b_multiplier <= kLimit && (p.dtype == DType::Int8 || p.dtype == DType::UInt8);
}

void qadd_reference(const void* a, const void* b, void* out, std::int64_t n, const QAddParams& p) {
  if (p.dtype == DType::Int8) {
    qadd_scalar(static_cast<const std::int8_t*>(a), static_cast<const std::int8_t*>(b),
                static_cast<std::int8_t*>(out), n, p);
  } else {
    qadd_scalar(static_cast<const std::uint8_t*>(a), static_cast<const std::uint8_t*>(b),
                static_cast<std::uint8_t*>(out), n, p);
  }
}

}  // namespace quantkit::runtime::detail
