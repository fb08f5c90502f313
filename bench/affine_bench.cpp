// Throughput of uniform affine quantization (quantkit/quant/affine.h), single thread, with
// reused output buffers (the _into APIs), against the streaming-copy bound: a memcpy of the
// same float32 buffer. Sizes: 1M and 16M float32 elements.
//
// Items are elements; bytes are the bytes read plus written. bench/compare_torch.sh runs this
// binary and the same operations in PyTorch and prints the ratios.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "quantkit/kernels/cpu_features.h"
#include "quantkit/quant/affine.h"

namespace {

using quantkit::DType;
using quantkit::QuantRange;
using quantkit::Tensor;

constexpr double kScale = 0.05;
constexpr std::int64_t kZeroPoint = 128;
constexpr std::int64_t kChannels = 64;

Tensor make_input(std::int64_t n, quantkit::Shape shape) {
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  Tensor x = Tensor::empty(std::move(shape), DType::Float32);
  float* p = x.data<float>();
  for (std::int64_t i = 0; i < n; ++i) p[i] = dist(rng);
  return x;
}

void finish(benchmark::State& state, std::int64_t n, std::size_t bytes_per_element) {
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * n * static_cast<std::int64_t>(bytes_per_element));
  state.SetLabel(std::string(quantkit::kernels::isa_name(quantkit::kernels::active_isa())));
}

// The bandwidth bound: copy the float32 input (4 bytes read, 4 written per element).
void BM_StreamingCopy(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const Tensor x = make_input(n, {n});
  Tensor y = Tensor::zeros({n}, DType::Float32);
  for (auto _ : state) {
    std::memcpy(y.raw_data(), x.raw_data(), x.nbytes());
    benchmark::ClobberMemory();
  }
  finish(state, n, 8);
}

// ---- per tensor

void BM_QuantizePerTensor(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const Tensor x = make_input(n, {n});
  Tensor q = Tensor::zeros({n}, DType::UInt8);
  const QuantRange r = QuantRange::full(DType::UInt8);
  for (auto _ : state) {
    quantkit::quantize_per_tensor_into(x, kScale, kZeroPoint, r, q);
    benchmark::ClobberMemory();
  }
  finish(state, n, 5);
}

void BM_DequantizePerTensor(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const Tensor q = quantkit::quantize_per_tensor(make_input(n, {n}), kScale, kZeroPoint,
                                                 QuantRange::full(DType::UInt8));
  Tensor y = Tensor::zeros({n}, DType::Float32);
  for (auto _ : state) {
    quantkit::dequantize_per_tensor_into(q, kScale, kZeroPoint, y);
    benchmark::ClobberMemory();
  }
  finish(state, n, 5);
}

void BM_FakeQuantizePerTensor(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const Tensor x = make_input(n, {n});
  Tensor y = Tensor::zeros({n}, DType::Float32);
  for (auto _ : state) {
    quantkit::fake_quantize_per_tensor_into(x, kScale, kZeroPoint, 0, 255, y);
    benchmark::ClobberMemory();
  }
  finish(state, n, 8);
}

// ---- per channel: axis 0 of [64, n/64] (long contiguous runs) and the last axis of
// [n/64, 64] (channels vary fastest)

struct ChannelSetup {
  quantkit::Shape shape;
  std::int64_t axis;
  std::vector<double> scales;
  std::vector<std::int64_t> zero_points;
};

ChannelSetup channel_setup(std::int64_t n, bool last_axis) {
  ChannelSetup s;
  s.shape = last_axis ? quantkit::Shape{n / kChannels, kChannels}
                      : quantkit::Shape{kChannels, n / kChannels};
  s.axis = last_axis ? 1 : 0;
  for (std::int64_t c = 0; c < kChannels; ++c) {
    s.scales.push_back(0.02 + 0.001 * static_cast<double>(c));
    s.zero_points.push_back(100 + c);
  }
  return s;
}

void BM_QuantizePerChannel(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const ChannelSetup s = channel_setup(n, state.range(1) != 0);
  const Tensor x = make_input(n, s.shape);
  Tensor q = Tensor::zeros(s.shape, DType::UInt8);
  const QuantRange r = QuantRange::full(DType::UInt8);
  for (auto _ : state) {
    quantkit::quantize_per_channel_into(x, s.scales, s.zero_points, s.axis, r, q);
    benchmark::ClobberMemory();
  }
  finish(state, n, 5);
}

void BM_DequantizePerChannel(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const ChannelSetup s = channel_setup(n, state.range(1) != 0);
  const Tensor q = quantkit::quantize_per_channel(make_input(n, s.shape), s.scales, s.zero_points,
                                                  s.axis, QuantRange::full(DType::UInt8));
  Tensor y = Tensor::zeros(s.shape, DType::Float32);
  for (auto _ : state) {
    quantkit::dequantize_per_channel_into(q, s.scales, s.zero_points, s.axis, y);
    benchmark::ClobberMemory();
  }
  finish(state, n, 5);
}

void BM_FakeQuantizePerChannel(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const ChannelSetup s = channel_setup(n, state.range(1) != 0);
  const Tensor x = make_input(n, s.shape);
  Tensor y = Tensor::zeros(s.shape, DType::Float32);
  for (auto _ : state) {
    quantkit::fake_quantize_per_channel_into(x, s.scales, s.zero_points, s.axis, 0, 255, y);
    benchmark::ClobberMemory();
  }
  finish(state, n, 8);
}

constexpr std::int64_t k1M = std::int64_t{1} << 20;
constexpr std::int64_t k16M = std::int64_t{1} << 24;

BENCHMARK(BM_StreamingCopy)->Arg(k1M)->Arg(k16M)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_QuantizePerTensor)->Arg(k1M)->Arg(k16M)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DequantizePerTensor)->Arg(k1M)->Arg(k16M)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FakeQuantizePerTensor)->Arg(k1M)->Arg(k16M)->Unit(benchmark::kMicrosecond);
// Second argument: 0 = channel axis 0, 1 = channel axis last.
BENCHMARK(BM_QuantizePerChannel)
    ->ArgsProduct({{k1M, k16M}, {0, 1}})
    ->ArgNames({"n", "axis_last"})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DequantizePerChannel)
    ->ArgsProduct({{k1M, k16M}, {0, 1}})
    ->ArgNames({"n", "axis_last"})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FakeQuantizePerChannel)
    ->ArgsProduct({{k1M, k16M}, {0, 1}})
    ->ArgNames({"n", "axis_last"})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
