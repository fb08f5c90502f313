// pipeline::LoadedModel: a float model runs unlowered, a Q/DQ model is lowered to the fused
// integer kernels and runs bit-equal to its lowered graph's interpreter, a model file gives
// what the in-memory graph gives, and input_type names a model with several inputs.
#include "quantkit/pipeline/loaded_model.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/onnx/onnx_export.h"
#include "quantkit/pipeline/quantize_model.h"
#include "quantkit/pt2e/lowering.h"

namespace quantkit::pipeline {
namespace {

Tensor random_tensor(Shape shape, std::uint32_t seed) {
  std::mt19937 engine(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  Tensor t = Tensor::empty(std::move(shape), DType::Float32);
  for (float& v : t.span<float>()) v = dist(engine);
  return t;
}

// linear(8 → 4) → relu.
graph::Graph float_model() {
  graph::GraphBuilder b;
  graph::Value* x = b.input("x", DType::Float32, {2, 8});
  b.output(b.relu(b.linear(x, b.parameter("weight", random_tensor({4, 8}, 1)),
                           b.parameter("bias", random_tensor({4}, 2)))));
  return std::move(b).build();
}

std::size_t count_op(const graph::Graph& g, graph::OpKind op) { return graph::count_nodes(g, op); }

TEST(LoadedModel, FloatModelRunsAsIs) {
  const graph::Graph fp32 = float_model();
  const LoadedModel model(fp32.clone(), 1, "fp32");
  EXPECT_FALSE(is_quantized(model.graph()));
  EXPECT_FALSE(model.lowered());
  EXPECT_EQ(&model.executable(), &model.graph());
  EXPECT_EQ(model.input_type().to_string(), "f32[2, 8]");
  const Tensor x = random_tensor({2, 8}, 3);
  EXPECT_TRUE(bitwise_equal(model.run({x})[0], graph::run_graph(fp32, {x})[0]));
}

TEST(LoadedModel, QuantizedModelIsLoweredToFusedKernels) {
  std::vector<Tensor> calibration;
  for (std::uint32_t i = 0; i < 4; ++i) calibration.push_back(random_tensor({2, 8}, 10 + i));
  const graph::Graph qdq = quantize_model(float_model(), "int8", calibration);
  ASSERT_TRUE(is_quantized(qdq));
  const LoadedModel model(qdq.clone(), 2, "int8");
  ASSERT_TRUE(model.lowered());
  EXPECT_EQ(count_op(model.executable(), graph::OpKind::QuantizedLinear), 1u);
  EXPECT_EQ(count_op(model.executable(), graph::OpKind::Linear), 0u);
  const Tensor x = random_tensor({2, 8}, 4);
  const graph::Graph lowered = pt2e::lower_to_fused_kernels(qdq);
  EXPECT_TRUE(bitwise_equal(model.run({x})[0], graph::run_graph(lowered, {x})[0]));

  // The same model from an ONNX file gives the same result.
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("loaded_model_test_" + std::to_string(getpid()) + ".onnx");
  onnx::export_onnx(qdq, path);
  const LoadedModel from_file(path, 1);
  std::filesystem::remove(path);
  EXPECT_EQ(from_file.path(), path);
  EXPECT_TRUE(from_file.lowered());
  EXPECT_TRUE(bitwise_equal(from_file.run({x})[0], model.run({x})[0]));
}

TEST(LoadedModel, InputTypeNeedsExactlyOneInput) {
  graph::GraphBuilder b;
  graph::Value* x = b.input("x", DType::Float32, {2});
  graph::Value* y = b.input("y", DType::Float32, {2});
  b.output(b.add(x, y));
  const LoadedModel model(std::move(b).build(), 1, "two_inputs.onnx");
  try {
    (void)model.input_type();
    FAIL() << "a two-input model has no single input type";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("two_inputs.onnx (2 inputs)"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace quantkit::pipeline
