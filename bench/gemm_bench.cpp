// fp32 (OpenBLAS sgemm) vs integer linear (uint8 × int8 → requantized uint8) on the linear
// shapes M×K×N = 64×1024×1024 and 256×4096×4096, single thread. GOPS counts a multiply-add
// as 2 operations: 2·M·N·K per run. The integer runs use the runtime's requantization as the
// runtime configures it (RequantEpilogue: per-channel float32 multipliers, a relu folded into
// the clamp, round half to even, uint8 output), so the figure is what a fused linear costs.
//
//   build/<dir>/bench/gemm_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "bench_lcg.h"
#include "quantkit/kernels/cpu_features.h"
#include "quantkit/kernels/gemm.h"

namespace {

using namespace quantkit;
using namespace quantkit::kernels;

using quantkit::bench::Lcg;

struct Problem {
  std::int64_t m, k, n;
  Tensor x_f32, w_f32, bias_f32;
  Tensor x_u8;
  std::unique_ptr<PackedWeights> w_s8;
  RequantEpilogue requant;
};

const Problem& problem(std::int64_t m, std::int64_t k, std::int64_t n) {
  static std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t>, Problem> cache;
  auto [it, inserted] = cache.try_emplace({m, k, n});
  Problem& p = it->second;
  if (!inserted) return p;
  p.m = m;
  p.k = k;
  p.n = n;
  Lcg rng{42};
  p.x_f32 = Tensor::empty({m, k}, DType::Float32);
  p.x_u8 = Tensor::empty({m, k}, DType::UInt8);
  for (std::int64_t i = 0; i < m * k; ++i) {
    const std::uint8_t q = static_cast<std::uint8_t>(rng.next());
    p.x_u8.data<std::uint8_t>()[i] = q;
    p.x_f32.data<float>()[i] = (q - 128) * 0.01f;
  }
  Tensor w_s8 = Tensor::empty({n, k}, DType::Int8);
  p.w_f32 = Tensor::empty({n, k}, DType::Float32);
  for (std::int64_t i = 0; i < n * k; ++i) {
    const std::int8_t q = static_cast<std::int8_t>(rng.next());
    w_s8.data<std::int8_t>()[i] = q;
    p.w_f32.data<float>()[i] = q * 0.02f;
  }
  p.bias_f32 = Tensor::zeros({n}, DType::Float32);
  p.w_s8 = std::make_unique<PackedWeights>(w_s8);
  std::vector<double> w_scale(static_cast<std::size_t>(n));
  for (std::int64_t c = 0; c < n; ++c) w_scale[c] = 0.02 * (1.0 + 0.5 * (c % 7) / 7.0);
  p.requant.multiplier = requant_multipliers(0.01, w_scale, 2.0);
  p.requant.out_dtype = DType::UInt8;
  p.requant.zero_point = 3;
  p.requant.quant_min = 3;  // relu folded into the clamp
  p.requant.quant_max = 255;
  return p;
}

void set_ops(benchmark::State& state, const Problem& p) {
  state.counters["GOPS"] = benchmark::Counter(2.0 * p.m * p.n * p.k * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void BM_LinearF32(benchmark::State& state) {
  const Problem& p = problem(state.range(0), state.range(1), state.range(2));
  for (auto _ : state) {
    Tensor y = linear_f32(p.x_f32, p.w_f32, p.bias_f32);
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_ops(state, p);
}

// Integer linear with the requantization epilogue (int8 output), on one kernel family.
void qlinear_on(benchmark::State& state, IsaLevel level, bool vnni) {
  if (static_cast<int>(detected_isa()) < static_cast<int>(level) ||
      (vnni && !cpu_has_avx512_vnni())) {
    state.SkipWithError("kernel not supported by this CPU");
    return;
  }
  const Problem& p = problem(state.range(0), state.range(1), state.range(2));
  set_isa_override(level);
  set_avx512_vnni_enabled(vnni);
  state.SetLabel(active_qlinear_kernel());
  for (auto _ : state) {
    Tensor y = qlinear(p.x_u8, 128, *p.w_s8, p.requant);
    benchmark::DoNotOptimize(y.raw_data());
  }
  clear_isa_override();
  set_avx512_vnni_enabled(true);
  set_ops(state, p);
}

void BM_QLinearS8_Vnni(benchmark::State& s) { qlinear_on(s, IsaLevel::Avx512, true); }
void BM_QLinearS8_Avx512(benchmark::State& s) { qlinear_on(s, IsaLevel::Avx512, false); }
void BM_QLinearS8_Avx2(benchmark::State& s) { qlinear_on(s, IsaLevel::Avx2, false); }

// M, K, N
void shapes(benchmark::internal::Benchmark* b) {
  b->Args({64, 1024, 1024})->Args({256, 4096, 4096})->Unit(benchmark::kMillisecond);
  b->MinTime(0.1);
}

BENCHMARK(BM_LinearF32)->Apply(shapes);
BENCHMARK(BM_QLinearS8_Vnni)->Apply(shapes);
BENCHMARK(BM_QLinearS8_Avx512)->Apply(shapes);
BENCHMARK(BM_QLinearS8_Avx2)->Apply(shapes);

}  // namespace

BENCHMARK_MAIN();
