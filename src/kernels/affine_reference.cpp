// Portable reference of the affine kernels: one element at a time, each formula written
// exactly as torch 1.13 evaluates it (see include/quantkit/quant/affine.h). The AVX2 and
// AVX-512 kernels are tested bit for bit against these loops.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "affine_kernels_isa.h"

namespace quantkit::kernels::reference {
namespace {

// Clamps an integer-valued float32 to [quant_min, quant_max] exactly. The comparison is in
// double because int32 bounds such as 2^31 - 1 are not float32 values. NaN -> quant_min.
inline double clamp_exact(float t, std::int32_t quant_min, std::int32_t quant_max) {
  if (std::isnan(t)) return quant_min;
  const double d = t;
  if (d < quant_min) return quant_min;
  if (d > quant_max) return quant_max;
  return d;
}

// torch: zero_point + nearbyint(x * inv_scale), a float32 multiply, rounding half to even
// (the default rounding mode), then a float32 add.
inline float round_then_add(float x, float inv_scale, float zero_point) {
  return std::nearbyint(x * inv_scale) + zero_point;
}

template <class T>
inline T quantize_one(float x, float inv_scale, float zero_point, std::int32_t quant_min,
                      std::int32_t quant_max) {
  const double c = clamp_exact(round_then_add(x, inv_scale, zero_point), quant_min, quant_max);
  return static_cast<T>(static_cast<std::int32_t>(c));
}

template <class T>
void quantize_broadcast(const float* x, T* q, std::size_t n, const QuantizeParams& p) {
  for (std::size_t i = 0; i < n; ++i) {
    q[i] = quantize_one<T>(x[i], p.inv_scale, p.zero_point, p.quant_min, p.quant_max);
  }
}

template <class T>
void quantize_periodic(const float* x, T* q, std::size_t n, const QuantizePeriodicParams& p) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t c = i % p.period;
    q[i] = quantize_one<T>(x[i], p.inv_scales[c], p.zero_points[c], p.quant_min, p.quant_max);
  }
}

template <class T>
void dequantize_per_tensor(const T* q, float* y, std::size_t n, const DequantizeParams& p) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t centered = static_cast<std::int64_t>(q[i]) - p.zero_point;
    y[i] = p.scale * static_cast<float>(centered);
  }
}

inline float dequantize_channel_one(std::int32_t q, double scale, float zero_point) {
  const float centered = static_cast<float>(q) - zero_point;
  return static_cast<float>(static_cast<double>(centered) * scale);
}

template <class T>
void dequantize_channel(const T* q, float* y, std::size_t n, const DequantizeChannelParams& p) {
  for (std::size_t i = 0; i < n; ++i) y[i] = dequantize_channel_one(q[i], p.scale, p.zero_point);
}

template <class T>
void dequantize_channel_periodic(const T* q, float* y, std::size_t n,
                                 const DequantizeChannelPeriodicParams& p) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t c = i % p.period;
    y[i] = dequantize_channel_one(q[i], p.scales[c], p.zero_points[c]);
  }
}

// One fake-quantize element: the rounded (unclamped) q, its STE mask and y.
struct FakeQuantized {
  float y;
  bool mask;
};

inline FakeQuantized fake_quantize_one(float x, float scale, float inv_scale,
                                       float zero_point_add, double zero_point_sub,
                                       float mask_min, float mask_max, std::int32_t quant_min,
                                       std::int32_t quant_max, bool float_zero_point) {
  const float q = float_zero_point ? std::nearbyint(std::fma(x, inv_scale, zero_point_add))
                                   : round_then_add(x, inv_scale, zero_point_add);
  const bool mask = q >= mask_min && q <= mask_max;  // false for NaN and +-inf
  const double c = clamp_exact(q, quant_min, quant_max);
  const float y = static_cast<float>((c - zero_point_sub) * static_cast<double>(scale));
  return {y, mask};
}

inline FakeQuantized fake_quantize_one(float x, const FakeQuantizeParams& p) {
  return fake_quantize_one(x, p.scale, p.inv_scale, p.zero_point_add, p.zero_point_sub,
                           p.mask_min, p.mask_max, p.quant_min, p.quant_max,
                           p.float_zero_point);
}

inline FakeQuantized fake_quantize_one(float x, const FakeQuantizePeriodicParams& p,
                                       std::size_t c) {
  // The periodic precondition makes both bounds float32 values, so they are the mask bounds.
  return fake_quantize_one(x, p.scales[c], p.inv_scales[c], p.zero_points[c],
                           p.zero_points[c], static_cast<float>(p.quant_min),
                           static_cast<float>(p.quant_max), p.quant_min, p.quant_max,
                           p.float_zero_point);
}

// dx = dy * float(mask): a multiply, so a masked negative dy gives -0.0 and NaN stays NaN.
inline float straight_through(float dy, bool mask) { return dy * (mask ? 1.0f : 0.0f); }

}  // namespace

void quantize(const float* x, std::int8_t* q, std::size_t n, const QuantizeParams& p) {
  quantize_broadcast(x, q, n, p);
}
void quantize(const float* x, std::uint8_t* q, std::size_t n, const QuantizeParams& p) {
  quantize_broadcast(x, q, n, p);
}
void quantize(const float* x, std::int16_t* q, std::size_t n, const QuantizeParams& p) {
  quantize_broadcast(x, q, n, p);
}
void quantize(const float* x, std::int32_t* q, std::size_t n, const QuantizeParams& p) {
  quantize_broadcast(x, q, n, p);
}
void quantize(const float* x, std::int8_t* q, std::size_t n, const QuantizePeriodicParams& p) {
  quantize_periodic(x, q, n, p);
}
void quantize(const float* x, std::uint8_t* q, std::size_t n, const QuantizePeriodicParams& p) {
  quantize_periodic(x, q, n, p);
}
void quantize(const float* x, std::int16_t* q, std::size_t n, const QuantizePeriodicParams& p) {
  quantize_periodic(x, q, n, p);
}
void quantize(const float* x, std::int32_t* q, std::size_t n, const QuantizePeriodicParams& p) {
  quantize_periodic(x, q, n, p);
}

void dequantize(const std::int8_t* q, float* y, std::size_t n, const DequantizeParams& p) {
  dequantize_per_tensor(q, y, n, p);
}
void dequantize(const std::uint8_t* q, float* y, std::size_t n, const DequantizeParams& p) {
  dequantize_per_tensor(q, y, n, p);
}
void dequantize(const std::int16_t* q, float* y, std::size_t n, const DequantizeParams& p) {
  dequantize_per_tensor(q, y, n, p);
}
void dequantize(const std::int32_t* q, float* y, std::size_t n, const DequantizeParams& p) {
  dequantize_per_tensor(q, y, n, p);
}

void dequantize(const std::int8_t* q, float* y, std::size_t n, const DequantizeChannelParams& p) {
  dequantize_channel(q, y, n, p);
}
void dequantize(const std::uint8_t* q, float* y, std::size_t n,
                const DequantizeChannelParams& p) {
  dequantize_channel(q, y, n, p);
}
void dequantize(const std::int16_t* q, float* y, std::size_t n,
                const DequantizeChannelParams& p) {
  dequantize_channel(q, y, n, p);
}
void dequantize(const std::int32_t* q, float* y, std::size_t n,
                const DequantizeChannelParams& p) {
  dequantize_channel(q, y, n, p);
}
void dequantize(const std::int8_t* q, float* y, std::size_t n,
                const DequantizeChannelPeriodicParams& p) {
  dequantize_channel_periodic(q, y, n, p);
}
void dequantize(const std::uint8_t* q, float* y, std::size_t n,
                const DequantizeChannelPeriodicParams& p) {
  dequantize_channel_periodic(q, y, n, p);
}
void dequantize(const std::int16_t* q, float* y, std::size_t n,
                const DequantizeChannelPeriodicParams& p) {
  dequantize_channel_periodic(q, y, n, p);
}
void dequantize(const std::int32_t* q, float* y, std::size_t n,
                const DequantizeChannelPeriodicParams& p) {
  dequantize_channel_periodic(q, y, n, p);
}

void fake_quantize(const float* x, float* y, std::size_t n, const FakeQuantizeParams& p) {
  for (std::size_t i = 0; i < n; ++i) y[i] = fake_quantize_one(x[i], p).y;
}
void fake_quantize(const float* x, float* y, std::size_t n, const FakeQuantizePeriodicParams& p) {
  for (std::size_t i = 0; i < n; ++i) y[i] = fake_quantize_one(x[i], p, i % p.period).y;
}
void fake_quantize_backward(const float* dy, const float* x, float* dx, std::size_t n,
                            const FakeQuantizeParams& p) {
  for (std::size_t i = 0; i < n; ++i) dx[i] = straight_through(dy[i], fake_quantize_one(x[i], p).mask);
}
void fake_quantize_backward(const float* dy, const float* x, float* dx, std::size_t n,
                            const FakeQuantizePeriodicParams& p) {
  for (std::size_t i = 0; i < n; ++i) {
    dx[i] = straight_through(dy[i], fake_quantize_one(x[i], p, i % p.period).mask);
  }
}
void fake_quantize_mask(const float* x, std::uint8_t* mask, std::size_t n,
                        const FakeQuantizeParams& p) {
  for (std::size_t i = 0; i < n; ++i) mask[i] = fake_quantize_one(x[i], p).mask ? 1 : 0;
}

}  // namespace quantkit::kernels::reference
