// XNNPACK's quantization configs (torchao/testing/pt2e/_xnnpack_quantizer.py,
// get_symmetric_quantization_config) and the APoT-weight counterpart.
#include <limits>
#include <string>

#include "quantkit/apot/scheme.h"
#include "quantkit/core/error.h"
#include "quantkit/pt2e/xnnpack_quantizer.h"
#include "quantkit/quant/choose_qparams.h"

namespace quantkit::pt2e {

namespace {

// eps = 2**-12 in every XNNPACK spec (extra_args = {"eps": 2**-12}).
constexpr float kXnnpackEps = 1.0f / 4096.0f;

QuantizationSpec activation_spec(bool is_qat, bool is_dynamic, std::int64_t qmin,
                                 std::int64_t qmax) {
  QuantRange::of(DType::Int8, qmin, qmax).validate("get_symmetric_quantization_config (act)");
  QuantizationSpec spec;
  spec.dtype = DType::Int8;
  spec.quant_min = qmin;
  spec.quant_max = qmax;
  spec.qscheme = QScheme::PerTensorAffine;
  spec.is_dynamic = is_dynamic;
  spec.observer_options.eps = kXnnpackEps;
  if (is_qat) {
    // FusedMovingAvgObsFakeQuantize (static) or FakeQuantize around
    // MovingAverageMinMaxObserver(averaging_constant=1) (dynamic: every batch's own range).
    spec.observer = "moving-average-minmax";
    if (is_dynamic) spec.observer_options.averaging_constant = 1.0f;
    spec.fake_quant = true;
  } else {
    spec.observer = is_dynamic ? "placeholder" : "histogram";
  }
  return spec;
}

QuantizationSpec weight_spec(bool is_per_channel, bool is_qat, std::int64_t qmin,
                             std::int64_t qmax) {
  QuantRange::of(DType::Int8, qmin, qmax).validate("get_symmetric_quantization_config (weight)");
  QuantizationSpec spec;
  spec.dtype = DType::Int8;
  spec.quant_min = qmin;
  spec.quant_max = qmax;
  spec.qscheme = is_per_channel ? QScheme::PerChannelSymmetric : QScheme::PerTensorSymmetric;
  spec.ch_axis = 0;
  spec.observer_options.eps = kXnnpackEps;
  if (is_qat) {
    spec.observer = is_per_channel ? "moving-average-per-channel-minmax" : "moving-average-minmax";
    spec.fake_quant = true;
  } else {
    spec.observer = is_per_channel ? "per-channel-minmax" : "minmax";
  }
  return spec;
}

}  // namespace

QuantizationConfig get_symmetric_quantization_config(bool is_per_channel, bool is_qat,
                                                     bool is_dynamic, std::int64_t act_qmin,
                                                     std::int64_t act_qmax,
                                                     std::int64_t weight_qmin,
                                                     std::int64_t weight_qmax) {
  QuantizationConfig config;
  config.input_activation = activation_spec(is_qat, is_dynamic, act_qmin, act_qmax);
  // Dynamic quantization leaves outputs in float.
  if (!is_dynamic) config.output_activation = config.input_activation;
  config.weight = weight_spec(is_per_channel, is_qat, weight_qmin, weight_qmax);
  config.is_qat = is_qat;
  return config;
}

namespace {

// APoT weights beside get_symmetric_quantization_config's activations. QAT: fake-quantized
// APoT weights (the observer's qparams, alpha = max |w|, each forward) and fused moving-average
// fake quants for the activations.
QuantizationConfig apot_weight_config(const ApotSpec& apot, bool is_qat, std::int64_t act_qmin,
                                      std::int64_t act_qmax) {
  QuantizationConfig config =
      get_symmetric_quantization_config(false, is_qat, false, act_qmin, act_qmax);
  QuantizationSpec weight;
  weight.dtype = DType::Int32;  // APoT weights become int32 codes + a level table
  weight.qscheme = QScheme::PerTensorSymmetric;
  weight.apot = apot;
  weight.fake_quant = is_qat;
  config.weight = weight;
  return config;
}

}  // namespace

QuantizationConfig get_apot_weight_config(int b, int k, bool is_qat) {
  apot::ApotScheme{b, k, true}.validate("get_apot_weight_config");
  return apot_weight_config(ApotSpec{b, k, true}, is_qat, -128, 127);
}

QuantizationConfig get_apot_paper_weight_config(int bits, bool is_qat, std::int64_t act_qmin,
                                                std::int64_t act_qmax) {
  const apot::ApotScheme scheme = apot::apot_paper_scheme(bits);  // validates bits
  return apot_weight_config(ApotSpec{scheme.b, scheme.k, true, scheme.level_set}, is_qat,
                            act_qmin, act_qmax);
}

bool groupwise_weight_applies(const QuantizationSpec& spec, const graph::Value& weight) {
  if (spec.group_size <= 0) return true;
  return weight.shape().size() == 2 && weight.shape()[1] % spec.group_size == 0;
}

QuantizationConfig get_per_token_dynamic_config(std::int64_t weight_group_size) {
  constexpr const char* where = "get_per_token_dynamic_config";
  check_argument(weight_group_size == 0 || (weight_group_size > 0 && weight_group_size % 32 == 0),
                 where, "weight_group_size", weight_group_size,
                 "0 (per-channel int8 weights) or a positive multiple of 32");
  QuantizationConfig config;
  // torchao's per_token_dynamic_quant: int8 [-128, 127], asymmetric, eps = float32 eps.
  QuantizationSpec act;
  act.dtype = DType::Int8;
  act.quant_min = -128;
  act.quant_max = 127;
  act.qscheme = QScheme::PerTensorAffine;
  act.is_dynamic = true;
  act.per_token = true;
  act.observer = "placeholder";
  act.observer_options.eps = kDefaultObserverEps;
  config.input_activation = act;
  const QuantizationSpec per_channel_int8 = weight_spec(true, false, -127, 127);
  if (weight_group_size == 0) {
    config.weight = per_channel_int8;
    return config;
  }
  // torchao's get_group_qparams_symmetric(w, 4, G): [-8, 7], eps = finfo(float32).smallest_normal.
  QuantizationSpec w4 = per_channel_int8;
  w4.quant_min = -8;
  w4.quant_max = 7;
  w4.group_size = weight_group_size;
  w4.observer_options.eps = std::numeric_limits<float>::min();
  config.weight = w4;
  config.fallback_weight = per_channel_int8;
  return config;
}

}  // namespace quantkit::pt2e
