#pragma once
// Internal: the per-ISA entry points behind include/quantkit/kernels/affine_kernels.h.
// reference:: is the portable, obviously-correct scalar code; avx2:: and avx512:: must match
// it bit for bit. affine_dispatch.cpp picks one by kernels::active_isa().
#include "quantkit/kernels/affine_kernels.h"

// Every affine kernel signature, declared once per ISA namespace.
#define QUANTKIT_AFFINE_KERNEL_DECLARATIONS                                                    \
  void quantize(const float* x, std::int8_t* q, std::size_t n, const QuantizeParams& p);       \
  void quantize(const float* x, std::uint8_t* q, std::size_t n, const QuantizeParams& p);      \
  void quantize(const float* x, std::int16_t* q, std::size_t n, const QuantizeParams& p);      \
  void quantize(const float* x, std::int32_t* q, std::size_t n, const QuantizeParams& p);      \
  void quantize(const float* x, std::int8_t* q, std::size_t n, const QuantizePeriodicParams& p); \
  void quantize(const float* x, std::uint8_t* q, std::size_t n,                                \
                const QuantizePeriodicParams& p);                                              \
  void quantize(const float* x, std::int16_t* q, std::size_t n,                                \
                const QuantizePeriodicParams& p);                                              \
  void quantize(const float* x, std::int32_t* q, std::size_t n,                                \
                const QuantizePeriodicParams& p);                                              \
  void dequantize(const std::int8_t* q, float* y, std::size_t n, const DequantizeParams& p);   \
  void dequantize(const std::uint8_t* q, float* y, std::size_t n, const DequantizeParams& p);  \
  void dequantize(const std::int16_t* q, float* y, std::size_t n, const DequantizeParams& p);  \
  void dequantize(const std::int32_t* q, float* y, std::size_t n, const DequantizeParams& p);  \
  void dequantize(const std::int8_t* q, float* y, std::size_t n,                               \
                  const DequantizeChannelParams& p);                                           \
  void dequantize(const std::uint8_t* q, float* y, std::size_t n,                              \
                  const DequantizeChannelParams& p);                                           \
  void dequantize(const std::int16_t* q, float* y, std::size_t n,                              \
                  const DequantizeChannelParams& p);                                           \
  void dequantize(const std::int32_t* q, float* y, std::size_t n,                              \
                  const DequantizeChannelParams& p);                                           \
  void dequantize(const std::int8_t* q, float* y, std::size_t n,                               \
                  const DequantizeChannelPeriodicParams& p);                                   \
  void dequantize(const std::uint8_t* q, float* y, std::size_t n,                              \
                  const DequantizeChannelPeriodicParams& p);                                   \
  void dequantize(const std::int16_t* q, float* y, std::size_t n,                              \
                  const DequantizeChannelPeriodicParams& p);                                   \
  void dequantize(const std::int32_t* q, float* y, std::size_t n,                              \
                  const DequantizeChannelPeriodicParams& p);                                   \
  void fake_quantize(const float* x, float* y, std::size_t n, const FakeQuantizeParams& p);    \
  void fake_quantize(const float* x, float* y, std::size_t n,                                  \
                     const FakeQuantizePeriodicParams& p);                                     \
  void fake_quantize_backward(const float* dy, const float* x, float* dx, std::size_t n,       \
                              const FakeQuantizeParams& p);                                    \
  void fake_quantize_backward(const float* dy, const float* x, float* dx, std::size_t n,       \
                              const FakeQuantizePeriodicParams& p);                            \
  void fake_quantize_mask(const float* x, std::uint8_t* mask, std::size_t n,                   \
                          const FakeQuantizeParams& p);

namespace quantkit::kernels {
namespace reference {
QUANTKIT_AFFINE_KERNEL_DECLARATIONS
}  // namespace reference
namespace avx2 {
QUANTKIT_AFFINE_KERNEL_DECLARATIONS
}  // namespace avx2
namespace avx512 {
QUANTKIT_AFFINE_KERNEL_DECLARATIONS
}  // namespace avx512
}  // namespace quantkit::kernels
