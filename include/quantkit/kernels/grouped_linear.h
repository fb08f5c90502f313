#pragma once
// The dynamic linear of transformer configs: int8 activations quantized per row (per
// token, each row with its own scale and zero point) times symmetric weights with one float32
// scale per group of `group_size` consecutive input features of an output channel —
// torchao's 8da4w (4-bit weights in [−8, 7], groups of G) and, with one group per channel
// (G = K), int8 per-channel weights. Float32 output:
//
//   acc[m][n][g] = Σ_{k in group g} (x[m][k] − x_zp[m]) · w[n][k]        (int32, exact)
//   y[m][n]      = ((Σ_g float(acc[m][n][g]) · w_scale[n][g]) · x_scale[m]) + bias[n]
//
// in float32, groups summed in order from 0.0f, no FMA — the arithmetic of the reference
// representation (pt2e/reference_representation.h, "per-token dynamic linear"), so the kernels
// are bit-exact with it. |acc| ≤ 255·128·G fits int32 for G ≤ 65,793 (checked at packing).
//
// Weights are packed once (GroupedWeights): per output channel one contiguous row; 4-bit
// weights two per byte in chunks of 32 k: byte j of a chunk holds w[k0 + j] + 8 in its low
// nibble and w[k0 + 16 + j] + 8 in its high nibble (unpacked in registers: one AND, one
// shift). int8 weights are stored as they are.
//
// Kernels (active_isa(); every level gives the same bits): portable (scalar loops on the
// packed rows), avx2 and avx512 (x and w widened to int16, vpmaddwd; eight activation rows
// share each unpacked weight chunk), avx512_vnni (vpdpbusd on x ^ 0x80 against the signed
// weights, 128·Σw subtracted per group). Threads: callers split output channels; results do
// not depend on the split.
#include <cstdint>
#include <span>

#include "quantkit/core/tensor.h"

namespace quantkit::kernels {

class GroupedWeights {
 public:
  static constexpr std::int64_t kChunk = 32;  // k per 4-bit chunk (16 bytes)

  // w: N·K int8 values, row-major [N, K]; scales: N·(K / group_size) float32 values, finite
  // and > 0, row-major [N, K / group_size]. bits 8: any int8 (group_size divides K); bits 4:
  // values in [−8, 7] and group_size a multiple of 32 that divides K.
  static GroupedWeights pack(std::span<const std::int8_t> w, std::span<const float> scales,
                             std::int64_t n, std::int64_t k, std::int64_t group_size, int bits);

  int bits() const { return bits_; }
  std::int64_t n() const { return n_; }
  std::int64_t k() const { return k_; }
  std::int64_t group_size() const { return group_size_; }
  std::int64_t num_groups() const { return k_ / group_size_; }
  std::int64_t row_bytes() const { return bits_ == 8 ? k_ : k_ / 2; }
  const std::uint8_t* row(std::int64_t n) const {
    return packed_.data<std::uint8_t>() + n * row_bytes();
  }
  const float* scales(std::int64_t n) const { return scales_.data<float>() + n * num_groups(); }
  // Σ_{k in group g} w[n][k], row-major [N, num_groups].
  const std::int32_t* group_sums(std::int64_t n) const {
    return group_sums_.data<std::int32_t>() + n * num_groups();
  }
  // w[n][k] read back from the packed bytes; throws Error out of range.
  std::int32_t at(std::int64_t n, std::int64_t k) const;

 private:
  int bits_ = 8;
  std::int64_t n_ = 0, k_ = 0, group_size_ = 0;
  Tensor packed_;      // uint8, 64-byte aligned
  Tensor scales_;      // float32 [N, num_groups]
  Tensor group_sums_;  // int32 [N, num_groups]
};

// The per-token quantized activations of one call: M rows of K int8 values.
struct PerTokenInput {
  const std::int8_t* x = nullptr;          // M·K values, row-major
  std::int64_t m = 0;                      // ≥ 1
  std::span<const float> scale;            // M values, finite and > 0
  std::span<const std::int32_t> zero_point;  // M values in [−128, 127]
};

// Output channels [begin, end) of y ([M, N] float32, row-major; nothing else written);
// end = -1 means N. bias: empty or N float32 values. Dispatches on active_isa(); allocates
// nothing; throws Error on invalid arguments.
void grouped_linear(const GroupedWeights& w, const PerTokenInput& in, std::span<const float> bias,
                    float* y, std::int64_t begin = 0, std::int64_t end = -1);

// The definition as plain loops over the unpacked weights w (N·K int8, row-major) and scales
// ([N, K / group_size]): the oracle the kernels are tested against. All of y.
void grouped_linear_reference(std::span<const std::int8_t> w, std::span<const float> scales,
                              std::int64_t n, std::int64_t k, std::int64_t group_size,
                              const PerTokenInput& in, std::span<const float> bias, float* y);

// The kernel grouped_linear runs now: "portable", "avx2", "avx512" or "avx512_vnni".
const char* active_grouped_linear_kernel();

}  // namespace quantkit::kernels
