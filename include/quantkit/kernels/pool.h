#pragma once
// Pooling on int8 / uint8 NHWC activations: max_pool2d, avg_pool2d and adaptive (and so
// global) average pooling, with PyTorch's quantized arithmetic.
//
// Output size (PyTorch's pooling_output_shape, pads may differ per side):
//   out = floor_or_ceil((in + pad_begin + pad_end − dilation·(kernel − 1) − 1) / stride) + 1,
//   and with ceil_mode, out − 1 when (out − 1)·stride ≥ in + pad_begin (the last window would
//   start in the padding).
//
// max_pool2d: y = max over the window's taps inside the input (padding never wins); exact,
//   the output has the input's scale and zero point. Every window must hold one valid tap.
//
// avg_pool2d (ATen's quantized NHWC kernel, qavg_pool2d_nhwc / do_avg_pool_nhwc_on_AVX_n):
//   window rows hstart = oy·stride − pad_top, hend = min(hstart + kernel, in_h + pad_bottom),
//   pool_size = (hend − hstart)·(wend − wstart) (padding included), then clipped to the input;
//   size = the count of taps inside the input;
//   divisor = divisor_override if nonzero, else pool_size if count_include_pad, else size
//   acc = Σ_taps x − in_zp·size                                    (int32)
//   multiplier = float32(in_scale) / float32(out_scale) / float32(divisor)   (float32 ops)
//   y = requantize(acc, multiplier, out_zp, qmin, qmax)            (kernels/requantize.h)
// adaptive_avg_pool2d (ATen's _qadaptive_avg_pool_kernel): window rows
//   [floor(oy·in_h / out_h), ceil((oy + 1)·in_h / out_h)) (integer arithmetic), the same for
//   columns, divisor = size, then as above. Global average pooling is out_h = out_w = 1.
// (ATen rounds with lrintf/cvtps on the same float32 product: half to even.)
//
// Kernels: reference (scalar), AVX2 and AVX-512 (channels in the vector lanes: 32 / 64 bytes
// per max step, 8 / 16 int32 sums per average step; masked or scalar tails), one dispatch table
// per ISA level filled once. Every level gives the same bits. Work is split by output pixels
// [begin, end) over n·out_h·out_w.
#include <cstdint>

#include "quantkit/core/dtype.h"

namespace quantkit::kernels {

enum class PoolKind { Max, Average, AdaptiveAverage };

struct PoolParams {
  PoolKind kind = PoolKind::Max;
  DType dtype = DType::Int8;  // input and output: Int8 or UInt8
  std::int64_t channels = 0;
  // Max / Average windows (ignored by AdaptiveAverage).
  int kernel_h = 2, kernel_w = 2;
  int stride_h = 2, stride_w = 2;
  int dilation_h = 1, dilation_w = 1;  // Max only (Average requires 1)
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool ceil_mode = false;
  // Average / AdaptiveAverage.
  bool count_include_pad = true;
  std::int64_t divisor_override = 0;  // 0: none
  double in_scale = 1.0, out_scale = 1.0;
  std::int32_t in_zero_point = 0, out_zero_point = 0;
  std::int32_t qmin = -128, qmax = 127;
  // AdaptiveAverage output size.
  std::int64_t out_h = 1, out_w = 1;
};

struct PoolShape {
  std::int64_t batch = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  std::int64_t in_pixel_stride = 0, out_pixel_stride = 0;  // elements; 0 at setup means C
  std::int64_t output_pixels() const { return batch * out_h * out_w; }
};

// Validates p and the input and returns the geometry (throws Error naming the argument).
PoolShape pool_shape(const PoolParams& p, std::int64_t batch, std::int64_t in_h, std::int64_t in_w,
                     std::int64_t in_pixel_stride = 0, std::int64_t out_pixel_stride = 0);

// The definitions above as plain loops over output pixels [begin, end).
void pool_reference(const PoolParams& p, const PoolShape& s, const void* input, void* output,
                    std::int64_t begin, std::int64_t end);

// The operator: create (validate), setup per shape, run (no allocation, no checks).
class Pool2d {
 public:
  explicit Pool2d(const PoolParams& params);
  const PoolShape& setup(std::int64_t batch, std::int64_t in_h, std::int64_t in_w,
                         std::int64_t in_pixel_stride = 0, std::int64_t out_pixel_stride = 0);
  const PoolShape& shape() const { return shape_; }
  void run(const void* input, void* output, std::int64_t begin, std::int64_t end) const;
  void run_reference(const void* input, void* output, std::int64_t begin, std::int64_t end) const;
  const char* kernel_name() const;

 private:
  PoolParams params_;
  PoolShape shape_;
  float scale_ratio_ = 1.0f;  // float32(in_scale) / float32(out_scale)
};

}  // namespace quantkit::kernels
