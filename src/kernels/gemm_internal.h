#pragma once
// Internal: the validated, flattened problem the integer linear kernels run, and the per-ISA
// entry points behind kernels::qlinear (include/quantkit/kernels/gemm.h).
//
// The kernels compute acc with the zero points folded out of the inner loop:
//   x' = x as uint8 (int8 activations flipped by +128: x' = x ^ 0x80), x_zp' likewise;
//   acc[m][n] = Σ_k x'[m][k]·w[n][k] + col_offset[n] − w_zp[n]·row_sum[m]     (mod 2^32)
//   col_offset[n] = bias[n] − x_zp'·Σ_k w[n][k] + K·x_zp'·w_zp[n],  row_sum[m] = Σ_k x'[m][k]
// which equals Σ_k (x − x_zp)(w − w_zp) + bias modulo 2^32 (the driver builds both arrays).
#include <array>
#include <cmath>
#include <cstdint>
#include <utility>

#include "quantkit/kernels/gemm.h"

namespace quantkit::kernels::gemm_detail {

enum class OutputKind { Int32, Float32, Quantized };

struct QGemmProblem {
  std::int64_t m = 0, n = 0, k = 0;
  // Row strides: x row m starts at x + m·ldx (ldx >= k, in bytes), y row m at element m·ldy
  // (ldy >= n). A grouped 1×1 convolution runs one problem per group on channel slices of
  // the NHWC rows (ldx = input channels, ldy = output channels).
  std::int64_t ldx = 0, ldy = 0;
  const std::uint8_t* x = nullptr;  // [m, k] rows (int8 data viewed as bytes)
  bool x_signed = false;            // flip the sign bit of every activation byte
  const PackedWeights* w = nullptr;
  // The problem's column 0 is channel w_block · 16 of w (an output-channel slice of the
  // packed weights; col_offset, w_zero_point, scale, bias and y then start at that slice).
  std::int64_t w_block = 0;

  // Padded to w->num_blocks() * 16 entries so that vector loads never leave them.
  const std::int32_t* col_offset = nullptr;
  const std::int32_t* w_zero_point = nullptr;  // null when every weight zero point is 0
  const std::int32_t* row_sum = nullptr;       // [m]; null when w_zero_point is null

  OutputKind kind = OutputKind::Int32;
  const float* scale = nullptr;  // Float32: scale; Quantized: multiplier (padded, per column)
  const float* bias = nullptr;   // Float32 only, padded; may be null
  float clamp_lo = 0.0f;         // Quantized: float(qmin - out_zp)
  float clamp_hi = 0.0f;         // Quantized: float(qmax - out_zp)
  std::int32_t out_zero_point = 0;
  void* y = nullptr;  // [m, n] rows of int32 / float / (u)int8
};

// Scalar helpers for the portable translation units. `static` on purpose: translation units
// compiled with AVX flags include this header too, and a shared inline definition could be
// resolved by the linker to their AVX-compiled copy.
//
// Scalar epilogue shared by the reference and the portable kernel: the header's formulas.
static inline float requant_clamped(std::int32_t acc, float multiplier, float lo, float hi) {
  const float v = static_cast<float>(acc) * multiplier;
  // (v < lo) ? lo : v, then (hi < v) ? hi : v: matches vmaxps/vminps for non-NaN v.
  const float low_clamped = v < lo ? lo : v;
  return hi < low_clamped ? hi : low_clamped;
}

// Round half to even (the default floating-point environment's nearbyint; what vcvtps2dq
// does under the default MXCSR).
static inline std::int32_t requant_round(float clamped) {
  return static_cast<std::int32_t>(std::nearbyint(clamped));
}

// Wrap-around int32 arithmetic (the accumulator is defined modulo 2^32).
static inline std::int32_t wrap_add(std::int32_t a, std::int32_t b) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(b));
}
static inline std::int32_t wrap_sub(std::int32_t a, std::int32_t b) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) - static_cast<std::uint32_t>(b));
}
static inline std::int32_t wrap_mul(std::int32_t a, std::int32_t b) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) * static_cast<std::uint32_t>(b));
}

// Stores the epilogue of acc for output (m, n): the scalar form of the header's formulas.
static inline void store_epilogue_scalar(const QGemmProblem& p, std::int64_t m, std::int64_t n,
                                         std::int32_t acc) {
  const std::int64_t index = m * p.ldy + n;
  switch (p.kind) {
    case OutputKind::Int32:
      static_cast<std::int32_t*>(p.y)[index] = acc;
      return;
    case OutputKind::Float32: {
      float v = static_cast<float>(acc) * p.scale[n];
      if (p.bias) v = v + p.bias[n];
      static_cast<float*>(p.y)[index] = v;
      return;
    }
    case OutputKind::Quantized: {
      const std::int32_t q =
          requant_round(requant_clamped(acc, p.scale[n], p.clamp_lo, p.clamp_hi)) +
          p.out_zero_point;
      // q is inside [qmin, qmax] of the output dtype: its low byte is the int8/uint8 value.
      static_cast<std::uint8_t*>(p.y)[index] = static_cast<std::uint8_t>(q);
      return;
    }
  }
}

// Argument checks shared by qlinear and qlinear_reference. Returns M (the flattened rows).
struct QLinearShape {
  std::int64_t m = 0;
  Shape out_shape;
  DType out_dtype = DType::Int32;
};
QLinearShape validate_qlinear(const char* where, const Tensor& x, std::int32_t x_zero_point,
                              std::int64_t n, std::int64_t k, const Epilogue& epilogue,
                              const std::optional<Tensor>& bias_i32);

// Tile loop shared by the SIMD kernels: column panels of up to Kernel::kMaxBlocks 16-channel
// blocks, row tiles of up to Kernel::kMaxRows rows; edge tiles run the smaller instantiations.
// Kernel::tile<MR, NB>(p, m0, b0) computes rows [m0, m0+MR) × blocks [b0, b0+NB).
using TileFn = void (*)(const QGemmProblem&, std::int64_t, std::int64_t);

template <class Kernel, int MR, int NB>
void tile_entry(const QGemmProblem& p, std::int64_t m0, std::int64_t b0) {
  Kernel::template tile<MR, NB>(p, m0, b0);
}

template <class Kernel, int... I>
constexpr std::array<TileFn, sizeof...(I)> make_tile_table(std::integer_sequence<int, I...>) {
  return {&tile_entry<Kernel, I / Kernel::kMaxBlocks + 1, I % Kernel::kMaxBlocks + 1>...};
}

template <class Kernel>
void run_tiles(const QGemmProblem& p) {
  constexpr int kRows = Kernel::kMaxRows;
  constexpr int kBlocks = Kernel::kMaxBlocks;
  static constexpr std::array<TileFn, kRows* kBlocks> table =
      make_tile_table<Kernel>(std::make_integer_sequence<int, kRows * kBlocks>{});
  const std::int64_t blocks = (p.n + PackedWeights::kBlockN - 1) / PackedWeights::kBlockN;
  for (std::int64_t b0 = 0; b0 < blocks; b0 += kBlocks) {
    const std::int64_t nb = blocks - b0 < kBlocks ? blocks - b0 : kBlocks;
    for (std::int64_t m0 = 0; m0 < p.m; m0 += kRows) {
      const std::int64_t mr = p.m - m0 < kRows ? p.m - m0 : kRows;
      table[(mr - 1) * kBlocks + (nb - 1)](p, m0, b0);
    }
  }
}

// The kernel family active_qlinear_kernel() names (active_isa(), VNNI switch), read at each
// call: qlinear and the NHWC convolution run every problem through it.
void qgemm(const QGemmProblem& p);

void qgemm_portable(const QGemmProblem& p);
void qgemm_avx2(const QGemmProblem& p);
void qgemm_avx512(const QGemmProblem& p);       // AVX-512BW vpmaddwd
void qgemm_avx512_vnni(const QGemmProblem& p);  // AVX-512 VNNI vpdpbusd / vpdpwssd

}  // namespace quantkit::kernels::gemm_detail
