// APoT linear vs fp32 linear vs uniform int8 linear on M×K×N = 64×1024×1024 and
// 256×4096×4096, single thread, float32 output for all. GOPS = 2·M·N·K per run.
//   * Fp32:          kernels::linear_f32 (OpenBLAS sgemm)
//   * UniformInt8:   kernels::qlinear, uint8 × int8, float epilogue
//   * Apot b4 k2:    ApotLinear::forward (int8 multipliers 0 … 48: the same GEMM)
//   * Apot b8 k2:    ApotLinear::forward (int16 multipliers, K split in exact int32 chunks)
//   * ApotReference: the scalar shift-and-add kernel (8×1024×1024 only: it is slow)
//
//   build/<dir>/bench/apot_linear_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "quantkit/apot/apot_linear.h"
#include "quantkit/kernels/gemm.h"

namespace {

using namespace quantkit;

struct Lcg {
  std::uint64_t state;
  std::uint32_t next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::uint32_t>(state >> 33);
  }
  float uniform() { return static_cast<float>(next()) * 0x1p-30f - 1.0f; }  // [-1, 1)
};

struct Problem {
  std::int64_t m = 0, k = 0, n = 0;
  Tensor x_f32, w_f32, x_u8;
  std::unique_ptr<kernels::PackedWeights> w_s8;
  std::map<std::tuple<int, int>, std::unique_ptr<apot::ApotLinear>> apot;  // (b, k)
};

Problem& problem(std::int64_t m, std::int64_t k, std::int64_t n) {
  static std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t>, Problem> cache;
  auto [it, inserted] = cache.try_emplace({m, k, n});
  Problem& p = it->second;
  if (!inserted) return p;
  p.m = m;
  p.k = k;
  p.n = n;
  Lcg rng{7};
  p.x_u8 = Tensor::empty({m, k}, DType::UInt8);
  p.x_f32 = Tensor::empty({m, k}, DType::Float32);
  for (std::int64_t i = 0; i < m * k; ++i) {
    const std::uint8_t q = static_cast<std::uint8_t>(rng.next());
    p.x_u8.data<std::uint8_t>()[i] = q;
    p.x_f32.data<float>()[i] = (q - 128) * 0.01f;
  }
  p.w_f32 = Tensor::empty({n, k}, DType::Float32);
  Tensor w_s8 = Tensor::empty({n, k}, DType::Int8);
  for (std::int64_t i = 0; i < n * k; ++i) {
    const float v = rng.uniform();
    p.w_f32.data<float>()[i] = v;
    w_s8.data<std::int8_t>()[i] = static_cast<std::int8_t>(v * 127.0f);
  }
  p.w_s8 = std::make_unique<kernels::PackedWeights>(w_s8);
  return p;
}

const apot::ApotLinear& apot_layer(Problem& p, int b, int k) {
  auto& slot = p.apot[{b, k}];
  if (!slot) {
    slot = std::make_unique<apot::ApotLinear>(
        apot::ApotLinear::from_float(p.w_f32, apot::ApotScheme{b, k, false}));
  }
  return *slot;
}

void set_ops(benchmark::State& state, const Problem& p) {
  state.counters["GOPS"] = benchmark::Counter(2.0 * p.m * p.n * p.k * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Fp32(benchmark::State& state) {
  Problem& p = problem(state.range(0), state.range(1), state.range(2));
  for (auto _ : state) {
    Tensor y = kernels::linear_f32(p.x_f32, p.w_f32);
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_ops(state, p);
}

void BM_UniformInt8(benchmark::State& state) {
  Problem& p = problem(state.range(0), state.range(1), state.range(2));
  const kernels::FloatEpilogue epilogue{{0.01f * 0.0079f}, std::nullopt};
  state.SetLabel(kernels::active_qlinear_kernel());
  for (auto _ : state) {
    Tensor y = kernels::qlinear(p.x_u8, 128, *p.w_s8, epilogue);
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_ops(state, p);
}

void apot_forward(benchmark::State& state, int b, int k) {
  Problem& p = problem(state.range(0), state.range(1), state.range(2));
  const apot::ApotLinear& layer = apot_layer(p, b, k);
  state.SetLabel(layer.weight_storage() == apot::ApotLinear::WeightStorage::Int8 ? "int8 weights"
                                                                                 : "int16 weights");
  for (auto _ : state) {
    Tensor y = layer.forward(p.x_u8, 0.01, 128);
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_ops(state, p);
}

void BM_Apot_b4_k2(benchmark::State& state) { apot_forward(state, 4, 2); }
void BM_Apot_b8_k2(benchmark::State& state) { apot_forward(state, 8, 2); }

void BM_ApotReference_b4_k2(benchmark::State& state) {
  Problem& p = problem(state.range(0), state.range(1), state.range(2));
  const apot::ApotLinear& layer = apot_layer(p, 4, 2);
  for (auto _ : state) {
    Tensor y = layer.forward_reference(p.x_u8, 0.01, 128);
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_ops(state, p);
}

// M, K, N
void shapes(benchmark::internal::Benchmark* b) {
  b->Args({64, 1024, 1024})->Args({256, 4096, 4096})->Unit(benchmark::kMillisecond);
  b->MinTime(0.1);
}

BENCHMARK(BM_Fp32)->Apply(shapes);
BENCHMARK(BM_UniformInt8)->Apply(shapes);
BENCHMARK(BM_Apot_b4_k2)->Apply(shapes);
BENCHMARK(BM_Apot_b8_k2)->Apply(shapes);
BENCHMARK(BM_ApotReference_b4_k2)
    ->Args({8, 1024, 1024})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
