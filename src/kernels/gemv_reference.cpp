// The GEMV definition as plain loops (gemv_reference), the scalar epilogue
// every kernel shares for partial blocks, and the portable kernel (scalar loops
// on the packed layout).
#include <algorithm>
#include <cstring>

#include "gemv_internal.h"
#include "quantkit/core/error.h"

namespace quantkit::kernels {
namespace {

using gemv_detail::GemvProblem;

// acc[n] = Σ_k (x[k] − x_zp)·w[n][k] + bias[n] (mod 2^32), straight from the
// definition.
template <class Store>
void reference_loops(std::span<const std::int8_t> w, std::int64_t n, std::int64_t k,
                     const GemvInput& in, Store store) {
  constexpr const char* kWhere = "gemv_reference";
  check_argument(n >= 1 && k >= 1 && static_cast<std::int64_t>(w.size()) == n * k, kWhere,
                 "w.size()", w.size(), "n * k with n, k >= 1");
  check_argument(in.dtype == DType::UInt8 || in.dtype == DType::Int8, kWhere, "in.dtype",
                 dtype_name(in.dtype), "uint8 or int8");
  check_argument(in.bias.empty() || static_cast<std::int64_t>(in.bias.size()) == n, kWhere,
                 "in.bias.size()", in.bias.size(), "0 or n");
  const auto* bytes = static_cast<const std::uint8_t*>(in.x);
  for (std::int64_t c = 0; c < n; ++c) {
    std::uint32_t acc = in.bias.empty() ? 0u : static_cast<std::uint32_t>(in.bias[c]);
    for (std::int64_t i = 0; i < k; ++i) {
      const std::int32_t x = in.dtype == DType::Int8 ? static_cast<std::int8_t>(bytes[i])
                                                     : static_cast<std::int32_t>(bytes[i]);
      acc += static_cast<std::uint32_t>((x - in.zero_point) * w[c * k + i]);
    }
    store(c, static_cast<std::int32_t>(acc));
  }
}

}  // namespace

void gemv_reference(std::span<const std::int8_t> w, std::int64_t n, std::int64_t k,
                    const GemvInput& in, const GemvRequant& e, void* y) {
  check_argument(e.multiplier.size() == 1 || static_cast<std::int64_t>(e.multiplier.size()) == n,
                 "gemv_reference", "epilogue.multiplier.size()", e.multiplier.size(), "1 or n");
  const RequantBounds bounds = requant_bounds(e.zero_point, e.quant_min, e.quant_max);
  auto* out = static_cast<std::uint8_t*>(y);
  reference_loops(w, n, k, in, [&](std::int64_t c, std::int32_t acc) {
    const float m = e.multiplier[e.multiplier.size() == 1 ? 0 : c];
    out[c] = static_cast<std::uint8_t>(requantize(acc, m, bounds));  // int8: two's complement
  });
}

void gemv_reference(std::span<const std::int8_t> w, std::int64_t n, std::int64_t k,
                    const GemvInput& in, const GemvDequant& e, float* y) {
  check_argument(e.scale.size() == 1 || static_cast<std::int64_t>(e.scale.size()) == n,
                 "gemv_reference", "epilogue.scale.size()", e.scale.size(), "1 or n");
  reference_loops(w, n, k, in, [&](std::int64_t c, std::int32_t acc) {
    float v = static_cast<float>(acc) * e.scale[e.scale.size() == 1 ? 0 : c];
    if (!e.bias.empty()) v = v + e.bias[c];
    y[c] = v;
  });
}

namespace gemv_detail {

void epilogue_scalar(const GemvProblem& p, std::int64_t block, const std::int32_t* dot) {
  const std::int64_t first = block * GemvWeights::kBlockN;
  const std::int64_t count = std::min(GemvWeights::kBlockN, p.w->n() - first);
  const std::int32_t* sums = p.w->column_sums() + first;
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t c = first + i;
    std::int32_t acc = wrapping_add(dot[i], p.row_offset);
    acc = wrapping_add(acc, wrapping_mul(-p.x_zp_shifted, sums[i]));
    if (p.bias != nullptr) acc = wrapping_add(acc, p.bias[c]);
    if (p.requant) {
      const float m = p.multiplier[p.multiplier_per_channel ? c : 0];
      static_cast<std::uint8_t*>(p.y)[c] = static_cast<std::uint8_t>(requantize(acc, m, p.bounds));
    } else {
      float v = static_cast<float>(acc) * p.scale[p.scale_per_channel ? c : 0];
      if (p.float_bias != nullptr) v = v + p.float_bias[c];
      static_cast<float*>(p.y)[c] = v;
    }
  }
}

namespace {

// dot[c] += Σ_t x'[t] · u[c][t] over one 64-byte chunk (16 channels × 4 k), mod
// 2^32. int4: `shift` selects the nibble (0 low, 4 high) and `mask` keeps it.
void chunk_dot(const std::uint8_t* chunk, const std::uint8_t* x4, bool nibble, int shift,
               std::uint32_t* dot) {
  for (int c = 0; c < 16; ++c) {
    for (int t = 0; t < 4; ++t) {
      const std::uint8_t byte = chunk[4 * c + t];
      const std::int32_t u = nibble ? (byte >> shift) & 0x0F : static_cast<std::int8_t>(byte);
      dot[c] += static_cast<std::uint32_t>(x4[t] * u);
    }
  }
}

template <int kBits>
void portable_blocks(const GemvProblem& p, std::int64_t block_begin, std::int64_t block_end) {
  constexpr std::int64_t kGroupK = kBits == 8 ? 4 : 8;
  const std::int64_t groups = p.w->k_padded() / kGroupK;
  const std::int64_t full = p.w->k() / kGroupK;
  const std::uint8_t flip = p.x_signed ? 0x80 : 0x00;
  for (std::int64_t b = block_begin; b < block_end; ++b) {
    std::uint32_t dot[GemvWeights::kBlockN] = {};
    const std::uint8_t* w = p.w->data() + b * p.w->block_bytes();
    for (std::int64_t g = 0; g < groups; ++g, w += 256) {
      std::uint8_t xs[kGroupK];  // x' of this group
      if (g < full) {
        for (int i = 0; i < kGroupK; ++i) xs[i] = p.x[g * kGroupK + i] ^ flip;
      } else {
        tail_group(p, kGroupK, xs);
        for (auto& v : xs) v ^= flip;
      }
      for (int j = 0; j < 4; ++j) {
        if (kBits == 8) {
          chunk_dot(w + 64 * j, xs, false, 0, dot + 16 * j);
        } else {
          chunk_dot(w + 64 * j, xs, true, 0, dot + 16 * j);
          chunk_dot(w + 64 * j, xs + 4, true, 4, dot + 16 * j);
        }
      }
    }
    std::int32_t acc[GemvWeights::kBlockN];
    std::memcpy(acc, dot, sizeof acc);
    epilogue_scalar(p, b, acc);
  }
}

}  // namespace

GemvKernels gemv_kernels_portable() { return {"portable", portable_blocks<8>, portable_blocks<4>}; }

}  // namespace gemv_detail
}  // namespace quantkit::kernels
