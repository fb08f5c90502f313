// The fast runtime equals the interpreter bit for bit on lowered graphs, for every ISA
// level and thread count, and rejects bad inputs with quantkit::Error.
#include "quantkit/runtime/runtime.h"

#include <gtest/gtest.h>

#include <vector>

#include "../pt2e/qdq_graphs.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/kernels/cpu_features.h"
#include "quantkit/pt2e/lowering.h"
#include "support/isa_report.h"

namespace quantkit::runtime {
namespace {

using graph::Graph;
using graph::OpKind;
using graph::testing::identical;
using graph::testing::random_ints;
using graph::testing::random_tensor;
using kernels::IsaLevel;
using quantkit::testing::LayerSpec;

// Which ISA levels this binary covered (see support/isa_report.h).
QUANTKIT_ISA_COVERAGE_TESTS(RuntimeIsaCoverage)

Tensor random_act(DType dtype, Shape shape, std::uint32_t seed) {
  return dtype == DType::Int8 ? random_ints<std::int8_t>(std::move(shape), seed, -128, 127)
                              : random_ints<std::uint8_t>(std::move(shape), seed, 0, 255);
}

// Runs `lowered` with the interpreter, then with the runtime at every ISA level the CPU has
// and 1 and 3 threads; every result must be identical.
void expect_runtime_matches(const Graph& lowered, const std::vector<Tensor>& inputs,
                            const std::string& what) {
  const std::vector<Tensor> expected = graph::run_graph(lowered, inputs);
  for (IsaLevel isa : {IsaLevel::Portable, IsaLevel::Avx2, IsaLevel::Avx512}) {
    if (isa > kernels::detected_isa()) continue;
    kernels::set_isa_override(isa);
    for (int threads : {1, 3}) {
      const Runtime rt(lowered, RuntimeOptions{threads});
      const std::vector<Tensor> got = rt.run(inputs);
      ASSERT_EQ(got.size(), expected.size());
      for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_TRUE(identical(got[i], expected[i]))
            << what << ": output " << i << " at " << kernels::isa_name(isa) << ", " << threads
            << " threads";
      }
    }
  }
  kernels::clear_isa_override();
}

TEST(Runtime, QuantizedLinearEveryVariant) {
  for (DType dtype : {DType::Int8, DType::UInt8}) {
    for (bool per_channel : {false, true}) {
      for (bool relu : {false, true}) {
        LayerSpec s;
        s.dtype = dtype;
        s.per_channel = per_channel;
        s.relu = relu;
        // 70 rows: threads get uneven chunks; K = 45 is not a multiple of the packing.
        const Graph lowered =
            pt2e::lower_to_fused_kernels(quantkit::testing::static_linear(s, 70, 45, 37));
        ASSERT_EQ(graph::count_nodes(lowered, OpKind::QuantizedLinear), 1u);
        expect_runtime_matches(lowered, {random_act(dtype, {70, 45}, 5)},
                               std::string(dtype_name(dtype)) + " linear pc=" +
                                   std::to_string(per_channel) + " relu=" + std::to_string(relu));
      }
    }
  }
}

// A linear layer of one row runs the GEMV (kernels/gemv.h) where it pays: int8 with VNNI,
// packed 4-bit when every weight is in [-8, 7] and the weights exceed 2 MiB (AVX-512). Same
// bits as the interpreter either way.
Graph one_row_linear(std::int64_t k, std::int64_t n, std::int64_t w_lo, std::int64_t w_hi) {
  graph::GraphBuilder b;
  const LayerSpec s;
  graph::Value* x = b.dequantize_per_tensor(
      b.input("x", DType::Int8, {1, k}), quantkit::testing::act(DType::Int8, s.x_scale, s.x_zero_point));
  std::vector<float> scales;
  for (std::int64_t c = 0; c < n; ++c) scales.push_back(0.02f + 0.0001f * static_cast<float>(c % 50));
  graph::Value* w = b.dequantize_per_channel(
      b.constant(random_ints<std::int8_t>({n, k}, 3, w_lo, w_hi), "w"),
      b.constant(Tensor::from_vector(scales), "w_scales"),
      b.constant(Tensor::from_vector(std::vector<std::int64_t>(static_cast<std::size_t>(n), 0)),
                 "w_zp"),
      0, w_lo, w_hi, DType::Int8);
  graph::Value* y = b.linear(x, w, quantkit::testing::float_bias(b, n, 4));
  b.output(b.quantize_per_tensor(y, quantkit::testing::act(DType::Int8, 2.0, 3)));
  return pt2e::lower_to_fused_kernels(std::move(b).build());
}

TEST(Runtime, QuantizedLinearOfOneRowRunsTheGemv) {
  struct Case {
    const char* name;
    std::int64_t k, n, lo, hi;
    const char* label;  // expected with AVX-512 VNNI at the AVX-512 level
  };
  for (const Case& c : {Case{"int8 weights", 300, 130, -127, 127, "(gemv int8"},
                        Case{"4-bit weights, 2 MiB", 1024, 2048, -8, 7, "(gemv int4"}}) {
    const Graph lowered = one_row_linear(c.k, c.n, c.lo, c.hi);
    ASSERT_EQ(graph::count_nodes(lowered, OpKind::QuantizedLinear), 1u);
    expect_runtime_matches(lowered, {random_act(DType::Int8, {1, c.k}, 6)}, c.name);
    if (kernels::detected_isa() == IsaLevel::Avx512 && kernels::cpu_has_avx512_vnni()) {
      const Runtime rt(lowered);
      bool found = false;
      for (const std::string& l : rt.op_labels()) found = found || l.find(c.label) != std::string::npos;
      EXPECT_TRUE(found) << c.name << ": no '" << c.label << "' op in the plan";
    }
  }
}

TEST(Runtime, QuantizedConv2dPaddingStrideGroupsDilation) {
  struct Case {
    Shape x;
    std::int64_t out, kernel;
    graph::Conv2dOptions options;
  };
  const std::vector<Case> cases{
      {{2, 3, 11, 10}, 8, 3, graph::Conv2dOptions({1, 1}, {1, 1})},
      {{1, 4, 12, 9}, 6, 3, graph::Conv2dOptions({2, 1}, {2, 0}, {1, 1}, 2)},
      {{1, 6, 9, 9}, 6, 3, graph::Conv2dOptions({1, 1}, {1, 2}, {2, 2}, 6)},  // depthwise
      {{1, 32, 14, 14}, 40, 1, graph::Conv2dOptions({1, 1})},
      // 16 pixels, 160 channels: threads split output channels (3 tiles of 64).
      {{1, 64, 4, 4}, 160, 3, graph::Conv2dOptions({1, 1}, {1, 1})},
  };
  for (const Case& c : cases) {
    for (DType dtype : {DType::Int8, DType::UInt8}) {
      for (bool per_channel : {false, true}) {
        LayerSpec s;
        s.dtype = dtype;
        s.per_channel = per_channel;
        s.relu = per_channel;
        s.x_zero_point = 40;  // padding must read a nonzero zero point
        const Graph lowered = pt2e::lower_to_fused_kernels(
            quantkit::testing::static_conv(s, c.x, c.out, c.kernel, c.options));
        ASSERT_EQ(graph::count_nodes(lowered, OpKind::QuantizedConv2d), 1u);
        expect_runtime_matches(lowered, {random_act(dtype, c.x, 9)},
                               "conv " + shape_to_string(c.x) + " groups " +
                                   std::to_string(c.options.groups) + " " +
                                   std::string(dtype_name(dtype)));
      }
    }
  }
}

TEST(Runtime, QuantizedAddBothRoundingsAndTails) {
  for (DType dtype : {DType::Int8, DType::UInt8}) {
    for (bool relu : {false, true}) {
      // 1000 + 37 elements: full vectors and a scalar tail.
      const Graph lowered =
          pt2e::lower_to_fused_kernels(quantkit::testing::static_add(dtype, {1037}, relu));
      ASSERT_EQ(graph::count_nodes(lowered, OpKind::QuantizedAdd), 1u);
      expect_runtime_matches(
          lowered, {random_act(dtype, {1037}, 1), random_act(dtype, {1037}, 2)},
          "add " + std::string(dtype_name(dtype)) + " relu=" + std::to_string(relu));
      // Every pair of int8 values, where the half-to-even ties happen.
      if (dtype == DType::Int8) {
        Tensor a = Tensor::empty({65536}, DType::Int8), b = Tensor::empty({65536}, DType::Int8);
        for (int i = 0; i < 65536; ++i) {
          a.data<std::int8_t>()[i] = static_cast<std::int8_t>(i & 255);
          b.data<std::int8_t>()[i] = static_cast<std::int8_t>(i >> 8);
        }
        const Graph all =
            pt2e::lower_to_fused_kernels(quantkit::testing::static_add(dtype, {65536}, relu));
        expect_runtime_matches(all, {a, b}, "add all pairs");
      }
    }
  }
}

TEST(Runtime, DynamicQuantizedLinear) {
  for (bool per_channel : {false, true}) {
    for (bool bias : {false, true}) {
      const Graph lowered = pt2e::lower_to_fused_kernels(
          quantkit::testing::dynamic_linear(33, 50, 21, per_channel, bias));
      ASSERT_EQ(graph::count_nodes(lowered, OpKind::DynamicQuantizedLinear), 1u);
      expect_runtime_matches(lowered, {random_tensor({33, 50}, 4, -3.0f, 2.0f)},
                             "dynamic pc=" + std::to_string(per_channel));
    }
  }
}

TEST(Runtime, SmallCnnEndToEnd) {
  for (bool per_channel : {false, true}) {
    const Graph qdq = quantkit::testing::small_cnn(per_channel, 12);
    const Graph lowered = pt2e::lower_to_fused_kernels(qdq);
    const Tensor x = random_tensor({1, 1, 12, 12}, 3, 0.0f, 1.0f);
    expect_runtime_matches(lowered, {x}, "cnn");
    // The unlowered Q/DQ graph also runs (every op through the interpreter's kernels).
    expect_runtime_matches(qdq, {x}, "cnn qdq");
  }
}

TEST(Runtime, BadInputsThrow) {
  const Graph lowered =
      pt2e::lower_to_fused_kernels(quantkit::testing::static_linear(LayerSpec{}, 2, 8, 4));
  EXPECT_THROW(Runtime(lowered, RuntimeOptions{0}), Error);
  const Runtime rt(lowered);
  EXPECT_THROW(rt.run({}), Error);
  const std::vector<Tensor> wrong_dtype{random_act(DType::UInt8, {2, 8}, 1)};
  EXPECT_THROW(rt.run(wrong_dtype), Error);
  const std::vector<Tensor> wrong_shape{random_act(DType::Int8, {3, 8}, 1)};
  EXPECT_THROW(rt.run(wrong_shape), Error);
  const Graph dyn =
      pt2e::lower_to_fused_kernels(quantkit::testing::dynamic_linear(2, 8, 4, false, false));
  EXPECT_NO_THROW(Runtime(dyn).run(std::vector<Tensor>{random_tensor({2, 8}, 1)}));
}

TEST(Runtime, InputsAreNotModifiedAndOutputsDoNotAlias) {
  graph::GraphBuilder b;
  graph::Value* x = b.input("x", DType::Int8, {2, 8});
  b.output(x);
  b.output(b.flatten(x, 0));
  const Graph g = std::move(b).build();
  const Tensor in = random_act(DType::Int8, {2, 8}, 3);
  const Tensor copy = in.clone();
  const std::vector<Tensor> out = Runtime(g).run(std::vector<Tensor>{in});
  EXPECT_NE(out[0].raw_data(), in.raw_data());
  EXPECT_NE(out[1].raw_data(), in.raw_data());
  EXPECT_TRUE(identical(in, copy));
}

}  // namespace
}  // namespace quantkit::runtime
