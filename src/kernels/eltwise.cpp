// Binary elementwise ops: parameters, the scalar definition, the dispatch table and the
// broadcasting driver (quantkit/kernels/eltwise.h).
#include <array>
#include <cmath>
#include <utility>

#include "eltwise_internal.h"
#include "quantkit/core/error.h"
#include "quantkit/kernels/cpu_features.h"
#include "quantkit/kernels/requantize.h"

namespace quantkit::kernels {
namespace {

using eltwise_detail::BinaryKernels;

const BinaryKernels& binary_table(IsaLevel level) {
  static const std::array<BinaryKernels, 3> tables = [] {
    std::array<BinaryKernels, 3> t{};
    if (detected_isa() >= IsaLevel::Avx2) t[1] = eltwise_detail::binary_kernels_avx2();
    if (detected_isa() >= IsaLevel::Avx512) t[2] = eltwise_detail::binary_kernels_avx512();
    return t;
  }();
  return tables[static_cast<int>(level)];
}

float checked_multiplier(double m, const char* arg) {
  const float f = static_cast<float>(m);
  check_argument(std::isfinite(f) && f > 0.0f, "make_binary_params", arg, m,
                 "a finite float32 > 0 (check the scales)");
  return f;
}

}  // namespace

BinaryParams make_binary_params(BinaryOp op, DType dtype, double a_scale, std::int32_t a_zero_point,
                                double b_scale, std::int32_t b_zero_point, double out_scale,
                                std::int32_t out_zero_point, bool relu) {
  constexpr const char* kWhere = "make_binary_params";
  check_argument(dtype == DType::Int8 || dtype == DType::UInt8, kWhere, "dtype", dtype_name(dtype),
                 "int8 or uint8");
  const std::int64_t lo = dtype_min(dtype), hi = dtype_max(dtype);
  for (auto [name, zp] :
       {std::pair{"a_zero_point", a_zero_point}, std::pair{"b_zero_point", b_zero_point},
        std::pair{"out_zero_point", out_zero_point}}) {
    check_argument(zp >= lo && zp <= hi, kWhere, name, zp, "inside the dtype's range");
  }
  BinaryParams p;
  p.op = op;
  p.dtype = dtype;
  p.a_zero_point = a_zero_point;
  p.b_zero_point = b_zero_point;
  p.out_zero_point = out_zero_point;
  p.qmin = relu ? out_zero_point : static_cast<std::int32_t>(lo);
  p.qmax = static_cast<std::int32_t>(hi);
  if (op == BinaryOp::Add) {
    p.a_multiplier = checked_multiplier(a_scale / out_scale, "a_scale / out_scale");
    p.b_multiplier = checked_multiplier(b_scale / out_scale, "b_scale / out_scale");
  } else {
    p.a_multiplier = checked_multiplier(a_scale * b_scale / out_scale, "a_scale*b_scale/out_scale");
  }
  return p;
}

void binary_reference(const BinaryParams& p, const void* a, const void* b, void* y, std::int64_t n,
                      bool b_is_scalar) {
  const auto* pa = static_cast<const std::uint8_t*>(a);
  const auto* pb = static_cast<const std::uint8_t*>(b);
  auto* py = static_cast<std::uint8_t*>(y);
  const bool is_signed = p.dtype == DType::Int8;
  const auto value = [is_signed](std::uint8_t byte) -> std::int32_t {
    return is_signed ? static_cast<std::int8_t>(byte) : byte;
  };
  const RequantBounds bounds = requant_bounds(p.out_zero_point, p.qmin, p.qmax);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int32_t da = value(pa[i]) - p.a_zero_point;
    const std::int32_t db = value(pb[b_is_scalar ? 0 : i]) - p.b_zero_point;
    float v;
    if (p.op == BinaryOp::Add) {
      v = static_cast<float>(da) * p.a_multiplier + static_cast<float>(db) * p.b_multiplier;
    } else {
      v = static_cast<float>(da * db) * p.a_multiplier;
    }
    py[i] = static_cast<std::uint8_t>(requantize_float(v, bounds));
  }
}

void binary(const BinaryParams& p, const void* a, const void* b, void* y, std::int64_t n,
            bool b_is_scalar) {
  const BinaryKernels& k = binary_table(active_isa());
  if (!k.run) {
    binary_reference(p, a, b, y, n, b_is_scalar);
    return;
  }
  k.run(p, static_cast<const std::uint8_t*>(a), static_cast<const std::uint8_t*>(b),
        static_cast<std::uint8_t*>(y), n, b_is_scalar);
}

const char* binary_kernel_name() {
  const BinaryKernels& k = binary_table(active_isa());
  return k.run ? k.name : "reference";
}

BinaryElementwise::BinaryElementwise(const BinaryParams& params) : params_(params) {
  // The validated factory is the usual source; direct construction still needs sane values.
  check_argument(params.dtype == DType::Int8 || params.dtype == DType::UInt8, "BinaryElementwise",
                 "dtype", dtype_name(params.dtype), "int8 or uint8");
  check_argument(params.qmin <= params.qmax && params.qmin >= dtype_min(params.dtype) &&
                     params.qmax <= dtype_max(params.dtype),
                 "BinaryElementwise", "qmin", params.qmin, "lo <= qmin <= qmax <= hi");
  swapped_ = params;
  std::swap(swapped_.a_zero_point, swapped_.b_zero_point);
  std::swap(swapped_.a_multiplier, swapped_.b_multiplier);
  if (params.op == BinaryOp::Mul) swapped_.a_multiplier = params.a_multiplier;
}

const BinaryElementwise::Shape4& BinaryElementwise::setup(const Shape4& a_shape,
                                                          const Shape4& b_shape) {
  for (int d = 0; d < 4; ++d) {
    check_argument(a_shape[d] >= 1 && b_shape[d] >= 1, "BinaryElementwise::setup", "shape",
                   a_shape[d] < 1 ? a_shape[d] : b_shape[d], "dimensions >= 1");
    check_argument(a_shape[d] == b_shape[d] || a_shape[d] == 1 || b_shape[d] == 1,
                   "BinaryElementwise::setup", "b_shape", b_shape[d],
                   "equal to a's dimension or 1 (broadcast)");
    out_[d] = a_shape[d] == 1 ? b_shape[d] : a_shape[d];
  }
  a_ = a_shape;
  b_ = b_shape;
  return out_;
}

// Calls fn(params, a, b, y, n, b_is_scalar) on contiguous runs covering pixels [begin, end).
template <class Fn>
void BinaryElementwise::for_each_run(const void* a, const void* b, void* y, std::int64_t begin,
                                     std::int64_t end, Fn&& fn) const {
  const auto* pa = static_cast<const std::uint8_t*>(a);
  const auto* pb = static_cast<const std::uint8_t*>(b);
  auto* py = static_cast<std::uint8_t*>(y);
  const std::int64_t c = out_[3];
  const bool a_full = a_ == out_, b_full = b_ == out_;
  const bool a_scalar = a_ == Shape4{1, 1, 1, 1}, b_scalar = b_ == Shape4{1, 1, 1, 1};
  // Whole range in one call when neither input broadcasts over pixels.
  if (a_full && (b_full || b_scalar)) {
    fn(params_, pa + begin * c, b_scalar ? pb : pb + begin * c, py + begin * c, (end - begin) * c,
       !b_full);
    return;
  }
  if (b_full && a_scalar) {
    fn(swapped_, pb + begin * c, pa, py + begin * c, (end - begin) * c, true);
    return;
  }
  const auto offset = [](const Shape4& s, std::int64_t n, std::int64_t h, std::int64_t w) {
    return (((s[0] == 1 ? 0 : n) * s[1] + (s[1] == 1 ? 0 : h)) * s[2] + (s[2] == 1 ? 0 : w)) * s[3];
  };
  const bool a_vec = a_[3] == c, b_vec = b_[3] == c;
  for (std::int64_t px = begin; px < end; ++px) {
    const std::int64_t n = px / (out_[1] * out_[2]);
    const std::int64_t h = px / out_[2] % out_[1], w = px % out_[2];
    const std::uint8_t* ra = pa + offset(a_, n, h, w);
    const std::uint8_t* rb = pb + offset(b_, n, h, w);
    std::uint8_t* ry = py + px * c;
    if (a_vec) {
      fn(params_, ra, rb, ry, c, !b_vec);
    } else {  // a has one channel, so b has c (setup): a is the scalar
      fn(swapped_, rb, ra, ry, c, true);
    }
  }
}

void BinaryElementwise::run(const void* a, const void* b, void* y, std::int64_t begin,
                            std::int64_t end) const {
  const BinaryKernels& k = binary_table(active_isa());
  if (!k.run) {
    run_reference(a, b, y, begin, end);
    return;
  }
  for_each_run(
      a, b, y, begin, end,
      [&k](const BinaryParams& p, const std::uint8_t* ra, const std::uint8_t* rb, std::uint8_t* ry,
           std::int64_t n, bool scalar) { k.run(p, ra, rb, ry, n, scalar); });
}

void BinaryElementwise::run_reference(const void* a, const void* b, void* y, std::int64_t begin,
                                      std::int64_t end) const {
  for_each_run(
      a, b, y, begin, end,
      [](const BinaryParams& p, const std::uint8_t* ra, const std::uint8_t* rb, std::uint8_t* ry,
         std::int64_t n, bool scalar) { binary_reference(p, ra, rb, ry, n, scalar); });
}

}  // namespace quantkit::kernels
