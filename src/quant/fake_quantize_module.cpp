// The QAT modules of torch.ao.quantization: FakeQuantize (observer + straight-through fake
// quantization) and _LearnableFakeQuantize (LSQ, per tensor). The numerics live in
// affine.cpp and learnable_fake_quantize.cpp; this file holds the module state machine:
// which switches are on, which qparams are in use, and where they come from.
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "quantkit/core/error.h"
#include "quantkit/core/tensor.h"
#include "quantkit/quant/affine.h"
#include "quantkit/quant/fake_quantize.h"

namespace quantkit {
namespace {

std::unique_ptr<Observer> require_observer(std::unique_ptr<Observer> observer,
                                           std::string_view where) {
  check_argument(observer != nullptr, where, "observer", "null", "an observer");
  return observer;
}

// dy must be able to flow back through x unchanged.
void check_gradient_like(std::string_view where, const Tensor& dy, const Tensor& x) {
  check_argument(dy.dtype() == DType::Float32, where, "dy", dtype_name(dy.dtype()), "float32");
  check_argument(x.dtype() == DType::Float32, where, "x", dtype_name(x.dtype()), "float32");
  check_argument(dy.shape() == x.shape(), where, "dy", shape_to_string(dy.shape()),
                 "x's shape " + shape_to_string(x.shape()));
}

bool uses_float_zero_point(QScheme qscheme) {
  return qscheme == QScheme::PerChannelAffineFloatQParams;
}

// torch keeps FakeQuantize's scale in a float32 buffer, so qparams are rounded to float32
// when they are stored; a scale that does not survive that rounding is rejected.
QParams validated_qparams(const QParams& qparams, QScheme observer_qscheme,
                          std::int64_t quant_min, std::int64_t quant_max) {
  constexpr std::string_view where = "FakeQuantize::set_qparams";
  check_argument(qparams.per_channel() == is_per_channel(observer_qscheme) &&
                     uses_float_zero_point(qparams.qscheme) ==
                         uses_float_zero_point(observer_qscheme),
                 where, "qparams.qscheme", qscheme_name(qparams.qscheme),
                 "a qscheme of the same kind as the observer's " +
                     std::string(qscheme_name(observer_qscheme)));
  const std::size_t channels = qparams.scale.size();
  if (qparams.per_channel()) {
    check_argument(channels >= 1, where, "qparams.scale", "an empty list",
                   "one scale per channel");
  } else {
    check_argument(channels == 1, where, "qparams.scale",
                   std::to_string(channels) + " values", "exactly one scale");
  }
  if (uses_float_zero_point(qparams.qscheme)) {
    check_argument(qparams.float_zero_point.size() == channels, where,
                   "qparams.float_zero_point",
                   std::to_string(qparams.float_zero_point.size()) + " values",
                   std::to_string(channels) + " (one per scale)");
    for (const float zp : qparams.float_zero_point) {
      check_argument(std::isfinite(zp), where, "qparams.float_zero_point", zp,
                     "finite values");
    }
  } else {
    check_argument(qparams.zero_point.size() == channels, where, "qparams.zero_point",
                   std::to_string(qparams.zero_point.size()) + " values",
                   std::to_string(channels) + " (one per scale)");
    for (const std::int64_t zp : qparams.zero_point) {
      check_argument(zp >= quant_min && zp <= quant_max, where, "qparams.zero_point", zp,
                     "values in [" + std::to_string(quant_min) + ", " +
                         std::to_string(quant_max) + "]");
    }
  }
  QParams stored = qparams;
  for (double& scale : stored.scale) {
    const float rounded = static_cast<float>(scale);
    check_argument(std::isfinite(rounded) && rounded > 0.0f, where, "qparams.scale", scale,
                   "values that are finite and > 0 in float32");
    scale = rounded;
  }
  return stored;
}

void check_learnable_scale(std::string_view where, std::string_view arg, float scale) {
  check_argument(std::isfinite(scale) && scale > 0.0f, where, arg, scale, "a finite value > 0");
}

void check_learnable_zero_point(std::string_view where, std::string_view arg,
                                float zero_point) {
  check_argument(std::isfinite(zero_point), where, arg, zero_point, "a finite value");
}

}  // namespace

// ---- FakeQuantize ----

FakeQuantize::FakeQuantize(std::unique_ptr<Observer> observer)
    : observer_(require_observer(std::move(observer), "FakeQuantize")),
      quant_min_(observer_->quant_range().quant_min),
      quant_max_(observer_->quant_range().quant_max) {}

Tensor FakeQuantize::forward(const Tensor& x) {
  if (observer_enabled_) {
    observer_->observe(x);
    set_qparams(observer_->calculate_qparams());
  }
  if (!fake_quant_enabled_) return x;
  const QParams& qp = qparams();
  if (!qp.per_channel()) {
    return fake_quantize_per_tensor(x, qp.scale[0], qp.zero_point[0], quant_min_, quant_max_);
  }
  if (uses_float_zero_point(qp.qscheme)) {
    return fake_quantize_per_channel_float_zp(x, qp.scale, qp.float_zero_point, qp.axis,
                                              quant_min_, quant_max_);
  }
  return fake_quantize_per_channel(x, qp.scale, qp.zero_point, qp.axis, quant_min_,
                                   quant_max_);
}

Tensor FakeQuantize::backward(const Tensor& dy, const Tensor& x) const {
  if (!fake_quant_enabled_) {
    // forward was the identity, so is its gradient.
    check_gradient_like("FakeQuantize::backward", dy, x);
    return dy;
  }
  const QParams& qp = qparams();
  if (!qp.per_channel()) {
    return fake_quantize_per_tensor_backward(dy, x, qp.scale[0], qp.zero_point[0], quant_min_,
                                             quant_max_);
  }
  if (uses_float_zero_point(qp.qscheme)) {
    return fake_quantize_per_channel_float_zp_backward(dy, x, qp.scale, qp.float_zero_point,
                                                       qp.axis, quant_min_, quant_max_);
  }
  return fake_quantize_per_channel_backward(dy, x, qp.scale, qp.zero_point, qp.axis,
                                            quant_min_, quant_max_);
}

const QParams& FakeQuantize::qparams() const {
  if (!has_qparams_) {
    throw Error(
        "FakeQuantize: no qparams yet: run forward() with the observer enabled or call "
        "set_qparams() before fake quantizing");
  }
  return qparams_;
}

void FakeQuantize::set_qparams(const QParams& qparams) {
  qparams_ = validated_qparams(qparams, observer_->options().qscheme, quant_min_, quant_max_);
  has_qparams_ = true;
}

// ---- LearnableFakeQuantize ----

LearnableFakeQuantize::LearnableFakeQuantize(std::unique_ptr<Observer> observer, float scale,
                                             float zero_point, bool use_grad_scaling)
    : observer_(require_observer(std::move(observer), "LearnableFakeQuantize")),
      scale_(1.0f),
      zero_point_(0.0f),
      use_grad_scaling_(use_grad_scaling) {
  constexpr std::string_view where = "LearnableFakeQuantize";
  const QScheme qscheme = observer_->options().qscheme;
  check_argument(!is_per_channel(qscheme), where, "observer qscheme", qscheme_name(qscheme),
                 "a per-tensor qscheme (this module learns one scale and zero point)");
  const QuantRange& range = observer_->quant_range();
  check_argument(range.quant_min < range.quant_max, where, "observer quant_max",
                 range.quant_max,
                 "a value > quant_min (" + std::to_string(range.quant_min) + ")");
  // torch computes (numel * quant_max) ** 0.5, which is no real number for quant_max <= 0.
  check_argument(!use_grad_scaling || range.quant_max > 0, where, "use_grad_scaling", true,
                 "false when quant_max (" + std::to_string(range.quant_max) + ") <= 0");
  set_scale(scale);
  set_zero_point(zero_point);
}

void LearnableFakeQuantize::set_scale(float scale) {
  check_learnable_scale("LearnableFakeQuantize::set_scale", "scale", scale);
  scale_ = scale;
}

void LearnableFakeQuantize::set_zero_point(float zero_point) {
  check_learnable_zero_point("LearnableFakeQuantize::set_zero_point", "zero_point",
                             zero_point);
  zero_point_ = zero_point;
}

Tensor LearnableFakeQuantize::forward(const Tensor& x) {
  if (observer_enabled_) {
    observer_->observe(x);
    const QParams qp = observer_->calculate_qparams();
    // torch copies the observer's float32 scale and integer zero point into the float32
    // parameters.
    check_argument(qp.scale.size() == 1 && qp.zero_point.size() == 1,
                   "LearnableFakeQuantize::forward", "observer qparams",
                   std::to_string(qp.scale.size()) + " scales", "one scale and zero point");
    const float scale = static_cast<float>(qp.scale[0]);
    const float zero_point = static_cast<float>(qp.zero_point[0]);
    check_learnable_scale("LearnableFakeQuantize::forward", "observer scale", scale);
    check_learnable_zero_point("LearnableFakeQuantize::forward", "observer zero_point",
                               zero_point);
    scale_ = scale;
    zero_point_ = zero_point;
  } else {
    // Learning may have pushed the scale towards 0; torch clamps it before every use.
    scale_ = std::fmax(scale_, std::numeric_limits<float>::epsilon());
  }
  if (!fake_quant_enabled_) return x;
  if (is_symmetric(observer_->options().qscheme)) zero_point_ = 0.0f;
  return fake_quantize_learnable_per_tensor(x, scale_, zero_point_, quant_min(), quant_max(),
                                            grad_factor(x));
}

LearnableFakeQuantizeGrads LearnableFakeQuantize::backward(const Tensor& dy,
                                                           const Tensor& x) const {
  if (!fake_quant_enabled_) {
    // forward was the identity: the parameters did not take part.
    check_gradient_like("LearnableFakeQuantize::backward", dy, x);
    LearnableFakeQuantizeGrads grads;
    grads.dx = dy;
    grads.dscale_elem = Tensor::zeros(x.shape(), DType::Float32);
    grads.dzero_point_elem = Tensor::zeros(x.shape(), DType::Float32);
    return grads;
  }
  return fake_quantize_learnable_per_tensor_backward(dy, x, scale_, zero_point_, quant_min(),
                                                     quant_max(), grad_factor(x));
}

QParams LearnableFakeQuantize::calculate_qparams() const {
  QParams qp;
  qp.qscheme = observer_->options().qscheme;
  qp.scale = {std::fmax(scale_, std::numeric_limits<float>::epsilon())};
  qp.zero_point = {learnable_forward_zero_point(zero_point_, quant_min(), quant_max())};
  return qp;
}

// torch: 1.0 / (X.numel() * self.quant_max) ** 0.5 in Python, i.e. the exact integer
// product rounded once to double, libm pow(., 0.5) (CPython's float ** float), and a double
// division; the backward then rounds it to float32.
double LearnableFakeQuantize::grad_factor(const Tensor& x) const {
  if (!use_grad_scaling_ || x.numel() == 0) return 1.0;  // empty: no gradient to scale
  std::int64_t product = 0;
  const double elements_times_qmax =
      __builtin_mul_overflow(x.numel(), quant_max(), &product)
          ? static_cast<double>(x.numel()) * static_cast<double>(quant_max())  // > 2^63
          : static_cast<double>(product);
  return 1.0 / std::pow(elements_times_qmax, 0.5);
}

}  // namespace quantkit
