// ONNX import of the indexing ops transformer exports use — Slice (optional axes / steps,
// clamping, negative steps), Split (attribute < 13, input >= 13, num_outputs 18), Gather on
// run-time data (a scalar index removes the axis), Expand, and Equal / Not / Where folded
// at import — checked against hand-computed values.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "graph/graph_test_util.h"
#include "onnx/model_writer.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/interpreter.h"

namespace quantkit::onnx {
namespace {

using graph::count_nodes;
using graph::Graph;
using graph::OpKind;
using graph::run_graph;
using testing::ModelWriter;
using ::testing::HasSubstr;
using Ints = std::vector<std::int64_t>;

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

// 0, 1, …, n-1 in `shape` (float32).
Tensor iota(const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::Float32);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}

std::vector<float> values(const Tensor& t) { return t.to_vector<float>(); }

std::string import_error(const ModelWriter& m) {
  try {
    m.import();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(OnnxImportIndexing, SliceInputsWithNegativeStepOnActivations) {
  // x[:, 4:0:-2] of a [2, 5] activation: columns 4 and 2.
  ModelWriter m(13);
  m.input("x", {2, 5});
  m.initializer("starts", Tensor::from_vector<std::int64_t>({4}));
  m.initializer("ends", Tensor::from_vector<std::int64_t>({0}));
  m.initializer("axes", Tensor::from_vector<std::int64_t>({-1}));
  m.initializer("steps", Tensor::from_vector<std::int64_t>({-2}));
  m.node("Slice", {"x", "starts", "ends", "axes", "steps"}, {"y"});
  m.output("y");
  const Graph g = m.import();
  EXPECT_EQ(count_nodes(g, OpKind::Slice), 1u);
  const Tensor y = run_graph(g, {iota({2, 5})})[0];
  ASSERT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(values(y), (std::vector<float>{4, 2, 9, 7}));
}

TEST(OnnxImportIndexing, SliceWithoutAxesAndStepsClampsEnds) {
  // Axes and steps omitted: the first dims, step 1; ends beyond a dim clamp.
  ModelWriter m(10);
  m.input("x", {3, 4});
  m.initializer("starts", Tensor::from_vector<std::int64_t>({1, -3}));
  m.initializer("ends", Tensor::from_vector<std::int64_t>({kMax, 3}));
  m.node("Slice", {"x", "starts", "ends"}, {"y"});
  m.output("y");
  const Tensor y = run_graph(m.import(), {iota({3, 4})})[0];
  ASSERT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(values(y), (std::vector<float>{5, 6, 9, 10}));
}

// A Split of a [2, 5] input along dim 1 into outputs y0, y1 (and more).
std::vector<Tensor> run_split(ModelWriter& m, std::size_t outputs) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < outputs; ++i) names.push_back("y" + std::to_string(i));
  for (const std::string& n : names) m.output(n);
  return run_graph(m.import(), {iota({2, 5})});
}

TEST(OnnxImportIndexing, SplitSizesFromAttributeOrInput) {
  {
    ModelWriter m(11);  // split attribute
    m.input("x", {2, 5});
    m.node("Split", {"x"}, {"y0", "y1"}, {{"axis", std::int64_t{1}}, {"split", Ints{2, 3}}});
    const std::vector<Tensor> y = run_split(m, 2);
    EXPECT_EQ(values(y[0]), (std::vector<float>{0, 1, 5, 6}));
    EXPECT_EQ(values(y[1]), (std::vector<float>{2, 3, 4, 7, 8, 9}));
  }
  {
    ModelWriter m(13);  // split input, negative axis
    m.input("x", {2, 5});
    m.initializer("split", Tensor::from_vector<std::int64_t>({4, 1}));
    m.node("Split", {"x", "split"}, {"y0", "y1"}, {{"axis", std::int64_t{-1}}});
    const std::vector<Tensor> y = run_split(m, 2);
    EXPECT_EQ(values(y[0]), (std::vector<float>{0, 1, 2, 3, 5, 6, 7, 8}));
    EXPECT_EQ(values(y[1]), (std::vector<float>{4, 9}));
  }
}

TEST(OnnxImportIndexing, SplitIntoEqualPartsAndOpset18NumOutputs) {
  {
    // Opset 18: ceil(5 / 3) = 2 per output, the last one smaller.
    ModelWriter m(18);
    m.input("x", {2, 5});
    m.node("Split", {"x"}, {"y0", "y1", "y2"},
           {{"axis", std::int64_t{1}}, {"num_outputs", std::int64_t{3}}});
    const std::vector<Tensor> y = run_split(m, 3);
    EXPECT_EQ(values(y[0]), (std::vector<float>{0, 1, 5, 6}));
    EXPECT_EQ(values(y[1]), (std::vector<float>{2, 3, 7, 8}));
    EXPECT_EQ(values(y[2]), (std::vector<float>{4, 9}));
  }
  {
    ModelWriter m(13);  // no sizes: equal parts (dim 0, 2 rows into 2)
    m.input("x", {2, 5});
    m.node("Split", {"x"}, {"y0", "y1"});
    const std::vector<Tensor> y = run_split(m, 2);
    EXPECT_EQ(values(y[1]), (std::vector<float>{5, 6, 7, 8, 9}));
  }
  ModelWriter uneven(13);
  uneven.input("x", {2, 5});
  uneven.node("Split", {"x"}, {"y0", "y1"}, {{"axis", std::int64_t{1}}});
  uneven.output("y0");
  EXPECT_THAT(import_error(uneven), HasSubstr("does not split evenly into 2 outputs"));
  ModelWriter too_long(13);
  too_long.input("x", {2, 5});
  too_long.initializer("split", Tensor::from_vector<std::int64_t>({4, 2}));
  too_long.node("Split", {"x", "split"}, {"y0", "y1"}, {{"axis", std::int64_t{1}}});
  too_long.output("y0");
  EXPECT_THAT(import_error(too_long), HasSubstr("add up to more than the dim's 5"));
}

TEST(OnnxImportIndexing, GatherOnActivationsScalarIndexRemovesTheAxis) {
  // x[:, -1] of a [2, 3, 2] activation (ViT's class token read: x[:, 0]).
  ModelWriter m(13);
  m.input("x", {2, 3, 2});
  m.initializer("i", Tensor::scalar<std::int64_t>(-1));
  m.initializer("v", Tensor::from_vector<std::int64_t>({2, 0}));
  m.node("Gather", {"x", "i"}, {"y"}, {{"axis", std::int64_t{1}}});
  m.node("Gather", {"x", "v"}, {"z"}, {{"axis", std::int64_t{1}}});
  m.output("y");
  m.output("z");
  const std::vector<Tensor> out = run_graph(m.import(), {iota({2, 3, 2})});
  ASSERT_EQ(out[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values(out[0]), (std::vector<float>{4, 5, 10, 11}));
  ASSERT_EQ(out[1].shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(values(out[1]), (std::vector<float>{4, 5, 0, 1, 10, 11, 6, 7}));

  ModelWriter matrix(13);
  matrix.input("x", {2, 3});
  matrix.initializer("i", Tensor::from_vector<std::int64_t>({0, 1}, {2, 1}));
  matrix.node("Gather", {"x", "i"}, {"y"});
  matrix.output("y");
  EXPECT_THAT(import_error(matrix), HasSubstr("indices of rank > 1 are only supported"));
}

TEST(OnnxImportIndexing, ExpandOfAnActivation) {
  ModelWriter m(13);
  m.input("x", {3, 1});
  m.initializer("shape", Tensor::from_vector<std::int64_t>({2, 1, 2}));
  m.node("Expand", {"x", "shape"}, {"y"});
  m.output("y");
  const Graph g = m.import();
  EXPECT_EQ(count_nodes(g, OpKind::Expand), 1u);
  const Tensor y = run_graph(g, {iota({3, 1})})[0];
  ASSERT_EQ(y.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(values(y), (std::vector<float>{0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2}));
}

TEST(OnnxImportIndexing, EqualNotWhereFoldTheExpandShape) {
  // torch's `class_token.expand(n, -1, -1)`: Where(Equal(shape, -1), ones, shape) turns the
  // -1 entries into 1 (Expand keeps those dims). Not is checked on the way.
  ModelWriter m(13);
  m.input("x", {1, 1, 2});
  m.initializer("requested", Tensor::from_vector<std::int64_t>({3, -1, -1}));
  m.initializer("minus_one", Tensor::scalar<std::int64_t>(-1));
  m.initializer("ones", Tensor::from_vector<std::int64_t>({1, 1, 1}));
  m.node("Equal", {"requested", "minus_one"}, {"is_keep"});
  m.node("Not", {"is_keep"}, {"is_size"});
  m.node("Where", {"is_size", "requested", "ones"}, {"shape"});
  m.node("Expand", {"x", "shape"}, {"y"});
  m.output("y");
  const Graph g = m.import();
  EXPECT_EQ(g.num_nodes(), 1u);  // only the expand remains
  const Tensor y = run_graph(g, {iota({1, 1, 2})})[0];
  ASSERT_EQ(y.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(values(y), (std::vector<float>{0, 1, 0, 1, 0, 1}));
}

TEST(OnnxImportIndexing, WhereAndEqualOnRunTimeDataAreRefusedByName) {
  ModelWriter m(13);
  m.input("x", {2});
  m.initializer("zero", Tensor::from_vector<float>({0.0f, 0.0f}));
  m.node("Equal", {"x", "zero"}, {"c"});
  m.output("c");
  EXPECT_THAT(import_error(m), HasSubstr("Equal, Not and Where only fold, on constants"));
  ModelWriter w(13);
  w.input("x", {2});
  w.initializer("c", Tensor::from_vector<std::uint8_t>({1, 0}));
  w.initializer("y", Tensor::from_vector<float>({5.0f, 6.0f}));
  w.node("Where", {"c", "x", "y"}, {"z"});
  w.output("z");
  EXPECT_THAT(import_error(w), HasSubstr("condition must be a boolean computed at import"));
}

}  // namespace
}  // namespace quantkit::onnx
