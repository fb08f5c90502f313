// QConv2dNhwc: weights reordered and packed once, a per-shape tile size, and run = (gather a
// tile of K-vectors unless the convolution is pointwise) + the packed integer GEMM with the
// requantization epilogue (gemm_internal.h), one problem per group.
//
// Why gathered tiles rather than an indirect GEMM: the packed GEMM microkernels (portable,
// AVX2, AVX-512BW, AVX-512 VNNI) read each activation row as 4-byte groups at a fixed row
// stride; an indirection buffer would need a second family of microkernels per ISA level
// (one pointer per tap and row). Copying a tile of at most kTileBytes of K-vectors costs
// about K bytes per output pixel against K · OC multiply-adds, and the copy stays in L1/L2
// where the microkernel reads it back. With groups = 1 and dilation_w = 1 the KW taps of one
// kernel row are adjacent in NHWC memory, so a whole kernel row is one copy.
#include "quantkit/kernels/conv_nhwc.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "conv_nhwc_internal.h"
#include "gemm_internal.h"
#include "quantkit/core/error.h"

namespace quantkit::kernels {
namespace {

using gemm_detail::OutputKind;
using gemm_detail::QGemmProblem;
using gemm_detail::wrap_mul;
using gemm_detail::wrap_sub;

// A tile of gathered K-vectors (or, pointwise, of input rows) fits in L2 next to the weight
// panel the microkernel streams (K·64 bytes), and is as large as that allows: each tile runs
// the GEMM over all of the weights, which for resnet's 7×7 stage (2.4 MB) come from L3. Its
// pixel count is a multiple of the AVX-512 row tile (6; AVX2's is 2).
constexpr std::int64_t kTileBytes = 256 * 1024;
constexpr std::int64_t kTileRowMultiple = 6;
constexpr std::int64_t kMaxTilePixels = 384;

// memcpy for the short runs a gather copies (often 3–64 bytes): fixed-size pieces the compiler
// inlines as register moves, overlapping at the end, instead of a library call per tap. Reads
// and writes stay inside [src, src + n) and [dst, dst + n).
inline void copy_run(std::uint8_t* dst, const std::uint8_t* src, std::size_t n) {
  if (n >= 32) {
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) std::memcpy(dst + i, src + i, 32);
    if (i < n) std::memcpy(dst + n - 32, src + n - 32, 32);
  } else if (n >= 16) {
    std::memcpy(dst, src, 16);
    std::memcpy(dst + n - 16, src + n - 16, 16);
  } else if (n >= 8) {
    std::memcpy(dst, src, 8);
    std::memcpy(dst + n - 8, src + n - 8, 8);
  } else if (n >= 4) {
    std::memcpy(dst, src, 4);
    std::memcpy(dst + n - 4, src + n - 4, 4);
  } else {
    for (std::size_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}

// Interior windows copy each kernel row rounded up to whole 32-byte pieces: the extra bytes
// land in the next row's place (written after it) or in the scratch's tail slack, and are read
// only where the input has them.
constexpr std::int64_t kCopyPiece = 32;

inline void copy_pieces(std::uint8_t* dst, const std::uint8_t* src, std::int64_t pieces) {
  for (std::int64_t i = 0; i < pieces; ++i) {
    std::memcpy(dst + i * kCopyPiece, src + i * kCopyPiece, kCopyPiece);
  }
}

std::int64_t tile_pixels_for(std::int64_t row_bytes) {
  const std::int64_t fit = kTileBytes / row_bytes / kTileRowMultiple * kTileRowMultiple;
  return std::clamp(fit, kTileRowMultiple, kMaxTilePixels);
}

}  // namespace

QConv2dNhwc::QConv2dNhwc(QConv2dNhwcParams params, const Tensor& weight,
                         const std::optional<Tensor>& bias)
    : params_(std::move(params)) {
  const QConv2dNhwcParams& p = params_;
  conv_detail::validate_conv2d_nhwc("QConv2dNhwc", p, weight, bias);
  in_per_group_ = p.in_channels / p.groups;
  out_per_group_ = p.out_channels / p.groups;
  const std::int64_t taps = p.kernel_h * p.kernel_w;
  k_per_group_ = taps * in_per_group_;
  pointwise_ = taps == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 &&
               p.pad_left == 0 && p.pad_bottom == 0 && p.pad_right == 0;

  // [OC, ICg, KH, KW] → per group [OCg, (kh·KW + kw)·ICg + ic]: K in the order the NHWC
  // input stores a kernel window.
  const std::int8_t* w = weight.data<std::int8_t>();
  packed_.reserve(static_cast<std::size_t>(p.groups));
  for (std::int64_t g = 0; g < p.groups; ++g) {
    Tensor wg = Tensor::empty({out_per_group_, k_per_group_}, DType::Int8);
    std::int8_t* dst = wg.data<std::int8_t>();
    for (std::int64_t o = 0; o < out_per_group_; ++o) {
      const std::int8_t* src = w + (g * out_per_group_ + o) * in_per_group_ * taps;
      for (std::int64_t ic = 0; ic < in_per_group_; ++ic) {
        for (std::int64_t t = 0; t < taps; ++t) {
          dst[o * k_per_group_ + t * in_per_group_ + ic] = src[ic * taps + t];
        }
      }
    }
    packed_.emplace_back(wg);
  }

  // Zero-point folding (gemm_internal.h) with symmetric weights: col_offset = bias − x_zp'·Σw.
  const bool x_signed = p.x_dtype == DType::Int8;
  const std::int32_t x_zp = x_signed ? p.x_zero_point + 128 : p.x_zero_point;
  padded_n_ = packed_.front().num_blocks() * PackedWeights::kBlockN;
  col_offset_.assign(static_cast<std::size_t>(p.groups * padded_n_), 0);
  multiplier_.assign(static_cast<std::size_t>(p.groups * padded_n_), 0.0f);
  const std::int32_t* b = bias ? bias->data<std::int32_t>() : nullptr;
  for (std::int64_t g = 0; g < p.groups; ++g) {
    for (std::int64_t o = 0; o < out_per_group_; ++o) {
      const std::int64_t oc = g * out_per_group_ + o;
      const std::size_t slot = static_cast<std::size_t>(g * padded_n_ + o);
      col_offset_[slot] = wrap_sub(b ? b[oc] : 0, wrap_mul(x_zp, packed_[g].column_sums()[o]));
      multiplier_[slot] = p.multiplier.size() == 1 ? p.multiplier[0] : p.multiplier[oc];
    }
  }
}

void QConv2dNhwc::setup(std::int64_t batch, std::int64_t height, std::int64_t width) {
  out_ = conv_detail::checked_output_size("QConv2dNhwc::setup", params_, batch, height, width);
  batch_ = batch;
  height_ = height;
  width_ = width;
  if (pointwise_) {
    tile_pixels_ = tile_pixels_for(params_.in_channels);
    scratch_bytes_ = 0;
  } else {
    tile_pixels_ = tile_pixels_for(k_per_group_);
    scratch_bytes_ = static_cast<std::size_t>(tile_pixels_ * k_per_group_ + kCopyPiece);
  }
  ready_ = true;
}

void QConv2dNhwc::run(const void* x, void* y, std::int64_t pixel_begin, std::int64_t pixel_end,
                      void* scratch) const {
  run(x, y, pixel_begin, pixel_end, 0, params_.out_channels, scratch);
}

void QConv2dNhwc::run(const void* x, void* y, std::int64_t pixel_begin, std::int64_t pixel_end,
                      std::int64_t channel_begin, std::int64_t channel_end, void* scratch) const {
  // Checks without building a message unless one fails: run allocates nothing.
  constexpr const char* kWhere = "QConv2dNhwc::run";
  const std::int64_t oc = params_.out_channels;
  if (!ready_) throw_invalid_argument(kWhere, "setup", ready_, "setup() called before run()");
  if (pixel_begin < 0 || pixel_begin > pixel_end) {
    throw_invalid_argument(kWhere, "pixel_begin", pixel_begin,
                           "0 <= pixel_begin <= pixel_end = " + std::to_string(pixel_end));
  }
  if (pixel_end > output_pixels()) {
    throw_invalid_argument(kWhere, "pixel_end", pixel_end,
                           "at most output_pixels() = " + std::to_string(output_pixels()));
  }
  const bool all_channels = channel_begin == 0 && channel_end == oc;
  if (!all_channels && params_.groups != 1) {
    throw_invalid_argument(kWhere, "channel_begin", channel_begin,
                           "the whole range [0, out_channels) when groups > 1");
  }
  if (channel_begin < 0 || channel_begin > channel_end || channel_begin % kChannelTile != 0) {
    throw_invalid_argument(kWhere, "channel_begin", channel_begin,
                           "a multiple of " + std::to_string(kChannelTile) +
                               " in [0, channel_end = " + std::to_string(channel_end) + "]");
  }
  if (channel_end > oc || (channel_end % kChannelTile != 0 && channel_end != oc)) {
    throw_invalid_argument(kWhere, "channel_end", channel_end,
                           "a multiple of " + std::to_string(kChannelTile) +
                               " or out_channels = " + std::to_string(oc) + ", at most that");
  }
  if (scratch == nullptr && scratch_bytes_ != 0) {
    throw_invalid_argument(kWhere, "scratch", "null",
                           std::to_string(scratch_bytes_) + " bytes (scratch_bytes_per_thread())");
  }
  if (pixel_begin == pixel_end || channel_begin == channel_end) return;
  const auto* xb = static_cast<const std::uint8_t*>(x);
  auto* yb = static_cast<std::uint8_t*>(y);
  // Equal tiles of at most tile_pixels_, a multiple of kTileRowMultiple where possible: every
  // tile streams all of the weights through the GEMM, so 49 pixels run as one tile of 49,
  // never as 48 + 1.
  const std::int64_t range = pixel_end - pixel_begin;
  const std::int64_t tiles = (range + tile_pixels_ - 1) / tile_pixels_;
  const std::int64_t even = (range + tiles - 1) / tiles;
  const std::int64_t tile =
      std::min(tile_pixels_, (even + kTileRowMultiple - 1) / kTileRowMultiple * kTileRowMultiple);
  for (std::int64_t t = pixel_begin; t < pixel_end; t += tile) {
    const std::int64_t count = std::min(tile, pixel_end - t);
    for (std::int64_t g = 0; g < params_.groups; ++g) {
      // groups == 1: channels [channel_begin, channel_end); else the whole group.
      QGemmProblem q = group_problem(g, all_channels ? 0 : channel_begin,
                                     all_channels ? out_per_group_ : channel_end);
      q.m = count;
      if (pointwise_) {
        q.x = xb + t * params_.in_channels + g * in_per_group_;
        q.ldx = params_.in_channels;
      } else {
        gather(xb, g, t, count, static_cast<std::uint8_t*>(scratch));
        q.x = static_cast<const std::uint8_t*>(scratch);
        q.ldx = k_per_group_;
      }
      q.y = yb + t * oc + g * out_per_group_ + (all_channels ? 0 : channel_begin);
      q.ldy = oc;
      gemm_detail::qgemm(q);
    }
  }
}

// The GEMM problem of group g's channels [c0, c1) (c0 a multiple of 16) with the
// requantization epilogue; rows, x and y are the caller's.
QGemmProblem QConv2dNhwc::group_problem(std::int64_t g, std::int64_t c0, std::int64_t c1) const {
  const QConv2dNhwcParams& p = params_;
  QGemmProblem q;
  q.n = c1 - c0;
  q.k = k_per_group_;
  q.x_signed = p.x_dtype == DType::Int8;
  q.w = &packed_[g];
  q.w_block = c0 / PackedWeights::kBlockN;
  q.col_offset = col_offset_.data() + g * padded_n_ + c0;
  q.kind = OutputKind::Quantized;
  q.scale = multiplier_.data() + g * padded_n_ + c0;
  q.clamp_lo = static_cast<float>(p.quant_min - p.y_zero_point);
  q.clamp_hi = static_cast<float>(p.quant_max - p.y_zero_point);
  q.out_zero_point = p.y_zero_point;
  return q;
}

// rows[i] = the K-vector of group `group` for output pixel begin + i: for each kernel tap
// (kh, kw) in order, the group's ICg input channels, or x_zp where the tap is padding.
void QConv2dNhwc::gather(const std::uint8_t* x, std::int64_t group, std::int64_t begin,
                         std::int64_t count, std::uint8_t* rows) const {
  // Everything in locals: the byte stores below may alias any member as far as the compiler
  // knows, which would reload each one after every store.
  const QConv2dNhwcParams& p = params_;
  const std::uint8_t fill = static_cast<std::uint8_t>(p.x_zero_point);  // int8: its bits
  const std::int64_t icg = in_per_group_, ic = p.in_channels, k = k_per_group_;
  const std::int64_t kernel_h = p.kernel_h, kernel_w = p.kernel_w;
  const std::int64_t stride_h = p.stride_h, stride_w = p.stride_w;
  const std::int64_t pad_top = p.pad_top, pad_left = p.pad_left;
  const std::int64_t dilation_h = p.dilation_h, dilation_w = p.dilation_w;
  const std::int64_t height = height_, width = width_;
  const std::int64_t out_h = out_.height, out_w = out_.width;
  const auto tap_bytes = static_cast<std::size_t>(icg);
  const auto row_taps_bytes = static_cast<std::size_t>(kernel_w * icg);
  const std::int64_t window_w = (kernel_w - 1) * dilation_w;
  // groups == 1 and dilation_w == 1: a kernel row's taps are adjacent input pixels.
  const bool adjacent_taps = p.groups == 1 && dilation_w == 1;
  const std::uint8_t* x_group = x + group * icg;
  // Interior fast path (adjacent taps, the whole window inside the image): each kernel row
  // as whole pieces, when the input holds the rounded-up bytes after the row.
  const std::int64_t row_pieces = (kernel_w * icg + kCopyPiece - 1) / kCopyPiece;
  const std::int64_t x_bytes = batch_ * height * width * ic;
  const std::int64_t window_h = (kernel_h - 1) * dilation_h;
  const std::int64_t row_stride = dilation_h * width * ic;
  std::int64_t n = begin / (out_h * out_w);
  std::int64_t oh = begin % (out_h * out_w) / out_w;
  std::int64_t ow = begin % out_w;
  const auto next_pixel = [&] {
    if (++ow == out_w) {
      ow = 0;
      if (++oh == out_h) {
        oh = 0;
        ++n;
      }
    }
  };
  for (std::int64_t i = 0; i < count; ++i, next_pixel()) {
    std::uint8_t* dst = rows + i * k;
    const std::int64_t ih0 = oh * stride_h - pad_top;
    const std::int64_t iw0 = ow * stride_w - pad_left;
    const bool row_inside = iw0 >= 0 && iw0 + window_w < width;
    const std::uint8_t* image = x_group + n * height * width * ic;
    if (adjacent_taps && row_inside && ih0 >= 0 && ih0 + window_h < height) {
      const std::int64_t first = n * height * width * ic + (ih0 * width + iw0) * ic;
      if (first + window_h * width * ic + row_pieces * kCopyPiece <= x_bytes) {
        const std::uint8_t* src = x + first;  // groups == 1: x_group == x
        for (std::int64_t kh = 0; kh < kernel_h; ++kh) {
          copy_pieces(dst + kh * row_taps_bytes, src + kh * row_stride, row_pieces);
        }
        continue;
      }
    }
    for (std::int64_t kh = 0; kh < kernel_h; ++kh, dst += row_taps_bytes) {
      const std::int64_t ih = ih0 + kh * dilation_h;
      if (ih < 0 || ih >= height) {
        std::memset(dst, fill, row_taps_bytes);
        continue;
      }
      const std::uint8_t* src = image + ih * width * ic;
      if (adjacent_taps && row_inside) {
        copy_run(dst, src + iw0 * ic, row_taps_bytes);
        continue;
      }
      for (std::int64_t kw = 0; kw < kernel_w; ++kw) {
        const std::int64_t iw = iw0 + kw * dilation_w;
        if (iw < 0 || iw >= width) {
          std::memset(dst + kw * icg, fill, tap_bytes);
        } else {
          copy_run(dst + kw * icg, src + iw * ic, tap_bytes);
        }
      }
    }
  }
}

}  // namespace quantkit::kernels
