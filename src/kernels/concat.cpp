// Channel concatenation with per-input requantization (quantkit/kernels/concat.h).
#include "quantkit/kernels/concat.h"

#include <cmath>
#include <cstring>
#include <utility>

#include "quantkit/core/error.h"
#include "quantkit/kernels/requantize.h"

namespace quantkit::kernels {
namespace {

constexpr const char* kWhere = "ConcatRequant";

bool same_quantization(const ConcatParams& p, const ConcatInput& in) {
  return in.scale == p.out_scale && in.zero_point == p.out_zero_point;
}

float input_multiplier(const ConcatParams& p, const ConcatInput& in) {
  return static_cast<float>(in.scale / p.out_scale);
}

std::int64_t total_channels(const ConcatParams& p) {
  std::int64_t c = 0;
  for (const ConcatInput& in : p.inputs) c += in.channels;
  return c;
}

std::int64_t out_stride(const ConcatParams& p) {
  return p.out_pixel_stride ? p.out_pixel_stride : total_channels(p);
}

}  // namespace

void concat_reference(const ConcatParams& p, std::span<const void* const> inputs, void* output,
                      std::int64_t begin, std::int64_t end) {
  auto* out = static_cast<std::uint8_t*>(output);
  const bool is_signed = p.dtype == DType::Int8;
  const RequantBounds bounds =
      requant_bounds(p.out_zero_point, static_cast<std::int32_t>(dtype_min(p.dtype)),
                     static_cast<std::int32_t>(dtype_max(p.dtype)));
  const std::int64_t stride = out_stride(p);
  for (std::int64_t px = begin; px < end; ++px) {
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < p.inputs.size(); ++i) {
      const ConcatInput& in = p.inputs[i];
      const std::int64_t in_stride = in.pixel_stride ? in.pixel_stride : in.channels;
      const auto* x = static_cast<const std::uint8_t*>(inputs[i]) + px * in_stride;
      std::uint8_t* y = out + px * stride + offset;
      const bool copy = same_quantization(p, in);
      const float m = input_multiplier(p, in);
      for (std::int64_t c = 0; c < in.channels; ++c) {
        if (copy) {
          y[c] = x[c];
        } else {
          const std::int32_t v = is_signed ? static_cast<std::int8_t>(x[c]) : x[c];
          y[c] = static_cast<std::uint8_t>(requantize(v - in.zero_point, m, bounds));
        }
      }
      offset += in.channels;
    }
  }
}

ConcatRequant::ConcatRequant(ConcatParams params) : params_(std::move(params)) {
  const ConcatParams& p = params_;
  check_argument(p.dtype == DType::Int8 || p.dtype == DType::UInt8, kWhere, "dtype",
                 dtype_name(p.dtype), "int8 or uint8");
  check_argument(!p.inputs.empty(), kWhere, "inputs.size()", p.inputs.size(), ">= 1");
  check_argument(std::isfinite(p.out_scale) && p.out_scale > 0, kWhere, "out_scale", p.out_scale,
                 "finite and > 0");
  const std::int64_t lo = dtype_min(p.dtype), hi = dtype_max(p.dtype);
  check_argument(p.out_zero_point >= lo && p.out_zero_point <= hi, kWhere, "out_zero_point",
                 p.out_zero_point, "inside the dtype's range");
  for (const ConcatInput& in : p.inputs) {
    check_argument(in.channels >= 1, kWhere, "channels", in.channels, ">= 1");
    check_argument(in.pixel_stride == 0 || in.pixel_stride >= in.channels, kWhere, "pixel_stride",
                   in.pixel_stride, "0 or >= channels");
    check_argument(std::isfinite(in.scale) && in.scale > 0, kWhere, "scale", in.scale,
                   "finite and > 0");
    check_argument(in.zero_point >= lo && in.zero_point <= hi, kWhere, "zero_point", in.zero_point,
                   "inside the dtype's range");
    const float m = input_multiplier(p, in);
    check_argument(std::isfinite(m) && m > 0.0f, kWhere, "scale / out_scale",
                   in.scale / p.out_scale, "a finite float32 > 0");
  }
  out_channels_ = total_channels(p);
  check_argument(p.out_pixel_stride == 0 || p.out_pixel_stride >= out_channels_, kWhere,
                 "out_pixel_stride", p.out_pixel_stride, "0 or >= the total channels");
  const RequantBounds bounds = requant_bounds(p.out_zero_point, static_cast<std::int32_t>(lo),
                                              static_cast<std::int32_t>(hi));
  for (const ConcatInput& in : p.inputs) {
    copy_.push_back(same_quantization(p, in));
    Lut256 table{};
    const float m = input_multiplier(p, in);
    for (int byte = 0; byte < 256; ++byte) {
      const std::int32_t v =
          p.dtype == DType::Int8 ? static_cast<std::int8_t>(static_cast<std::uint8_t>(byte)) : byte;
      table[static_cast<std::size_t>(byte)] =
          static_cast<std::uint8_t>(requantize(v - in.zero_point, m, bounds));
    }
    tables_.push_back(table);
  }
}

void ConcatRequant::run(std::span<const void* const> inputs, void* output, std::int64_t begin,
                        std::int64_t end) const {
  auto* out = static_cast<std::uint8_t*>(output);
  const std::int64_t stride = out_stride(params_);
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < params_.inputs.size(); ++i) {
    const ConcatInput& in = params_.inputs[i];
    const std::int64_t in_stride = in.pixel_stride ? in.pixel_stride : in.channels;
    const auto* x = static_cast<const std::uint8_t*>(inputs[i]);
    // Dense on both sides (one input, no gaps): one call over the whole range.
    const bool dense = in_stride == in.channels && stride == in.channels;
    const std::int64_t runs = dense ? 1 : end - begin;
    const std::int64_t run_len = dense ? (end - begin) * in.channels : in.channels;
    for (std::int64_t r = 0; r < runs; ++r) {
      const std::int64_t px = begin + r;
      const std::uint8_t* src = x + px * in_stride;
      std::uint8_t* dst = out + px * stride + offset;
      if (copy_[i]) {
        std::memcpy(dst, src, static_cast<std::size_t>(run_len));
      } else {
        lut_apply(tables_[i], src, dst, run_len);
      }
    }
    offset += in.channels;
  }
}

void ConcatRequant::run_reference(std::span<const void* const> inputs, void* output,
                                  std::int64_t begin, std::int64_t end) const {
  concat_reference(params_, inputs, output, begin, end);
}

}  // namespace quantkit::kernels
