#include "affine_common.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "quantkit/core/error.h"

namespace quantkit::affine_detail {

bool is_valid_scale(double scale) {
  const float s = static_cast<float>(scale);
  // The kernels multiply by 1.0f / float32(scale): that reciprocal must be finite too.
  return std::isfinite(scale) && scale > 0 && std::isfinite(s) &&
         s >= std::numeric_limits<float>::min();
}

float checked_scale(std::string_view where, std::string_view arg, double scale) {
  const float s = static_cast<float>(scale);
  check_argument(is_valid_scale(scale), where, arg, scale,
                 "a finite value > 0 whose float32 rounding is a normal float32 "
                 "(1.17549435e-38 to 3.40282347e+38)");
  return s;
}

void check_float32(std::string_view where, std::string_view arg, const Tensor& x) {
  check_argument(x.dtype() == DType::Float32, where, arg, dtype_name(x.dtype()),
                 "a float32 tensor");
}

void check_quantized_dtype(std::string_view where, std::string_view arg, const Tensor& q) {
  const DType d = q.dtype();
  check_argument(d == DType::Int8 || d == DType::UInt8 || d == DType::Int16 || d == DType::Int32,
                 where, arg, dtype_name(d), "an int8, uint8, int16 or int32 tensor");
}

void check_zero_point(std::string_view where, std::string_view arg, std::int64_t zero_point,
                      std::int64_t lo, std::int64_t hi) {
  check_argument(lo <= zero_point && zero_point <= hi, where, arg, zero_point,
                 "a value in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

void check_fake_range(std::string_view where, std::int64_t quant_min, std::int64_t quant_max) {
  constexpr std::int64_t lo = std::numeric_limits<std::int32_t>::min();
  constexpr std::int64_t hi = std::numeric_limits<std::int32_t>::max();
  const std::string in_int32 = "a value inside int32 [" + std::to_string(lo) + ", " +
                               std::to_string(hi) + "]";
  check_argument(lo <= quant_min && quant_min <= hi, where, "quant_min", quant_min, in_int32);
  check_argument(lo <= quant_max && quant_max <= hi, where, "quant_max", quant_max, in_int32);
  check_argument(quant_min <= quant_max, where, "quant_max", quant_max,
                 "a value >= quant_min (" + std::to_string(quant_min) + ")");
}

void check_out(std::string_view where, const Tensor& out, DType dtype, const Shape& shape) {
  check_argument(out.dtype() == dtype, where, "out", dtype_name(out.dtype()),
                 "a " + std::string(dtype_name(dtype)) + " tensor");
  check_argument(out.shape() == shape, where, "out", shape_to_string(out.shape()),
                 "shape " + shape_to_string(shape));
}

void check_grad(std::string_view where, const Tensor& dy, const Tensor& x) {
  check_float32(where, "dy", dy);
  check_argument(dy.shape() == x.shape(), where, "dy", shape_to_string(dy.shape()),
                 "x's shape " + shape_to_string(x.shape()));
}

std::int64_t normalize_axis(std::string_view where, std::int64_t axis, std::int64_t ndim) {
  check_argument(ndim > 0, where, "x", "a 0-d tensor", "a tensor with at least one dimension");
  check_argument(-ndim <= axis && axis < ndim, where, "axis", axis,
                 "a value in [" + std::to_string(-ndim) + ", " + std::to_string(ndim) + ")");
  return axis < 0 ? axis + ndim : axis;
}

ChannelLayout channel_layout(const Shape& shape, std::int64_t axis) {
  ChannelLayout l;
  const auto a = static_cast<std::size_t>(axis);
  for (std::size_t d = 0; d < a; ++d) l.outer *= shape[d];
  l.channels = shape[a];
  for (std::size_t d = a + 1; d < shape.size(); ++d) l.inner *= shape[d];
  return l;
}

namespace {
// Runs at least this long go to the broadcast kernels; shorter ones are vectorized across
// channels by the periodic kernels.
constexpr std::int64_t kMinChannelRun = 64;
// A periodic kernel's period is made at least this long (when the tensor is), so its rows
// are mostly full vector blocks rather than tails.
constexpr std::int64_t kMinPeriod = 1024;
}  // namespace

bool use_channel_runs(const ChannelLayout& layout) { return layout.inner >= kMinChannelRun; }

std::vector<std::int64_t> periodic_channel_pattern(const ChannelLayout& layout) {
  const std::int64_t period = layout.channels * layout.inner;
  std::int64_t repeats = 1;
  if (period > 0 && period < kMinPeriod) {
    repeats = std::min(layout.outer, (kMinPeriod + period - 1) / period);
    repeats = std::max<std::int64_t>(repeats, 1);
  }
  std::vector<std::int64_t> pattern;
  pattern.reserve(static_cast<std::size_t>(period * repeats));
  for (std::int64_t r = 0; r < repeats; ++r) {
    for (std::int64_t c = 0; c < layout.channels; ++c) {
      for (std::int64_t i = 0; i < layout.inner; ++i) pattern.push_back(c);
    }
  }
  return pattern;
}

}  // namespace quantkit::affine_detail
