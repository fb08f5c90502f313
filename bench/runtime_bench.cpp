// fp32 graph (interpreter: OpenBLAS linear, im2col + sgemm conv) vs the lowered int8 graph
// (Q/DQ → lower_to_fused_kernels → runtime: packed int8 GEMM with requantization) on
//   * cnn: the Fashion-MNIST-sized CNN, 1×1×28×28 → conv 32 → relu → conv 64 → relu →
//     max_pool 2 → flatten → linear 128 → relu → linear 10 (batch 1, single image latency);
//   * mlp: a linear-heavy MLP, 32×1024 → 1024 → relu → 1024 → relu → 10.
// Both graphs use the same weights (the float weights are the dequantized int8 ones).
// Single thread unless the benchmark name says threads.
//
//   build/<dir>/bench/runtime_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "quantkit/graph/builder.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/pt2e/lowering.h"
#include "quantkit/runtime/runtime.h"

namespace {

using namespace quantkit;
using graph::GraphBuilder;
using graph::QuantizeAttrs;
using graph::Value;

struct Layer {
  Tensor w_i8, bias;
  double w_scale;
};

Layer make_layer(Shape shape, std::uint32_t seed) {
  std::mt19937 rng(seed);
  Layer l{Tensor::empty(shape, DType::Int8), Tensor::empty({shape[0]}, DType::Float32), 0};
  std::int64_t fan_in = 1;
  for (std::size_t d = 1; d < shape.size(); ++d) fan_in *= shape[d];
  l.w_scale = 1.0 / (127.0 * std::sqrt(static_cast<double>(fan_in)));
  for (std::int8_t& v : l.w_i8.span<std::int8_t>())
    v = static_cast<std::int8_t>(static_cast<int>(rng() % 255) - 127);
  for (float& v : l.bias.span<float>()) v = static_cast<float>(rng() % 1000) * 1e-4f - 0.05f;
  return l;
}

Tensor dequantized(const Layer& l) {
  Tensor w = Tensor::empty(l.w_i8.shape(), DType::Float32);
  for (std::int64_t i = 0; i < w.numel(); ++i) {
    w.data<float>()[i] = static_cast<float>(l.w_i8.data<std::int8_t>()[i] * l.w_scale);
  }
  return w;
}

// One model, as a float graph or in Q/DQ form (what convert_pt2e produces).
struct Builder {
  GraphBuilder b;
  bool quantized;
  int next = 0;
  Value* act(Value* v, double scale, std::int64_t zp) {
    if (!quantized) return v;
    const QuantizeAttrs q{scale, zp, -128, 127, DType::Int8};
    return b.dequantize_per_tensor(b.quantize_per_tensor(v, q), q);
  }
  Value* weight(const Layer& l) {
    if (!quantized) return b.parameter("w" + std::to_string(next++), dequantized(l));
    return b.dequantize_per_tensor(b.constant(l.w_i8, "w"), {l.w_scale, 0, -127, 127, DType::Int8});
  }
  Value* bias(const Layer& l) { return b.parameter("b" + std::to_string(next++), l.bias); }
};

graph::Graph cnn(bool quantized) {
  Builder m{GraphBuilder(), quantized};
  const Layer c1 = make_layer({32, 1, 3, 3}, 1), c2 = make_layer({64, 32, 3, 3}, 2);
  const Layer l1 = make_layer({128, 64 * 14 * 14}, 3), l2 = make_layer({10, 128}, 4);
  const graph::Conv2dOptions same({1, 1}, {1, 1});
  Value* x = m.act(m.b.input("x", DType::Float32, {1, 1, 28, 28}), 1.0 / 255, -128);
  x = m.act(m.b.relu(m.b.conv2d(x, m.weight(c1), m.bias(c1), same)), 0.01, -128);
  x = m.act(m.b.relu(m.b.conv2d(x, m.weight(c2), m.bias(c2), same)), 0.01, -128);
  x = m.act(m.b.max_pool2d(x, graph::MaxPool2dOptions({2, 2})), 0.01, -128);
  x = m.act(m.b.flatten(x, 1), 0.01, -128);
  x = m.act(m.b.relu(m.b.linear(x, m.weight(l1), m.bias(l1))), 0.01, -128);
  x = m.act(m.b.linear(x, m.weight(l2), m.bias(l2)), 0.02, 0);
  m.b.output(x);
  return std::move(m.b).build();
}

graph::Graph mlp(bool quantized) {
  Builder m{GraphBuilder(), quantized};
  const Layer a = make_layer({1024, 1024}, 5), b = make_layer({1024, 1024}, 6);
  const Layer c = make_layer({10, 1024}, 7);
  Value* x = m.act(m.b.input("x", DType::Float32, {32, 1024}), 0.01, 0);
  x = m.act(m.b.relu(m.b.linear(x, m.weight(a), m.bias(a))), 0.01, -128);
  x = m.act(m.b.relu(m.b.linear(x, m.weight(b), m.bias(b))), 0.01, -128);
  x = m.act(m.b.linear(x, m.weight(c), m.bias(c)), 0.02, 0);
  m.b.output(x);
  return std::move(m.b).build();
}

Tensor input_for(const graph::Graph& g) {
  const graph::Value* in = g.inputs()[0];
  Tensor x = Tensor::empty(in->shape(), DType::Float32);
  std::mt19937 rng(9);
  for (float& v : x.span<float>()) v = static_cast<float>(rng() % 1000) * 1e-3f;
  return x;
}

template <graph::Graph (*Make)(bool)>
void BM_Fp32Interpreter(benchmark::State& state) {
  const graph::Graph g = Make(false);
  const graph::Interpreter run(g);
  const std::vector<Tensor> x{input_for(g)};
  for (auto _ : state) benchmark::DoNotOptimize(run.run(x));
}

template <graph::Graph (*Make)(bool)>
void BM_Int8Runtime(benchmark::State& state) {
  const graph::Graph g = pt2e::lower_to_fused_kernels(Make(true));
  const runtime::Runtime run(g, runtime::RuntimeOptions{static_cast<int>(state.range(0))});
  const std::vector<Tensor> x{input_for(g)};
  for (auto _ : state) benchmark::DoNotOptimize(run.run(x));
}

template <graph::Graph (*Make)(bool)>
void BM_Int8QdqInterpreter(benchmark::State& state) {
  const graph::Graph g = Make(true);
  const graph::Interpreter run(g);
  const std::vector<Tensor> x{input_for(g)};
  for (auto _ : state) benchmark::DoNotOptimize(run.run(x));
}

BENCHMARK(BM_Fp32Interpreter<cnn>)->Name("cnn/fp32_interpreter")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Int8QdqInterpreter<cnn>)
    ->Name("cnn/int8_qdq_interpreter")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Int8Runtime<cnn>)
    ->Name("cnn/int8_runtime")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Fp32Interpreter<mlp>)->Name("mlp/fp32_interpreter")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Int8Runtime<mlp>)
    ->Name("mlp/int8_runtime")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
