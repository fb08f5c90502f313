// Run-time selection of the affine kernels (the public entry points of
// quantkit/kernels/affine_kernels.h) and the fake-quantize parameter factories.
#include <cmath>
#include <limits>

#include "affine_kernels_isa.h"
#include "quantkit/kernels/cpu_features.h"

namespace quantkit::kernels {
namespace {

// Smallest float32 >= v and largest float32 <= v: the exact bounds of an integer range for a
// comparison against float32 values.
float float_at_or_above(std::int32_t v) {
  const float f = static_cast<float>(v);
  return static_cast<double>(f) < v ? std::nextafter(f, std::numeric_limits<float>::infinity())
                                    : f;
}
float float_at_or_below(std::int32_t v) {
  const float f = static_cast<float>(v);
  return static_cast<double>(f) > v ? std::nextafter(f, -std::numeric_limits<float>::infinity())
                                    : f;
}

}  // namespace

#define QUANTKIT_AFFINE_DISPATCH(fn, ...)                  \
  switch (active_isa()) {                                  \
    case IsaLevel::Avx512: return avx512::fn(__VA_ARGS__); \
    case IsaLevel::Avx2: return avx2::fn(__VA_ARGS__);     \
    case IsaLevel::Portable: break;                        \
  }                                                        \
  return reference::fn(__VA_ARGS__)

FakeQuantizeParams FakeQuantizeParams::with_integer_zero_point(float scale,
                                                               std::int32_t zero_point,
                                                               std::int32_t quant_min,
                                                               std::int32_t quant_max) {
  FakeQuantizeParams p;
  p.scale = scale;
  p.inv_scale = 1.0f / scale;
  p.zero_point_add = static_cast<float>(zero_point);
  p.zero_point_sub = static_cast<double>(zero_point);
  // torch tests the int64 q: q >= quant_min <=> q >= (smallest float32 >= quant_min).
  p.mask_min = float_at_or_above(quant_min);
  p.mask_max = float_at_or_below(quant_max);
  p.quant_min = quant_min;
  p.quant_max = quant_max;
  p.float_zero_point = false;
  return p;
}

FakeQuantizeParams FakeQuantizeParams::with_float_zero_point(float scale, float zero_point,
                                                             std::int32_t quant_min,
                                                             std::int32_t quant_max) {
  FakeQuantizeParams p;
  p.scale = scale;
  p.inv_scale = 1.0f / scale;
  p.zero_point_add = zero_point;
  p.zero_point_sub = static_cast<double>(zero_point);
  // torch compares the float q with the int64 bounds converted to float32.
  p.mask_min = static_cast<float>(quant_min);
  p.mask_max = static_cast<float>(quant_max);
  p.quant_min = quant_min;
  p.quant_max = quant_max;
  p.float_zero_point = true;
  return p;
}

bool fake_quantize_periodic_supported(std::int64_t quant_min, std::int64_t quant_max) {
  constexpr std::int64_t kTwo24 = std::int64_t{1} << 24;
  return quant_min >= -kTwo24 && quant_max <= kTwo24 && quant_min <= quant_max &&
         quant_max - quant_min <= kTwo24;
}

void quantize(const float* x, std::int8_t* q, std::size_t n, const QuantizeParams& p) {
  QUANTKIT_AFFINE_DISPATCH(quantize, x, q, n, p);
}
void quantize(const float* x, std::uint8_t* q, std::size_t n, const QuantizeParams& p) {
  QUANTKIT_AFFINE_DISPATCH(quantize, x, q, n, p);
}
void quantize(const float* x, std::int16_t* q, std::size_t n, const QuantizeParams& p) {
  QUANTKIT_AFFINE_DISPATCH(quantize, x, q, n, p);
}
void quantize(const float* x, std::int32_t* q, std::size_t n, const QuantizeParams& p) {
  QUANTKIT_AFFINE_DISPATCH(quantize, x, q, n, p);
}
void quantize(const float* x, std::int8_t* q, std::size_t n, const QuantizePeriodicParams& p) {
  QUANTKIT_AFFINE_DISPATCH(quantize, x, q, n, p);
}
void quantize(const float* x, std::uint8_t* q, std::size_t n, const QuantizePeriodicParams& p) {
  QUANTKIT_AFFINE_DISPATCH(quantize, x, q, n, p);
}
void quantize(const float* x, std::int16_t* q, std::size_t n, const QuantizePeriodicParams& p) {
  QUANTKIT_AFFINE_DISPATCH(quantize, x, q, n, p);
}
void quantize(const float* x, std::int32_t* q, std::size_t n, const QuantizePeriodicParams& p) {
  QUANTKIT_AFFINE_DISPATCH(quantize, x, q, n, p);
}

void dequantize(const std::int8_t* q, float* y, std::size_t n, const DequantizeParams& p) {
  QUANTKIT_AFFINE_DISPATCH(dequantize, q, y, n, p);
}
void dequantize(const std::uint8_t* q, float* y, std::size_t n, const DequantizeParams& p) {
  QUANTKIT_AFFINE_DISPATCH(dequantize, q, y, n, p);
}
void dequantize(const std::int16_t* q, float* y, std::size_t n, const DequantizeParams& p) {
  QUANTKIT_AFFINE_DISPATCH(dequantize, q, y, n, p);
}
void dequantize(const std::int32_t* q, float* y, std::size_t n, const DequantizeParams& p) {
  QUANTKIT_AFFINE_DISPATCH(dequantize, q, y, n, p);
}
void dequantize(const std::int8_t* q, float* y, std::size_t n, const DequantizeChannelParams& p) {
  QUANTKIT_AFFINE_DISPATCH(dequantize, q, y, n, p);
}
void dequantize(const std::uint8_t* q, float* y, std::size_t n,
                const DequantizeChannelParams& p) {
  QUANTKIT_AFFINE_DISPATCH(dequantize, q, y, n, p);
}
void dequantize(const std::int16_t* q, float* y, std::size_t n,
                const DequantizeChannelParams& p) {
  QUANTKIT_AFFINE_DISPATCH(dequantize, q, y, n, p);
}
void dequantize(const std::int32_t* q, float* y, std::size_t n,
                const DequantizeChannelParams& p) {
  QUANTKIT_AFFINE_DISPATCH(dequantize, q, y, n, p);
}
void dequantize(const std::int8_t* q, float* y, std::size_t n,
                const DequantizeChannelPeriodicParams& p) {
  QUANTKIT_AFFINE_DISPATCH(dequantize, q, y, n, p);
}
void dequantize(const std::uint8_t* q, float* y, std::size_t n,
                const DequantizeChannelPeriodicParams& p) {
  QUANTKIT_AFFINE_DISPATCH(dequantize, q, y, n, p);
}
void dequantize(const std::int16_t* q, float* y, std::size_t n,
                const DequantizeChannelPeriodicParams& p) {
  QUANTKIT_AFFINE_DISPATCH(dequantize, q, y, n, p);
}
void dequantize(const std::int32_t* q, float* y, std::size_t n,
                const DequantizeChannelPeriodicParams& p) {
  QUANTKIT_AFFINE_DISPATCH(dequantize, q, y, n, p);
}

void fake_quantize(const float* x, float* y, std::size_t n, const FakeQuantizeParams& p) {
  QUANTKIT_AFFINE_DISPATCH(fake_quantize, x, y, n, p);
}
void fake_quantize(const float* x, float* y, std::size_t n, const FakeQuantizePeriodicParams& p) {
  QUANTKIT_AFFINE_DISPATCH(fake_quantize, x, y, n, p);
}
void fake_quantize_backward(const float* dy, const float* x, float* dx, std::size_t n,
                            const FakeQuantizeParams& p) {
  QUANTKIT_AFFINE_DISPATCH(fake_quantize_backward, dy, x, dx, n, p);
}
void fake_quantize_backward(const float* dy, const float* x, float* dx, std::size_t n,
                            const FakeQuantizePeriodicParams& p) {
  QUANTKIT_AFFINE_DISPATCH(fake_quantize_backward, dy, x, dx, n, p);
}
void fake_quantize_mask(const float* x, std::uint8_t* mask, std::size_t n,
                        const FakeQuantizeParams& p) {
  QUANTKIT_AFFINE_DISPATCH(fake_quantize_mask, x, mask, n, p);
}

#undef QUANTKIT_AFFINE_DISPATCH

}  // namespace quantkit::kernels
