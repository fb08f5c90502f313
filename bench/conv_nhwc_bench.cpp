// NHWC int8 convolution (QConv2dNhwc, kernels/conv_nhwc.h) on resnet18's layer
// shapes, batch 1, single thread, uint8 activations, per-channel multipliers,
// relu folded into the clamp. GOPS counts a multiply-add as 2 operations: 2 ·
// pixels · OC · K (K = IC/groups · KH · KW), the figure to set beside
// gemm_bench's qlinear GOPS. One run covers every output pixel.
//
//   build/<dir>/bench/conv_nhwc_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "quantkit/kernels/conv_nhwc.h"
#include "bench_lcg.h"
#include "quantkit/kernels/cpu_features.h"
#include "quantkit/kernels/gemm.h"

namespace {

using namespace quantkit;
using namespace quantkit::kernels;

using quantkit::bench::Lcg;

struct Layer {
  const char* name;
  std::int64_t ic, oc, k, stride, pad, hw;
};

// resnet18 (torchvision), 224² input.
const Layer kLayers[] = {
    {"stem_7x7s2_3to64_224", 3, 64, 7, 2, 3, 224},
    {"conv_3x3_64to64_56", 64, 64, 3, 1, 1, 56},
    {"conv_3x3s2_64to128_56", 64, 128, 3, 2, 1, 56},
    {"conv_3x3_128to128_28", 128, 128, 3, 1, 1, 28},
    {"conv_3x3s2_128to256_28", 128, 256, 3, 2, 1, 28},
    {"down_1x1s2_128to256_28", 128, 256, 1, 2, 0, 28},
    {"conv_3x3_256to256_14", 256, 256, 3, 1, 1, 14},
    {"conv_3x3_512to512_7", 512, 512, 3, 1, 1, 7},
    {"pw_1x1_256to512_7", 256, 512, 1, 1, 0, 7},
    {"pw_1x1_64to256_56", 64, 256, 1, 1, 0, 56},
};

struct Instance {
  std::unique_ptr<QConv2dNhwc> op;
  std::vector<std::uint8_t> x, y, scratch;
  double ops = 0;
};

Instance& instance(int index) {
  static std::map<int, Instance> cache;
  auto [it, inserted] = cache.try_emplace(index);
  Instance& in = it->second;
  if (!inserted) return in;
  const Layer& l = kLayers[index];
  Lcg rng{42};
  QConv2dNhwcParams p;
  p.in_channels = l.ic;
  p.out_channels = l.oc;
  p.kernel_h = p.kernel_w = l.k;
  p.stride_h = p.stride_w = l.stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = l.pad;
  p.x_dtype = DType::UInt8;
  p.x_zero_point = 128;
  p.y_dtype = DType::UInt8;
  p.y_zero_point = 0;
  p.quant_min = 0;  // relu
  p.quant_max = 255;
  std::vector<double> w_scales(static_cast<std::size_t>(l.oc));
  for (std::int64_t c = 0; c < l.oc; ++c) w_scales[c] = 0.01 * (1.0 + 0.3 * (c % 5) / 5.0);
  p.multiplier = requant_multipliers(0.02, w_scales, 0.05);
  Tensor w = Tensor::empty({l.oc, l.ic, l.k, l.k}, DType::Int8);
  for (auto& v : w.span<std::int8_t>()) v = static_cast<std::int8_t>(rng.next());
  std::vector<std::int32_t> b(static_cast<std::size_t>(l.oc));
  for (auto& v : b) v = static_cast<std::int32_t>(rng.next() % 2001) - 1000;
  in.op = std::make_unique<QConv2dNhwc>(p, w, Tensor::from_vector(b));
  in.op->setup(1, l.hw, l.hw);
  in.x.resize(static_cast<std::size_t>(l.hw * l.hw * l.ic));
  for (auto& v : in.x) v = static_cast<std::uint8_t>(rng.next());
  in.y.resize(static_cast<std::size_t>(in.op->output_pixels() * l.oc));
  in.scratch.resize(in.op->scratch_bytes_per_thread());
  in.ops = 2.0 * static_cast<double>(in.op->output_pixels()) * static_cast<double>(l.oc) *
           static_cast<double>(l.ic * l.k * l.k);
  return in;
}

void conv_on(benchmark::State& state, IsaLevel level, bool vnni) {
  if (static_cast<int>(detected_isa()) < static_cast<int>(level) ||
      (vnni && !cpu_has_avx512_vnni())) {
    state.SkipWithError("kernel not supported by this CPU");
    return;
  }
  Instance& in = instance(static_cast<int>(state.range(0)));
  set_isa_override(level);
  set_avx512_vnni_enabled(vnni);
  state.SetLabel(std::string(kLayers[state.range(0)].name) + " " + active_qlinear_kernel());
  for (auto _ : state) {
    in.op->run(in.x.data(), in.y.data(), 0, in.op->output_pixels(),
               in.scratch.empty() ? nullptr : in.scratch.data());
    benchmark::DoNotOptimize(in.y.data());
    benchmark::ClobberMemory();
  }
  clear_isa_override();
  set_avx512_vnni_enabled(true);
  state.counters["GOPS"] =
      benchmark::Counter(in.ops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_ConvNhwc_Vnni(benchmark::State& s) { conv_on(s, IsaLevel::Avx512, true); }
void BM_ConvNhwc_Avx512(benchmark::State& s) { conv_on(s, IsaLevel::Avx512, false); }
void BM_ConvNhwc_Avx2(benchmark::State& s) { conv_on(s, IsaLevel::Avx2, false); }

void layers(benchmark::internal::Benchmark* b) {
  for (int i = 0; i < static_cast<int>(std::size(kLayers)); ++i) b->Arg(i);
  b->Unit(benchmark::kMicrosecond)->MinTime(0.2);
}

BENCHMARK(BM_ConvNhwc_Vnni)->Apply(layers);
BENCHMARK(BM_ConvNhwc_Avx512)->Apply(layers);
BENCHMARK(BM_ConvNhwc_Avx2)->Apply(layers);

}  // namespace

BENCHMARK_MAIN();
