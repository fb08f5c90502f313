#pragma once
// Element kernels of uniform affine quantization, bit-exact with PyTorch 1.13 (the formulas
// are in include/quantkit/quant/affine.h). These are the raw loops behind quant/affine.h:
// they take pre-computed float32 parameters and validate nothing but what the struct
// constructors check; callers validate tensors and arguments.
//
// Every kernel has a portable reference (src/kernels/affine_reference.cpp) and AVX2 /
// AVX-512 versions chosen at run time through kernels::active_isa(). All paths give
// identical bits, including for NaN, +-inf, -0.0 and denormals:
//   +inf -> quant_max, -inf -> quant_min, NaN -> quant_min; the STE mask is false for all
//   three. Denormals are not flushed (the kernels never touch MXCSR).
//
// Two layouts:
//  * "broadcast": one parameter set for all n elements (per tensor, one channel run, one
//    group);
//  * "periodic": element i uses parameter set i % period (per channel with inner == 1, i.e.
//    the channel axis is the last one, or a short [C, inner] pattern expanded by the caller).
//    n need not be a multiple of period.
#include <cstddef>
#include <cstdint>

namespace quantkit::kernels {

// ---- quantize: q = clamp(int(zero_point + nearbyint(x * inv_scale)), quant_min, quant_max)
struct QuantizeParams {
  float inv_scale = 1.0f;   // 1.0f / float32(scale)
  float zero_point = 0.0f;  // float32(zero_point); added AFTER rounding, in float32
  std::int32_t quant_min = 0;
  std::int32_t quant_max = 255;  // quant_min <= quant_max, both inside the output dtype
};

struct QuantizePeriodicParams {
  const float* inv_scales = nullptr;   // [period]
  const float* zero_points = nullptr;  // [period], float32(zero_point_c)
  std::size_t period = 1;
  std::int32_t quant_min = 0;
  std::int32_t quant_max = 255;
};

void quantize(const float* x, std::int8_t* q, std::size_t n, const QuantizeParams& p);
void quantize(const float* x, std::uint8_t* q, std::size_t n, const QuantizeParams& p);
void quantize(const float* x, std::int16_t* q, std::size_t n, const QuantizeParams& p);
void quantize(const float* x, std::int32_t* q, std::size_t n, const QuantizeParams& p);
void quantize(const float* x, std::int8_t* q, std::size_t n, const QuantizePeriodicParams& p);
void quantize(const float* x, std::uint8_t* q, std::size_t n, const QuantizePeriodicParams& p);
void quantize(const float* x, std::int16_t* q, std::size_t n, const QuantizePeriodicParams& p);
void quantize(const float* x, std::int32_t* q, std::size_t n, const QuantizePeriodicParams& p);

// ---- dequantize, per-tensor formula: y = scale * float32(q - zero_point)
// (q - zero_point is exact in int64 here; torch computes it in int32, where it can overflow
// for int32 codes: that case is undefined in torch.)
struct DequantizeParams {
  float scale = 1.0f;  // float32(scale)
  std::int32_t zero_point = 0;
};

void dequantize(const std::int8_t* q, float* y, std::size_t n, const DequantizeParams& p);
void dequantize(const std::uint8_t* q, float* y, std::size_t n, const DequantizeParams& p);
void dequantize(const std::int16_t* q, float* y, std::size_t n, const DequantizeParams& p);
void dequantize(const std::int32_t* q, float* y, std::size_t n, const DequantizeParams& p);

// ---- dequantize, per-channel formula:
//      y = float32(double(float32(q) - zero_point) * scale)   (scale is the unrounded double)
struct DequantizeChannelParams {
  double scale = 1.0;
  float zero_point = 0.0f;  // float32(zero_point_c)
};

struct DequantizeChannelPeriodicParams {
  const double* scales = nullptr;      // [period]
  const float* zero_points = nullptr;  // [period], float32(zero_point_c)
  std::size_t period = 1;
};

void dequantize(const std::int8_t* q, float* y, std::size_t n, const DequantizeChannelParams& p);
void dequantize(const std::uint8_t* q, float* y, std::size_t n, const DequantizeChannelParams& p);
void dequantize(const std::int16_t* q, float* y, std::size_t n, const DequantizeChannelParams& p);
void dequantize(const std::int32_t* q, float* y, std::size_t n, const DequantizeChannelParams& p);
void dequantize(const std::int8_t* q, float* y, std::size_t n,
                const DequantizeChannelPeriodicParams& p);
void dequantize(const std::uint8_t* q, float* y, std::size_t n,
                const DequantizeChannelPeriodicParams& p);
void dequantize(const std::int16_t* q, float* y, std::size_t n,
                const DequantizeChannelPeriodicParams& p);
void dequantize(const std::int32_t* q, float* y, std::size_t n,
                const DequantizeChannelPeriodicParams& p);

// ---- fake quantize:
//   integer zero point: q = zp + nearbyint(x * inv_scale)         (float32 add after rounding)
//   float zero point:   q = nearbyint(fma(x, inv_scale, zp))       (one rounding)
//   y = float32((double(clamp(q, quant_min, quant_max)) - double(zp)) * double(scale))
//   mask = quant_min <= q <= quant_max on the unclamped q; dx = dy * float(mask)
// Build the parameters with the two factories: they derive the exact mask bounds.
struct FakeQuantizeParams {
  float scale = 1.0f;       // s = float32(scale)
  float inv_scale = 1.0f;   // 1.0f / s
  float zero_point_add = 0.0f;   // float32(zp): what the rounding step adds
  double zero_point_sub = 0.0;   // zp exactly: what the output step subtracts
  float mask_min = 0.0f;    // q >= mask_min && q <= mask_max <=> mask (q is a float32)
  float mask_max = 255.0f;
  std::int32_t quant_min = 0;
  std::int32_t quant_max = 255;
  bool float_zero_point = false;  // fused rounding (see above)

  // torch's int zero point: mask is the exact integer comparison.
  static FakeQuantizeParams with_integer_zero_point(float scale, std::int32_t zero_point,
                                                    std::int32_t quant_min,
                                                    std::int32_t quant_max);
  // per_channel_affine_float_qparams: torch compares the float q with float32(quant_min/max).
  static FakeQuantizeParams with_float_zero_point(float scale, float zero_point,
                                                  std::int32_t quant_min,
                                                  std::int32_t quant_max);
};

// Periodic fake quantize. Precondition (checked by fake_quantize_periodic_supported):
// |quant_min|, |quant_max| <= 2^24, so every bound and integer zero point is a float32.
struct FakeQuantizePeriodicParams {
  const float* scales = nullptr;       // [period], s_c = float32(scale_c)
  const float* inv_scales = nullptr;   // [period], 1.0f / s_c
  const float* zero_points = nullptr;  // [period]; integer-valued unless float_zero_point
  std::size_t period = 1;
  std::int32_t quant_min = 0;
  std::int32_t quant_max = 255;
  bool float_zero_point = false;
};
bool fake_quantize_periodic_supported(std::int64_t quant_min, std::int64_t quant_max);

void fake_quantize(const float* x, float* y, std::size_t n, const FakeQuantizeParams& p);
void fake_quantize(const float* x, float* y, std::size_t n, const FakeQuantizePeriodicParams& p);
// Straight-through estimator: dx = dy * float(mask(x)).
void fake_quantize_backward(const float* dy, const float* x, float* dx, std::size_t n,
                            const FakeQuantizeParams& p);
void fake_quantize_backward(const float* dy, const float* x, float* dx, std::size_t n,
                            const FakeQuantizePeriodicParams& p);
// The STE mask itself (1 = gradient passes), for callers that cache it like torch's
// fake_quantize_*_cachemask.
void fake_quantize_mask(const float* x, std::uint8_t* mask, std::size_t n,
                        const FakeQuantizeParams& p);

}  // namespace quantkit::kernels
