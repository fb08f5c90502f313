// Batch-1 linear layers (M = 1), where the weights are streamed once per token:
// the tiled int8 GEMM (qlinear) at M = 1 vs the int8 GEMV vs the packed 4-bit
// GEMV, all with the runtime's requantization (per-channel multipliers, uint8
// activations and output, relu clamp), on an LLM MLP shape (K = 4096, N =
// 11008: 45 MB of int8 weights) and smaller ones, on 1 and 2 threads (the
// runtime's thread pool, output channels split in 64-channel blocks; the GEMM
// has no channel split, so it runs on 1). Counters: GOPS = 2·N·K per run; GBps
// = packed weight bytes streamed per second (the 4-bit GEMV streams half the
// bytes). Wall time (two threads).
//
//   build/<dir>/bench/gemv_bench --benchmark_repetitions=5
//   --benchmark_report_aggregates_only
#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "../src/runtime/thread_pool.h"  // the runtime's pool (internal header)
#include "bench_lcg.h"
#include "quantkit/kernels/cpu_features.h"
#include "quantkit/kernels/gemm.h"
#include "quantkit/kernels/gemv.h"

namespace {

using namespace quantkit;
using namespace quantkit::kernels;

using quantkit::bench::Lcg;

// One shape's operands; the weights are int4 values ([-8, 7]) so that every
// variant computes the same outputs.
struct Problem {
  std::int64_t k = 0, n = 0;
  std::vector<std::uint8_t> x;
  std::vector<std::int32_t> bias;
  std::vector<float> multiplier;
  std::vector<std::int8_t> w;  // [N, K]
  // Copies of the packed weights: one for hot runs; cold runs cycle through enough of them
  // (kColdBytes) that none is still in the caches (480 MiB L3 here) when its turn comes again.
  std::vector<std::unique_ptr<PackedWeights>> gemm;
  std::vector<std::unique_ptr<GemvWeights>> int8, int4;
  Tensor x_tensor, bias_tensor;
};

constexpr std::int64_t kColdBytes = std::int64_t{1} << 30;

std::int64_t copies_for(std::int64_t bytes, bool cold) {
  return cold ? (kColdBytes + bytes - 1) / bytes : 1;
}

template <class T, class Make>
const std::vector<std::unique_ptr<T>>& copies(std::vector<std::unique_ptr<T>>& v,
                                              std::int64_t bytes, bool cold, Make make) {
  while (static_cast<std::int64_t>(v.size()) < copies_for(bytes, cold)) v.push_back(make());
  return v;
}

Problem& problem(std::int64_t k, std::int64_t n) {
  static std::map<std::tuple<std::int64_t, std::int64_t>, Problem> cache;
  auto [it, inserted] = cache.try_emplace({k, n});
  Problem& p = it->second;
  if (!inserted) return p;
  p.k = k;
  p.n = n;
  Lcg rng{42};
  p.x.resize(static_cast<std::size_t>(k));
  for (auto& v : p.x) v = static_cast<std::uint8_t>(rng.next());
  p.w.resize(static_cast<std::size_t>(n * k));
  for (auto& v : p.w) v = static_cast<std::int8_t>(static_cast<int>(rng.next() % 16) - 8);
  std::vector<double> w_scale(static_cast<std::size_t>(n));
  for (std::int64_t c = 0; c < n; ++c) {
    p.bias.push_back(static_cast<std::int32_t>(rng.next() % 2001) - 1000);
    w_scale[c] = 0.02 * (1.0 + 0.5 * (c % 7) / 7.0);
  }
  p.multiplier = requant_multipliers(0.01, w_scale, 0.5);
  p.x_tensor = Tensor::from_blob(p.x.data(), {1, k}, DType::UInt8);
  p.bias_tensor = Tensor::from_blob(p.bias.data(), {n}, DType::Int32);
  return p;
}

void counters(benchmark::State& state, const Problem& p, std::int64_t weight_bytes) {
  state.counters["GOPS"] =
      benchmark::Counter(2.0 * p.n * p.k * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GBps"] = benchmark::Counter(static_cast<double>(weight_bytes) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

bool select(benchmark::State& state, IsaLevel level, bool vnni) {
  if (static_cast<int>(detected_isa()) < static_cast<int>(level) ||
      (vnni && !cpu_has_avx512_vnni())) {
    state.SkipWithError("kernel not supported by this CPU");
    return false;
  }
  set_isa_override(level);
  set_avx512_vnni_enabled(vnni);
  return true;
}

void restore() {
  clear_isa_override();
  set_avx512_vnni_enabled(true);
}

// The tiled GEMM at M = 1 (one thread), the same requantization. Args: K, N, cold.
void gemm_m1(benchmark::State& state, IsaLevel level, bool vnni) {
  if (!select(state, level, vnni)) return;
  Problem& p = problem(state.range(0), state.range(1));
  const bool cold = state.range(2) != 0;
  const std::int64_t bytes = (p.k + 3) / 4 * 4 * (p.n + 15) / 16 * 16;
  const auto& ws = copies(p.gemm, bytes, cold, [&] {
    return std::make_unique<PackedWeights>(Tensor::from_blob(p.w.data(), {p.n, p.k}, DType::Int8));
  });
  const RequantEpilogue requant{p.multiplier, 3, DType::UInt8, 3, 255};
  state.SetLabel(std::string("gemm ") + active_qlinear_kernel() + (cold ? " cold" : " hot"));
  std::size_t i = 0;
  for (auto _ : state) {
    Tensor y = qlinear(p.x_tensor, 128, *ws[i], requant, p.bias_tensor);
    benchmark::DoNotOptimize(y.raw_data());
    if (++i == ws.size()) i = 0;
  }
  restore();
  counters(state, p, bytes);
}

// Args: K, N, threads, cold.
void gemv_on(benchmark::State& state, int bits, IsaLevel level, bool vnni) {
  if (!select(state, level, vnni)) return;
  Problem& p = problem(state.range(0), state.range(1));
  const int threads = static_cast<int>(state.range(2));
  const bool cold = state.range(3) != 0;
  // docs/kernels.md "GEMV": 64-channel blocks of K padded to 4 (int8) / 8 (int4) values.
  const std::int64_t group_k = bits == 8 ? 4 : 8;
  const std::int64_t bytes =
      (p.n + 63) / 64 * 64 * ((p.k + group_k - 1) / group_k * group_k) * bits / 8;
  const auto& ws = copies(bits == 8 ? p.int8 : p.int4, bytes, cold, [&] {
    return std::make_unique<GemvWeights>(bits == 8 ? GemvWeights::pack_int8(p.w, p.n, p.k)
                                                   : GemvWeights::pack_int4(p.w, p.n, p.k));
  });
  const GemvInput in{p.x.data(), DType::UInt8, 128, p.bias};
  const GemvRequant requant{p.multiplier, 3, DType::UInt8, 3, 255};
  std::vector<std::uint8_t> y(static_cast<std::size_t>(p.n));
  runtime::detail::ThreadPool pool(threads);
  state.SetLabel(std::string("gemv int") + std::to_string(bits) + " " + active_gemv_kernel() + " " +
                 std::to_string(threads) + "t" + (cold ? " cold" : " hot"));
  std::size_t i = 0;
  for (auto _ : state) {
    const GemvWeights& w = *ws[i];
    pool.parallel_for(w.num_blocks(), 1, [&](std::int64_t b, std::int64_t e) {
      gemv(w, in, requant, y.data(), b * GemvWeights::kBlockN,
           std::min(e * GemvWeights::kBlockN, p.n));
    });
    benchmark::DoNotOptimize(y.data());
    if (++i == ws.size()) i = 0;
  }
  restore();
  counters(state, p, ws[0]->packed_bytes());
}

void BM_GemmM1_Vnni(benchmark::State& s) { gemm_m1(s, IsaLevel::Avx512, true); }
void BM_GemvInt8_Vnni(benchmark::State& s) { gemv_on(s, 8, IsaLevel::Avx512, true); }
void BM_GemvInt4_Vnni(benchmark::State& s) { gemv_on(s, 4, IsaLevel::Avx512, true); }
void BM_GemmM1_Avx512(benchmark::State& s) { gemm_m1(s, IsaLevel::Avx512, false); }
void BM_GemvInt8_Avx512(benchmark::State& s) { gemv_on(s, 8, IsaLevel::Avx512, false); }
void BM_GemvInt4_Avx512(benchmark::State& s) { gemv_on(s, 4, IsaLevel::Avx512, false); }
void BM_GemmM1_Avx2(benchmark::State& s) { gemm_m1(s, IsaLevel::Avx2, false); }
void BM_GemvInt8_Avx2(benchmark::State& s) { gemv_on(s, 8, IsaLevel::Avx2, false); }
void BM_GemvInt4_Avx2(benchmark::State& s) { gemv_on(s, 4, IsaLevel::Avx2, false); }

// (K, N): the LLM MLP up and down projections, a square layer, one that fits in L2.
constexpr std::pair<int, int> kShapes[] = {
    {4096, 11008}, {11008, 4096}, {4096, 4096}, {1024, 1024}};

void gemm_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"K", "N", "cold"});
  for (auto [k, n] : kShapes) b->Args({k, n, 0});
  b->Args({4096, 11008, 1});
  b->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(0.2);
}

void gemv_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"K", "N", "threads", "cold"});
  for (int t : {1, 2}) {
    for (auto [k, n] : kShapes) b->Args({k, n, t, 0});
    b->Args({4096, 11008, t, 1});
  }
  b->Unit(benchmark::kMicrosecond)->UseRealTime()->MinTime(0.2);
}

BENCHMARK(BM_GemmM1_Vnni)->Apply(gemm_shapes);
BENCHMARK(BM_GemvInt8_Vnni)->Apply(gemv_shapes);
BENCHMARK(BM_GemvInt4_Vnni)->Apply(gemv_shapes);
BENCHMARK(BM_GemmM1_Avx512)->Apply(gemm_shapes);
BENCHMARK(BM_GemvInt8_Avx512)->Apply(gemv_shapes);
BENCHMARK(BM_GemvInt4_Avx512)->Apply(gemv_shapes);
BENCHMARK(BM_GemmM1_Avx2)->Apply(gemm_shapes);
BENCHMARK(BM_GemvInt8_Avx2)->Apply(gemv_shapes);
BENCHMARK(BM_GemvInt4_Avx2)->Apply(gemv_shapes);

}  // namespace

BENCHMARK_MAIN();
