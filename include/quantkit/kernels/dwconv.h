#pragma once
// Depthwise 2-d convolution on int8 / uint8 NHWC activations (channel multiplier 1:
// groups == in_channels == out_channels == C), int8 weights, int32 bias, fused requantization.
//
//   acc[n,oy,ox,c] = bias[c] + Σ_{ky,kx} (x[n, iy, ix, c] − x_zp) · (w[c,ky,kx] − w_zp)   (mod
//   2^32)
//     iy = oy·stride_h − pad_top + ky·dilation_h,  ix = ox·stride_w − pad_left + kx·dilation_w
//     a tap outside the input reads x_zp (padding is a real zero), so it adds nothing
//   y[n,oy,ox,c] = requantize(acc, multiplier[c], out_zp, qmin, qmax)   (kernels/requantize.h)
//   out_h = (in_h + pad_top + pad_bottom − dilation_h·(kernel_h − 1) − 1) / stride_h + 1
//
// multiplier[c] = float32(x_scale · w_scale[c] / out_scale) (requant_multipliers in gemm.h);
// relu / relu6 / hardtanh after the conv are the clamp [qmin, qmax].
//
// Layout: input pixel (n, iy, ix) starts at input + ((n·in_h + iy)·in_w + ix)·in_pixel_stride
// and output pixel p = (n·out_h + oy)·out_w + ox at output + p·out_pixel_stride (strides in
// elements, ≥ C; C unless the tensor is a channel slice of a wider one, e.g. a concat).
//
// Kernels (one dispatch table per ISA level, filled once; see docs/kernels.md):
//   reference  plain loops over the unpacked weights — the definition, any parameters.
//   avx2/avx512  the input zero point folded into the bias (bias − x_zp·Σ_t w'), padding
//              taps pointed at a row of x_zp bytes (no branches in the inner loop); channels
//              in the vector lanes (16 / 32 per step); taps in pairs: the two taps' inputs
//              widened to int16 and interleaved (vpunpck{l,h}wd) meet weights packed in the
//              same order in vpmaddwd (exact: |x·w'| ≤ 255·128 < 2^15), int32 accumulators,
//              the requantization in registers before the only store. 3×3 and 5×5 have their
//              taps unrolled; other kernels of up to 64 taps run the generic instantiation.
//              Larger kernels, or w − w_zp outside int8, run the reference at every level.
// Every level gives the same bits; results do not depend on how [begin, end) is split.
#include <cstdint>
#include <span>
#include <vector>

#include "quantkit/core/dtype.h"

namespace quantkit::kernels {

struct DwConvParams {
  std::int64_t channels = 0;  // C ≥ 1
  int kernel_h = 3, kernel_w = 3;
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  DType dtype = DType::Int8;  // activations, input and output: Int8 or UInt8
  std::int32_t input_zero_point = 0;
  std::int32_t weight_zero_point = 0;  // per tensor (weights are int8)
  std::int32_t output_zero_point = 0;
  std::int32_t qmin = -128, qmax = 127;  // output clamp, inside dtype's range
  std::vector<float> multiplier;         // 1 (per tensor) or C finite values > 0
};

// The geometry of one setup (all in elements).
struct DwConvShape {
  std::int64_t batch = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  std::int64_t in_pixel_stride = 0, out_pixel_stride = 0;
  std::int64_t output_pixels() const { return batch * out_h * out_w; }
};

// Validates p and the input geometry and returns the output geometry; strides 0 mean C.
// Throws Error naming `where` and the offending argument.
DwConvShape dwconv_shape(const char* where, const DwConvParams& p, std::int64_t batch,
                         std::int64_t in_h, std::int64_t in_w, std::int64_t in_pixel_stride = 0,
                         std::int64_t out_pixel_stride = 0);

// The definition as plain loops: output pixels [begin, end) of shape s. weights int8 in
// PyTorch's depthwise layout [C, 1, KH, KW] (C·KH·KW values); bias C values or null.
void dwconv_reference(const DwConvParams& p, const DwConvShape& s, const std::int8_t* weights,
                      const std::int32_t* bias, const void* input, void* output, std::int64_t begin,
                      std::int64_t end);

// The operator: create once (weights packed), setup once per input shape, run many times
// (no allocation, no argument checks; any number of threads on disjoint [begin, end)).
class DepthwiseConv2d {
 public:
  // weights: C·KH·KW int8 in [C, 1, KH, KW] order; bias: empty (zero) or C values.
  DepthwiseConv2d(DwConvParams params, std::span<const std::int8_t> weights,
                  std::span<const std::int32_t> bias = {});

  const DwConvShape& setup(std::int64_t batch, std::int64_t in_h, std::int64_t in_w,
                           std::int64_t in_pixel_stride = 0, std::int64_t out_pixel_stride = 0);
  const DwConvShape& shape() const { return shape_; }
  const DwConvParams& params() const { return params_; }

  // Output pixels [begin, end) ⊆ [0, shape().output_pixels()) with the kernel of active_isa().
  void run(const void* input, void* output, std::int64_t begin, std::int64_t end) const;
  // The same pixels through dwconv_reference (the oracle).
  void run_reference(const void* input, void* output, std::int64_t begin, std::int64_t end) const;
  // Which kernel run() uses now: "reference", "avx2_3x3", "avx512_generic", ...
  const char* kernel_name() const;

 private:
  DwConvParams params_;
  DwConvShape shape_;
  std::vector<std::int8_t> weights_;  // [C, KH, KW] as given (the reference reads them)
  std::vector<std::int32_t> bias_;    // C values
  // Packed for the vector kernels (channels padded to kChannelPad).
  bool packed_ok_ = false;  // w − w_zp fits int8 and taps ≤ 64
  std::int64_t c_pad_ = 0;
  std::vector<std::int16_t> packed_weights_;  // [KH·KW][c_pad] of w − w_zp
  std::vector<std::int32_t> folded_bias_;     // bias − x_zp·Σ_t (w − w_zp)   (mod 2^32)
  std::vector<float> multipliers_;            // c_pad values
  std::vector<std::uint8_t> zero_row_;        // c_pad bytes of x_zp (padding taps read it)

 public:
  // Tap pairs for vpmaddwd, for vector blocks of B channels (16: AVX2, 32: AVX-512). Pair p
  // holds taps 2p and 2p+1 (a missing last tap has weight 0). Per block b and pair p: a "lo"
  // and a "hi" half of B int16 each; element e of a half is channel
  // b·B + 8·(e / 8) + (e % 8) / 2 (+ 4 for hi), tap 2p + e % 2: the order vpunpck{l,h}wd
  // gives two taps' inputs. Bias and multipliers per block: B/2 "lo" channels
  // b·B + 8·(i / 4) + i % 4, then the B/2 "hi" ones (+ 4): the order of vpmaddwd's sums.
  struct PairPacking {
    std::vector<std::int16_t> weights;
    std::vector<std::int32_t> bias;
    std::vector<float> multiplier;
  };

 private:
  PairPacking pack_pairs(std::int64_t block) const;
  PairPacking pairs16_, pairs32_;
};

}  // namespace quantkit::kernels
