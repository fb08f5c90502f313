// Learnable fake quantization (LSQ) per channel: torch 1.13's
// _fake_quantize_learnable_per_channel_affine and its backward.
//
// torch rounds the float zero points once, zp_c = clamp(round_half_even(zero_point[c])), and
// uses that integer in both passes (the per-tensor op uses another one in its backward,
// trunc(zero_point + 0.5f)). The forward is the plain per-channel fake quantize with zp_c;
// the backward applies the per-tensor element formulas (learnable_common.h) with channel c's
// scale and zp_c and sums dscale / dzero_point over every axis but the channel axis.
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "affine_common.h"
#include "learnable_common.h"
#include "quantkit/core/error.h"
#include "quantkit/core/tensor.h"
#include "quantkit/quant/affine.h"
#include "quantkit/quant/fake_quantize.h"

namespace quantkit {
namespace {

constexpr std::string_view kForward = "fake_quantize_learnable_per_channel";
constexpr std::string_view kBackward = "fake_quantize_learnable_per_channel_backward";

// Checks the per-channel parameters against x and returns the channel layout.
affine_detail::ChannelLayout check_channels(std::string_view where, const Tensor& x,
                                            std::span<const float> scales,
                                            std::span<const float> zero_points, std::int64_t axis,
                                            std::int64_t quant_min, std::int64_t quant_max) {
  affine_detail::check_float32(where, "x", x);
  const std::int64_t ax = affine_detail::normalize_axis(where, axis, x.dim());
  const std::int64_t channels = x.shape()[static_cast<std::size_t>(ax)];
  const std::string expected =
      std::to_string(channels) + " values (x.size(" + std::to_string(ax) + "))";
  check_argument(static_cast<std::int64_t>(scales.size()) == channels, where, "scales",
                 scales.size(), expected);
  check_argument(static_cast<std::int64_t>(zero_points.size()) == channels, where, "zero_points",
                 zero_points.size(), expected);
  for (std::size_t c = 0; c < scales.size(); ++c) {
    const std::string index = "[" + std::to_string(c) + "]";
    learnable_detail::check_scale(where, "scales" + index, scales[c]);
    learnable_detail::check_zero_point_and_range(where, "zero_points" + index, zero_points[c],
                                                 quant_min, quant_max);
  }
  return affine_detail::channel_layout(x.shape(), ax);
}

std::vector<std::int64_t> rounded_zero_points(std::span<const float> zero_points,
                                              std::int64_t quant_min, std::int64_t quant_max) {
  std::vector<std::int64_t> rounded(zero_points.size());
  for (std::size_t c = 0; c < zero_points.size(); ++c) {
    rounded[c] = learnable_forward_zero_point(zero_points[c], quant_min, quant_max);
  }
  return rounded;
}

}  // namespace

Tensor fake_quantize_learnable_per_channel(const Tensor& x, std::span<const float> scales,
                                           std::span<const float> zero_points, std::int64_t axis,
                                           std::int64_t quant_min, std::int64_t quant_max) {
  check_channels(kForward, x, scales, zero_points, axis, quant_min, quant_max);
  const std::vector<double> scales_d(scales.begin(), scales.end());
  return fake_quantize_per_channel(x, scales_d,
                                   rounded_zero_points(zero_points, quant_min, quant_max), axis,
                                   quant_min, quant_max);
}

LearnableFakeQuantizePerChannelGrads fake_quantize_learnable_per_channel_backward(
    const Tensor& dy, const Tensor& x, std::span<const float> scales,
    std::span<const float> zero_points, std::int64_t axis, std::int64_t quant_min,
    std::int64_t quant_max, double grad_factor) {
  const auto layout = check_channels(kBackward, x, scales, zero_points, axis, quant_min, quant_max);
  affine_detail::check_grad(kBackward, dy, x);
  check_argument(std::isfinite(grad_factor), kBackward, "grad_factor", grad_factor,
                 "a finite value");
  const std::vector<std::int64_t> zps = rounded_zero_points(zero_points, quant_min, quant_max);
  const float g = static_cast<float>(grad_factor);

  LearnableFakeQuantizePerChannelGrads grads;
  grads.dx = Tensor::empty(x.shape(), DType::Float32);
  grads.dscale_elem = Tensor::empty(x.shape(), DType::Float32);
  grads.dzero_point_elem = Tensor::empty(x.shape(), DType::Float32);
  const float* xs = x.data<float>();
  const float* dys = dy.data<float>();
  float* dx = grads.dx.data<float>();
  float* dscale = grads.dscale_elem.data<float>();
  float* dzero_point = grads.dzero_point_elem.data<float>();
  std::vector<learnable_detail::CompensatedSum> dscale_sums(scales.size());
  std::vector<learnable_detail::CompensatedSum> dzero_point_sums(scales.size());
  for (std::int64_t o = 0; o < layout.outer; ++o) {
    for (std::int64_t c = 0; c < layout.channels; ++c) {
      const auto ch = static_cast<std::size_t>(c);
      const float scale = scales[ch];
      const float inv_scale = 1.0f / scale;
      const std::int64_t begin = (o * layout.channels + c) * layout.inner;
      for (std::int64_t i = begin; i < begin + layout.inner; ++i) {
        const auto terms = learnable_detail::learnable_grad_terms(xs[i], dys[i], scale, inv_scale,
                                                                  zps[ch], quant_min, quant_max, g);
        dx[i] = terms.dx;
        dscale[i] = terms.dscale;
        dzero_point[i] = terms.dzero_point;
        dscale_sums[ch].add(terms.dscale);
        dzero_point_sums[ch].add(terms.dzero_point);
      }
    }
  }
  for (std::size_t c = 0; c < scales.size(); ++c) {
    grads.dscale.push_back(dscale_sums[c].result());
    grads.dzero_point.push_back(dzero_point_sums[c].result());
  }
  return grads;
}

}  // namespace quantkit
