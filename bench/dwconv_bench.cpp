// Depthwise int8 NHWC convolution (kernels/dwconv.h) on mobilenet_v2's depthwise layers,
// single thread, at every ISA level (portable = the reference loops). GOPS counts a
// multiply-add as 2 operations: 2·out_pixels·C·KH·KW per run; GB/s counts the input read
// once plus the output written.
//
//   build/<dir>/bench/dwconv_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "quantkit/kernels/cpu_features.h"
#include "quantkit/kernels/dwconv.h"

namespace {

using namespace quantkit;
using namespace quantkit::kernels;

// args: input size (square), channels, stride, kernel, ISA level
void BM_DwConv(benchmark::State& state) {
  const std::int64_t size = state.range(0), channels = state.range(1);
  const int stride = static_cast<int>(state.range(2)), kernel = static_cast<int>(state.range(3));
  const auto level = static_cast<IsaLevel>(state.range(4));
  if (static_cast<int>(level) > static_cast<int>(detected_isa())) {
    state.SkipWithError("ISA level not available on this CPU");
    return;
  }
  set_isa_override(level);
  std::mt19937 rng(1);
  DwConvParams p;
  p.channels = channels;
  p.kernel_h = p.kernel_w = kernel;
  p.stride_h = p.stride_w = stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = kernel / 2;
  p.input_zero_point = 3;
  p.output_zero_point = -5;
  p.qmin = -5;  // relu6-style clamp
  p.qmax = 100;
  for (std::int64_t c = 0; c < channels; ++c) p.multiplier.push_back(0.0007f + 0.00001f * c);
  std::vector<std::int8_t> w(static_cast<std::size_t>(channels * kernel * kernel));
  for (auto& v : w) v = static_cast<std::int8_t>(rng());
  std::vector<std::int32_t> bias(static_cast<std::size_t>(channels));
  for (auto& b : bias) b = static_cast<std::int32_t>(rng() % 2000) - 1000;
  DepthwiseConv2d op(p, w, bias);
  const DwConvShape& s = op.setup(1, size, size);
  std::vector<std::int8_t> in(static_cast<std::size_t>(size * size * channels));
  for (auto& v : in) v = static_cast<std::int8_t>(rng());
  std::vector<std::int8_t> out(static_cast<std::size_t>(s.output_pixels() * channels));
  for (auto _ : state) {
    op.run(in.data(), out.data(), 0, s.output_pixels());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  const double ops = 2.0 * s.output_pixels() * channels * kernel * kernel;
  const double bytes = static_cast<double>(in.size() + out.size());
  state.counters["GOPS"] =
      benchmark::Counter(ops * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["GB/s"] =
      benchmark::Counter(bytes * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
  state.SetLabel(std::string(isa_name(level)) + " " + op.kernel_name());
  clear_isa_override();
}

void mobilenet_v2_layers(benchmark::internal::Benchmark* b) {
  // {input size, channels, stride}: mobilenet_v2's depthwise 3×3 layers at 224².
  const std::int64_t layers[][3] = {{112, 32, 1}, {112, 96, 2}, {56, 144, 1}, {56, 144, 2},
                                    {28, 192, 1}, {28, 192, 2}, {14, 384, 1}, {14, 576, 1},
                                    {14, 576, 2}, {7, 960, 1}};
  for (int level = 0; level <= 2; ++level) {
    for (const auto& l : layers) b->Args({l[0], l[1], l[2], 3, level});
    b->Args({28, 240, 1, 5, level});  // efficientnet-style 5×5
    b->Args({28, 240, 2, 5, level});
  }
}

BENCHMARK(BM_DwConv)
    ->Apply(mobilenet_v2_layers)
    ->ArgNames({"hw", "c", "s", "k", "isa"})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
