// APoT quantization throughput: quantize (codes) and quant-dequant (values) over 16M float32
// elements, single thread, output buffers reused. Arguments: b, k, signed, ISA level
// (0 portable, 1 AVX2, 2 AVX-512; levels the CPU lacks are skipped).
//   build/<dir>/bench/apot_bench --benchmark_filter=Quantize
#include <benchmark/benchmark.h>

#include <random>

#include "quantkit/apot/quantizer.h"
#include "quantkit/kernels/cpu_features.h"

namespace {

using namespace quantkit;
using namespace quantkit::apot;

constexpr std::int64_t kElements = std::int64_t{1} << 24;       // 16M: memory-bound for small b
constexpr std::int64_t kCacheElements = std::int64_t{1} << 16;  // 64K: in L2, compute-bound

const Tensor& input() {
  static const Tensor x = [] {
    std::mt19937 gen(42);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    Tensor t = Tensor::empty({kElements}, DType::Float32);
    for (float& v : t.span<float>()) v = dist(gen);
    return t;
  }();
  return x;
}

// The first `n` elements of input() (a view: no copy).
Tensor input_prefix(std::int64_t n) {
  return Tensor::from_blob(const_cast<float*>(input().data<float>()), {n}, DType::Float32);
}

bool select_isa(benchmark::State& state, std::int64_t level) {
  const auto isa = static_cast<kernels::IsaLevel>(level);
  if (static_cast<int>(isa) > static_cast<int>(kernels::detected_isa())) {
    state.SkipWithError("ISA not available on this CPU");
    return false;
  }
  kernels::set_isa_override(isa);
  state.SetLabel(std::string(kernels::isa_name(isa)));
  return true;
}

ApotQuantizer make_quantizer(const benchmark::State& state) {
  const ApotScheme scheme{static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
                          state.range(2) != 0};
  return ApotQuantizer(make_apot_qparams(scheme, 3.0f));
}

void quantize_n(benchmark::State& state, std::int64_t n) {
  if (!select_isa(state, state.range(3))) return;
  const ApotQuantizer quantizer = make_quantizer(state);
  const Tensor x = input_prefix(n);
  Tensor codes = Tensor::empty(x.shape(), DType::Int32);
  for (auto _ : state) {
    quantizer.quantize_into(x, codes);
    benchmark::DoNotOptimize(codes.raw_data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
  kernels::clear_isa_override();
}

void BM_ApotQuantize(benchmark::State& state) { quantize_n(state, kElements); }
void BM_ApotQuantizeInCache(benchmark::State& state) { quantize_n(state, kCacheElements); }

void BM_ApotQuantDequant(benchmark::State& state) {
  if (!select_isa(state, state.range(3))) return;
  const ApotQuantizer quantizer = make_quantizer(state);
  const Tensor& x = input();
  Tensor out = Tensor::empty(x.shape(), DType::Float32);
  for (auto _ : state) {
    quantizer.quant_dequant_into(x, out);
    benchmark::DoNotOptimize(out.raw_data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kElements);
  kernels::clear_isa_override();
}

void BM_ApotDequantize(benchmark::State& state) {
  const ApotQuantizer quantizer = make_quantizer(state);
  const Tensor codes = quantizer.quantize(input());
  Tensor out = Tensor::empty(codes.shape(), DType::Float32);
  for (auto _ : state) {
    quantizer.dequantize_into(codes, out);
    benchmark::DoNotOptimize(out.raw_data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kElements);
}

void BM_ApotBuildQparams(benchmark::State& state) {
  const ApotScheme scheme{static_cast<int>(state.range(0)), static_cast<int>(state.range(1)),
                          state.range(2) != 0};
  for (auto _ : state) {
    const ApotQuantizer q(make_apot_qparams(scheme, 3.0f));
    benchmark::DoNotOptimize(q.table().thresholds.data());
  }
  state.SetLabel(std::to_string(scheme.num_levels()) + " levels");
}

void quantize_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"b", "k", "signed", "isa"});
  for (const auto& s : std::vector<std::vector<std::int64_t>>{
           {4, 2, 0}, {4, 2, 1}, {8, 2, 0}, {8, 2, 1}, {6, 3, 0}, {8, 4, 0}, {16, 4, 0}}) {
    for (std::int64_t isa = 0; isa <= 2; ++isa) b->Args({s[0], s[1], s[2], isa});
  }
  b->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_ApotQuantize)->Apply(quantize_args);
BENCHMARK(BM_ApotQuantizeInCache)->Apply(quantize_args);
BENCHMARK(BM_ApotQuantDequant)->Apply(quantize_args);
BENCHMARK(BM_ApotDequantize)
    ->ArgNames({"b", "k", "signed"})
    ->Args({4, 2, 0})
    ->Args({8, 2, 0})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ApotBuildQparams)
    ->ArgNames({"b", "k", "signed"})
    ->Args({4, 2, 0})
    ->Args({8, 2, 1})
    ->Args({16, 2, 0})
    ->Args({16, 4, 1})
    ->Args({16, 2, 1})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
