// Elementwise kernels: broadcasting binary arithmetic, relu/clamp, dtype casts, rounding and
// the requantize epilogue of the integer reference representation.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "quantkit/core/error.h"
#include "reference_ops.h"

namespace quantkit::graph::ref {
namespace {

// Strides of `shape` aligned right against an output of rank `rank`, 0 where broadcast.
std::vector<std::int64_t> broadcast_strides(const Shape& shape, const Shape& out) {
  std::vector<std::int64_t> strides(out.size(), 0);
  std::int64_t stride = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    const std::size_t o = out.size() - shape.size() + i;
    strides[o] = shape[i] == 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

Shape broadcast_shape(const Shape& a, const Shape& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const std::int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    check_argument(da == db || da == 1 || db == 1, "binary", "shapes",
                   shape_to_string(a) + " and " + shape_to_string(b), "broadcastable shapes");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

template <class T, class F>
void broadcast_apply(const Tensor& a, const Tensor& b, Tensor& out, F f) {
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* po = out.data<T>();
  const std::int64_t n = out.numel();
  if (a.shape() == b.shape()) {
    for (std::int64_t i = 0; i < n; ++i) po[i] = f(pa[i], pb[i]);
    return;
  }
  if (b.numel() == 1 && a.numel() == n) {
    const T s = pb[0];
    for (std::int64_t i = 0; i < n; ++i) po[i] = f(pa[i], s);
    return;
  }
  const Shape& shape = out.shape();
  const auto sa = broadcast_strides(a.shape(), shape);
  const auto sb = broadcast_strides(b.shape(), shape);
  std::vector<std::int64_t> index(shape.size(), 0);
  std::int64_t ia = 0, ib = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    po[i] = f(pa[ia], pb[ib]);
    // Odometer increment over the output index, moving both input offsets along.
    for (std::size_t d = shape.size(); d-- > 0;) {
      ++index[d];
      ia += sa[d];
      ib += sb[d];
      if (index[d] < shape[d]) break;
      ia -= sa[d] * shape[d];
      ib -= sb[d] * shape[d];
      index[d] = 0;
    }
  }
}

// Integer add/sub/mul wrap modulo 2^bits: computed in uint64 (no signed overflow), then
// narrowed (modular in C++20).
template <class T>
T wrap(std::uint64_t v) {
  return static_cast<T>(v);
}

std::string_view binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add:
      return "add";
    case BinaryOp::Sub:
      return "sub";
    case BinaryOp::Mul:
      return "mul";
    case BinaryOp::Div:
      return "div";
    case BinaryOp::Pow:
      return "pow";
  }
  return "?";
}

template <class T>
void binary_typed(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case BinaryOp::Add:
        return broadcast_apply<T>(a, b, out, [](T x, T y) { return x + y; });
      case BinaryOp::Sub:
        return broadcast_apply<T>(a, b, out, [](T x, T y) { return x - y; });
      case BinaryOp::Mul:
        return broadcast_apply<T>(a, b, out, [](T x, T y) { return x * y; });
      case BinaryOp::Div:
        return broadcast_apply<T>(a, b, out, [](T x, T y) { return x / y; });
      case BinaryOp::Pow:
        // The exponents LayerNorm and GELU decompositions use get ONNX Runtime's exact forms
        // (x * x and sqrt; std::pow may differ from them in the last bit).
        return broadcast_apply<T>(a, b, out, [](T x, T y) {
          if (y == T(2)) return x * x;
          if (y == T(0.5)) return std::sqrt(x);
          return static_cast<T>(std::pow(x, y));
        });
    }
  } else {
    using U = std::uint64_t;
    auto u = [](T v) { return static_cast<U>(static_cast<std::int64_t>(v)); };
    switch (op) {
      case BinaryOp::Add:
        return broadcast_apply<T>(a, b, out, [&](T x, T y) { return wrap<T>(u(x) + u(y)); });
      case BinaryOp::Sub:
        return broadcast_apply<T>(a, b, out, [&](T x, T y) { return wrap<T>(u(x) - u(y)); });
      case BinaryOp::Mul:
        return broadcast_apply<T>(a, b, out, [&](T x, T y) { return wrap<T>(u(x) * u(y)); });
      case BinaryOp::Div:
      case BinaryOp::Pow:
        break;  // integer division / power: not defined (the schemas allow floating dtypes only)
    }
  }
  throw Error("binary: op '" + std::string(binary_name(op)) + "' is not defined for dtype " +
              std::string(dtype_name(a.dtype())));
}

// Float -> integer conversion without UB: truncate toward zero, saturate, NaN -> 0.
template <class To, class From>
To convert(From v) {
  if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    if (std::isnan(v)) return To{0};
    const long double t = std::trunc(static_cast<long double>(v));
    if (t <= static_cast<long double>(std::numeric_limits<To>::lowest())) {
      return std::numeric_limits<To>::lowest();
    }
    if (t >= static_cast<long double>(std::numeric_limits<To>::max())) {
      return std::numeric_limits<To>::max();
    }
    return static_cast<To>(t);
  } else {
    return static_cast<To>(v);  // int -> int wraps (C++20), anything -> float rounds
  }
}

}  // namespace

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  check_argument(a.dtype() == b.dtype(), "binary", "dtypes",
                 std::string(dtype_name(a.dtype())) + " and " + std::string(dtype_name(b.dtype())),
                 "equal dtypes");
  Tensor out = Tensor::empty(broadcast_shape(a.shape(), b.shape()), a.dtype());
  visit_dtype(a.dtype(), [&](auto zero) { binary_typed<decltype(zero)>(op, a, b, out); });
  return out;
}

Tensor relu(const Tensor& x) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  visit_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* in = x.data<T>();
    T* o = out.data<T>();
    // NaN propagates (torch's relu is clamp_min(x, 0), which keeps NaN).
    for (std::int64_t i = 0; i < x.numel(); ++i) o[i] = in[i] < T{0} ? T{0} : in[i];
  });
  return out;
}

Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  visit_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    // Bounds were validated to be representable in T (integral for integer dtypes).
    const bool has_lo = min.has_value(), has_hi = max.has_value();
    const T lo = has_lo ? static_cast<T>(*min) : T{0};
    const T hi = has_hi ? static_cast<T>(*max) : T{0};
    const T* in = x.data<T>();
    T* o = out.data<T>();
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      T v = in[i];
      if (has_lo && v < lo) v = lo;  // NaN compares false and passes through, as in torch
      if (has_hi && v > hi) v = hi;
      o[i] = v;
    }
  });
  return out;
}

Tensor cast(const Tensor& x, DType dtype) {
  Tensor out = Tensor::empty(x.shape(), dtype);
  visit_dtype(x.dtype(), [&](auto from_zero) {
    using From = decltype(from_zero);
    visit_dtype(dtype, [&](auto to_zero) {
      using To = decltype(to_zero);
      const From* in = x.data<From>();
      To* o = out.data<To>();
      for (std::int64_t i = 0; i < x.numel(); ++i) o[i] = convert<To>(in[i]);
    });
  });
  return out;
}

Tensor round_half_even(const Tensor& x) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  visit_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_floating_point_v<T>) {
      const T* in = x.data<T>();
      T* o = out.data<T>();
      // nearbyint in the default rounding mode rounds half to even, like torch.round.
      for (std::int64_t i = 0; i < x.numel(); ++i) o[i] = std::nearbyint(in[i]);
    } else {
      throw Error("round: dtype " + std::string(dtype_name(x.dtype())) + " is not floating");
    }
  });
  return out;
}

}  // namespace quantkit::graph::ref
