#pragma once
// Internal: the packed depthwise problem the vector kernels run, the per-ISA dispatch table,
// and the output-pixel loop they share (it builds each pixel's tap row pointers, padding taps
// pointing at a row of the input zero point, XNNPACK-indirection style without a stored
// buffer).
#include <cstdint>

#include "quantkit/kernels/dwconv.h"
#include "quantkit/kernels/requantize.h"

namespace quantkit::kernels::dwconv_detail {

inline constexpr int kMaxVectorTaps = 64;
inline constexpr std::int64_t kChannelPad = 64;

struct DwConvPlan {
  const DwConvParams* params = nullptr;
  DwConvShape shape;
  std::int64_t c_pad = 0;
  const std::int16_t* weights = nullptr;   // [taps][c_pad]: w − w_zp
  const std::int32_t* bias = nullptr;      // [c_pad]: bias − x_zp·Σ_t (w − w_zp)
  const float* multiplier = nullptr;       // [c_pad]
  const std::uint8_t* zero_row = nullptr;  // [c_pad] bytes of x_zp
  RequantBounds bounds;
  // Tap pairs for vpmaddwd, packed for the kernel's channel block (DepthwiseConv2d::PairPacking).
  const std::int16_t* pair_weights = nullptr;
  const std::int32_t* pair_bias = nullptr;
  const float* pair_multiplier = nullptr;
};

using DwConvFn = void (*)(const DwConvPlan&, const void* input, void* output, std::int64_t begin,
                          std::int64_t end);

// One ISA level's kernels; a null entry means "not available at this level".
struct DwConvKernels {
  int block = 0;  // channels per vector step: selects the pair packing (16 or 32)
  const char* name_3x3 = nullptr;
  const char* name_5x5 = nullptr;
  const char* name_generic = nullptr;
  DwConvFn conv3x3 = nullptr;
  DwConvFn conv5x5 = nullptr;
  DwConvFn generic = nullptr;
};

DwConvKernels dwconv_kernels_avx2();
DwConvKernels dwconv_kernels_avx512();

// Output pixels [begin, end): Kernel::template pixel<kTaps, kSigned>(plan, rows, taps, out)
// computes one pixel from its tap row pointers. kKH = kKW = 0: kernel size at run time.
// Include only from a translation unit whose Kernel type has internal linkage, so that each
// ISA's instantiation stays its own.
template <class Kernel, int kKH, int kKW, bool kSigned>
void dwconv_pixels(const DwConvPlan& plan, const void* input, void* output, std::int64_t begin,
                   std::int64_t end) {
  const DwConvParams& p = *plan.params;
  const DwConvShape& s = plan.shape;
  const int kh = kKH ? kKH : p.kernel_h;
  const int kw = kKW ? kKW : p.kernel_w;
  const int taps = kh * kw;
  const std::int64_t dh = p.dilation_h, dw = p.dilation_w;
  const std::int64_t in_stride = s.in_pixel_stride;
  const std::int64_t image_size = s.in_h * s.in_w * in_stride;
  const auto* in = static_cast<const std::uint8_t*>(input);
  auto* out = static_cast<std::uint8_t*>(output);
  // One more than the taps: kernels that pair taps read rows[taps] (the zero-point row, with
  // zero weights) when the tap count is odd.
  const std::uint8_t* rows[kMaxVectorTaps + 1];
  rows[taps] = plan.zero_row;

  const std::int64_t plane = s.out_h * s.out_w;
  std::int64_t n = begin / plane;
  std::int64_t oy = (begin % plane) / s.out_w;
  std::int64_t ox = begin % s.out_w;
  for (std::int64_t px = begin; px < end; ++px) {
    const std::uint8_t* image = in + n * image_size;
    const std::int64_t iy0 = oy * p.stride_h - p.pad_top;
    const std::int64_t ix0 = ox * p.stride_w - p.pad_left;
    if (iy0 >= 0 && iy0 + (kh - 1) * dh < s.in_h && ix0 >= 0 && ix0 + (kw - 1) * dw < s.in_w) {
      const std::uint8_t* base = image + (iy0 * s.in_w + ix0) * in_stride;
      for (int ky = 0; ky < kh; ++ky) {
        for (int kx = 0; kx < kw; ++kx) {
          rows[ky * kw + kx] = base + (ky * dh * s.in_w + kx * dw) * in_stride;
        }
      }
    } else {
      for (int ky = 0; ky < kh; ++ky) {
        const std::int64_t iy = iy0 + ky * dh;
        for (int kx = 0; kx < kw; ++kx) {
          const std::int64_t ix = ix0 + kx * dw;
          rows[ky * kw + kx] = (iy >= 0 && iy < s.in_h && ix >= 0 && ix < s.in_w)
                                   ? image + (iy * s.in_w + ix) * in_stride
                                   : plan.zero_row;
        }
      }
    }
    Kernel::template pixel<kKH * kKW, kSigned>(plan, rows, taps, out + px * s.out_pixel_stride);
    if (++ox == s.out_w) {
      ox = 0;
      if (++oy == s.out_h) {
        oy = 0;
        ++n;
      }
    }
  }
}

// Dispatch entry: picks the signedness instantiation once per call.
template <class Kernel, int kKH, int kKW>
void dwconv_entry(const DwConvPlan& plan, const void* input, void* output, std::int64_t begin,
                  std::int64_t end) {
  if (plan.params->dtype == DType::Int8) {
    dwconv_pixels<Kernel, kKH, kKW, true>(plan, input, output, begin, end);
  } else {
    dwconv_pixels<Kernel, kKH, kKW, false>(plan, input, output, begin, end);
  }
}

}  // namespace quantkit::kernels::dwconv_detail
