// Per-group affine quantization along the last axis (torchao block quantization with block
// size [1, ..., 1, group_size]): the per-tensor formulas applied to each group of
// `group_size` consecutive elements of a row, with one float32 scale and one integer zero
// point per group.
#include <cstdint>
#include <string>
#include <vector>

#include "affine_common.h"
#include "quantkit/core/error.h"
#include "quantkit/kernels/affine_kernels.h"
#include "quantkit/quant/affine.h"

namespace quantkit {
namespace {

using namespace affine_detail;

struct Groups {
  std::size_t rows = 0;
  std::size_t groups_per_row = 0;
  std::size_t group_size = 0;
  std::vector<float> scales;             // [rows * groups_per_row], float32 values
  std::vector<std::int64_t> zero_points;  // same
};

// Validates x's grouping and the qparams tensors; zero points must lie in [zp_lo, zp_hi].
Groups checked_groups(std::string_view where, const Tensor& x, const Tensor& scales,
                      const Tensor& zero_points, std::int64_t group_size, std::int64_t zp_lo,
                      std::int64_t zp_hi) {
  check_argument(x.dim() >= 1, where, "x", "a 0-d tensor", "a tensor with at least one dimension");
  check_argument(group_size > 0, where, "group_size", group_size, "a value > 0");
  const std::int64_t last = x.size(-1);
  check_argument(last % group_size == 0, where, "group_size", group_size,
                 "a divisor of the last dimension (" + std::to_string(last) + ")");
  std::int64_t rows = 1;
  for (std::int64_t d = 0; d + 1 < x.dim(); ++d) rows *= x.shape()[static_cast<std::size_t>(d)];
  const Shape qparams_shape{rows, last / group_size};

  check_argument(scales.dtype() == DType::Float32, where, "scales", dtype_name(scales.dtype()),
                 "a float32 tensor");
  check_argument(scales.shape() == qparams_shape, where, "scales",
                 shape_to_string(scales.shape()), "shape " + shape_to_string(qparams_shape));
  check_argument(is_integer(zero_points.dtype()), where, "zero_points",
                 dtype_name(zero_points.dtype()), "an integer tensor (int8 to int64)");
  check_argument(zero_points.shape() == qparams_shape, where, "zero_points",
                 shape_to_string(zero_points.shape()), "shape " + shape_to_string(qparams_shape));

  Groups g;
  g.rows = static_cast<std::size_t>(rows);
  g.groups_per_row = static_cast<std::size_t>(last / group_size);
  g.group_size = static_cast<std::size_t>(group_size);
  g.scales = scales.to_vector<float>();
  g.zero_points = zero_points.to(DType::Int64).to_vector<std::int64_t>();
  for (std::size_t i = 0; i < g.scales.size(); ++i) {
    if (!is_valid_scale(g.scales[i])) {
      checked_scale(where, "scales[" + std::to_string(i) + "]", g.scales[i]);
    }
    if (g.zero_points[i] < zp_lo || g.zero_points[i] > zp_hi) {
      check_zero_point(where, "zero_points[" + std::to_string(i) + "]", g.zero_points[i], zp_lo,
                       zp_hi);
    }
  }
  return g;
}

// Calls run(offset, group_index) for every group, in memory order.
template <class Run>
void for_each_group(const Groups& g, Run&& run) {
  const std::size_t total = g.rows * g.groups_per_row;
  for (std::size_t i = 0; i < total; ++i) run(i * g.group_size, i);
}

}  // namespace

Tensor quantize_per_group(const Tensor& x, const Tensor& scales, const Tensor& zero_points,
                          std::int64_t group_size, const QuantRange& range) {
  constexpr std::string_view where = "quantize_per_group";
  check_float32(where, "x", x);
  range.validate(where);
  const Groups g =
      checked_groups(where, x, scales, zero_points, group_size, range.quant_min, range.quant_max);
  Tensor out = Tensor::empty(x.shape(), range.dtype);
  const auto qmin = static_cast<std::int32_t>(range.quant_min);
  const auto qmax = static_cast<std::int32_t>(range.quant_max);
  visit_quantized(range.dtype, [&](auto tag) {
    using T = decltype(tag);
    const float* xp = x.data<float>();
    T* qp = out.data<T>();
    for_each_group(g, [&](std::size_t off, std::size_t i) {
      const kernels::QuantizeParams p{1.0f / g.scales[i], static_cast<float>(g.zero_points[i]),
                                      qmin, qmax};
      kernels::quantize(xp + off, qp + off, g.group_size, p);
    });
  });
  return out;
}

Tensor dequantize_per_group(const Tensor& q, const Tensor& scales, const Tensor& zero_points,
                            std::int64_t group_size) {
  constexpr std::string_view where = "dequantize_per_group";
  check_quantized_dtype(where, "q", q);
  const Groups g = checked_groups(where, q, scales, zero_points, group_size,
                                  dtype_min(q.dtype()), dtype_max(q.dtype()));
  Tensor out = Tensor::empty(q.shape(), DType::Float32);
  visit_quantized(q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* qp = q.data<T>();
    float* yp = out.data<float>();
    for_each_group(g, [&](std::size_t off, std::size_t i) {
      const kernels::DequantizeParams p{g.scales[i], static_cast<std::int32_t>(g.zero_points[i])};
      kernels::dequantize(qp + off, yp + off, g.group_size, p);
    });
  });
  return out;
}

Tensor fake_quantize_per_group(const Tensor& x, const Tensor& scales, const Tensor& zero_points,
                               std::int64_t group_size, std::int64_t quant_min,
                               std::int64_t quant_max) {
  constexpr std::string_view where = "fake_quantize_per_group";
  check_float32(where, "x", x);
  check_fake_range(where, quant_min, quant_max);
  const Groups g = checked_groups(where, x, scales, zero_points, group_size, quant_min, quant_max);
  Tensor out = Tensor::empty(x.shape(), DType::Float32);
  const float* xp = x.data<float>();
  float* yp = out.data<float>();
  for_each_group(g, [&](std::size_t off, std::size_t i) {
    const auto p = kernels::FakeQuantizeParams::with_integer_zero_point(
        g.scales[i], static_cast<std::int32_t>(g.zero_points[i]),
        static_cast<std::int32_t>(quant_min), static_cast<std::int32_t>(quant_max));
    kernels::fake_quantize(xp + off, yp + off, g.group_size, p);
  });
  return out;
}

}  // namespace quantkit
