#pragma once
// Internal helpers shared by the affine quantization entry points (affine.cpp,
// affine_per_group.cpp): argument checks with uniform messages, the per-channel memory
// layout, and dispatch on the quantized storage dtype.
#include <cstdint>
#include <string_view>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/quant/qparams.h"

namespace quantkit::affine_detail {

// Checks a scale (finite, > 0, and a normal, finite float32 once rounded, so 1/s is finite)
// and returns float32(scale), the value the kernels compute with.
float checked_scale(std::string_view where, std::string_view arg, double scale);
// The predicate of checked_scale, for loops that build the argument name only on failure.
bool is_valid_scale(double scale);
// x must be float32.
void check_float32(std::string_view where, std::string_view arg, const Tensor& x);
// q must hold range codes: int8, uint8, int16 or int32.
void check_quantized_dtype(std::string_view where, std::string_view arg, const Tensor& q);
// zero_point inside [lo, hi].
void check_zero_point(std::string_view where, std::string_view arg, std::int64_t zero_point,
                      std::int64_t lo, std::int64_t hi);
// Fake-quantize range: quant_min <= quant_max, both inside int32.
void check_fake_range(std::string_view where, std::int64_t quant_min, std::int64_t quant_max);
// `out` of an _into call must have this dtype and shape.
void check_out(std::string_view where, const Tensor& out, DType dtype, const Shape& shape);
// dy must be float32 with x's shape.
void check_grad(std::string_view where, const Tensor& dy, const Tensor& x);
// axis in [-ndim, ndim) -> [0, ndim).
std::int64_t normalize_axis(std::string_view where, std::int64_t axis, std::int64_t ndim);

// A tensor seen as [outer, channels, inner] around the channel axis.
struct ChannelLayout {
  std::int64_t outer = 1;
  std::int64_t channels = 1;
  std::int64_t inner = 1;
};
ChannelLayout channel_layout(const Shape& shape, std::int64_t axis);

// How a per-channel op runs: one broadcast kernel call per contiguous (outer, channel) run
// when runs are long, otherwise one periodic kernel call whose parameter arrays follow the
// channel pattern. `pattern` holds the channel of each position of one period (the
// [channels, inner] pattern, repeated so that a period is long enough to vectorize).
bool use_channel_runs(const ChannelLayout& layout);
std::vector<std::int64_t> periodic_channel_pattern(const ChannelLayout& layout);

// Calls f(T{}) for the quantized storage dtypes.
template <class F>
decltype(auto) visit_quantized(DType dtype, F&& f) {
  switch (dtype) {
    case DType::Int8: return f(std::int8_t{});
    case DType::UInt8: return f(std::uint8_t{});
    case DType::Int16: return f(std::int16_t{});
    default: return f(std::int32_t{});  // callers validated: Int32
  }
}

}  // namespace quantkit::affine_detail
