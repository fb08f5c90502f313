#pragma once
// Quantized 2-D convolution on channels-last activations (NHWC: channels innermost), int8 or
// uint8 in and out, int8 symmetric weights, int32 bias, and the runtime's requantization
// (gemm.h's RequantEpilogue; docs/kernels.md, "Requantization"):
//
//   acc[p][oc] = Σ_{kh,kw,ic} (x[n][ih][iw][g·ICg + ic] − x_zp) · w[oc][ic][kh][kw] + bias[oc]
//                                                                               (mod 2^32)
//     ih = oh·stride_h − pad_top + kh·dilation_h, iw likewise; taps outside the input read
//     x_zp (contribute 0); g = oc / OCg, ICg = IC / groups, OCg = OC / groups
//   v = float32(acc) · multiplier[oc]                      (float32 multiply, no FMA)
//   v = min(max(v, float(qmin − y_zp)), float(qmax − y_zp))
//   y[p][oc] = round_half_to_even(v) + y_zp
//
// relu / relu6 / hardtanh after the convolution are folded into [qmin, qmax] by the caller.
// Weight zero points are 0 (symmetric int8 weights, as XNNPACK and PyTorch's qnnpack/x86
// convolution quantizers produce).
//
// How it runs (QConv2dNhwc): the weights are reordered per group to [OCg][KH][KW][ICg] and
// packed once for the integer GEMM (gemm.h PackedWeights). A 1×1, stride-1, unpadded
// convolution is that GEMM over pixels reading the NHWC rows in place (grouped: a channel
// slice of each row). Every other convolution gathers the K-vectors of a tile of output
// pixels (about 256 KiB, in the caller's per-thread scratch; padding taps filled with x_zp)
// and runs the same packed GEMM microkernel on them; the requantization runs in the GEMM's
// epilogue on the accumulators in registers and stores NHWC output directly. Each output
// pixel's bits depend only on its own inputs, never on the tiling, the pixel range a call
// covers or the ISA level: every kernel equals conv2d_nhwc_reference bit for bit.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "quantkit/core/dtype.h"
#include "quantkit/core/tensor.h"
#include "quantkit/kernels/gemm.h"

namespace quantkit::kernels {

namespace gemm_detail {
struct QGemmProblem;  // src/kernels/gemm_internal.h
}

// One params struct for the fast operator and its reference.
struct QConv2dNhwcParams {
  std::int64_t in_channels = 0;   // IC, all groups together; a multiple of groups
  std::int64_t out_channels = 0;  // OC, a multiple of groups
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;  // >= 0
  std::int64_t dilation_h = 1, dilation_w = 1;
  std::int64_t groups = 1;
  DType x_dtype = DType::UInt8;  // UInt8 or Int8
  std::int32_t x_zero_point = 0;
  DType y_dtype = DType::UInt8;  // UInt8 or Int8
  std::int32_t y_zero_point = 0;
  std::int32_t quant_min = 0;  // inside y_dtype's range, quant_min <= quant_max
  std::int32_t quant_max = 255;
  // 1 (per tensor) or OC (per channel) finite values > 0: requant_multipliers(x_scale,
  // w_scales, y_scale) computes them.
  std::vector<float> multiplier;
};

struct ConvOutputSize {
  std::int64_t height = 0;
  std::int64_t width = 0;
};

// Output height/width for an input of height × width; throws Error when the (dilated) kernel
// does not fit the padded input.
ConvOutputSize conv2d_output_size(const QConv2dNhwcParams& params, std::int64_t height,
                                  std::int64_t width);

// The definition above as plain loops: x is [batch, height, width, IC] of x_dtype, y receives
// [batch, OH, OW, OC] of y_dtype. weight: int8 [OC, IC/groups, KH, KW] (PyTorch's layout);
// bias: int32 [OC] or none. Throws Error on invalid parameters.
void conv2d_nhwc_reference(const QConv2dNhwcParams& params, const Tensor& weight,
                           const std::optional<Tensor>& bias, const void* x, void* y,
                           std::int64_t batch, std::int64_t height, std::int64_t width);

// The operator the runtime runs: create once (weights packed), setup per input shape, run
// over ranges of output pixels from any number of threads at once (run is const and touches
// only its scratch and its output pixels).
class QConv2dNhwc {
 public:
  // Same arguments as conv2d_nhwc_reference; throws Error on invalid ones.
  QConv2dNhwc(QConv2dNhwcParams params, const Tensor& weight,
              const std::optional<Tensor>& bias = std::nullopt);

  // Prepares for inputs [batch, height, width, IC]; the only place that sizes anything.
  void setup(std::int64_t batch, std::int64_t height, std::int64_t width);

  std::int64_t output_height() const { return out_.height; }
  std::int64_t output_width() const { return out_.width; }
  // batch · OH · OW: run's pixel range is [0, output_pixels()).
  std::int64_t output_pixels() const { return batch_ * out_.height * out_.width; }
  // Bytes of scratch each concurrent run call needs (0 for the GEMM-over-pixels path).
  std::size_t scratch_bytes_per_thread() const { return scratch_bytes_; }
  // Whether this convolution is a GEMM over the NHWC pixels (1×1, stride 1, no padding).
  bool is_pointwise() const { return pointwise_; }
  const QConv2dNhwcParams& params() const { return params_; }

  // Computes output pixels [pixel_begin, pixel_end) of the flattened (n, oh, ow) range:
  // x is the whole input [batch, H, W, IC], y the whole output [batch, OH, OW, OC]. scratch:
  // scratch_bytes_per_thread() bytes, any alignment, owned by the calling thread (may be
  // null when that is 0). Allocates nothing; throws Error before setup or for a bad range.
  void run(const void* x, void* y, std::int64_t pixel_begin, std::int64_t pixel_end,
           void* scratch) const;

  // The same for output channels [channel_begin, channel_end) only: a second axis to split
  // work on when there are few pixels and many channels (7×7 layers: each thread then streams
  // only its share of the weights). Both bounds multiples of kChannelTile (the AVX-512
  // panel), or channel_end = out_channels; groups > 1 takes only [0, out_channels). Every
  // output element's bits are the same for every split.
  static constexpr std::int64_t kChannelTile = 64;
  void run(const void* x, void* y, std::int64_t pixel_begin, std::int64_t pixel_end,
           std::int64_t channel_begin, std::int64_t channel_end, void* scratch) const;

 private:
  gemm_detail::QGemmProblem group_problem(std::int64_t group, std::int64_t c0,
                                          std::int64_t c1) const;
  void gather(const std::uint8_t* x, std::int64_t group, std::int64_t begin, std::int64_t count,
              std::uint8_t* rows) const;

  QConv2dNhwcParams params_;
  std::int64_t in_per_group_ = 0, out_per_group_ = 0, k_per_group_ = 0;
  bool pointwise_ = false;
  std::vector<PackedWeights> packed_;  // one per group: [OCg, KH·KW·ICg]
  // Per group, padded to the packed width (PackedWeights::num_blocks() · 16) so vector loads
  // stay inside: the folded zero-point / bias offsets and the multipliers.
  std::int64_t padded_n_ = 0;
  std::vector<std::int32_t> col_offset_;
  std::vector<float> multiplier_;

  // setup's results.
  bool ready_ = false;
  std::int64_t batch_ = 0, height_ = 0, width_ = 0;
  ConvOutputSize out_;
  std::int64_t tile_pixels_ = 0;
  std::size_t scratch_bytes_ = 0;
};

}  // namespace quantkit::kernels
