#pragma once
// The model of the batched-run tests (pipeline, cli): x [B, 2, 8, 8] → conv 3×3 (pad 1,
// 8 channels) → relu → max_pool 2 → flatten → linear(128 → 5), with B a dynamic dim named
// `batch_name` or, when that is empty, a static `batch`; and a row of a stacked tensor.
#include <cstdint>
#include <cstring>
#include <string>

#include "graph/graph_test_util.h"
#include "quantkit/graph/builder.h"

namespace quantkit::testing {

inline graph::Graph small_cnn(const std::string& batch_name, std::int64_t batch = 1) {
  using graph::testing::random_tensor;
  graph::GraphBuilder b;
  const Shape shape{batch, 2, 8, 8};
  graph::Value* x = batch_name.empty()
                        ? b.input("x", DType::Float32, shape)
                        : b.input("x", DType::Float32, shape, {batch_name, "", "", ""});
  graph::Value* y = b.relu(b.conv2d(x, b.parameter("conv.weight", random_tensor({8, 2, 3, 3}, 1)),
                                    b.parameter("conv.bias", random_tensor({8}, 2)),
                                    graph::Conv2dOptions({1, 1}, {1, 1})));
  y = b.flatten(b.max_pool2d(y, graph::MaxPool2dOptions({2, 2})), 1);
  b.output(b.linear(y, b.parameter("fc.weight", random_tensor({5, 128}, 3)),
                    b.parameter("fc.bias", random_tensor({5}, 4))));
  return std::move(b).build();
}

// Row i of a tensor stacked on dim 0, as [1, ...] (a copy).
inline Tensor sample_row(const Tensor& stacked, std::int64_t i) {
  Shape shape = stacked.shape();
  shape[0] = 1;
  Tensor out = Tensor::empty(shape, stacked.dtype());
  std::memcpy(out.raw_data(),
              static_cast<const std::byte*>(stacked.raw_data()) +
                  static_cast<std::size_t>(i) * out.nbytes(),
              out.nbytes());
  return out;
}

}  // namespace quantkit::testing
