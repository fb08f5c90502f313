// The NHWC convolution's definition as plain loops (conv2d_nhwc_reference, the oracle of
// QConv2dNhwc at every ISA level) and the argument checks both share.
#include <cmath>
#include <cstdint>
#include <string>

#include "conv_nhwc_internal.h"
#include "gemm_internal.h"
#include "quantkit/core/error.h"
#include "quantkit/kernels/conv_nhwc.h"

namespace quantkit::kernels {
namespace conv_detail {

void validate_conv2d_nhwc(const char* where, const QConv2dNhwcParams& p, const Tensor& weight,
                          const std::optional<Tensor>& bias) {
  check_argument(p.groups >= 1, where, "groups", p.groups, "a value >= 1");
  check_argument(p.in_channels >= 1 && p.in_channels % p.groups == 0, where, "in_channels",
                 p.in_channels, "a positive multiple of groups = " + std::to_string(p.groups));
  check_argument(p.out_channels >= 1 && p.out_channels % p.groups == 0, where, "out_channels",
                 p.out_channels, "a positive multiple of groups = " + std::to_string(p.groups));
  check_argument(p.kernel_h >= 1, where, "kernel_h", p.kernel_h, "a value >= 1");
  check_argument(p.kernel_w >= 1, where, "kernel_w", p.kernel_w, "a value >= 1");
  check_argument(p.stride_h >= 1, where, "stride_h", p.stride_h, "a value >= 1");
  check_argument(p.stride_w >= 1, where, "stride_w", p.stride_w, "a value >= 1");
  check_argument(p.dilation_h >= 1, where, "dilation_h", p.dilation_h, "a value >= 1");
  check_argument(p.dilation_w >= 1, where, "dilation_w", p.dilation_w, "a value >= 1");
  check_argument(p.pad_top >= 0, where, "pad_top", p.pad_top, "a value >= 0");
  check_argument(p.pad_left >= 0, where, "pad_left", p.pad_left, "a value >= 0");
  check_argument(p.pad_bottom >= 0, where, "pad_bottom", p.pad_bottom, "a value >= 0");
  check_argument(p.pad_right >= 0, where, "pad_right", p.pad_right, "a value >= 0");
  const auto is_8bit = [](DType t) { return t == DType::UInt8 || t == DType::Int8; };
  check_argument(is_8bit(p.x_dtype), where, "x_dtype", dtype_name(p.x_dtype), "uint8 or int8");
  check_argument(is_8bit(p.y_dtype), where, "y_dtype", dtype_name(p.y_dtype), "uint8 or int8");
  const auto in_range = [](std::int64_t v, DType t) {
    return v >= dtype_min(t) && v <= dtype_max(t);
  };
  const std::string x_range = "a value inside the " + std::string(dtype_name(p.x_dtype)) + " range";
  const std::string y_range = "a value inside the " + std::string(dtype_name(p.y_dtype)) + " range";
  check_argument(in_range(p.x_zero_point, p.x_dtype), where, "x_zero_point", p.x_zero_point,
                 x_range);
  check_argument(in_range(p.y_zero_point, p.y_dtype), where, "y_zero_point", p.y_zero_point,
                 y_range);
  check_argument(in_range(p.quant_min, p.y_dtype), where, "quant_min", p.quant_min, y_range);
  check_argument(in_range(p.quant_max, p.y_dtype) && p.quant_max >= p.quant_min, where, "quant_max",
                 p.quant_max, y_range + ", >= quant_min");
  check_argument(
      p.multiplier.size() == 1 || static_cast<std::int64_t>(p.multiplier.size()) == p.out_channels,
      where, "multiplier.size", p.multiplier.size(),
      "1 or out_channels = " + std::to_string(p.out_channels));
  for (float m : p.multiplier) {
    check_argument(std::isfinite(m) && m > 0.0f, where, "multiplier", m, "finite values > 0");
  }
  const Shape weight_shape{p.out_channels, p.in_channels / p.groups, p.kernel_h, p.kernel_w};
  check_argument(weight.dtype() == DType::Int8, where, "weight.dtype", dtype_name(weight.dtype()),
                 "int8");
  check_argument(weight.shape() == weight_shape, where, "weight.shape",
                 shape_to_string(weight.shape()), shape_to_string(weight_shape));
  if (bias) {
    check_argument(bias->dtype() == DType::Int32, where, "bias.dtype", dtype_name(bias->dtype()),
                   "int32");
    check_argument(bias->shape() == Shape{p.out_channels}, where, "bias.shape",
                   shape_to_string(bias->shape()), shape_to_string(Shape{p.out_channels}));
  }
}

ConvOutputSize checked_output_size(const char* where, const QConv2dNhwcParams& p,
                                   std::int64_t batch, std::int64_t height, std::int64_t width) {
  check_argument(batch >= 0, where, "batch", batch, "a value >= 0");
  const std::int64_t span_h = p.dilation_h * (p.kernel_h - 1) + 1;
  const std::int64_t span_w = p.dilation_w * (p.kernel_w - 1) + 1;
  check_argument(
      height >= 1 && height + p.pad_top + p.pad_bottom >= span_h, where, "height", height,
      "at least 1 and, padded, at least the dilated kernel height " + std::to_string(span_h));
  check_argument(
      width >= 1 && width + p.pad_left + p.pad_right >= span_w, where, "width", width,
      "at least 1 and, padded, at least the dilated kernel width " + std::to_string(span_w));
  ConvOutputSize out;
  out.height = (height + p.pad_top + p.pad_bottom - span_h) / p.stride_h + 1;
  out.width = (width + p.pad_left + p.pad_right - span_w) / p.stride_w + 1;
  return out;
}

}  // namespace conv_detail

ConvOutputSize conv2d_output_size(const QConv2dNhwcParams& params, std::int64_t height,
                                  std::int64_t width) {
  return conv_detail::checked_output_size("conv2d_output_size", params, 0, height, width);
}

namespace {

template <class X, class Y>
void reference_loops(const QConv2dNhwcParams& p, const std::int8_t* w, const std::int32_t* bias,
                     const X* x, Y* y, std::int64_t batch, std::int64_t height, std::int64_t width,
                     ConvOutputSize out) {
  using gemm_detail::wrap_add;
  using gemm_detail::wrap_mul;
  const std::int64_t icg = p.in_channels / p.groups, ocg = p.out_channels / p.groups;
  const float lo = static_cast<float>(p.quant_min - p.y_zero_point);
  const float hi = static_cast<float>(p.quant_max - p.y_zero_point);
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t oh = 0; oh < out.height; ++oh) {
      for (std::int64_t ow = 0; ow < out.width; ++ow) {
        for (std::int64_t oc = 0; oc < p.out_channels; ++oc) {
          const std::int64_t g = oc / ocg;
          std::int32_t acc = 0;
          for (std::int64_t ic = 0; ic < icg; ++ic) {
            for (std::int64_t kh = 0; kh < p.kernel_h; ++kh) {
              for (std::int64_t kw = 0; kw < p.kernel_w; ++kw) {
                const std::int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
                const std::int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
                if (ih < 0 || ih >= height || iw < 0 || iw >= width) continue;  // x_zp: 0
                const std::int32_t xv =
                    static_cast<std::int32_t>(
                        x[((n * height + ih) * width + iw) * p.in_channels + g * icg + ic]) -
                    p.x_zero_point;
                const std::int32_t wv = w[((oc * icg + ic) * p.kernel_h + kh) * p.kernel_w + kw];
                acc = wrap_add(acc, wrap_mul(xv, wv));
              }
            }
          }
          if (bias) acc = wrap_add(acc, bias[oc]);
          const float m = p.multiplier.size() == 1 ? p.multiplier[0] : p.multiplier[oc];
          const std::int32_t q =
              gemm_detail::requant_round(gemm_detail::requant_clamped(acc, m, lo, hi)) +
              p.y_zero_point;
          y[((n * out.height + oh) * out.width + ow) * p.out_channels + oc] = static_cast<Y>(q);
        }
      }
    }
  }
}

template <class X>
void reference_for_x(const QConv2dNhwcParams& p, const std::int8_t* w, const std::int32_t* bias,
                     const X* x, void* y, std::int64_t batch, std::int64_t height,
                     std::int64_t width, ConvOutputSize out) {
  if (p.y_dtype == DType::Int8) {
    reference_loops(p, w, bias, x, static_cast<std::int8_t*>(y), batch, height, width, out);
  } else {
    reference_loops(p, w, bias, x, static_cast<std::uint8_t*>(y), batch, height, width, out);
  }
}

}  // namespace

void conv2d_nhwc_reference(const QConv2dNhwcParams& params, const Tensor& weight,
                           const std::optional<Tensor>& bias, const void* x, void* y,
                           std::int64_t batch, std::int64_t height, std::int64_t width) {
  constexpr const char* kWhere = "conv2d_nhwc_reference";
  conv_detail::validate_conv2d_nhwc(kWhere, params, weight, bias);
  const ConvOutputSize out = conv_detail::checked_output_size(kWhere, params, batch, height, width);
  const std::int8_t* w = weight.data<std::int8_t>();
  const std::int32_t* b = bias ? bias->data<std::int32_t>() : nullptr;
  if (params.x_dtype == DType::Int8) {
    reference_for_x(params, w, b, static_cast<const std::int8_t*>(x), y, batch, height, width, out);
  } else {
    reference_for_x(params, w, b, static_cast<const std::uint8_t*>(x), y, batch, height, width,
                    out);
  }
}

}  // namespace quantkit::kernels
