#pragma once
// The integer reference representation: torchao's reference_representation_rewrite
// (torchao/quantization/pt2e/reference_representation_rewrite.py). It rewrites the Q/DQ
// patterns convert_pt2e produces into the integer arithmetic a backend performs, so the
// graph shows (and the interpreter runs) exactly that arithmetic. The fused kernels of the
// lowering pass (quantized_linear / quantized_conv2d / quantized_add /
// dynamic_quantized_linear) must equal it bit for bit: THE ARITHMETIC BELOW IS THE CONTRACT.
//
// Patterns, tried in torchao's order (each over the whole graph before the next):
//   1. dynamic linear   choose_qparams(x) → quantize_per_tensor(x, s, zp) → dequantize →
//                       linear(·, dequantize(w_i8), bias?)                       (f32 out)
//   2. static linear    dequantize(x_i8) , dequantize(w_i8) → linear(·, ·, bias?) → quantize
//   3. static conv2d    the same with conv2d (any stride/padding/dilation/groups)
//   4. add + relu       dequantize(a), dequantize(b) → add → relu → quantize
//   5. add              dequantize(a), dequantize(b) → add → quantize
//   6. max_pool2d       dequantize(x) → max_pool2d → quantize
//   7. quantize_per_tensor, 8. dequantize_per_tensor, 9. quantize_per_channel,
//   10. dequantize_per_channel: whatever Q/DQ op is left, spelled out.
// "quantize"/"dequantize" without suffix mean the per-tensor ops with attribute qparams.
// A weight dequantize may be per tensor or per channel (on the output-channel axis 0), or an
// APoT weight apot_dequantize(codes) whose levels are small integers times one step
// (apot::integer_levels): then w_i8 = integers[code], zp_w = 0, ws = the step · γ, one scale
// per tensor — quantkit's APoT-weight pattern (torchao has none), the same arithmetic below.
// All quantized values are int8 (torchao's patterns hard-code torch.int8); the nodes inside a
// pattern (everything but its inputs and its last node) must have no other user. Anything
// else stays as it is. Dead code is dropped at the end (e.g. per-channel weight scales only
// the replaced dequantize read). The result verifies; the input graph is not modified.
//
// Notation: s_x, zp_x … are the pattern's qparams; scale attributes are float64 (they are
// Python floats in PT2E's graph); per-channel scales are tensors (f32 or f64).
// f32(v): round to float32. ⊗32/⊘32: float32 multiply/divide; ⊗64/⊘64: float64.
// trunc32(v): toward zero, saturating to int32, NaN → 0 (torch's .to(int32) is undefined
// out of range; our cast saturates). wrap32: int32 two's-complement wrap-around.
// rne: round half to even (torch.round). clamp(v, lo, hi) on integers.
//
// Where the float widths come from: in the rewritten torch graph the qparams are Python
// floats, so `x_scale * weight_scale` is aten.mul.Tensor(float, float), a 0-d FLOAT64 tensor
// (checked on torch); multiplying an int32 tensor by a 0-d float64 tensor promotes to
// float64 (out_dtype's fallback uses the same elementwise_dtypes rules), while dividing a
// float32 bias by it stays float32 (a dimensioned float32 tensor wins over a 0-d float64).
// Python-float scalars against float32 tensors (quantize/dequantize) compute in float32.
//
// ---- static linear / conv2d (per output channel c; per-tensor weights: the same scale
//      for every c; a per-channel weight is treated as per-tensor weight ws[c] per channel,
//      an extension: torchao matches per-tensor weights only) ----
//   xc = x_i8 - zp_x, wc = clamp(w_i8, wqmin, wqmax) - zp_w[c]     (exact in int16)
//   acc = Σ xc·wc  in int32 (wrap32); conv zero padding pads xc with 0 (x with zp_x)
//   bias_scale[c] = f32(s_x ⊗64 double(ws[c]))
//   bias_i32[c] = trunc32(bias[c] ⊘32 bias_scale[c])                (no bias: 0)
//   acc = wrap32(acc + bias_i32[c])
//   m[c] = (s_x ⊗64 double(ws[c])) ⊘64 s_out
//   out = int8(clamp(wrap32(trunc32(double(acc) ⊗64 m[c]) + zp_out), qmin_out, qmax_out))
//   (torchao also clamps x_i8 to [qmin_x, qmax_x] first: a no-op for in-range data, kept.)
// ---- dynamic linear ----
//   (s, zp) = choose_qparams(x)  (s float64, zp int64; as the Q/DQ graph)
//   xq = int8(clamp(trunc32(rne(double(x) ⊘64 s)) + zp, qmin, qmax))  (quantize in float64)
//   acc = Σ (xq - zp)·(clamp(w_i8, wqmin, wqmax) - zp_w[c]) in int32 (wrap32)
//   sw[c] = s ⊗64 double(ws[c])
//   acc = wrap32(acc + trunc32(double(bias[c]) ⊘64 sw[c]))         (no bias: acc)
//   out = f32(double(acc) ⊗64 sw[c])        (torch returns float64 here; our value is f32)
// ---- add_relu (out_dtype(mul, int32, ...): truncation) ----
//   a' = trunc32(double(a - zp_a) ⊗64 (s_a ⊘64 s_out)), b' likewise
//   out = int8(clamp(wrap32(a' + b' + zp_out), zp_out, qmax))
// ---- add (torchao rounds here) ----
//   a' = trunc32(rne(double(a - zp_a) ⊗64 (s_a ⊘64 s_out))), b' likewise
//   out = int8(clamp(wrap32(a' + b' + zp_out), qmin, qmax))
//   (torchao clamps to the literal [-128, 127]; we clamp to the pattern's [qmin, qmax],
//   which is the same for the default int8 range.)
// ---- max_pool2d ----
//   p = max_pool2d(int32(clamp(x, qmin_x, qmax_x)) - zp_x)
//   out = int8(trunc(clamp(double(p) ⊗64 (s_x ⊘64 s_out) + double(zp_out), qmin, qmax)))
// ---- quantize_per_tensor (attribute qparams) ----
//   q = int8(clamp(wrap32(trunc32(rne(x ⊘32 f32(s))) + zp), qmin, qmax))
//   (PyTorch's Q/DQ quantize multiplies by f32(1/s) instead: the two may differ by one step.)
// ---- dequantize_per_tensor ----
//   y = (f32(clamp(q, qmin, qmax)) - f32(zp)) ⊗32 f32(s)
// ---- quantize_per_channel (scales S, zero points Z along `axis`) ----
//   q = int8(clamp(trunc32(rne(x ⊘ S[c])) + Z[c], qmin, qmax)), the division in S's dtype,
//   the addition in Z's dtype
// ---- dequantize_per_channel ----
//   y = f32((double-or-float(clamp(q, qmin, qmax) - Z[c])) ⊗ S[c]), in S's dtype
//
// Graph form (PyTorch idiom → our ops; node counts per rewritten pattern):
//   x.to(int16/int32/int8/float)      → cast
//   x_i16 - zero_point                → sub(x, 0-d constant of x's dtype)
//   out_dtype(linear/convolution, int32, ...)  → integer_linear / integer_conv2d
//   out_dtype(div, int32, bias, bias_scale)    → cast(div(bias, f32 constant), int32)
//   out_dtype(mul, int32, acc, scale_f64)      → cast(mul(cast(acc, f64), f64 constant), int32)
//     (3 nodes; the `requantize` op multiplies in float32, which is not torch's float64)
//   + out_zero_point, clamp, .to(int8)         → add(0-d int32 constant), clamp, cast
//   bias_i32.unsqueeze(-1).unsqueeze(-1)       → reshape(bias_i32, [O, 1, 1])
//   torch.round(x / scale)                     → round(div(x, constant))
//   transpose(x, ch_axis, -1) around per-channel arithmetic → constants shaped
//     [C, 1, …] that broadcast along `axis` (same elementwise result, no transposes)
// Occurrence mapping for PyTorch's node checks: out_dtype(mul, int32) ↔ a `mul` whose
// output feeds a cast to int32 (count_out_dtype_mul below); out_dtype(linear/conv) ↔
// integer_linear / integer_conv2d; quantize/dequantize ops ↔ the same op names.
#include <cstddef>

#include "quantkit/graph/graph.h"

namespace quantkit::pt2e {

// Returns the rewritten copy; `qdq` is not modified. Throws quantkit::Error when `qdq`
// does not verify.
graph::Graph to_reference_representation(const graph::Graph& qdq);

// Number of out_dtype(mul, int32, ...) equivalents in a reference graph: `mul` nodes whose
// output is read by a cast to int32 (PyTorch's ns.call_function(out_dtype) count for the
// requantize steps).
std::size_t count_out_dtype_mul(const graph::Graph& graph);

}  // namespace quantkit::pt2e
