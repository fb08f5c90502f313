// pipeline::run_batched and as_samples: N samples run in batches give each sample's own
// outputs, bit for bit, at every batch size (fp32 and statically quantized models, lowered to
// the runtime's integer kernels); a fixed-batch model runs its own batch.
#include "quantkit/pipeline/batched_run.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/pipeline/quantize_model.h"
#include "support/small_cnn.h"

namespace quantkit::pipeline {
namespace {

using graph::testing::random_tensor;
using quantkit::testing::sample_row;
using ::testing::HasSubstr;

graph::Graph quantized(const std::string& config) {
  std::vector<Tensor> calibration;  // batches of several sizes: the model is dynamic
  for (std::uint32_t i = 0; i < 4; ++i)
    calibration.push_back(random_tensor({1 + i, 2, 8, 8}, 20 + i));
  return quantize_model(testing::small_cnn("N"), config, calibration);
}

class BatchedRun : public ::testing::TestWithParam<std::string> {};

TEST_P(BatchedRun, OutputsDoNotDependOnTheBatchSize) {
  const graph::Graph g = GetParam() == "fp32" ? testing::small_cnn("N") : quantized(GetParam());
  const LoadedModel model(g.clone(), 2, GetParam());
  ASSERT_TRUE(has_dynamic_batch(model.graph()));
  EXPECT_EQ(model.lowered(), GetParam() != "fp32");
  const Tensor x = random_tensor({10, 2, 8, 8}, 7);
  const Tensor alone = run_batched(model, {x}, {1, {}})[0];
  ASSERT_EQ(alone.shape(), (Shape{10, 5}));
  for (std::size_t batch : {3u, 4u, 10u, 64u}) {
    std::vector<std::size_t> progress;
    BatchedRunOptions options{batch, [&](std::size_t done, std::size_t total) {
                                EXPECT_EQ(total, 10u);
                                progress.push_back(done);
                              }};
    EXPECT_TRUE(bitwise_equal(run_batched(model, {x}, options)[0], alone)) << "batch " << batch;
    EXPECT_EQ(progress.size(), (10 + batch - 1) / batch);
    EXPECT_EQ(progress.back(), 10u);
  }
  // Row i is what sample i gives alone through the model.
  for (std::int64_t i : {0, 9}) {
    EXPECT_TRUE(bitwise_equal(sample_row(alone, i), model.run({sample_row(x, i)})[0])) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, BatchedRun,
                         ::testing::Values("fp32", "int8", "int8-per-channel"));

TEST(BatchedRunFixed, AStaticBatchRunsItsOwnBatchAndNeedsAMultipleOfIt) {
  const LoadedModel model(testing::small_cnn("", 2), 1, "fixed");
  EXPECT_FALSE(has_dynamic_batch(model.graph()));
  const Tensor x = random_tensor({6, 2, 8, 8}, 8);
  std::size_t calls = 0;
  const Tensor y = run_batched(model, {x}, {64, [&](std::size_t, std::size_t) { ++calls; }})[0];
  EXPECT_EQ(y.shape(), (Shape{6, 5}));
  EXPECT_EQ(calls, 3u);
  try {
    run_batched(model, {random_tensor({5, 2, 8, 8}, 9)});
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("a multiple of the model's static batch 2"));
  }
}

TEST(BatchedRunErrors, WrongSamplesAndBatchSize) {
  const LoadedModel model(testing::small_cnn("N"), 1, "dynamic");
  EXPECT_THROW(run_batched(model, {random_tensor({4, 3, 8, 8}, 1)}), Error);  // static dim
  EXPECT_THROW(run_batched(model, {Tensor::zeros({0, 2, 8, 8}, DType::Float32)}), Error);
  EXPECT_THROW(run_batched(model, {random_tensor({4, 2, 8, 8}, 1)}, {0, {}}), Error);
  EXPECT_THROW(run_batched(model, {}), Error);
}

TEST(AsSamples, StackedSamplesOrOneBatch) {
  const graph::Graph g = testing::small_cnn("N");
  const graph::Value& input = *g.inputs()[0];
  // N samples on dim 0, their dims as given or flattened differently.
  EXPECT_EQ(as_samples(Tensor::zeros({7, 2, 8, 8}, DType::Float32), input, "x").shape(),
            (Shape{7, 2, 8, 8}));
  EXPECT_EQ(as_samples(Tensor::zeros({7, 128}, DType::Float32), input, "x").shape(),
            (Shape{7, 2, 8, 8}));
  // One sample without the batch dim: a single batch.
  const graph::Graph fixed = testing::small_cnn("", 1);
  EXPECT_EQ(as_samples(Tensor::zeros({2, 8, 8}, DType::Float32), *fixed.inputs()[0], "x").shape(),
            (Shape{1, 2, 8, 8}));
  try {
    as_samples(Tensor::zeros({7, 100}, DType::Float32), input, "--input x.npy");
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("--input x.npy"));
    EXPECT_THAT(e.what(), HasSubstr("f32[N, 2, 8, 8]"));
  }
  EXPECT_THROW(as_samples(Tensor::zeros({7, 2, 8, 8}, DType::Float64), input, "x"), Error);
}

}  // namespace
}  // namespace quantkit::pipeline
