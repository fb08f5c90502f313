#pragma once
// The real APoT linear layer (Li, Dong & Wang, ICLR 2020): APoT-quantized weights, uniformly
// quantized activations, integer arithmetic, one float rescale. (PyTorch's LinearAPoT computes
// something else — activation · CODESᵀ; that is apot_code_linear in code_linear.h.)
//
// Every level of a scheme (b, k, signed) is gamma · (sum of its terms ±2^-e), and with
// E = n(2^k − 1) − 1, the largest term exponent, it is gamma · 2^-E · M(code) for the integer
//   M(code) = Σ_terms ±2^(E − e)                                  (apot_level_multipliers)
// (b=4, k=2: E = 5, M ∈ 0 … 48, or −48 … 48 signed). So for activations x (uint8 / int8,
// zero point x_zp, scale x_scale):
//   acc[m][n] = Σ_k (x[m][k] − x_zp) · M(code[n][k])        exact integer (see limits below)
//   y[m][n]   = float(acc) * s  (+ bias[n]),   s = float32(x_scale · gamma · 2^-E)
// with float(acc) the float32 rounding of the exact integer, and float32 arithmetic for the
// multiply and the bias add (two roundings, no fma).
//
// Kernels, all giving identical bits:
//  * forward_reference: the paper's shift-and-add — for each weight, the activation shifted
//    left by (E − e) for each of its terms, added or subtracted; int64 accumulation.
//  * forward: an integer GEMM over the weights M(code) (kernels::qlinear):
//      max|M| ≤ 127:    int8 weights (b=4, k=2 is then exactly a uint8/int8 × int8 GEMM);
//      max|M| ≤ 32767:  int16 weights (b=6, k=2; b=8, k=2; b=8, k=1 …);
//    int32 accumulation over K chunks short enough that no chunk can overflow
//    (chunk · 255 · max|M| < 2^31), the chunks summed in int64;
//      beyond int16:    int64 weights and int64 loops (portable, not vectorized by hand).
//  Limit: the int64 accumulator must be exact, K · 255 · max|M| < 2^63; larger schemes
//  (e.g. b=16, k=4, where M reaches 2^59) are rejected with an Error: use fp32 there.
// max|M| is taken over the actual weights, not the whole level set.
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "quantkit/apot/quantizer.h"
#include "quantkit/apot/scheme.h"
#include "quantkit/core/tensor.h"
#include "quantkit/kernels/gemm.h"

namespace quantkit::apot {

class ApotLinear {
 public:
  enum class WeightStorage { Int8, Int16, Int64 };

  // weight: APoT codes int32 [N, K] (N, K >= 1) with their quantizer; bias: float32 [N].
  // Throws Error for an invalid code or shape, or when the scheme's multipliers do not fit
  // int64 (E > 61).
  explicit ApotLinear(const ApotTensor& weight, std::optional<Tensor> bias = std::nullopt);

  // Quantizes a float32 [N, K] weight like APoTObserver + quantize_APoT: alpha =
  // max(-min(w), max(w)), qparams = make_apot_qparams(scheme, alpha).
  static ApotLinear from_float(const Tensor& weight, const ApotScheme& scheme,
                               std::optional<Tensor> bias = std::nullopt);

  // x: uint8 or int8 [..., K] (at least 1-d); x_scale finite > 0; x_zero_point inside x's
  // dtype range. Returns float32 [..., N]. Throws Error on bad arguments or when K · 255 ·
  // max|M| does not fit the int64 accumulator.
  Tensor forward(const Tensor& x, double x_scale, std::int32_t x_zero_point) const;
  // The same result from the scalar shift-and-add kernel.
  Tensor forward_reference(const Tensor& x, double x_scale, std::int32_t x_zero_point) const;

  std::int64_t in_features() const { return k_; }
  std::int64_t out_features() const { return n_; }
  const ApotQParams& qparams() const { return quantizer_->qparams(); }
  const Tensor& codes() const { return codes_; }
  const std::optional<Tensor>& bias() const { return bias_; }
  // E = n(2^k − 1) − 1, and s for a given activation scale.
  int exponent() const { return exponent_; }
  float output_scale(double x_scale) const;
  // M(code) for every weight, int64 [N, K], and its largest magnitude.
  Tensor integer_weights() const;
  std::int64_t max_abs_multiplier() const { return max_abs_multiplier_; }
  WeightStorage weight_storage() const { return storage_; }
  // The dequantized weight: each code's float32 level, float32 [N, K].
  Tensor dequantized_weights() const;

 private:
  // One K range with its own packed weights (see the chunking above).
  struct Chunk {
    std::int64_t k0 = 0, k1 = 0;
    std::unique_ptr<kernels::PackedWeights> packed;
  };

  void check_forward(const Tensor& x, double x_scale, std::int32_t x_zero_point,
                     const char* where) const;

  std::shared_ptr<const ApotQuantizer> quantizer_;
  Tensor codes_;                // int32 [N, K]
  std::optional<Tensor> bias_;  // float32 [N]
  std::int64_t n_ = 0, k_ = 0;
  int exponent_ = 0;
  std::vector<std::int64_t> multipliers_;  // M(code) for every code of the scheme
  std::vector<std::int64_t> weights_;      // M(code[n][k]), [N, K]
  std::int64_t max_abs_multiplier_ = 0;
  WeightStorage storage_ = WeightStorage::Int64;
  std::vector<Chunk> chunks_;  // Int8 / Int16 storage
};

}  // namespace quantkit::apot
