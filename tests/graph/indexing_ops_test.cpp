// The data-movement ops transformer encoders need: slice (ONNX Slice's clamping, negative
// starts / ends / steps), gather (constant indices, negative from the end) and expand
// (bidirectional broadcast) — hand-computed values, any dtype, and the inference's errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "graph/graph_test_util.h"
#include "graph/single_op.h"
#include "quantkit/core/error.h"

namespace quantkit::graph {
namespace {

using testing::run_unary;
using ::testing::HasSubstr;
using Ints = std::vector<std::int64_t>;

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

// 0, 1, …, n-1 in `shape` (float32).
Tensor iota(const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::Float32);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}

AttributeMap slice_attrs(Ints dims, Ints starts, Ints ends, Ints steps) {
  return {{"dims", dims}, {"starts", starts}, {"ends", ends}, {"steps", steps}};
}

std::vector<float> values(const Tensor& t) { return t.to_vector<float>(); }

TEST(IndexingOps, SliceOfOneDimClampsLikePython) {
  const Tensor x = iota({6});
  auto slice = [&](std::int64_t start, std::int64_t end, std::int64_t step) {
    return values(run_unary(OpKind::Slice, x, slice_attrs({0}, {start}, {end}, {step})));
  };
  EXPECT_EQ(slice(1, 4, 1), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(slice(-2, kMax, 1), (std::vector<float>{4, 5}));         // x[-2:]
  EXPECT_EQ(slice(0, kMax, 2), (std::vector<float>{0, 2, 4}));       // x[::2]
  EXPECT_EQ(slice(1, 6, 4), (std::vector<float>{1, 5}));
  EXPECT_EQ(slice(-100, 100, 1), (std::vector<float>{0, 1, 2, 3, 4, 5}));  // clamped
  EXPECT_EQ(slice(kMin, kMax, 3), (std::vector<float>{0, 3}));       // no overflow
  EXPECT_EQ(slice(4, 2, 1), (std::vector<float>{}));                 // empty
  // Negative steps walk backwards: start clamps to [0, 5], end to [-1, 5].
  EXPECT_EQ(slice(kMax, kMin, -1), (std::vector<float>{5, 4, 3, 2, 1, 0}));  // x[::-1]
  EXPECT_EQ(slice(-1, -4, -1), (std::vector<float>{5, 4, 3}));
  EXPECT_EQ(slice(4, 0, -2), (std::vector<float>{4, 2}));
  EXPECT_EQ(slice(100, -100, -3), (std::vector<float>{5, 2}));
  EXPECT_EQ(slice(0, 3, -1), (std::vector<float>{}));
}

TEST(IndexingOps, SliceOfSeveralDimsAnyDtype) {
  // x[:, 1:3, ::-2] of a [2, 3, 4] int64 tensor holding 0..23.
  Tensor x = Tensor::empty({2, 3, 4}, DType::Int64);
  for (std::int64_t i = 0; i < 24; ++i) x.data<std::int64_t>()[i] = i;
  const Tensor y = run_unary(OpKind::Slice, x, slice_attrs({-2, 2}, {1, -1}, {3, kMin}, {1, -2}));
  ASSERT_EQ(y.shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(y.to_vector<std::int64_t>(), (Ints{7, 5, 11, 9, 19, 17, 23, 21}));
}

TEST(IndexingOps, GatherPicksIndicesAlongADim) {
  const Tensor x = iota({2, 3, 2});
  // Along dim 1: rows 2, 0 and -1 (= 2) of each [3, 2] block.
  const Tensor y = run_unary(OpKind::Gather, x, {{"dim", std::int64_t{1}}, {"indices", Ints{2, 0, -1}}});
  ASSERT_EQ(y.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(values(y), (std::vector<float>{4, 5, 0, 1, 4, 5, 10, 11, 6, 7, 10, 11}));
  const Tensor z = run_unary(OpKind::Gather, x, {{"dim", std::int64_t{-1}}, {"indices", Ints{1}}});
  ASSERT_EQ(z.shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(values(z), (std::vector<float>{1, 3, 5, 7, 9, 11}));
}

TEST(IndexingOps, ExpandBroadcastsBothWays) {
  // [3, 1] against [2, 1, 4]: the output is [2, 3, 4] (ONNX Expand is bidirectional: a 1
  // in the shape keeps x's dim).
  const Tensor x = iota({3, 1});
  const Tensor y = run_unary(OpKind::Expand, x, {{"shape", Ints{2, 1, 4}}});
  ASSERT_EQ(y.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(values(y), (std::vector<float>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                                           0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}));
  // A shape of lower rank than x, and a 0-d x.
  EXPECT_EQ(run_unary(OpKind::Expand, iota({2, 1, 3}), {{"shape", Ints{2, 1}}}).shape(),
            (Shape{2, 2, 3}));
  const Tensor s = run_unary(OpKind::Expand, Tensor::scalar(7.0f), {{"shape", Ints{2, 2}}});
  EXPECT_EQ(values(s), (std::vector<float>{7, 7, 7, 7}));
}

TEST(IndexingOps, InferenceRejectsBadAttributes) {
  const Tensor x = iota({2, 3});
  auto error_of = [&](OpKind op, AttributeMap attrs) {
    try {
      run_unary(op, x, std::move(attrs));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_THAT(error_of(OpKind::Slice, slice_attrs({0}, {0}, {1}, {0})),
              HasSubstr("attribute 'steps' has 0, expected a nonzero step"));
  EXPECT_THAT(error_of(OpKind::Slice, slice_attrs({0}, {0}, {1}, {kMin})),
              HasSubstr("above INT64_MIN"));
  EXPECT_THAT(error_of(OpKind::Slice, slice_attrs({1, -1}, {0, 0}, {1, 1}, {1, 1})),
              HasSubstr("names dim 1 twice"));
  EXPECT_THAT(error_of(OpKind::Slice, slice_attrs({0}, {0, 1}, {1}, {1})),
              HasSubstr("expected the same number"));
  EXPECT_THAT(error_of(OpKind::Slice, slice_attrs({2}, {0}, {1}, {1})), HasSubstr("dims"));
  EXPECT_THAT(error_of(OpKind::Gather, {{"dim", std::int64_t{1}}, {"indices", Ints{3}}}),
              HasSubstr("attribute 'indices' has 3, expected an index in [-3, 3)"));
  EXPECT_THAT(error_of(OpKind::Gather, {{"dim", std::int64_t{0}}, {"indices", Ints{-3}}}),
              HasSubstr("has -3"));
  EXPECT_THAT(error_of(OpKind::Expand, {{"shape", Ints{4, 3}}}), HasSubstr("do not broadcast"));
  EXPECT_THAT(error_of(OpKind::Expand, {{"shape", Ints{-1}}}), HasSubstr("expected sizes >= 0"));
}

}  // namespace
}  // namespace quantkit::graph
