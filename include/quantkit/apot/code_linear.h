#pragma once
// PyTorch's LinearAPoT (torch.ao.quantization.experimental.linear), reproduced bit for bit.
//
// These are PyTorch's semantics, NOT an APoT linear layer: its "bit-shift multiplication"
// reassembles the bits of each weight CODE, so the product is activation x CODES^T — the
// unscaled cartesian indices, not the APoT level values gamma * sum(2^-e) — and negative
// weights become code 0 (the weight is quantized unsigned). Use it to reproduce PyTorch's
// numbers; a real APoT linear multiplies by the levels (see apot_level_multipliers).
//
//   prepare: observe the weight with ApotObserver(b, k), qparams = calculate_qparams(false),
//            weight_codes = quantize(weight) (int32 [out, in]). The weight is not modified
//            (PyTorch overwrites it with the codes).
//   forward: out[i][j] = sum over kk < in, in order, of float32(trunc(act[i][kk]) * code[j][kk])
//            accumulated in float32; float32 [m, out]. Like PyTorch, activation columns
//            beyond `in` are ignored (fewer are an error). Activations must be finite with
//            |trunc(a)| < 2^31 (PyTorch's int() would take any finite value).
#include "quantkit/apot/qparams.h"
#include "quantkit/core/tensor.h"

namespace quantkit::apot {

struct ApotCodeLinear {
  ApotQParams qparams;  // unsigned, from the weight
  Tensor weight_codes;  // int32 [out, in]
};

// weight: float32 [out, in], out, in >= 1, finite.
ApotCodeLinear apot_code_linear_prepare(const Tensor& weight, int b, int k);
// activation: float32 [m, in'] with in' >= in; weight_codes: int32 [out, in].
Tensor apot_code_linear(const Tensor& activation, const Tensor& weight_codes);

}  // namespace quantkit::apot
