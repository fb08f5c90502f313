// Float activations that ONNX models use beyond relu/clamp: sigmoid, tanh, hardsigmoid,
// hardswish, leaky_relu, and erf, exp, neg, sqrt (transformers: GELU, softmax and LayerNorm
// decompositions). Plain loops in the input's dtype (f32 or f64).
#include <algorithm>
#include <cmath>

#include "reference_ops.h"

namespace quantkit::graph::ref {
namespace {

template <class F>
Tensor map_floating(const Tensor& x, F f) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  const std::int64_t n = x.numel();
  if (x.dtype() == DType::Float64) {
    const double* in = x.data<double>();
    double* o = out.data<double>();
    for (std::int64_t i = 0; i < n; ++i) o[i] = f(in[i]);
  } else {
    const float* in = x.data<float>();
    float* o = out.data<float>();
    for (std::int64_t i = 0; i < n; ++i) o[i] = f(in[i]);
  }
  return out;
}

}  // namespace

Tensor unary_activation(Activation op, const Tensor& x, double alpha, double beta) {
  switch (op) {
    case Activation::Sigmoid:
      return map_floating(x, [](auto v) {
        using T = decltype(v);
        // 1 / (1 + e^-v), written so neither branch overflows.
        if (v >= 0) return T(1) / (T(1) + std::exp(-v));
        const T e = std::exp(v);
        return e / (T(1) + e);
      });
    case Activation::Tanh:
      return map_floating(x, [](auto v) { return std::tanh(v); });
    case Activation::HardSigmoid:
      return map_floating(x, [alpha, beta](auto v) {
        using T = decltype(v);
        if (v != v) return v;
        return std::clamp(static_cast<T>(alpha) * v + static_cast<T>(beta), T(0), T(1));
      });
    case Activation::HardSwish:
      return map_floating(x, [](auto v) {
        using T = decltype(v);
        if (v != v) return v;
        return v * std::clamp(v + T(3), T(0), T(6)) / T(6);
      });
    case Activation::LeakyRelu:
      return map_floating(x, [alpha](auto v) {
        using T = decltype(v);
        return v > T(0) ? v : v * static_cast<T>(alpha);
      });
    case Activation::Erf:
      return map_floating(x, [](auto v) { return std::erf(v); });
    case Activation::Exp:
      return map_floating(x, [](auto v) { return std::exp(v); });
    case Activation::Neg:
      return map_floating(x, [](auto v) { return -v; });
    case Activation::Sqrt:
      return map_floating(x, [](auto v) { return std::sqrt(v); });
  }
  throw Error("unary_activation: unknown activation " + std::to_string(static_cast<int>(op)));
}

}  // namespace quantkit::graph::ref
