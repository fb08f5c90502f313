// Runtime v2's plan on CNN-shaped graphs from the real PT2E flow (export → XNNPACKQuantizer
// → prepare → calibrate → convert → lower): which kernel runs each node, the NHWC layout,
// the arena's liveness-based reuse, a steady-state run without allocation, and outputs equal
// to the interpreter's at every ISA level and thread count and within one step of the Q/DQ
// graph's.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "../pt2e/pt2e_test_util.h"
#include "../pt2e/qdq_graphs.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/export.h"
#include "quantkit/graph/functional.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/graph/nn.h"
#include "quantkit/kernels/cpu_features.h"
#include "quantkit/pt2e/convert.h"
#include "quantkit/pt2e/lowering.h"
#include "quantkit/pt2e/prepare.h"
#include "quantkit/pt2e/xnnpack_quantizer.h"
#include "quantkit/runtime/runtime.h"

// Counts heap allocations while `g_counting` is set (the no-allocation test).
namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

// GCC pairs its builtin new with free() when it inlines these: they are a matched pair here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void* operator new(std::size_t size, std::align_val_t align) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  const auto a = static_cast<std::size_t>(align);
  if (void* p = std::aligned_alloc(a, (size + a - 1) / a * a)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size, std::align_val_t align) {
  return ::operator new(size, align);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t& t) noexcept {
  return ::operator new(size, t);
}
void* operator new(std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  const auto a = static_cast<std::size_t>(align);
  return std::aligned_alloc(a, (size + a - 1) / a * a);
}
void* operator new[](std::size_t size, std::align_val_t align, const std::nothrow_t& t) noexcept {
  return ::operator new(size, align, t);
}
// Every form of delete frees what the matching new above got from malloc / aligned_alloc
// (ASan checks the pairing).
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}
#pragma GCC diagnostic pop

namespace quantkit::runtime {
namespace {

using graph::Graph;
using graph::Proxy;
using graph::testing::identical;
using kernels::IsaLevel;

// conv-bn-relu stem, max pool, a residual block, a depthwise-separable block with relu6,
// a 1×1 projection, global average pooling and a classifier: resnet18's and mobilenet_v2's
// shapes in miniature.
struct MiniNet : graph::Module {
  graph::Conv2d stem{3, 16, 3, graph::Conv2dOptions({2, 2}, {1, 1})};
  graph::BatchNorm2d stem_bn{16};
  graph::ReLU relu;
  graph::MaxPool2d pool{3, 2, 1};
  graph::Conv2d block1{16, 16, 3, graph::Conv2dOptions({1, 1}, {1, 1})};
  graph::Conv2d block2{16, 16, 3, graph::Conv2dOptions({1, 1}, {1, 1})};
  graph::Conv2d expand{16, 48, 1};
  graph::Conv2d depthwise{48, 48, 3, graph::Conv2dOptions({1, 1}, {1, 1}, {1, 1}, 48)};
  graph::Hardtanh relu6{0.0, 6.0};
  graph::Conv2d project{48, 24, 1};
  graph::AdaptiveAvgPool2d gap{1};
  graph::Linear fc{24, 10};
  MiniNet() : Module("MiniNet") {
    for (auto [name, m] : std::vector<std::pair<const char*, graph::Module*>>{
             {"stem", &stem}, {"stem_bn", &stem_bn}, {"relu", &relu}, {"pool", &pool},
             {"block1", &block1}, {"block2", &block2}, {"expand", &expand},
             {"depthwise", &depthwise}, {"relu6", &relu6}, {"project", &project},
             {"gap", &gap}, {"fc", &fc}}) {
      register_module(name, *m);
    }
    reset_parameters(5);
  }
  Proxy forward(const Proxy& x) override {
    Proxy y = pool(relu(stem_bn(stem(x))));
    y = relu(block2(relu(block1(y))) + y);
    y = project(relu6(depthwise(relu6(expand(y)))));
    return fc(graph::functional::flatten(gap(y), 1));
  }
};

struct Lowered {
  Graph qdq, lowered;
};

Lowered mini_net(bool per_channel) {
  MiniNet net;
  const Tensor x0 = Tensor::zeros({1, 3, 32, 32}, DType::Float32);
  const Graph fp32 = graph::export_model(net, {x0});
  pt2e::XNNPACKQuantizer quantizer;
  quantizer.set_global(pt2e::get_symmetric_quantization_config(per_channel));
  pt2e::PreparedModel prepared = pt2e::prepare_pt2e(fp32, quantizer);
  for (std::uint32_t s = 0; s < 4; ++s) prepared.run({pt2e::testing::randn({1, 3, 32, 32}, 40 + s)});
  Lowered out{pt2e::convert_pt2e(prepared), Graph()};
  out.lowered = pt2e::lower_to_fused_kernels(out.qdq);
  return out;
}

std::size_t count_containing(const std::vector<std::string>& labels, const std::string& s) {
  return static_cast<std::size_t>(std::count_if(
      labels.begin(), labels.end(), [&](const std::string& l) { return l.find(s) != l.npos; }));
}

TEST(RuntimePlan, ConvolutionsRunChannelsLastWithTheirKernels) {
  const Lowered m = mini_net(true);
  const Runtime rt(m.lowered);
  const std::vector<std::string> labels = rt.op_labels();
  for (const std::string& l : labels) std::cout << "  " << l << "\n";
  // Every fused convolution (the relu6-capped ones too: the lowering folds the clamp) runs
  // channels-last: the 1×1 ones as a GEMM over pixels, the dense 3×3 ones through gathered
  // tiles, the depthwise one through its own kernel; the classifier through the GEMM.
  EXPECT_EQ(graph::count_nodes(m.lowered, graph::OpKind::QuantizedConv2d), 6u);
  EXPECT_EQ(count_containing(labels, "quantized_conv2d '"), 6u);
  EXPECT_EQ(count_containing(labels, "(nhwc gemm)"), 2u);
  EXPECT_EQ(count_containing(labels, "(nhwc gathered gemm)"), 3u);
  EXPECT_EQ(count_containing(labels, "(nhwc depthwise"), 1u);
  EXPECT_EQ(count_containing(labels, "quantized_linear '"), 1u);
  // The residual add runs channels-last on the vector kernel.
  EXPECT_EQ(count_containing(labels, "quantized_add '"), 1u);
  EXPECT_EQ(count_containing(labels, "quantized_add") ,1u);
  // One conversion into NHWC (the quantized input image); back to NCHW only where a
  // float op reads a quantized image.
  EXPECT_EQ(count_containing(labels, "to_nhwc"), 1u);
}

TEST(RuntimePlan, EqualsTheInterpreterAtEveryIsaAndThreadCount) {
  for (bool per_channel : {false, true}) {
    const Lowered m = mini_net(per_channel);
    const Tensor x = pt2e::testing::randn({1, 3, 32, 32}, 77);
    const Tensor expected = graph::run_graph(m.lowered, {x})[0];
    for (IsaLevel isa : {IsaLevel::Portable, IsaLevel::Avx2, IsaLevel::Avx512}) {
      if (isa > kernels::detected_isa()) continue;
      kernels::set_isa_override(isa);
      for (int threads : {1, 2, 3}) {
        const Runtime rt(m.lowered, RuntimeOptions{threads});
        EXPECT_TRUE(identical(rt.run(std::vector<Tensor>{x})[0], expected))
            << kernels::isa_name(isa) << ", " << threads << " threads, per_channel "
            << per_channel;
      }
    }
    kernels::clear_isa_override();
    // And close to the float Q/DQ graph it was lowered from.
    EXPECT_GT(pt2e::testing::sqnr_db(graph::run_graph(m.qdq, {x})[0], expected), 30.0);
  }
}

TEST(RuntimePlan, ArenaReusesDeadActivations) {
  const Lowered m = mini_net(true);
  const Runtime rt(m.lowered);
  std::size_t every_activation = 0;
  for (const graph::Node* n : m.lowered.nodes()) {
    for (const graph::Value* v : n->outputs()) {
      every_activation += static_cast<std::size_t>(v->type().numel()) * dtype_size(v->dtype());
    }
  }
  std::cout << "arena " << rt.arena_bytes() << " bytes, all activations " << every_activation
            << " bytes\n";
  EXPECT_LT(rt.arena_bytes(), every_activation / 2);
}

TEST(RuntimePlan, SteadyStateRunIntoAllocatesNothing) {
  // int8 in, int8 out, every node on a fast kernel: a convolution, and a linear of one row
  // (the GEMV where the CPU has VNNI).
  quantkit::testing::LayerSpec s;
  s.per_channel = true;
  struct Case {
    Graph lowered;
    Tensor x;
    Shape out;
  };
  std::vector<Case> cases;
  cases.push_back({pt2e::lower_to_fused_kernels(quantkit::testing::static_conv(
                       s, {1, 8, 16, 16}, 16, 3, graph::Conv2dOptions({1, 1}, {1, 1}))),
                   graph::testing::random_ints<std::int8_t>({1, 8, 16, 16}, 3, -128, 127),
                   {1, 16, 16, 16}});
  cases.push_back({pt2e::lower_to_fused_kernels(quantkit::testing::static_linear(s, 1, 300, 130)),
                   graph::testing::random_ints<std::int8_t>({1, 300}, 4, -128, 127),
                   {1, 130}});
  for (const Case& c : cases)
  for (int threads : {1, 2}) {
    const Graph& lowered = c.lowered;
    const Tensor& x = c.x;
    const std::vector<Tensor> inputs{x};
    const Runtime rt(lowered, RuntimeOptions{threads});
    for (const std::string& l : rt.op_labels()) EXPECT_EQ(l.find("reference"), l.npos) << l;
    std::vector<Tensor> outputs{Tensor::empty(c.out, DType::Int8)};
    rt.run_into(inputs, outputs);  // warm up
    g_allocations = 0;
    g_counting = true;
    for (int i = 0; i < 5; ++i) rt.run_into(inputs, outputs);
    g_counting = false;
    EXPECT_EQ(g_allocations.load(), 0) << threads << " threads";
    EXPECT_TRUE(identical(outputs[0], graph::run_graph(lowered, {x})[0]));
  }
}

TEST(RuntimePlan, RunIntoChecksItsOutputs) {
  const Lowered m = mini_net(false);
  const Runtime rt(m.lowered);
  const std::vector<Tensor> inputs{pt2e::testing::randn({1, 3, 32, 32}, 1)};
  std::vector<Tensor> none;
  EXPECT_THROW(rt.run_into(inputs, none), Error);
  std::vector<Tensor> wrong{Tensor::empty({1, 11}, DType::Float32)};
  EXPECT_THROW(rt.run_into(inputs, wrong), Error);
  std::vector<Tensor> right{Tensor::empty({1, 10}, DType::Float32)};
  rt.run_into(inputs, right);
  EXPECT_TRUE(identical(right[0], rt.run(inputs)[0]));
}

// ---- dynamic batch: a plan per input shape, cached ----

// x [N, 3, 8, 8] → conv 3×3 (pad 1) → relu → flatten → linear(512 → 10), int8 per channel.
Graph dynamic_lowered() {
  graph::GraphBuilder b;
  graph::Value* x = b.input("x", DType::Float32, {1, 3, 8, 8}, {"N", "", "", ""});
  graph::Value* y =
      b.relu(b.conv2d(x, b.parameter("conv.weight", pt2e::testing::randn({8, 3, 3, 3}, 1)),
                      b.parameter("conv.bias", pt2e::testing::randn({8}, 2)),
                      graph::Conv2dOptions({1, 1}, {1, 1})));
  y = b.linear(b.flatten(y, 1), b.parameter("fc.weight", pt2e::testing::randn({10, 512}, 3)),
               b.parameter("fc.bias", pt2e::testing::randn({10}, 4)));
  b.output(y);
  const Graph fp32 = std::move(b).build();
  pt2e::XNNPACKQuantizer quantizer;
  quantizer.set_global(pt2e::get_symmetric_quantization_config(true));
  pt2e::PreparedModel prepared = pt2e::prepare_pt2e(fp32, quantizer);
  for (std::uint32_t s = 0; s < 3; ++s) prepared.run({pt2e::testing::randn({2, 3, 8, 8}, 40 + s)});
  return pt2e::lower_to_fused_kernels(pt2e::convert_pt2e(prepared));
}

TEST(RuntimePlan, DynamicBatchRunsEveryShapeLikeTheInterpreter) {
  const Graph lowered = dynamic_lowered();
  ASSERT_TRUE(lowered.has_dynamic_dims());
  const Runtime rt(lowered, RuntimeOptions{2});
  // More shapes than the cache holds, then earlier ones again.
  for (std::int64_t batch : {1, 5, 2, 7, 3, 9, 5, 1}) {
    const Tensor x = pt2e::testing::randn({batch, 3, 8, 8}, static_cast<std::uint32_t>(batch));
    const Tensor y = rt.run(std::span<const Tensor>(&x, 1))[0];
    ASSERT_EQ(y.shape(), (Shape{batch, 10}));
    EXPECT_TRUE(identical(y, graph::run_graph(lowered, {x})[0])) << "batch " << batch;
  }
  try {
    const Tensor wrong = pt2e::testing::randn({4, 2, 8, 8}, 1);
    rt.run(std::span<const Tensor>(&wrong, 1));
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("f32[N, 3, 8, 8]"), std::string::npos) << e.what();
  }
}

// A run of a cached shape costs what a run of the declared shape costs: finding the plan
// allocates nothing. (This lowered graph, float in and out, allocates a few small objects per
// run even at its declared shape — 7 when this was written: the argument checks of
// quantize_per_tensor_into / dequantize_per_tensor_into (QuantRange::validate, check_out,
// check_zero_point) — so the test compares rather than expects 0.)
TEST(RuntimePlan, CachedShapesOfADynamicBatchAllocateNoMoreThanTheDeclaredShape) {
  const Graph lowered = dynamic_lowered();
  const Runtime rt(lowered);
  auto allocations = [&](const std::vector<Tensor>& x, std::vector<Tensor>& y) {
    rt.run_into(x, y);  // plans the shape, or finds it in the cache
    g_allocations = 0;
    g_counting = true;
    rt.run_into(x, y);
    g_counting = false;
    return g_allocations.load();
  };
  const std::vector<Tensor> one{pt2e::testing::randn({1, 3, 8, 8}, 1)};
  const std::vector<Tensor> big{pt2e::testing::randn({6, 3, 8, 8}, 2)};
  const std::vector<Tensor> small{pt2e::testing::randn({2, 3, 8, 8}, 3)};
  std::vector<Tensor> one_out{Tensor::empty({1, 10}, DType::Float32)};
  std::vector<Tensor> big_out{Tensor::empty({6, 10}, DType::Float32)};
  std::vector<Tensor> small_out{Tensor::empty({2, 10}, DType::Float32)};
  const auto declared = allocations(one, one_out);
  rt.run_into(big, big_out);
  for (int i = 0; i < 2; ++i) {  // alternating between two cached shapes
    EXPECT_EQ(allocations(big, big_out), declared);
    EXPECT_EQ(allocations(small, small_out), declared);
  }
  EXPECT_TRUE(identical(big_out[0], graph::run_graph(lowered, big)[0]));
  EXPECT_TRUE(identical(small_out[0], graph::run_graph(lowered, small)[0]));
}

}  // namespace
}  // namespace quantkit::runtime
