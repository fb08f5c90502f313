// pipeline::compare_layers and sqnr_db. The per-layer numbers are checked on graphs whose
// differences are known in closed form (a layer scaled by 1 + d has SQNR -20·log10|d| whatever
// the data) and on a hand-built Q/DQ layer whose SQNR the test computes from the quantize
// formula; the pairing rules (node order, same name, same type) on graphs built to break them
// and on a convert_pt2e model; and the argument errors.
#include "quantkit/pipeline/compare.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/pipeline/quantize_model.h"

namespace quantkit::pipeline {
namespace {

using graph::Graph;
using graph::GraphBuilder;
using graph::Value;

const Shape kShape{3, 7};

Tensor scalar(float v) { return Tensor::from_vector(std::vector<float>{v}); }

Tensor uniform(std::uint32_t seed, Shape shape = kShape) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  Tensor t = Tensor::empty(std::move(shape), DType::Float32);
  for (float& v : t.span<float>()) v = dist(rng);
  return t;
}

// x -> mul(x, a) "mul" -> mul(., b) "mul_1" -> relu "relu" [-> mul(., 2) "mul_2"].
Graph chain(float a, float b, bool extra_tail) {
  GraphBuilder g;
  Value* x = g.input("x", DType::Float32, kShape);
  Value* y = g.relu(g.mul(g.mul(x, g.constant(scalar(a))), g.constant(scalar(b))));
  if (extra_tail) y = g.mul(y, g.constant(scalar(2.0f)));
  g.output(y);
  return std::move(g).build();
}

// fp32: every multiplier 1. "quantized": mul scales by 1 + d (SQNR -20·log10 d, cosine 1), mul_1 by
// -1 (error (2 + d)·x: SQNR -20·log10(2 + d), cosine -1), relu then keeps the other sign of x (no
// overlap: cosine 0; SQNR from the sums over x's positive and negative parts). mul_2 exists only in
// the fp32 graph, so it has no row.
TEST(CompareLayers, PerLayerRowsMatchClosedFormSqnr) {
  const float scale = 1.01f;
  const double d = static_cast<double>(scale) - 1.0;
  const Graph fp32 = chain(1.0f, 1.0f, true);
  const Graph quantized = chain(scale, -1.0f, false);
  const std::vector<Tensor> inputs{uniform(1), uniform(2)};
  const std::vector<LayerComparison> rows = compare_layers(fp32, quantized, inputs);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].node, "mul");
  EXPECT_EQ(rows[1].node, "mul_1");
  EXPECT_EQ(rows[2].node, "relu");
  EXPECT_EQ(rows[0].op, "mul");
  EXPECT_EQ(rows[2].op, "relu");
  for (const LayerComparison& r : rows) EXPECT_EQ(r.shape, "f32[3, 7]");

  double pos2 = 0, neg2 = 0, max_abs = 0;
  for (const Tensor& t : inputs) {
    for (const float v : t.span<const float>()) {
      (v > 0 ? pos2 : neg2) += double{v} * v;
      max_abs = std::max(max_abs, std::fabs(double{v}));
    }
  }
  // Each product is rounded to float32 (relative 2^-24), hence the tolerances.
  EXPECT_NEAR(rows[0].sqnr_db, -20.0 * std::log10(d), 1e-3);
  EXPECT_NEAR(rows[0].cosine, 1.0, 1e-12);
  EXPECT_NEAR(rows[0].max_abs_error, d * max_abs, 1e-6);
  EXPECT_NEAR(rows[1].sqnr_db, -20.0 * std::log10(2.0 + d), 1e-5);
  EXPECT_NEAR(rows[1].cosine, -1.0, 1e-12);
  EXPECT_NEAR(rows[1].max_abs_error, (2.0 + d) * max_abs, 1e-5);
  const double relu_err2 = pos2 + (1 + d) * (1 + d) * neg2;
  EXPECT_NEAR(rows[2].sqnr_db, 10.0 * std::log10(pos2 / relu_err2), 1e-5);
  EXPECT_EQ(rows[2].cosine, 0.0);
}

TEST(CompareLayers, IdenticalLayersHaveInfiniteSqnrAndCosineOne) {
  const Graph g = chain(1.5f, -0.5f, false);
  const std::vector<Tensor> inputs{uniform(3)};
  const auto rows = compare_layers(g, g, inputs);
  ASSERT_EQ(rows.size(), 3u);
  for (const LayerComparison& r : rows) {
    EXPECT_EQ(r.sqnr_db, std::numeric_limits<double>::infinity()) << r.node;
    EXPECT_EQ(r.cosine, 1.0) << r.node;
    EXPECT_EQ(r.max_abs_error, 0.0) << r.node;
  }
}

// A same-named node whose output type differs is not a layer of the comparison: relu is f32[4] in
// one graph and f32[2, 2] in the other, the reshapes agree.
TEST(CompareLayers, SkipsSameNamedNodesOfAnotherType) {
  GraphBuilder a;
  a.output(a.reshape(a.relu(a.input("x", DType::Float32, {4})), {2, 2}));
  const Graph relu_first = std::move(a).build();
  GraphBuilder b;
  b.output(b.relu(b.reshape(b.input("x", DType::Float32, {4}), {2, 2})));
  const Graph reshape_first = std::move(b).build();
  const std::vector<Tensor> inputs{uniform(4, {4})};
  const auto rows = compare_layers(relu_first, reshape_first, inputs);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].node, "reshape");
  EXPECT_EQ(rows[0].shape, "f32[2, 2]");
  // relu(x) against x: the error is x's negative part.
  double pos2 = 0, neg2 = 0;
  for (const float v : inputs[0].span<const float>()) (v > 0 ? pos2 : neg2) += double{v} * v;
  EXPECT_NEAR(rows[0].sqnr_db, 10.0 * std::log10(pos2 / neg2), 1e-9);
}

// A Q/DQ layer written by hand: linear(dequantize(quantize(x)), w) named "linear" against
// the fp32 linear. The expected SQNR is computed here from the quantize formula of
// docs/architecture.md, pooled over the batches.
TEST(CompareLayers, QdqLayerRowMatchesHandComputedSqnr) {
  const std::int64_t m = 4, k = 8, n = 6;
  const Tensor w = uniform(5, {n, k});
  const graph::QuantizeAttrs q{.scale = 0.05, .zero_point = 3};
  GraphBuilder a;
  a.output(a.linear(a.input("x", DType::Float32, {m, k}), a.parameter("fc.weight", w)));
  const Graph fp32 = std::move(a).build();
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {m, k});
  Value* xq = b.dequantize_per_tensor(b.quantize_per_tensor(x, q), q);
  b.output(b.linear(xq, b.parameter("fc.weight", w)));
  const Graph quantized = std::move(b).build();
  const std::vector<Tensor> inputs{uniform(8, {m, k}), uniform(9, {m, k})};
  const auto rows = compare_layers(fp32, quantized, inputs);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].node, "linear");
  EXPECT_EQ(rows[0].op, "linear");
  EXPECT_EQ(rows[0].shape, "f32[4, 6]");

  const float inv_scale = 1.0f / static_cast<float>(q.scale);
  double signal = 0, noise = 0, max_abs = 0;
  for (const Tensor& in : inputs) {
    const float* xv = in.data<float>();
    std::vector<double> xhat(static_cast<std::size_t>(m * k));
    for (std::size_t i = 0; i < xhat.size(); ++i) {
      const float code = std::clamp(3.0f + std::nearbyint(xv[i] * inv_scale), -128.0f, 127.0f);
      xhat[i] = static_cast<double>(static_cast<float>(q.scale) * (code - 3.0f));
    }
    for (std::int64_t r = 0; r < m; ++r) {
      for (std::int64_t c = 0; c < n; ++c) {
        double ref = 0, got = 0;
        for (std::int64_t i = 0; i < k; ++i) {
          const double wv = w.data<float>()[c * k + i];
          ref += xv[r * k + i] * wv;
          got += xhat[static_cast<std::size_t>(r * k + i)] * wv;
        }
        signal += ref * ref;
        noise += (ref - got) * (ref - got);
        max_abs = std::max(max_abs, std::fabs(ref - got));
      }
    }
  }
  // The graphs compute in float32, the sums here in double: agreement to ~1e-6 relative.
  EXPECT_NEAR(rows[0].sqnr_db, 10.0 * std::log10(signal / noise), 1e-3);
  EXPECT_NEAR(rows[0].max_abs_error, max_abs, 1e-5);
  EXPECT_GT(rows[0].cosine, 0.99);
  EXPECT_LT(rows[0].cosine, 1.0);
}

// A convert_pt2e model keeps the op node names, so linear and relu pair up; int8 is close to
// fp32 but not lossless.
TEST(CompareLayers, ConvertedModelPairsItsLayersByName) {
  GraphBuilder g;
  Value* x = g.input("x", DType::Float32, {4, 8});
  g.output(g.relu(g.linear(x, g.parameter("fc.weight", uniform(5, {6, 8})))));
  const Graph fp32 = std::move(g).build();
  const std::vector<Tensor> calibration{uniform(6, {4, 8}), uniform(7, {4, 8})};
  const Graph q = quantize_model(fp32, "int8", calibration);
  const std::vector<Tensor> inputs{uniform(8, {4, 8}), uniform(9, {4, 8})};
  const auto rows = compare_layers(fp32, q, inputs);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].node, "linear");
  EXPECT_EQ(rows[1].node, "relu");
  for (const LayerComparison& r : rows) {
    EXPECT_GT(r.sqnr_db, 20.0) << r.node;
    EXPECT_LT(r.sqnr_db, 80.0) << r.node;
  }
}

TEST(CompareLayers, RejectsBadArguments) {
  const Graph g = chain(1.0f, 1.0f, false);
  EXPECT_THROW(compare_layers(g, g, {}), Error);
  // Nothing pairs up: different node names.
  GraphBuilder other;
  other.output(other.hardtanh(other.input("x", DType::Float32, kShape)));
  const std::vector<Tensor> inputs{uniform(1)};
  EXPECT_THROW(compare_layers(g, std::move(other).build(), inputs), Error);
  // A batch of the wrong shape or dtype.
  const std::vector<Tensor> wrong_shape{uniform(1, {7, 3})};
  EXPECT_THROW(compare_layers(g, g, wrong_shape), Error);
  const std::vector<Tensor> wrong_dtype{Tensor::zeros(kShape, DType::Float64)};
  EXPECT_THROW(compare_layers(g, g, wrong_dtype), Error);
  // Two inputs.
  GraphBuilder two;
  two.output(
      two.add(two.input("a", DType::Float32, kShape), two.input("b", DType::Float32, kShape)));
  const Graph two_inputs = std::move(two).build();
  EXPECT_THROW(compare_layers(two_inputs, two_inputs, inputs), Error);
}

TEST(SqnrDb, ClosedFormValues) {
  const std::vector<float> ref{3.0f, 4.0f};
  EXPECT_EQ(sqnr_db(ref, ref), std::numeric_limits<double>::infinity());
  // signal 25, noise 0.25: 10·log10(100) = 20 dB.
  EXPECT_NEAR(sqnr_db(ref, std::vector<float>{3.0f, 4.5f}), 20.0, 1e-12);
  // noise = signal: 0 dB; all-zero approximation.
  EXPECT_NEAR(sqnr_db(ref, std::vector<float>{0.0f, 0.0f}), 0.0, 1e-12);
  EXPECT_THROW(sqnr_db(ref, std::vector<float>{1.0f}), Error);
}

}  // namespace
}  // namespace quantkit::pipeline
