#include "quantkit/apot/fake_quantize.h"

#include <cmath>
#include <string>
#include <type_traits>

#include "quantkit/core/error.h"

namespace quantkit::apot {

Tensor apot_fake_quantize(const Tensor& x, const ApotQuantizer& quantizer) {
  // The float32 level of the chosen code, widened exactly: what dequantize(quantize(x))
  // gives, without the intermediate code tensor.
  return quantizer.quant_dequant(x).to(DType::Float64);
}

Tensor apot_fake_quantize_f32(const Tensor& x, const ApotQuantizer& quantizer) {
  return quantizer.quant_dequant(x);
}

namespace {
template <class G, class X, class Out>
void ste(const G* dy, const X* x, std::int64_t n, double alpha, Out* out) {
  for (std::int64_t i = 0; i < n; ++i) {
    const double xi = static_cast<double>(x[i]);
    const double mask = (xi >= -alpha && xi <= alpha) ? 1.0 : 0.0;
    out[i] = static_cast<Out>(static_cast<double>(dy[i]) * mask);
  }
}
}  // namespace

Tensor apot_fake_quantize_backward(const Tensor& grad_output, const Tensor& x, float alpha) {
  constexpr const char* where = "apot_fake_quantize_backward";
  check_argument(x.dtype() == DType::Float32 || x.dtype() == DType::Float64, where, "x.dtype",
                 dtype_name(x.dtype()), "float32 or float64");
  check_argument(grad_output.dtype() == DType::Float32 || grad_output.dtype() == DType::Float64,
                 where, "grad_output.dtype", dtype_name(grad_output.dtype()), "float32 or float64");
  check_argument(grad_output.shape() == x.shape(), where, "grad_output.shape",
                 shape_to_string(grad_output.shape()), "x's shape " + shape_to_string(x.shape()));
  check_argument(std::isfinite(alpha) && alpha >= 0.0f, where, "alpha", alpha,
                 "a finite value >= 0");
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  const std::int64_t n = x.numel();
  const double a = alpha;
  visit_dtype(grad_output.dtype(), [&](auto g) {
    using G = decltype(g);
    if constexpr (std::is_floating_point_v<G>) {
      visit_dtype(x.dtype(), [&](auto xv) {
        using X = decltype(xv);
        if constexpr (std::is_floating_point_v<X>) {
          ste(grad_output.data<G>(), x.data<X>(), n, a, out.data<X>());
        }
      });
    }
  });
  return out;
}

ApotFakeQuantize::ApotFakeQuantize(int b, int k) : observer_(b, k) {}

ApotFakeQuantize::ApotFakeQuantize(const ApotScheme& scheme)
    : observer_(scheme.b, scheme.k, scheme.level_set), is_signed_(scheme.is_signed) {
  scheme.validate("ApotFakeQuantize");
}

const ApotQuantizer* ApotFakeQuantize::prepare(const Tensor& x, const char* where) {
  if (observer_enabled_) {
    observer_.observe(x);
    quantizer_ = std::make_shared<const ApotQuantizer>(observer_.calculate_qparams(is_signed_));
  }
  if (!fake_quant_enabled_) return nullptr;
  check_argument(quantizer_ != nullptr, where, "qparams", "none",
                 "qparams: run forward with the observer enabled or call set_qparams first");
  return quantizer_.get();
}

Tensor ApotFakeQuantize::forward(const Tensor& x) {
  const ApotQuantizer* q = prepare(x, "ApotFakeQuantize::forward");
  return q ? apot_fake_quantize(x, *q) : x;
}

Tensor ApotFakeQuantize::forward_f32(const Tensor& x) {
  const ApotQuantizer* q = prepare(x, "ApotFakeQuantize::forward_f32");
  return q ? apot_fake_quantize_f32(x, *q) : x;
}

Tensor ApotFakeQuantize::backward(const Tensor& grad_output, const Tensor& x) const {
  constexpr const char* where = "ApotFakeQuantize::backward";
  if (!fake_quant_enabled_) {
    check_argument(grad_output.shape() == x.shape(), where, "grad_output.shape",
                   shape_to_string(grad_output.shape()), "x's shape " + shape_to_string(x.shape()));
    check_argument(
        is_floating(x.dtype()) && is_floating(grad_output.dtype()), where, "dtypes",
        std::string(dtype_name(grad_output.dtype())) + "/" + std::string(dtype_name(x.dtype())),
        "floating grad_output and x");
    return grad_output.dtype() == x.dtype() ? grad_output.clone() : grad_output.to(x.dtype());
  }
  check_argument(quantizer_ != nullptr, where, "qparams", "none",
                 "qparams: run forward with the observer enabled or call set_qparams first");
  return apot_fake_quantize_backward(grad_output, x, quantizer_->qparams().alpha);
}

const ApotQParams& ApotFakeQuantize::qparams() const {
  check_argument(quantizer_ != nullptr, "ApotFakeQuantize::qparams", "qparams", "none",
                 "qparams: run forward with the observer enabled or call set_qparams first");
  return quantizer_->qparams();
}

void ApotFakeQuantize::set_qparams(const ApotQParams& qparams) {
  quantizer_ = std::make_shared<const ApotQuantizer>(qparams);
}

}  // namespace quantkit::apot
