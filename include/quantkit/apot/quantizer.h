#pragma once
// APoT quantize / dequantize / quant-dequant (torch.ao.quantization.experimental.quantizer).
//
// Semantics (tests/data/apot/README.md items 9-13), bit-exact with PyTorch for every input
// with -alpha <= x <= alpha:
//  * the code of x is level_indices[p] for the first sorted position p minimizing the float32
//    distance |levels[p] - x|: ties go to the lower level, and among equal level values to the
//    first in sorted order;
//  * float64 inputs are rounded to float32 first (PyTorch compares in float32);
//  * dequantize returns each code's float32 level, as float64 (PyTorch returns float64) or
//    as float32.
// Deviations (documented in docs/apot.md):
//  * |x| > alpha (and +-inf) is clamped to +-alpha, i.e. maps to the extreme level; PyTorch
//    stores trunc(+-alpha) as the "code", an unrelated level or an invalid code;
//  * NaN quantizes like 0 (PyTorch returns code 0: the zero level when unsigned, but the
//    LARGEST level when signed);
//  * inputs are never modified (PyTorch overwrites its input with the codes);
//  * quant_dequant works (PyTorch's quant_dequant_APoT raises TypeError); it equals
//    float32(dequantize(quantize(x))).
// Cost: O(log L) per element, vectorized (see kernels/apot_kernels.h); building the
// quantizer is O(L log L) once per qparams.
#include <cstdint>
#include <memory>
#include <vector>

#include "quantkit/apot/qparams.h"
#include "quantkit/core/tensor.h"
#include "quantkit/kernels/apot_kernels.h"

namespace quantkit::apot {

class ApotQuantizer {
 public:
  // Validates the qparams (validate_apot_qparams) and precomputes the search table.
  explicit ApotQuantizer(ApotQParams qparams);

  const ApotQParams& qparams() const { return qparams_; }
  const kernels::ApotSearchTable& table() const { return table_; }
  std::int64_t num_levels() const { return static_cast<std::int64_t>(qparams_.levels.size()); }
  // The float32 level of a code (a cartesian index); throws Error for an unknown code.
  float level_of_code(std::int32_t code) const;

  // x: float32 or float64, any shape. codes: int32, x's shape.
  Tensor quantize(const Tensor& x) const;
  void quantize_into(const Tensor& x, Tensor& codes) const;
  // codes: int32. Returns float64 (PyTorch's dtype) or float32 levels. Throws Error, naming
  // the position, for a code that is not a level index.
  Tensor dequantize(const Tensor& codes) const;
  Tensor dequantize_f32(const Tensor& codes) const;
  // out: float32 or float64 tensor of codes' shape.
  void dequantize_into(const Tensor& codes, Tensor& out) const;
  // Nearest level value directly (float32), equal to float32(dequantize(quantize(x))).
  Tensor quant_dequant(const Tensor& x) const;
  void quant_dequant_into(const Tensor& x, Tensor& out) const;

 private:
  ApotQParams qparams_;
  kernels::ApotSearchTable table_;
  std::vector<float> level_of_code_;  // indexed by code
};

// PyTorch's TensorAPoT: int32 codes and the quantizer that produced them.
struct ApotTensor {
  Tensor codes;
  std::shared_ptr<const ApotQuantizer> quantizer;
};

ApotTensor quantize_apot(const Tensor& x, const ApotQParams& qparams);
ApotTensor quantize_apot(const Tensor& x, std::shared_ptr<const ApotQuantizer> quantizer);
// float64, like PyTorch's dequantize_APoT.
Tensor dequantize_apot(const ApotTensor& t);
Tensor dequantize_apot_f32(const ApotTensor& t);
// float32 nearest level values (PyTorch's intended quant_dequant_APoT).
Tensor quant_dequant_apot(const Tensor& x, const ApotQParams& qparams);

}  // namespace quantkit::apot
