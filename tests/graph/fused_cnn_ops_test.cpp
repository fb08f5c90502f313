// The fused CNN ops' schemas (quantized_mul, quantized_lut, quantized_concat, the quantized
// average pools): type inference names the bad operand, and the reference kernels handle the
// layouts the graph allows (3-d images, any concat dim). Their arithmetic against the Q/DQ
// graph is tested in tests/pt2e/lowering_cnn_ops_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "graph_test_util.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/fused_op_params.h"
#include "quantkit/graph/interpreter.h"

namespace quantkit::graph {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::identical;
using testing::random_ints;

std::string build_error(const std::function<void(GraphBuilder&)>& body) {
  GraphBuilder b;
  try {
    body(b);
    (void)std::move(b).build();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

AttributeMap pool_requant(DType dtype) {
  AttributeMap a;
  a.emplace("in_scale", 0.05);
  a.emplace("in_zero_point", std::int64_t{1});
  a.emplace("out_scale", 0.04);
  a.emplace("out_zero_point", std::int64_t{-2});
  a.emplace("quant_min", std::int64_t{-128});
  a.emplace("quant_max", std::int64_t{127});
  a.emplace("dtype", dtype);
  return a;
}

TEST(FusedCnnOps, TypeInferenceNamesTheBadOperand) {
  EXPECT_THAT(build_error([](GraphBuilder& b) {
                Value* x = b.input("x", DType::Int8, {4});
                Value* t = b.constant(Tensor::zeros({255}, DType::UInt8));
                b.node(OpKind::QuantizedLut, {x, t}, {{"dtype", DType::Int8}});
              }),
              AllOf(HasSubstr("quantized_lut"), HasSubstr("'table'"), HasSubstr("u8[256]")));
  EXPECT_THAT(build_error([](GraphBuilder& b) {
                Value* x = b.input("x", DType::Int8, {2, 3});
                b.node(OpKind::QuantizedConcat, {x, x},
                       {{"dim", std::int64_t{1}},
                        {"scales", std::vector<double>{0.1}},
                        {"zero_points", std::vector<std::int64_t>{0, 0}},
                        {"out_scale", 0.1},
                        {"out_zero_point", std::int64_t{0}},
                        {"dtype", DType::Int8}});
              }),
              AllOf(HasSubstr("quantized_concat"), HasSubstr("one per input (2)")));
  EXPECT_THAT(build_error([](GraphBuilder& b) {
                Value* x = b.input("x", DType::Int8, {2, 3});
                b.node(OpKind::QuantizedMul, {x, x},
                       {{"a_zero_point", std::int64_t{0}},
                        {"b_zero_point", std::int64_t{0}},
                        {"multiplier", 0.0},
                        {"out_zero_point", std::int64_t{0}},
                        {"quant_min", std::int64_t{-128}},
                        {"quant_max", std::int64_t{127}},
                        {"dtype", DType::Int8}});
              }),
              AllOf(HasSubstr("quantized_mul"), HasSubstr("'multiplier'"), HasSubstr("> 0")));
  EXPECT_THAT(build_error([](GraphBuilder& b) {
                Value* x = b.input("x", DType::Int8, {1, 2, 4, 4});
                AttributeMap a = pool_requant(DType::Int8);
                a.erase("in_zero_point");
                a.emplace("in_zero_point", std::int64_t{300});
                a.emplace("output_size", std::vector<std::int64_t>{1, 1});
                b.node(OpKind::QuantizedAdaptiveAvgPool2d, {x}, std::move(a));
              }),
              AllOf(HasSubstr("'in_zero_point' is 300"), HasSubstr("int8")));
}

TEST(FusedCnnOps, PoolsTakeUnbatchedImages) {
  const Tensor x = random_ints<std::int8_t>({1, 3, 7, 7}, 5, -128, 127);
  auto pooled = [&x](Shape shape) {
    GraphBuilder b;
    AttributeMap a = pool_requant(DType::Int8);
    a.emplace("output_size", std::vector<std::int64_t>{2, 3});
    b.output(b.node(OpKind::QuantizedAdaptiveAvgPool2d, {b.input("x", DType::Int8, shape)},
                    std::move(a))
                 ->output());
    const Tensor in = x.reshape(shape);
    return run_graph(std::move(b).build(), {in})[0];
  };
  const Tensor batched = pooled({1, 3, 7, 7});
  const Tensor unbatched = pooled({3, 7, 7});
  EXPECT_EQ(unbatched.shape(), (Shape{3, 2, 3}));
  EXPECT_TRUE(identical(unbatched.reshape({1, 3, 2, 3}), batched));
}

TEST(FusedCnnOps, ConcatWithSharedQparamsIsACatOfTheCodes) {
  const Tensor a = random_ints<std::int8_t>({2, 3, 4}, 1, -128, 127);
  const Tensor c = random_ints<std::int8_t>({2, 3, 2}, 2, -128, 127);
  for (std::int64_t dim : {2, -1}) {
    GraphBuilder b;
    Value* x = b.input("a", DType::Int8, a.shape());
    Value* y = b.input("c", DType::Int8, c.shape());
    b.output(b.node(OpKind::QuantizedConcat, {x, y},
                    {{"dim", dim},
                     {"scales", std::vector<double>{0.1, 0.1}},
                     {"zero_points", std::vector<std::int64_t>{3, 3}},
                     {"out_scale", 0.1},
                     {"out_zero_point", std::int64_t{3}},
                     {"dtype", DType::Int8}})
                 ->output());
    GraphBuilder r;
    r.output(r.cat({r.input("a", DType::Int8, a.shape()), r.input("c", DType::Int8, c.shape())},
                   dim));
    EXPECT_TRUE(identical(run_graph(std::move(b).build(), {a, c})[0],
                          run_graph(std::move(r).build(), {a, c})[0]))
        << "dim " << dim;
  }
}

TEST(FusedCnnOps, ParamsRefuseOtherOps) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 1, 2, 2});
  b.output(b.relu(x));
  const Graph g = std::move(b).build();
  EXPECT_THROW(pool_params(*g.nodes().front()), Error);
  EXPECT_THROW(binary_params(*g.nodes().front()), Error);
}

}  // namespace
}  // namespace quantkit::graph
