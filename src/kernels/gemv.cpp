// GemvWeights packing, argument checks and the dispatch table (one per ISA
// level, filled once from the CPU features).
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "gemv_internal.h"
#include "quantkit/core/error.h"
#include "quantkit/kernels/cpu_features.h"
#include "quantkit/kernels/gemm.h"

namespace quantkit::kernels {
namespace {

using gemv_detail::GemvKernels;
using gemv_detail::GemvProblem;

constexpr std::int64_t kChunkChannels = 16;  // channels per 64-byte chunk
constexpr std::int64_t kGroupBytes = 256;    // one K group of a 64-channel block

const GemvKernels& gemv_table(IsaLevel level, bool vnni) {
  static const std::array<GemvKernels, 4> tables = [] {
    std::array<GemvKernels, 4> t{};
    t[0] = gemv_detail::gemv_kernels_portable();
    const IsaLevel top = detected_isa();
    if (top >= IsaLevel::Avx2) t[1] = gemv_detail::gemv_kernels_avx2();
    if (top >= IsaLevel::Avx512) t[2] = gemv_detail::gemv_kernels_avx512();
    if (cpu_has_avx512_vnni()) t[3] = gemv_detail::gemv_kernels_avx512_vnni();
    return t;
  }();
  if (level == IsaLevel::Avx512 && vnni) return tables[3];
  return tables[static_cast<int>(level)];
}

const GemvKernels& active_kernels() {
  // The qlinear VNNI switch (set_avx512_vnni_enabled) is private to
  // gemm_qlinear.cpp; its kernel name is the public view of it.
  const bool vnni = std::strcmp(active_qlinear_kernel(), "avx512_vnni") == 0;
  return gemv_table(active_isa(), vnni);
}

// values == n·k (or ceil(n·k / 2) for a nibble stream), without overflowing.
void check_dims(const char* where, std::int64_t n, std::int64_t k, std::size_t values,
                const char* arg, bool nibbles) {
  check_argument(n >= 1, where, "n", n, ">= 1");
  check_argument(k >= 1, where, "k", k, ">= 1");
  check_argument(k <= std::numeric_limits<std::int32_t>::max() / n, where, "n * k", k,
                 "n * k below 2^31");
  const std::int64_t expected = nibbles ? (n * k + 1) / 2 : n * k;
  check_argument(
      static_cast<std::int64_t>(values) == expected, where, arg, values,
      (nibbles ? "ceil(n * k / 2) values (" : "n * k values (") + std::to_string(expected) + ")");
}

// Range and input checks shared by both epilogues; returns the problem without
// its epilogue.
GemvProblem prepare(const char* where, const GemvWeights& w, const GemvInput& in, void* y,
                    std::int64_t begin, std::int64_t& end) {
  if (end == -1) end = w.n();
  check_argument(begin >= 0 && begin % GemvWeights::kBlockN == 0 && begin < w.n(), where, "begin",
                 begin, "a multiple of 64 below n");
  check_argument(end > begin && end <= w.n() && (end % GemvWeights::kBlockN == 0 || end == w.n()),
                 where, "end", end, "above begin, a multiple of 64 or n, at most n");
  check_argument(in.x != nullptr, where, "in.x", "null", "K activations");
  check_argument(y != nullptr, where, "y", "null", "N outputs");
  check_argument(in.dtype == DType::UInt8 || in.dtype == DType::Int8, where, "in.dtype",
                 dtype_name(in.dtype), "uint8 or int8");
  check_argument(in.zero_point >= dtype_min(in.dtype) && in.zero_point <= dtype_max(in.dtype),
                 where, "in.zero_point", in.zero_point, "inside the activation dtype's range");
  check_argument(in.bias.empty() || static_cast<std::int64_t>(in.bias.size()) == w.n(), where,
                 "in.bias.size()", in.bias.size(), "0 or n");
  GemvProblem p;
  p.w = &w;
  p.x = static_cast<const std::uint8_t*>(in.x);
  p.x_signed = in.dtype == DType::Int8;
  p.x_zp_shifted = p.x_signed ? in.zero_point + 128 : in.zero_point;
  if (w.bits() == 4) {
    // Σ x' over K: the nibbles store w + 8, so the dots carry 8·Σ x' too much.
    std::uint32_t sum = 0;
    const std::uint8_t flip = p.x_signed ? 0x80 : 0x00;
    for (std::int64_t i = 0; i < w.k(); ++i) sum += static_cast<std::uint8_t>(p.x[i] ^ flip);
    p.row_offset = static_cast<std::int32_t>(0u - 8u * sum);
  }
  p.bias = in.bias.empty() ? nullptr : in.bias.data();
  p.y = y;
  return p;
}

// Per-tensor (1) or per-channel (N) values; the range's values checked by
// `valid`.
template <class Valid>
void check_per_channel(const char* where, const char* arg, const char* size_arg,
                       std::span<const float> v, std::int64_t n, std::int64_t begin,
                       std::int64_t end, Valid valid, const char* expected) {
  // size_arg is a literal: a run allocates nothing (the runtime's steady state).
  check_argument(v.size() == 1 || static_cast<std::int64_t>(v.size()) == n, where, size_arg,
                 v.size(), "1 or n");
  const std::int64_t lo = v.size() == 1 ? 0 : begin, hi = v.size() == 1 ? 1 : end;
  for (std::int64_t i = lo; i < hi; ++i) check_argument(valid(v[i]), where, arg, v[i], expected);
}

void run(const GemvProblem& p, std::int64_t begin, std::int64_t end) {
  const GemvKernels& k = active_kernels();
  const std::int64_t first = begin / GemvWeights::kBlockN;
  const std::int64_t last = (end + GemvWeights::kBlockN - 1) / GemvWeights::kBlockN;
  (p.w->bits() == 8 ? k.int8 : k.int4)(p, first, last);
}

}  // namespace

GemvWeights::GemvWeights(int bits, std::span<const std::int8_t> w, std::int64_t n, std::int64_t k)
    : bits_(bits), n_(n), k_(k) {
  const std::int64_t group_k = bits == 8 ? 4 : 8;
  k_padded_ = (k + group_k - 1) / group_k * group_k;
  num_blocks_ = (n + kBlockN - 1) / kBlockN;
  block_bytes_ = k_padded_ / group_k * kGroupBytes;
  packed_ = Tensor::empty({num_blocks_ * block_bytes_}, DType::UInt8);
  column_sums_ = Tensor::zeros({num_blocks_ * kBlockN}, DType::Int32);
  std::uint8_t* out = packed_.data<std::uint8_t>();
  std::int32_t* sums = column_sums_.data<std::int32_t>();
  for (std::int64_t b = 0; b < num_blocks_; ++b) {
    for (std::int64_t g = 0; g < k_padded_ / group_k; ++g) {
      std::uint8_t* group = out + b * block_bytes_ + g * kGroupBytes;
      for (std::int64_t i = 0; i < kGroupBytes; ++i) {
        // byte i: chunk j = i / 64 (16 channels), channel c = (i % 64) / 4,
        // lane t = i % 4.
        const std::int64_t ch = b * kBlockN + i / 64 * kChunkChannels + i % 64 / 4;
        const std::int64_t kk = g * group_k + i % 4;
        auto value = [&](std::int64_t kx) -> std::int32_t {
          return ch < n && kx < k ? w[static_cast<std::size_t>(ch * k + kx)] : 0;
        };
        group[i] = bits == 8
                       ? static_cast<std::uint8_t>(value(kk))
                       : static_cast<std::uint8_t>((value(kk) + 8) | (value(kk + 4) + 8) << 4);
      }
    }
  }
  for (std::int64_t ch = 0; ch < n; ++ch) {
    std::uint32_t s = 0;  // mod 2^32, like the accumulators (exact for K < 2^24)
    for (std::int64_t kx = 0; kx < k; ++kx) {
      s += static_cast<std::uint32_t>(w[static_cast<std::size_t>(ch * k + kx)]);
    }
    sums[ch] = static_cast<std::int32_t>(s);
  }
}

GemvWeights GemvWeights::pack_int8(std::span<const std::int8_t> w, std::int64_t n, std::int64_t k) {
  check_dims("GemvWeights::pack_int8", n, k, w.size(), "w.size()", false);
  return GemvWeights(8, w, n, k);
}

GemvWeights GemvWeights::pack_int4(std::span<const std::int8_t> w, std::int64_t n, std::int64_t k) {
  constexpr const char* kWhere = "GemvWeights::pack_int4";
  check_dims(kWhere, n, k, w.size(), "w.size()", false);
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (w[i] < -8 || w[i] > 7) {  // the message (a string per element) only on failure
      throw_invalid_argument(kWhere, "w[" + std::to_string(i) + "]", static_cast<int>(w[i]),
                             "in [-8, 7]");
    }
  }
  return GemvWeights(4, w, n, k);
}

GemvWeights GemvWeights::pack_int4_nibbles(std::span<const std::uint8_t> nibbles, std::int64_t n,
                                           std::int64_t k) {
  constexpr const char* kWhere = "GemvWeights::pack_int4_nibbles";
  check_dims(kWhere, n, k, nibbles.size(), "nibbles.size()", true);
  std::vector<std::int8_t> w(static_cast<std::size_t>(n * k));
  for (std::size_t i = 0; i < w.size(); ++i) {
    const int nibble = (nibbles[i / 2] >> (i % 2 * 4)) & 0x0F;
    w[i] = static_cast<std::int8_t>(nibble >= 8 ? nibble - 16 : nibble);  // two's complement
  }
  return GemvWeights(4, w, n, k);
}

std::int32_t GemvWeights::at(std::int64_t n, std::int64_t k) const {
  check_argument(n >= 0 && n < n_, "GemvWeights::at", "n", n, "in [0, n())");
  check_argument(k >= 0 && k < k_, "GemvWeights::at", "k", k, "in [0, k())");
  const std::int64_t group_k = bits_ == 8 ? 4 : 8;
  const std::int64_t within = n % kBlockN;
  const std::int64_t byte = n / kBlockN * block_bytes_ + k / group_k * kGroupBytes +
                            within / kChunkChannels * 64 + within % kChunkChannels * 4 + k % 4;
  const std::uint8_t v = data()[byte];
  if (bits_ == 8) return static_cast<std::int8_t>(v);
  const int nibble = k % group_k < 4 ? (v & 0x0F) : (v >> 4);
  return nibble - 8;
}

void gemv(const GemvWeights& w, const GemvInput& in, const GemvRequant& e, void* y,
          std::int64_t begin, std::int64_t end) {
  constexpr const char* kWhere = "gemv (requantized)";
  GemvProblem p = prepare(kWhere, w, in, y, begin, end);
  check_argument(e.out_dtype == DType::UInt8 || e.out_dtype == DType::Int8, kWhere,
                 "epilogue.out_dtype", dtype_name(e.out_dtype), "uint8 or int8");
  const std::int64_t lo = dtype_min(e.out_dtype), hi = dtype_max(e.out_dtype);
  check_argument(e.zero_point >= lo && e.zero_point <= hi, kWhere, "epilogue.zero_point",
                 e.zero_point, "inside out_dtype's range");
  check_argument(e.quant_min >= lo && e.quant_min <= e.quant_max && e.quant_max <= hi, kWhere,
                 "epilogue.quant_min", e.quant_min, "lo <= quant_min <= quant_max <= hi");
  check_per_channel(
      kWhere, "epilogue.multiplier", "epilogue.multiplier.size()", e.multiplier, w.n(), begin, end,
      [](float m) { return std::isfinite(m) && m > 0.0f; }, "finite and > 0");
  p.multiplier = e.multiplier.data();
  p.multiplier_per_channel = e.multiplier.size() != 1;
  p.bounds = requant_bounds(e.zero_point, e.quant_min, e.quant_max);
  p.out_signed = e.out_dtype == DType::Int8;
  run(p, begin, end);
}

void gemv(const GemvWeights& w, const GemvInput& in, const GemvDequant& e, float* y,
          std::int64_t begin, std::int64_t end) {
  constexpr const char* kWhere = "gemv (float)";
  GemvProblem p = prepare(kWhere, w, in, y, begin, end);
  check_per_channel(
      kWhere, "epilogue.scale", "epilogue.scale.size()", e.scale, w.n(), begin, end,
      [](float s) { return std::isfinite(s); }, "finite");
  check_argument(e.bias.empty() || static_cast<std::int64_t>(e.bias.size()) == w.n(), kWhere,
                 "epilogue.bias.size()", e.bias.size(), "0 or n");
  p.requant = false;
  p.scale = e.scale.data();
  p.scale_per_channel = e.scale.size() != 1;
  p.float_bias = e.bias.empty() ? nullptr : e.bias.data();
  run(p, begin, end);
}

const char* active_gemv_kernel() { return active_kernels().name; }

}  // namespace quantkit::kernels
