// DepthwiseConv2d: argument checks, weight packing and the dispatch table (one per ISA level,
// filled once from the CPU features; MLAS platform.cpp style).
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <utility>

#include "dwconv_internal.h"
#include "quantkit/core/error.h"
#include "quantkit/kernels/cpu_features.h"

namespace quantkit::kernels {
namespace {

using dwconv_detail::DwConvKernels;

const DwConvKernels& dwconv_table(IsaLevel level) {
  static const std::array<DwConvKernels, 3> tables = [] {
    std::array<DwConvKernels, 3> t{};  // Portable: no vector kernels, the reference runs
    const IsaLevel top = detected_isa();
    if (top >= IsaLevel::Avx2) t[1] = dwconv_detail::dwconv_kernels_avx2();
    if (top >= IsaLevel::Avx512) t[2] = dwconv_detail::dwconv_kernels_avx512();
    return t;
  }();
  return tables[static_cast<int>(level)];
}

struct Selected {
  dwconv_detail::DwConvFn fn = nullptr;
  const char* name = "reference";
  int block = 0;
};

Selected select(const DwConvParams& p, bool packed_ok) {
  if (!packed_ok) return {};
  const DwConvKernels& k = dwconv_table(active_isa());
  if (p.kernel_h == 3 && p.kernel_w == 3 && k.conv3x3) return {k.conv3x3, k.name_3x3, k.block};
  if (p.kernel_h == 5 && p.kernel_w == 5 && k.conv5x5) return {k.conv5x5, k.name_5x5, k.block};
  if (k.generic) return {k.generic, k.name_generic, k.block};
  return {};
}

void check_params(const char* where, const DwConvParams& p) {
  check_argument(p.channels >= 1, where, "channels", p.channels, ">= 1");
  check_argument(p.kernel_h >= 1 && p.kernel_w >= 1, where, "kernel_h",
                 p.kernel_h < 1 ? p.kernel_h : p.kernel_w, "kernel sizes >= 1");
  check_argument(p.stride_h >= 1 && p.stride_w >= 1, where, "stride_h",
                 p.stride_h < 1 ? p.stride_h : p.stride_w, "strides >= 1");
  check_argument(p.dilation_h >= 1 && p.dilation_w >= 1, where, "dilation_h",
                 p.dilation_h < 1 ? p.dilation_h : p.dilation_w, "dilations >= 1");
  check_argument(p.pad_top >= 0 && p.pad_left >= 0 && p.pad_bottom >= 0 && p.pad_right >= 0, where,
                 "pad_top", std::min({p.pad_top, p.pad_left, p.pad_bottom, p.pad_right}),
                 "paddings >= 0");
  check_argument(p.dtype == DType::Int8 || p.dtype == DType::UInt8, where, "dtype",
                 dtype_name(p.dtype), "int8 or uint8");
  const std::int64_t lo = dtype_min(p.dtype), hi = dtype_max(p.dtype);
  check_argument(p.input_zero_point >= lo && p.input_zero_point <= hi, where, "input_zero_point",
                 p.input_zero_point, "inside the dtype's range");
  check_argument(p.output_zero_point >= lo && p.output_zero_point <= hi, where, "output_zero_point",
                 p.output_zero_point, "inside the dtype's range");
  check_argument(p.weight_zero_point >= -128 && p.weight_zero_point <= 127, where,
                 "weight_zero_point", p.weight_zero_point, "inside int8's range");
  check_argument(p.qmin >= lo && p.qmin <= p.qmax && p.qmax <= hi, where, "qmin", p.qmin,
                 "lo <= qmin <= qmax <= hi of the dtype");
  check_argument(
      p.multiplier.size() == 1 || static_cast<std::int64_t>(p.multiplier.size()) == p.channels,
      where, "multiplier.size()", p.multiplier.size(), "1 or channels");
  for (float m : p.multiplier) {
    check_argument(std::isfinite(m) && m > 0.0f, where, "multiplier", m, "finite and > 0");
  }
}

}  // namespace

DwConvShape dwconv_shape(const char* where, const DwConvParams& p, std::int64_t batch,
                         std::int64_t in_h, std::int64_t in_w, std::int64_t in_pixel_stride,
                         std::int64_t out_pixel_stride) {
  check_params(where, p);
  check_argument(batch >= 1, where, "batch", batch, ">= 1");
  check_argument(in_h >= 1 && in_w >= 1, where, "in_h", in_h < 1 ? in_h : in_w, "sizes >= 1");
  DwConvShape s;
  s.batch = batch;
  s.in_h = in_h;
  s.in_w = in_w;
  s.in_pixel_stride = in_pixel_stride == 0 ? p.channels : in_pixel_stride;
  s.out_pixel_stride = out_pixel_stride == 0 ? p.channels : out_pixel_stride;
  check_argument(s.in_pixel_stride >= p.channels, where, "in_pixel_stride", s.in_pixel_stride,
                 ">= channels");
  check_argument(s.out_pixel_stride >= p.channels, where, "out_pixel_stride", s.out_pixel_stride,
                 ">= channels");
  const std::int64_t span_h = static_cast<std::int64_t>(p.dilation_h) * (p.kernel_h - 1) + 1;
  const std::int64_t span_w = static_cast<std::int64_t>(p.dilation_w) * (p.kernel_w - 1) + 1;
  const std::int64_t padded_h = in_h + p.pad_top + p.pad_bottom;
  const std::int64_t padded_w = in_w + p.pad_left + p.pad_right;
  check_argument(padded_h >= span_h && padded_w >= span_w, where, "in_h",
                 padded_h < span_h ? in_h : in_w, "a padded input at least the kernel's span");
  s.out_h = (padded_h - span_h) / p.stride_h + 1;
  s.out_w = (padded_w - span_w) / p.stride_w + 1;
  return s;
}

DepthwiseConv2d::DepthwiseConv2d(DwConvParams params, std::span<const std::int8_t> weights,
                                 std::span<const std::int32_t> bias)
    : params_(std::move(params)) {
  constexpr const char* kWhere = "DepthwiseConv2d";
  check_params(kWhere, params_);
  const std::int64_t c = params_.channels;
  const std::int64_t taps = static_cast<std::int64_t>(params_.kernel_h) * params_.kernel_w;
  check_argument(static_cast<std::int64_t>(weights.size()) == c * taps, kWhere, "weights.size()",
                 weights.size(), "channels * kernel_h * kernel_w");
  check_argument(bias.empty() || static_cast<std::int64_t>(bias.size()) == c, kWhere, "bias.size()",
                 bias.size(), "0 or channels");
  weights_.assign(weights.begin(), weights.end());
  bias_.assign(static_cast<std::size_t>(c), 0);
  if (!bias.empty()) bias_.assign(bias.begin(), bias.end());

  // int16 products are exact only while w − w_zp fits int8 (|x·w'| ≤ 255·128 < 2^15).
  packed_ok_ = taps <= dwconv_detail::kMaxVectorTaps;
  for (std::int8_t w : weights_) {
    const std::int32_t wq = w - params_.weight_zero_point;
    if (wq < -128 || wq > 127) packed_ok_ = false;
  }
  c_pad_ = (c + dwconv_detail::kChannelPad - 1) / dwconv_detail::kChannelPad *
           dwconv_detail::kChannelPad;
  packed_weights_.assign(static_cast<std::size_t>(taps * c_pad_), 0);
  folded_bias_.assign(static_cast<std::size_t>(c_pad_), 0);
  multipliers_.assign(static_cast<std::size_t>(c_pad_), 1.0f);
  zero_row_.assign(static_cast<std::size_t>(c_pad_),
                   static_cast<std::uint8_t>(params_.input_zero_point));
  for (std::int64_t ch = 0; ch < c; ++ch) {
    std::int32_t sum = 0;
    for (std::int64_t t = 0; t < taps; ++t) {
      const std::int32_t wq = weights_[ch * taps + t] - params_.weight_zero_point;
      packed_weights_[t * c_pad_ + ch] = static_cast<std::int16_t>(wq);
      sum = wrapping_add(sum, wq);
    }
    folded_bias_[ch] = wrapping_add(bias_[ch], wrapping_mul(-params_.input_zero_point, sum));
    multipliers_[ch] = params_.multiplier[params_.multiplier.size() > 1 ? ch : 0];
  }
  if (packed_ok_) {
    pairs16_ = pack_pairs(16);
    pairs32_ = pack_pairs(32);
  }
}

DepthwiseConv2d::PairPacking DepthwiseConv2d::pack_pairs(std::int64_t block) const {
  const std::int64_t c = params_.channels;
  const std::int64_t taps = static_cast<std::int64_t>(params_.kernel_h) * params_.kernel_w;
  const std::int64_t pairs = (taps + 1) / 2;
  const std::int64_t blocks = c_pad_ / block;
  PairPacking out;
  out.weights.assign(static_cast<std::size_t>(blocks * pairs * 2 * block), 0);
  out.bias.assign(static_cast<std::size_t>(c_pad_), 0);
  out.multiplier.assign(static_cast<std::size_t>(c_pad_), 1.0f);
  for (std::int64_t b = 0; b < blocks; ++b) {
    for (std::int64_t p = 0; p < pairs; ++p) {
      for (std::int64_t half = 0; half < 2; ++half) {
        for (std::int64_t e = 0; e < block; ++e) {
          const std::int64_t ch = b * block + 8 * (e / 8) + (e % 8) / 2 + 4 * half;
          const std::int64_t tap = 2 * p + e % 2;
          if (ch >= c || tap >= taps) continue;
          out.weights[static_cast<std::size_t>(((b * pairs + p) * 2 + half) * block + e)] =
              packed_weights_[tap * c_pad_ + ch];
        }
      }
    }
    for (std::int64_t e = 0; e < block; ++e) {
      const std::int64_t half = e / (block / 2), i = e % (block / 2);
      const std::int64_t ch = b * block + 8 * (i / 4) + i % 4 + 4 * half;
      out.bias[static_cast<std::size_t>(b * block + e)] = folded_bias_[ch];
      out.multiplier[static_cast<std::size_t>(b * block + e)] = multipliers_[ch];
    }
  }
  return out;
}

const DwConvShape& DepthwiseConv2d::setup(std::int64_t batch, std::int64_t in_h, std::int64_t in_w,
                                          std::int64_t in_pixel_stride,
                                          std::int64_t out_pixel_stride) {
  shape_ = dwconv_shape("DepthwiseConv2d::setup", params_, batch, in_h, in_w, in_pixel_stride,
                        out_pixel_stride);
  return shape_;
}

void DepthwiseConv2d::run(const void* input, void* output, std::int64_t begin,
                          std::int64_t end) const {
  const Selected k = select(params_, packed_ok_);
  if (!k.fn) {
    run_reference(input, output, begin, end);
    return;
  }
  dwconv_detail::DwConvPlan plan;
  plan.params = &params_;
  plan.shape = shape_;
  plan.c_pad = c_pad_;
  plan.weights = packed_weights_.data();
  plan.bias = folded_bias_.data();
  plan.multiplier = multipliers_.data();
  plan.zero_row = zero_row_.data();
  plan.bounds = requant_bounds(params_.output_zero_point, params_.qmin, params_.qmax);
  const PairPacking& pairs = k.block == 32 ? pairs32_ : pairs16_;
  plan.pair_weights = pairs.weights.data();
  plan.pair_bias = pairs.bias.data();
  plan.pair_multiplier = pairs.multiplier.data();
  k.fn(plan, input, output, begin, end);
}

void DepthwiseConv2d::run_reference(const void* input, void* output, std::int64_t begin,
                                    std::int64_t end) const {
  dwconv_reference(params_, shape_, weights_.data(), bias_.data(), input, output, begin, end);
}

const char* DepthwiseConv2d::kernel_name() const { return select(params_, packed_ok_).name; }

}  // namespace quantkit::kernels
