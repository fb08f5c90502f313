#pragma once
// Matrix multiplies for linear layers, in PyTorch's linear layout:
//   Y[..., N] = X[..., K] · W[N, K]ᵀ (+ bias[N])
// X is row-major with its leading dimensions flattened into M rows; W is a linear layer's
// weight (one row of K inputs per output channel n).
//
// fp32: Debian's OpenBLAS cblas_sgemm, pinned to one thread (see linear_f32).
//
// Integer (quantized) linear: uint8 or int8 activations with a zero point, int8 or int16
// weights with per-tensor or per-channel zero points, int32 accumulation, then one epilogue:
//
//   acc[m][n] = Σ_k (x[m][k] − x_zp) · (w[n][k] − w_zp[n])  + bias_i32[n]        (mod 2^32)
//
// The sum is computed modulo 2^32 (two's complement wrap-around), so every kernel gives the
// same bits even when it overflows; it equals the true sum whenever that fits in int32, which
// is guaranteed for int8 weights when K ≤ 33,025 (|x − x_zp| ≤ 255, |w − w_zp| ≤ 255) and for
// int16 weights when K · 255 · max|w − w_zp| < 2^31.
//
// Epilogues (exact float32 arithmetic, every operation rounded to float32, no fused
// multiply-add, default floating-point environment; float(acc) is int32 → float32 rounded to
// nearest-even):
//   Int32Epilogue:   y = acc                                                     (int32)
//   FloatEpilogue:   y = float(acc) * scale[n]                                   (float32)
//                    y = (float(acc) * scale[n]) + bias_f32[n]       when a bias is given
//   RequantEpilogue: v = float(acc) * multiplier[n]
//                    v = min(max(v, float(qmin − out_zp)), float(qmax − out_zp))
//                    y = round_half_to_even(v) + out_zp                         (int8/uint8)
//   Clamping v before rounding gives the same result as clamp(round(v) + out_zp, qmin, qmax)
//   (rounding is monotone and the bounds are integers) and keeps the float → int conversion
//   in range for every acc.
// scale / multiplier hold either one value (per tensor) or N values (per channel). Use
// dequant_scales / requant_multipliers to compute them from quantization scales.
//
// RequantEpilogue IS THE RUNTIME'S REQUANTIZATION (docs/kernels.md, "Requantization"): int32
// accumulation with the int32 bias, one float32 multiply of float32(acc) by
// multiplier[n] = float32(x_scale · w_scale[n] / out_scale) (computed in double, rounded
// once: requant_multipliers), the clamp that folds relu / relu6 / hardtanh, round half to
// even, + out_zp — the arithmetic of XNNPACK's and MLAS's fp32 requantization. The NHWC
// convolution (kernels/conv_nhwc.h) runs the same epilogue.
// PyTorch's reference representation (torchao pt2e, _reference_quantized_linear) is NOT this
// arithmetic: it multiplies in float64 and truncates toward zero when converting to int32
// (pt2e/reference_representation.h keeps that for pattern matching; it does not use these
// kernels).
//
// Kernels: a plain-loop reference (qlinear_reference, on unpacked weights), a portable kernel
// on PackedWeights, AVX2 (int8/int16 widened to int16, vpmaddwd: exact, no saturation),
// AVX-512BW (the same at 512 bits) and AVX-512 VNNI (vpdpbusd for int8 weights: activations
// as uint8, int8 activations shifted by +128 and corrected through the weight column sums;
// vpdpwssd for int16 weights). The level comes from kernels::active_isa() (VNNI when the CPU
// has it and the level is Avx512); every level gives bit-identical results. Details and
// figures: docs/kernels.md.
//
// Threading: every kernel here runs on the calling thread; results never depend on any
// thread count.
#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "quantkit/core/dtype.h"
#include "quantkit/core/tensor.h"

namespace quantkit::kernels {

// ---------------------------------------------------------------------------------------
// fp32
// ---------------------------------------------------------------------------------------

// y[M,N] = x[M,K] · w[N,K]ᵀ (+ bias[N]); contiguous row-major; bias may be null.
// With a bias, y is first filled with bias and sgemm runs with beta = 1 (as torch.addmm
// does): y = bias + dot, one float32 rounding of the sum. OpenBLAS runs on one thread:
// its thread count is set to 1 when it is not (a process-wide OpenBLAS setting; 0.3.21 has
// no per-call control), because its multi-threaded paths pick different blockings and edge
// kernels, so results could depend on the thread count.
void gemm_f32(std::int64_t m, std::int64_t n, std::int64_t k, const float* x, const float* w,
              const float* bias, float* y);

// Tensor form: x float32 [..., K] (at least 1-d), w float32 [N, K], bias float32 [N].
// Returns float32 [..., N]. Each row is computed alone (one gemm_f32 call with m = 1), so its
// result does not depend on the other rows: a batch gives the rows its samples give alone.
Tensor linear_f32(const Tensor& x, const Tensor& w,
                  const std::optional<Tensor>& bias = std::nullopt);

// ---------------------------------------------------------------------------------------
// Integer linear
// ---------------------------------------------------------------------------------------

// Weights packed once for the integer kernels (immutable after construction).
// Layout: column blocks of 16 output channels; within a block, K in groups of 4 (zero
// padded to a multiple of 4), each group storing 16 channels × 4 consecutive k — 64 int8
// (one zmm register: vpdpbusd's operand) or 64 int16. Blocks beyond N are zero padded.
class PackedWeights {
 public:
  static constexpr std::int64_t kBlockN = 16;
  static constexpr std::int64_t kGroupK = 4;

  // w: int8 or int16 [N, K] (N, K >= 0). zero_points: empty (all zero), one value (per
  // tensor) or N values (per channel), each inside w's dtype range.
  explicit PackedWeights(const Tensor& w, std::span<const std::int32_t> zero_points = {});

  std::int64_t n() const { return n_; }
  std::int64_t k() const { return k_; }
  DType dtype() const { return dtype_; }
  // K rounded up to a multiple of kGroupK; the number of 16-channel blocks.
  std::int64_t k_padded() const { return k_padded_; }
  std::int64_t num_blocks() const { return num_blocks_; }
  // Per-channel zero points (N values) and whether any is nonzero.
  const std::vector<std::int32_t>& zero_points() const { return zero_points_; }
  bool has_zero_points() const { return has_zero_points_; }
  // Σ_k w[n][k] (mod 2^32), N values: the zero-point corrections use them.
  const std::vector<std::int32_t>& column_sums() const { return column_sums_; }
  // w[n][k] as packed (for checks); throws Error out of range.
  std::int32_t at(std::int64_t n, std::int64_t k) const;
  // The packed bytes: num_blocks() blocks of k_padded() × 16 elements of dtype().
  const void* data() const { return packed_.raw_data(); }

 private:
  std::int64_t n_ = 0;
  std::int64_t k_ = 0;
  std::int64_t k_padded_ = 0;
  std::int64_t num_blocks_ = 0;
  DType dtype_ = DType::Int8;
  bool has_zero_points_ = false;
  std::vector<std::int32_t> zero_points_;
  std::vector<std::int32_t> column_sums_;
  Tensor packed_;  // 64-byte aligned storage
};

struct Int32Epilogue {};

struct FloatEpilogue {
  std::vector<float> scale;    // 1 or N finite values
  std::optional<Tensor> bias;  // float32 [N], added after the scale multiply
};

struct RequantEpilogue {
  std::vector<float> multiplier;  // 1 or N finite values > 0
  std::int32_t zero_point = 0;    // inside out_dtype's range
  DType out_dtype = DType::Int8;  // Int8 or UInt8
  std::int32_t quant_min = -128;  // quant_min <= quant_max, both inside out_dtype's range
  std::int32_t quant_max = 127;
};

using Epilogue = std::variant<Int32Epilogue, FloatEpilogue, RequantEpilogue>;

// y = epilogue(acc) for x uint8 or int8 [..., K] (at least 1-d, K == w.k()), x_zero_point
// inside x's dtype range, bias_i32 int32 [N] or none. Returns [..., N] of int32, float32 or
// the requant dtype. Dispatches on active_isa(); throws Error on any invalid argument.
Tensor qlinear(const Tensor& x, std::int32_t x_zero_point, const PackedWeights& w,
               const Epilogue& epilogue, const std::optional<Tensor>& bias_i32 = std::nullopt);

// The definition above as plain loops over the unpacked weight (int8 or int16 [N, K],
// w_zero_points empty / 1 / N values): the oracle every optimized kernel is tested against.
Tensor qlinear_reference(const Tensor& x, std::int32_t x_zero_point, const Tensor& w,
                         std::span<const std::int32_t> w_zero_points, const Epilogue& epilogue,
                         const std::optional<Tensor>& bias_i32 = std::nullopt);

// float32(x_scale · w_scale[n] / out_scale), computed in double and rounded once (what
// torchao's Python-float arithmetic produces for per-tensor scales). Throws Error unless
// every scale is finite and > 0 and every result is a finite float32 > 0.
std::vector<float> requant_multipliers(double x_scale, std::span<const double> w_scales,
                                       double out_scale);
// float32(x_scale · w_scale[n]), computed in double and rounded once.
std::vector<float> dequant_scales(double x_scale, std::span<const double> w_scales);

// Whether the CPU has AVX-512 VNNI and detected_isa() is Avx512 (QUANTKIT_ISA caps it).
bool cpu_has_avx512_vnni();
// For tests and benchmarks: with false, IsaLevel::Avx512 runs the AVX-512BW kernels even on
// a VNNI CPU. Not thread-safe with concurrent kernel calls (like set_isa_override).
void set_avx512_vnni_enabled(bool enabled);
// The kernel family qlinear runs now: "portable", "avx2", "avx512" or "avx512_vnni".
const char* active_qlinear_kernel();

}  // namespace quantkit::kernels
