#pragma once
// APoT fake quantization for quantization-aware training (PyTorch's APoTFakeQuantize and
// fake_quantize_function), with a working straight-through-estimator backward.
//
// forward(x): observer enabled -> observe x, then qparams = calculate_qparams(signed=false)
// (always unsigned, as PyTorch; a module made from an ApotScheme uses the scheme's sign, so the
// paper's signed N-bit set (apot_paper_scheme) fake-quantizes weights); fake quant enabled -> dequantize(quantize(x)) as a new
// float64 tensor (PyTorch's dtype; forward_f32 gives float32), error if no qparams exist
// yet; fake quant disabled -> x itself.
// backward(dy, x) = dy * (-alpha <= x <= alpha), in x's dtype: masked entries are dy * 0.0
// (so -0.0 for negative dy, NaN for infinite dy, like torch's uniform fake-quant STE).
// PyTorch's backward never runs (it multiplies by a tuple and returns 1 gradient for 5
// inputs) and its forward overwrites x with codes and then a mask; neither happens here.
#include <memory>

#include "quantkit/apot/observer.h"
#include "quantkit/apot/quantizer.h"
#include "quantkit/core/tensor.h"

namespace quantkit::apot {

// dequantize(quantize(x)) as float64 (PyTorch's fake_quantize_function.forward) / float32.
Tensor apot_fake_quantize(const Tensor& x, const ApotQuantizer& quantizer);
Tensor apot_fake_quantize_f32(const Tensor& x, const ApotQuantizer& quantizer);
// Straight-through estimator: dy * (-alpha <= x <= alpha), computed in double and returned in
// x's dtype (float32 or float64). dy: float32 or float64, x's shape. alpha: finite >= 0.
Tensor apot_fake_quantize_backward(const Tensor& grad_output, const Tensor& x, float alpha);

class ApotFakeQuantize {
 public:
  ApotFakeQuantize(int b, int k);
  // Any valid scheme, its sign included: apot_paper_scheme(4) for the paper's 4-bit weights.
  explicit ApotFakeQuantize(const ApotScheme& scheme);

  Tensor forward(const Tensor& x);
  Tensor forward_f32(const Tensor& x);
  // STE for the current qparams; with fake quant disabled the gradient passes unchanged
  // (converted to x's dtype). Throws Error if fake quant is enabled but no qparams exist.
  Tensor backward(const Tensor& grad_output, const Tensor& x) const;

  void enable_observer(bool enabled = true) { observer_enabled_ = enabled; }
  void disable_observer() { observer_enabled_ = false; }
  void enable_fake_quant(bool enabled = true) { fake_quant_enabled_ = enabled; }
  void disable_fake_quant() { fake_quant_enabled_ = false; }
  bool observer_enabled() const { return observer_enabled_; }
  bool fake_quant_enabled() const { return fake_quant_enabled_; }

  // The observer's qparams (PyTorch's APoTFakeQuantize.calculate_qparams): with the module's
  // own sign (unsigned for (b, k)), or the given one.
  ApotQParams calculate_qparams() const { return observer_.calculate_qparams(is_signed_); }
  ApotQParams calculate_qparams(bool is_signed) const {
    return observer_.calculate_qparams(is_signed);
  }
  bool has_qparams() const { return quantizer_ != nullptr; }
  // The qparams forward uses (throws Error if none yet).
  const ApotQParams& qparams() const;
  void set_qparams(const ApotQParams& qparams);
  ApotObserver& observer() { return observer_; }
  const ApotObserver& observer() const { return observer_; }

 private:
  // Observer step of forward; returns the quantizer to apply (null if fake quant disabled).
  const ApotQuantizer* prepare(const Tensor& x, const char* where);

  ApotObserver observer_;
  bool is_signed_ = false;
  bool observer_enabled_ = true;
  bool fake_quant_enabled_ = true;
  std::shared_ptr<const ApotQuantizer> quantizer_;
};

}  // namespace quantkit::apot
