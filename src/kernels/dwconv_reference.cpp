// The depthwise convolution's definition (quantkit/kernels/dwconv.h) as plain loops: the
// oracle every vector kernel is tested against.
#include <cstdint>

#include "quantkit/kernels/dwconv.h"
#include "quantkit/kernels/requantize.h"

namespace quantkit::kernels {

void dwconv_reference(const DwConvParams& p, const DwConvShape& s, const std::int8_t* weights,
                      const std::int32_t* bias, const void* input, void* output, std::int64_t begin,
                      std::int64_t end) {
  const bool is_signed = p.dtype == DType::Int8;
  const auto* in = static_cast<const std::uint8_t*>(input);
  auto* out = static_cast<std::uint8_t*>(output);
  const RequantBounds bounds = requant_bounds(p.output_zero_point, p.qmin, p.qmax);
  const bool per_channel = p.multiplier.size() > 1;
  const std::int64_t taps = static_cast<std::int64_t>(p.kernel_h) * p.kernel_w;
  const std::int64_t plane = s.out_h * s.out_w;
  for (std::int64_t px = begin; px < end; ++px) {
    const std::int64_t n = px / plane;
    const std::int64_t oy = (px % plane) / s.out_w;
    const std::int64_t ox = px % s.out_w;
    for (std::int64_t c = 0; c < p.channels; ++c) {
      std::int32_t acc = bias ? bias[c] : 0;
      for (int ky = 0; ky < p.kernel_h; ++ky) {
        const std::int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
        if (iy < 0 || iy >= s.in_h) continue;  // padding: x − x_zp = 0
        for (int kx = 0; kx < p.kernel_w; ++kx) {
          const std::int64_t ix = ox * p.stride_w - p.pad_left + kx * p.dilation_w;
          if (ix < 0 || ix >= s.in_w) continue;
          const std::uint8_t byte = in[((n * s.in_h + iy) * s.in_w + ix) * s.in_pixel_stride + c];
          const std::int32_t x =
              is_signed ? static_cast<std::int32_t>(static_cast<std::int8_t>(byte)) : byte;
          const std::int32_t w = weights[c * taps + ky * p.kernel_w + kx];
          acc = wrapping_add(acc, wrapping_mul(x - p.input_zero_point, w - p.weight_zero_point));
        }
      }
      const float m = p.multiplier[per_channel ? c : 0];
      out[px * s.out_pixel_stride + c] = static_cast<std::uint8_t>(requantize(acc, m, bounds));
    }
  }
}

}  // namespace quantkit::kernels
