// fake_quantize nodes in QatModule: the place's observer, then quantkit's autograd functions.
#include "qat_fake_quantize.h"

#include <ATen/Functions.h>

#include <string>
#include <variant>
#include <vector>

#include "quantkit/apot/quantizer.h"
#include "quantkit/core/error.h"
#include "quantkit/quant/choose_qparams.h"
#include "quantkit/torch/fake_quantize_functions.h"
#include "quantkit/torch/tensor_bridge.h"

namespace quantkit::torch::detail {
namespace {

constexpr const char* kWhere = "QatModule fake_quantize";

// x for an observer: detached (observers never take part in autograd), viewed in place.
BorrowedTensor observed(const at::Tensor& x) { return borrow_float32(x.detach(), kWhere, "x"); }

at::Tensor per_channel(const at::Tensor& x, const QParams& qp, const FakeQuantize& fq) {
  check_argument(!qp.scale.empty() && qp.scale.size() == qp.zero_point.size(), kWhere,
                 "qparams", qscheme_name(qp.qscheme),
                 "per-channel qparams with integer zero points (float zero points cannot train "
                 "here)");
  const std::vector<float> scales(qp.scale.begin(), qp.scale.end());
  const auto channels = static_cast<std::int64_t>(scales.size());
  const at::Tensor s = at::tensor(at::ArrayRef<float>(scales)).reshape({channels});
  const at::Tensor z = at::tensor(at::ArrayRef<std::int64_t>(qp.zero_point)).reshape({channels});
  return fake_quantize_per_channel(x, s, z, qp.axis, fq.quant_min(), fq.quant_max());
}

at::Tensor uniform(FakeQuantize& fq, bool dynamic, const at::Tensor& x, bool observe) {
  if (observe && fq.observer_enabled()) {
    const BorrowedTensor seen = observed(x);
    fq.observer().observe(seen.view);
    fq.set_qparams(fq.calculate_qparams());
  }
  if (!fq.fake_quant_enabled()) return x;
  if (dynamic) {
    const BorrowedTensor seen = observed(x);
    const DynamicQParams q = choose_qparams_tensor(seen.view, fq.observer().quant_range(),
                                                   fq.observer().options().eps, kWhere);
    return fake_quantize_per_tensor(x, q.scale, q.zero_point, fq.quant_min(), fq.quant_max());
  }
  if (!fq.has_qparams()) {
    throw Error(std::string(kWhere) +
                ": the place has no qparams yet: run a train-mode forward with observers "
                "enabled first (or disable fake quantization)");
  }
  const QParams& qp = fq.qparams();
  if (qp.per_channel()) return per_channel(x, qp, fq);
  return fake_quantize_per_tensor(x, qp.scale[0], qp.zero_point[0], fq.quant_min(),
                                  fq.quant_max());
}

at::Tensor apot(pt2e::ObservedPlace& place, const pt2e::QuantizationSpec& spec, const at::Tensor& x,
                bool observe) {
  if (observe && place.apot_observer_enabled) place.apot->observe(observed(x).view);
  if (!place.apot_fake_quant_enabled) return x;
  const apot::ApotQuantizer quantizer(place.apot->calculate_qparams(spec.apot->is_signed));
  return apot_fake_quantize(x, quantizer);
}

}  // namespace

at::Tensor fake_quantize_place(pt2e::ObservedPlace& place, const at::Tensor& x, bool observe) {
  const auto* spec = std::get_if<pt2e::QuantizationSpec>(&place.spec);
  if (place.fake_quant) {
    return uniform(*place.fake_quant, spec != nullptr && spec->is_dynamic, x, observe);
  }
  if (place.apot && spec != nullptr && spec->apot) return apot(place, *spec, x, observe);
  throw Error(std::string(kWhere) + ": the place has neither a FakeQuantize nor an APoT observer (" +
              pt2e::describe(place.spec) + ")");
}

}  // namespace quantkit::torch::detail
