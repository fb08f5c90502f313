#pragma once
// Fake quantization modules for quantization-aware training.
//  * FakeQuantize: torch.ao.quantization.FakeQuantize: an observer plus per-tensor or
//    per-channel fake quantization, with enable/disable switches for each, and the
//    straight-through-estimator backward.
//  * Learnable fake quantization (LSQ, torch's _LearnableFakeQuantize /
//    _fake_quantize_learnable_per_tensor_affine): forward and gradients for the input, the
//    scale and the zero point, bit-exact with torch per element.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/quant/observer.h"
#include "quantkit/quant/qparams.h"

namespace quantkit {

class FakeQuantize {
 public:
  // quant_min/quant_max default to the observer's effective range.
  explicit FakeQuantize(std::unique_ptr<Observer> observer);

  // Observer enabled: observe x and refresh the qparams. Fake quant enabled: return the
  // fake-quantized x (error if no qparams were ever computed); else return x itself.
  Tensor forward(const Tensor& x);
  // Straight-through estimator for the last qparams: dx = dy * mask (mask on unclamped q);
  // with fake quant disabled, dx = dy.
  Tensor backward(const Tensor& dy, const Tensor& x) const;

  void enable_observer(bool enabled = true) { observer_enabled_ = enabled; }
  void disable_observer() { observer_enabled_ = false; }
  void enable_fake_quant(bool enabled = true) { fake_quant_enabled_ = enabled; }
  void disable_fake_quant() { fake_quant_enabled_ = false; }
  bool observer_enabled() const { return observer_enabled_; }
  bool fake_quant_enabled() const { return fake_quant_enabled_; }

  QParams calculate_qparams() const { return observer_->calculate_qparams(); }
  // The qparams in use (set by forward with the observer enabled, or by set_qparams).
  // Unlike torch, whose buffers start as scale 1 / zero point 0, there are none until then:
  // qparams() and fake quantization throw.
  bool has_qparams() const { return has_qparams_; }
  const QParams& qparams() const;
  // The qparams must match the observer's kind (per tensor, per channel, or per channel
  // with float zero points), with scales that are finite and > 0 in float32 and integer
  // zero points inside [quant_min, quant_max]. Scales are stored rounded to float32, as in
  // torch's float32 scale buffer.
  void set_qparams(const QParams& qparams);
  Observer& observer() { return *observer_; }
  const Observer& observer() const { return *observer_; }
  std::int64_t quant_min() const { return quant_min_; }
  std::int64_t quant_max() const { return quant_max_; }

 private:
  std::unique_ptr<Observer> observer_;
  std::int64_t quant_min_;
  std::int64_t quant_max_;
  bool observer_enabled_ = true;
  bool fake_quant_enabled_ = true;
  bool has_qparams_ = false;
  QParams qparams_;
};

// ---- LSQ ----
// The integer zero points torch derives from a learnable float zero point: the forward pass
// (and _LearnableFakeQuantize.calculate_qparams) uses clamp(nearbyint(zero_point), qmin, qmax),
// the backward pass trunc(clamp(zero_point + 0.5f, qmin, qmax)); e.g. 2.5 -> 2 and 3,
// -4.7 -> -5 and -4.
std::int64_t learnable_forward_zero_point(float zero_point, std::int64_t quant_min,
                                          std::int64_t quant_max);
std::int64_t learnable_backward_zero_point(float zero_point, std::int64_t quant_min,
                                           std::int64_t quant_max);

// Forward: fake quantize with zf = clamp(nearbyint(zero_point), qmin, qmax).
Tensor fake_quantize_learnable_per_tensor(const Tensor& x, float scale, float zero_point,
                                          std::int64_t quant_min, std::int64_t quant_max,
                                          double grad_factor = 1.0);

struct LearnableFakeQuantizeGrads {
  Tensor dx;                // float32, x's shape
  Tensor dscale_elem;       // per-element terms (float32), summed into dscale
  Tensor dzero_point_elem;  // per-element terms (float32), summed into dzero_point
  float dscale = 0.0f;
  float dzero_point = 0.0f;
};
// Backward with zb = trunc(clamp(zero_point + 0.5f, qmin, qmax)) as torch does.
LearnableFakeQuantizeGrads fake_quantize_learnable_per_tensor_backward(
    const Tensor& dy, const Tensor& x, float scale, float zero_point, std::int64_t quant_min,
    std::int64_t quant_max, double grad_factor = 1.0);

// ---- LSQ per channel (torch._fake_quantize_learnable_per_channel_affine) ----
// scales: float32, finite, > 0; zero_points: finite floats; one each per channel of x along
// axis (in [-ndim, ndim)). Unlike the per-tensor op, torch derives ONE integer zero point
// per channel for forward and backward alike: zp_c = clamp(nearbyint(zero_points[c])).
// Forward = fake_quantize_per_channel(x, scales, zp, axis, ...).
Tensor fake_quantize_learnable_per_channel(const Tensor& x, std::span<const float> scales,
                                           std::span<const float> zero_points, std::int64_t axis,
                                           std::int64_t quant_min, std::int64_t quant_max);

struct LearnableFakeQuantizePerChannelGrads {
  Tensor dx;                       // float32, x's shape
  Tensor dscale_elem;              // per-element terms (float32), summed per channel into dscale
  Tensor dzero_point_elem;         // per-element terms (float32), summed into dzero_point
  std::vector<float> dscale;       // one per channel
  std::vector<float> dzero_point;  // one per channel
};
// Per-element terms as the per-tensor backward (with zp_c); each sum is compensated in double
// and rounded once to float32 (close to the exact sum, independent of any thread count).
LearnableFakeQuantizePerChannelGrads fake_quantize_learnable_per_channel_backward(
    const Tensor& dy, const Tensor& x, std::span<const float> scales,
    std::span<const float> zero_points, std::int64_t axis, std::int64_t quant_min,
    std::int64_t quant_max, double grad_factor = 1.0);

// torch.ao's _LearnableFakeQuantize (per tensor): learnable scale and zero point,
// initialised from the observer (or set by hand), with the same enable/disable switches.
// The observer must be per tensor and its range must have quant_min < quant_max.
class LearnableFakeQuantize {
 public:
  LearnableFakeQuantize(std::unique_ptr<Observer> observer, float scale = 1.0f,
                        float zero_point = 0.0f, bool use_grad_scaling = false);
  // Observer enabled: observe x and copy its qparams into scale / zero_point; disabled:
  // clamp scale to at least float32 epsilon, as torch does before every learning step.
  // Fake quant enabled: a symmetric observer's zero point is reset to 0 (torch does this
  // too), then x is fake quantized; disabled: returns x itself.
  Tensor forward(const Tensor& x);
  // Gradients at the current parameters; grad_factor = 1/sqrt(numel * quant_max) when
  // use_grad_scaling, else 1. With fake quant disabled: dx = dy and zero parameter
  // gradients.
  LearnableFakeQuantizeGrads backward(const Tensor& dy, const Tensor& x) const;

  void enable_observer(bool enabled = true) { observer_enabled_ = enabled; }
  void disable_observer() { observer_enabled_ = false; }
  void enable_fake_quant(bool enabled = true) { fake_quant_enabled_ = enabled; }
  void disable_fake_quant() { fake_quant_enabled_ = false; }
  bool observer_enabled() const { return observer_enabled_; }
  bool fake_quant_enabled() const { return fake_quant_enabled_; }
  bool use_grad_scaling() const { return use_grad_scaling_; }
  float scale() const { return scale_; }
  float zero_point() const { return zero_point_; }
  // scale: finite and > 0; zero_point: finite (it may lie outside the range: the kernels
  // clamp it).
  void set_scale(float scale);
  void set_zero_point(float zero_point);
  // torch's calculate_qparams(): per-tensor qparams with scale max(scale, float32 eps) and
  // the zero point learnable_forward_zero_point(zero_point) (for export after training).
  QParams calculate_qparams() const;
  Observer& observer() { return *observer_; }
  const Observer& observer() const { return *observer_; }
  std::int64_t quant_min() const { return observer_->quant_range().quant_min; }
  std::int64_t quant_max() const { return observer_->quant_range().quant_max; }

 private:
  double grad_factor(const Tensor& x) const;
  std::unique_ptr<Observer> observer_;
  float scale_;
  float zero_point_;
  bool use_grad_scaling_;
  bool observer_enabled_ = true;
  bool fake_quant_enabled_ = true;
};

}  // namespace quantkit
