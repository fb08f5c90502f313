#pragma once
// Running one op on a tensor, and the float reference it is checked against: the float op
// tests' shared helpers.
#include <utility>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/interpreter.h"

namespace quantkit::graph::testing {

// Runs a single-node graph of `op` on x.
inline Tensor run_unary(OpKind op, const Tensor& x, AttributeMap attrs = {}) {
  GraphBuilder b;
  Value* in = b.input("x", x.dtype(), x.shape());
  b.output(b.node(op, {in}, std::move(attrs))->output());
  return run_graph(std::move(b).build(), {x})[0];
}

// f applied to each float32 element in double, rounded back to float32.
template <class F>
Tensor map_double(const Tensor& x, F f) {
  Tensor out = Tensor::empty(x.shape(), DType::Float32);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    out.data<float>()[i] = static_cast<float>(f(static_cast<double>(x.data<float>()[i])));
  }
  return out;
}

}  // namespace quantkit::graph::testing
