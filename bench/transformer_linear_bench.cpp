// A transformer's linear layer under the dynamic configs, through the whole lowered op
// (activation quantization included) on the runtime, one thread:
//   int8-dynamic            per-tensor int8 activations × per-channel int8 weights
//                           (dynamic_quantized_linear: int8 GEMV / GEMM)
//   int8-dynamic-per-token  per-token int8 activations × per-channel int8 weights
//                           (dynamic_quantized_linear_per_token, int8 rows)
//   8da4w                   per-token int8 activations × int4 weights in groups of 256 / 32
//                           (dynamic_quantized_linear_per_token, packed 4-bit rows)
// at ViT-B shapes: K×N = 768×768 and 768×3072, M = 1 token (GEMV) and M = 197 tokens.
//
//   build/<dir>/bench/transformer_linear_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "quantkit/graph/export.h"
#include "quantkit/graph/nn.h"
#include "quantkit/pipeline/quantize_model.h"
#include "quantkit/pt2e/lowering.h"
#include "quantkit/runtime/runtime.h"

namespace {

using namespace quantkit;

Tensor tokens(std::int64_t m, std::int64_t k) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Tensor t = Tensor::empty({m, k}, DType::Float32);
  for (float& v : t.span<float>()) v = dist(rng);
  return t;
}

void run_config(benchmark::State& state, const char* config, std::int64_t group_size) {
  const std::int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  graph::Sequential net;
  net.emplace<graph::Linear>(k, n);
  net.reset_parameters(1);
  const graph::Graph fp32 = graph::export_model(net, {Tensor::zeros({m, k}, DType::Float32)});
  const graph::Graph qdq =
      pipeline::quantize_model(fp32, config, {}, pipeline::QuantizeOptions{group_size}, nullptr);
  const graph::Graph lowered = pt2e::lower_to_fused_kernels(qdq);
  const runtime::Runtime rt(lowered, runtime::RuntimeOptions{1});
  const std::vector<Tensor> in{tokens(m, k)};
  std::vector<Tensor> out{Tensor::empty({m, n}, DType::Float32)};
  for (auto _ : state) {
    rt.run_into(in, out);
    benchmark::DoNotOptimize(out[0].raw_data());
  }
  state.counters["MACs/s"] = benchmark::Counter(static_cast<double>(m * n * k),
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (std::int64_t m : {1, 197}) {
    b->Args({m, 768, 768});
    b->Args({m, 768, 3072});
  }
  b->ArgNames({"M", "K", "N"})->Unit(benchmark::kMicrosecond);
}

void BM_Int8Dynamic(benchmark::State& s) { run_config(s, "int8-dynamic", 256); }
void BM_Int8DynamicPerToken(benchmark::State& s) { run_config(s, "int8-dynamic-per-token", 256); }
void BM_8da4w_G256(benchmark::State& s) { run_config(s, "8da4w", 256); }
void BM_8da4w_G32(benchmark::State& s) { run_config(s, "8da4w", 32); }

BENCHMARK(BM_Int8Dynamic)->Apply(shapes);
BENCHMARK(BM_Int8DynamicPerToken)->Apply(shapes);
BENCHMARK(BM_8da4w_G256)->Apply(shapes);
BENCHMARK(BM_8da4w_G32)->Apply(shapes);

}  // namespace

BENCHMARK_MAIN();
