// GroupedWeights packing, argument checks and the dispatch table of grouped_linear (one
// entry per ISA level, filled once from the CPU features).
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "grouped_linear_internal.h"
#include "quantkit/core/error.h"
#include "quantkit/kernels/cpu_features.h"
#include "quantkit/kernels/gemm.h"

namespace quantkit::kernels {
namespace {

using grouped_detail::GroupedKernels;

// |Σ (x − zp)·w| ≤ 255·128·G must stay below 2^31 for the int32 accumulators.
constexpr std::int64_t kMaxGroupSize = std::numeric_limits<std::int32_t>::max() / (255 * 128);

const GroupedKernels& active_kernels() {
  static const std::array<GroupedKernels, 4> tables = [] {
    std::array<GroupedKernels, 4> t{};
    t[0] = grouped_detail::grouped_kernels_portable();
    const IsaLevel top = detected_isa();
    if (top >= IsaLevel::Avx2) t[1] = grouped_detail::grouped_kernels_avx2();
    if (top >= IsaLevel::Avx512) t[2] = grouped_detail::grouped_kernels_avx512();
    if (cpu_has_avx512_vnni()) t[3] = grouped_detail::grouped_kernels_avx512_vnni();
    return t;
  }();
  // The qlinear VNNI switch (set_avx512_vnni_enabled) decides here too, as for gemv.
  const IsaLevel level = active_isa();
  if (level == IsaLevel::Avx512 && std::strcmp(active_qlinear_kernel(), "avx512_vnni") == 0) {
    return tables[3];
  }
  return tables[static_cast<int>(level)];
}

void check_shape(const char* where, std::int64_t n, std::int64_t k, std::int64_t group_size,
                 int bits) {
  check_argument(bits == 4 || bits == 8, where, "bits", bits, "4 or 8");
  check_argument(n >= 1, where, "n", n, ">= 1");
  check_argument(k >= 1, where, "k", k, ">= 1");
  check_argument(k <= std::numeric_limits<std::int32_t>::max() / n, where, "n * k", k,
                 "n * k below 2^31");
  check_argument(group_size >= 1 && k % group_size == 0, where, "group_size", group_size,
                 "a divisor of k (" + std::to_string(k) + ")");
  check_argument(group_size <= kMaxGroupSize, where, "group_size", group_size,
                 "at most " + std::to_string(kMaxGroupSize) + " (int32 accumulators)");
  if (bits == 4) {
    check_argument(group_size % GroupedWeights::kChunk == 0, where, "group_size", group_size,
                   "a multiple of 32 for 4-bit weights");
  }
}

void check_input(const char* where, const PerTokenInput& in, std::span<const float> bias,
                 std::int64_t n) {
  check_argument(in.x != nullptr, where, "in.x", "null", "M * K activations");
  check_argument(in.m >= 1, where, "in.m", in.m, ">= 1");
  check_argument(static_cast<std::int64_t>(in.scale.size()) == in.m, where, "in.scale",
                 in.scale.size(), "one scale per row (" + std::to_string(in.m) + ")");
  check_argument(static_cast<std::int64_t>(in.zero_point.size()) == in.m, where,
                 "in.zero_point", in.zero_point.size(),
                 "one zero point per row (" + std::to_string(in.m) + ")");
  for (std::size_t i = 0; i < in.scale.size(); ++i) {
    check_argument(std::isfinite(in.scale[i]) && in.scale[i] > 0, where,
                   "in.scale[" + std::to_string(i) + "]", in.scale[i], "finite and > 0");
    check_argument(in.zero_point[i] >= -128 && in.zero_point[i] <= 127, where,
                   "in.zero_point[" + std::to_string(i) + "]", in.zero_point[i],
                   "in [-128, 127]");
  }
  check_argument(bias.empty() || static_cast<std::int64_t>(bias.size()) == n, where, "bias",
                 bias.size(), "empty or N (" + std::to_string(n) + ") values");
}

}  // namespace

GroupedWeights GroupedWeights::pack(std::span<const std::int8_t> w,
                                    std::span<const float> scales, std::int64_t n,
                                    std::int64_t k, std::int64_t group_size, int bits) {
  constexpr const char* where = "GroupedWeights::pack";
  check_shape(where, n, k, group_size, bits);
  check_argument(static_cast<std::int64_t>(w.size()) == n * k, where, "w", w.size(),
                 "n * k values (" + std::to_string(n * k) + ")");
  const std::int64_t groups = k / group_size;
  check_argument(static_cast<std::int64_t>(scales.size()) == n * groups, where, "scales",
                 scales.size(), "n * k / group_size values (" + std::to_string(n * groups) + ")");
  for (std::size_t i = 0; i < scales.size(); ++i) {
    check_argument(std::isfinite(scales[i]) && scales[i] > 0, where,
                   "scales[" + std::to_string(i) + "]", scales[i], "finite and > 0");
  }
  if (bits == 4) {
    for (std::size_t i = 0; i < w.size(); ++i) {
      check_argument(w[i] >= -8 && w[i] <= 7, where, "w[" + std::to_string(i) + "]",
                     static_cast<int>(w[i]), "a 4-bit value in [-8, 7]");
    }
  }
  GroupedWeights out;
  out.bits_ = bits;
  out.n_ = n;
  out.k_ = k;
  out.group_size_ = group_size;
  out.packed_ = Tensor::zeros({n * out.row_bytes()}, DType::UInt8);
  out.scales_ = Tensor::empty({n, groups}, DType::Float32);
  out.group_sums_ = Tensor::zeros({n, groups}, DType::Int32);
  std::memcpy(out.scales_.raw_data(), scales.data(), scales.size_bytes());
  auto* packed = out.packed_.data<std::uint8_t>();
  auto* sums = out.group_sums_.data<std::int32_t>();
  for (std::int64_t c = 0; c < n; ++c) {
    const std::int8_t* src = w.data() + c * k;
    std::uint8_t* dst = packed + c * out.row_bytes();
    for (std::int64_t i = 0; i < k; ++i) sums[c * groups + i / group_size] += src[i];
    if (bits == 8) {
      std::memcpy(dst, src, static_cast<std::size_t>(k));
      continue;
    }
    for (std::int64_t k0 = 0; k0 < k; k0 += kChunk) {
      for (std::int64_t j = 0; j < kChunk / 2; ++j) {
        const auto lo = static_cast<std::uint8_t>(src[k0 + j] + 8);
        const auto hi = static_cast<std::uint8_t>(src[k0 + kChunk / 2 + j] + 8);
        dst[k0 / 2 + j] = static_cast<std::uint8_t>(lo | (hi << 4));
      }
    }
  }
  return out;
}

std::int32_t GroupedWeights::at(std::int64_t n, std::int64_t k) const {
  check_argument(n >= 0 && n < n_, "GroupedWeights::at", "n", n, "in [0, N)");
  check_argument(k >= 0 && k < k_, "GroupedWeights::at", "k", k, "in [0, K)");
  const std::uint8_t* r = row(n);
  if (bits_ == 8) return static_cast<std::int8_t>(r[k]);
  const std::int64_t k0 = k / kChunk * kChunk, j = k - k0;
  const std::uint8_t byte = r[k0 / 2 + j % (kChunk / 2)];
  const int nibble = j < kChunk / 2 ? (byte & 0x0F) : (byte >> 4);
  return nibble - 8;
}

void grouped_linear(const GroupedWeights& w, const PerTokenInput& in, std::span<const float> bias,
                    float* y, std::int64_t begin, std::int64_t end) {
  constexpr const char* where = "grouped_linear";
  check_input(where, in, bias, w.n());
  check_argument(y != nullptr, where, "y", "null", "an [M, N] float32 buffer");
  if (end < 0) end = w.n();
  check_argument(begin >= 0 && begin <= end && end <= w.n(), where, "[begin, end)",
                 std::to_string(begin) + ", " + std::to_string(end), "a range inside [0, N]");
  const grouped_detail::GroupedProblem p{&w, in, bias.empty() ? nullptr : bias.data(), y};
  if (begin < end) active_kernels().run(p, begin, end);
}

void grouped_linear_reference(std::span<const std::int8_t> w, std::span<const float> scales,
                              std::int64_t n, std::int64_t k, std::int64_t group_size,
                              const PerTokenInput& in, std::span<const float> bias, float* y) {
  constexpr const char* where = "grouped_linear_reference";
  check_shape(where, n, k, group_size, 8);
  check_argument(static_cast<std::int64_t>(w.size()) == n * k, where, "w", w.size(),
                 "n * k values");
  check_argument(static_cast<std::int64_t>(scales.size()) == n * (k / group_size), where,
                 "scales", scales.size(), "n * k / group_size values");
  check_input(where, in, bias, n);
  const std::int64_t groups = k / group_size;
  for (std::int64_t m = 0; m < in.m; ++m) {
    const std::int8_t* x = in.x + m * k;
    const std::int32_t zp = in.zero_point[static_cast<std::size_t>(m)];
    for (std::int64_t c = 0; c < n; ++c) {
      float sum = 0.0f;
      for (std::int64_t g = 0; g < groups; ++g) {
        std::int32_t acc = 0;
        for (std::int64_t i = g * group_size; i < (g + 1) * group_size; ++i) {
          acc += (static_cast<std::int32_t>(x[i]) - zp) * w[static_cast<std::size_t>(c * k + i)];
        }
        const float term = static_cast<float>(acc) * scales[static_cast<std::size_t>(c * groups + g)];
        sum = sum + term;
      }
      float out = sum * in.scale[static_cast<std::size_t>(m)];
      if (!bias.empty()) out = out + bias[static_cast<std::size_t>(c)];
      y[m * n + c] = out;
    }
  }
}

const char* active_grouped_linear_kernel() { return active_kernels().name; }

}  // namespace quantkit::kernels
