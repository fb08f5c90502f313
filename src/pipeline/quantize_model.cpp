// Named PTQ configurations and the prepare → calibrate → convert sequence (quantize_model.h).
#include "quantkit/pipeline/quantize_model.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>

#include "quantkit/apot/qparams.h"
#include "quantkit/core/error.h"
#include "quantkit/core/nonfinite.h"
#include "quantkit/pt2e/convert.h"
#include "quantkit/pt2e/prepare.h"

namespace quantkit::pipeline {
namespace {
constexpr std::array<std::string_view, 12> kNames{
    "int8",       "int8-per-channel", "int8-dynamic", "apot-w4",      "apot-w3",
    "apot-w2",    "apot-b4k2-signed", "uniform-w4",   "uniform-w3",   "uniform-w2",
    "apot-w4a4",  "uniform-w4a4"};

// ---- transformer configs (int8-dynamic-per-token, 8da4w): docs/transformers.md ----
constexpr std::array<std::string_view, 2> kTransformerNames{"int8-dynamic-per-token", "8da4w"};

std::optional<pt2e::QuantizationConfig> transformer_config(std::string_view name,
                                                           const QuantizeOptions& options) {
  if (name == "int8-dynamic-per-token") return pt2e::get_per_token_dynamic_config(0);
  if (name == "8da4w") {
    check_argument(options.group_size > 0 && options.group_size % 32 == 0, "config_by_name",
                   "group_size", options.group_size, "a positive multiple of 32");
    return pt2e::get_per_token_dynamic_config(options.group_size);
  }
  return std::nullopt;
}

// Both lists, in order (kept apart so that each block can change on its own).
const std::vector<std::string_view>& all_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out(kNames.begin(), kNames.end());
    out.insert(out.end(), kTransformerNames.begin(), kTransformerNames.end());
    return out;
  }();
  return names;
}
// ---- end of the transformer configs ----

std::string joined_names() {
  std::string out;
  for (std::string_view n : all_names()) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

// The linear nodes a groupwise weight spec cannot group (pt2e::groupwise_weight_applies), in
// graph order.
std::vector<std::string> group_size_fallbacks(const graph::Graph& model,
                                              const pt2e::QuantizationConfig& config) {
  std::vector<std::string> out;
  if (!config.weight || config.weight->group_size <= 0) return out;
  for (const graph::Node* n : model.nodes()) {
    if (n->op() == graph::OpKind::Linear &&
        !pt2e::groupwise_weight_applies(*config.weight, *n->input(1))) {
      out.push_back(n->name());
    }
  }
  return out;
}

// Static activations in the signed N-bit range of int8 storage, per-tensor affine (XNNPACK's
// activation spec with act_qmin / act_qmax): [-128, 127] for 8 bits, [-8, 7] for 4.
constexpr std::int64_t kAct8Min = -128, kAct8Max = 127;
constexpr std::int64_t kAct4Min = -8, kAct4Max = 7;

// N-bit weights: per-channel symmetric over the signed N-bit range [-2^(N-1), 2^(N-1) - 1]
// (PyTorch's symmetric qparams: scale = max|w| / ((qmax - qmin) / 2)), stored in int8.
pt2e::QuantizationConfig uniform_config(int bits, bool is_qat, std::int64_t act_qmin,
                                        std::int64_t act_qmax) {
  const std::int64_t half = std::int64_t{1} << (bits - 1);
  return pt2e::get_symmetric_quantization_config(true, is_qat, false, act_qmin, act_qmax, -half,
                                                 half - 1);
}

}  // namespace

std::span<const std::string_view> config_names() { return all_names(); }

bool is_dynamic_config(std::string_view name) {
  const pt2e::QuantizationConfig c = config_by_name(name);
  return c.input_activation && c.input_activation->is_dynamic;
}

pt2e::QuantizationConfig config_by_name(std::string_view name, const QuantizeOptions& options) {
  if (auto c = transformer_config(name, options)) return *c;
  return config_by_name(name);
}

pt2e::QuantizationConfig config_by_name(std::string_view name, bool is_qat) {
  if (auto c = transformer_config(name, QuantizeOptions{})) {
    check_argument(!is_qat, "config_by_name", "config", name,
                   "a config with a QAT form (the per-token dynamic configs have none)");
    return *c;
  }
  if (name == "int8") return pt2e::get_symmetric_quantization_config(false, is_qat);
  if (name == "int8-per-channel") return pt2e::get_symmetric_quantization_config(true, is_qat);
  if (name == "int8-dynamic") {
    return pt2e::get_symmetric_quantization_config(true, is_qat, /*is_dynamic=*/true);
  }
  if (name == "apot-b4k2-signed") return pt2e::get_apot_weight_config(4, 2, is_qat);
  if (name == "apot-w4a4") return pt2e::get_apot_paper_weight_config(4, is_qat, kAct4Min, kAct4Max);
  if (name == "uniform-w4a4") return uniform_config(4, is_qat, kAct4Min, kAct4Max);
  for (int bits : {4, 3, 2}) {
    if (name == "apot-w" + std::to_string(bits)) {
      return pt2e::get_apot_paper_weight_config(bits, is_qat, kAct8Min, kAct8Max);
    }
    if (name == "uniform-w" + std::to_string(bits)) {
      return uniform_config(bits, is_qat, kAct8Min, kAct8Max);
    }
  }
  throw_invalid_argument("config_by_name", "config", name, "one of " + joined_names());
}

WeightLevels weight_levels(std::string_view name) {
  const pt2e::QuantizationConfig config = config_by_name(name);
  const pt2e::QuantizationSpec& w = config.weight.value();
  if (!w.apot) return {w.quant_max - w.quant_min + 1, w.quant_max - w.quant_min + 1};
  const apot::ApotScheme scheme{w.apot->b, w.apot->k, w.apot->is_signed, w.apot->level_set};
  // The level set for alpha = 1; any alpha > 0 scales it without merging levels.
  std::vector<float> levels = apot::make_apot_qparams(scheme, 1.0f).levels;  // ascending
  const auto distinct = std::unique(levels.begin(), levels.end()) - levels.begin();
  return {scheme.num_levels(), static_cast<std::int64_t>(distinct)};
}

graph::Graph quantize_model(const graph::Graph& model, std::string_view config,
                            std::span<const Tensor> calibration, const Progress& progress) {
  return quantize_model(model, config, calibration, QuantizeOptions{}, nullptr, progress);
}

graph::Graph quantize_model(const graph::Graph& model, std::string_view config,
                            std::span<const Tensor> calibration, const QuantizeOptions& options,
                            QuantizeReport* report, const Progress& progress) {
  check_argument(model.inputs().size() == 1, "quantize_model", "model",
                 std::to_string(model.inputs().size()) + " inputs", "a graph with one input");
  const pt2e::QuantizationConfig qconfig = config_by_name(config, options);
  if (report != nullptr) report->group_size_fallbacks = group_size_fallbacks(model, qconfig);
  pt2e::XNNPACKQuantizer quantizer;
  quantizer.set_global(qconfig);
  pt2e::PreparedModel prepared = pt2e::prepare_pt2e(model, quantizer);
  const bool dynamic = qconfig.input_activation && qconfig.input_activation->is_dynamic;
  check_argument(dynamic || !calibration.empty(), "quantize_model", "calibration", "0 batches",
                 "at least one batch for a static configuration");
  const graph::Value& input = *model.inputs()[0];
  for (std::size_t i = 0; i < calibration.size(); ++i) {
    // NaN or infinity has no qparams (and an infinity turns into NaN a layer later, where the
    // observer could only report "got nan"): name the batch and the sample here instead.
    const NonFiniteCount bad = count_nonfinite(calibration[i]);
    if (bad.total() > 0) {
      const std::int64_t batch =
          input.shape().empty() ? 1 : std::max<std::int64_t>(input.shape()[0], 1);
      const std::int64_t per_sample = std::max<std::int64_t>(calibration[i].numel() / batch, 1);
      throw Error("quantize_model: calibration batch " + std::to_string(i) + " (input '" +
                  input.name() + "') has " + bad.to_string() + ": sample " +
                  std::to_string(static_cast<std::int64_t>(i) * batch +
                                 bad.first_index / per_sample) +
                  " of the calibration data is not finite, and observers cannot compute qparams "
                  "from NaN or infinity");
    }
    try {
      prepared.run(std::span<const Tensor>(&calibration[i], 1));
    } catch (const Error& e) {
      // Finite inputs can still overflow inside the model; the interpreter names the observer
      // node and the tensor it observes, this adds which batch did it.
      throw Error("quantize_model: calibration batch " + std::to_string(i) + ": " + e.what());
    }
    if (progress) progress(i + 1, calibration.size());
  }
  return pt2e::convert_pt2e(prepared);
}

}  // namespace quantkit::pipeline
