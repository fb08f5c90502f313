// `quantkit tensor quantize | dequantize | fake-quantize | observe`: the uniform affine
// quantization library on .npy files.
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "cli_support.h"
#include "quantkit/core/npy.h"
#include "quantkit/quant/affine.h"
#include "quantkit/quant/observer.h"

namespace quantkit::cli {
namespace {

const std::vector<std::string> kQuantDTypes = {"int8", "uint8", "int16", "int32"};

Tensor read_float32(const std::string& path, std::string_view where, const char* flag) {
  Tensor t = read_npy(path);
  check_argument(t.dtype() == DType::Float32, where, flag,
                 path + " (" + std::string(dtype_name(t.dtype())) + ")", "a float32 .npy file");
  return t;
}

struct QuantizeCommand {
  std::string in, out;
  QParamsFlags qparams;

  void add(CLI::App& parent) {
    auto* c = parent.add_subcommand("quantize", "Quantize a float32 .npy tensor to integer codes");
    c->add_option("--in", in, "Input float32 .npy file")->required();
    c->add_option("--out", out, "Output .npy file of integer codes (dtype = --dtype)")->required();
    qparams.add_to(*c, /*dtype_required=*/true);
    c->get_option("--dtype")->check(CLI::IsMember(kQuantDTypes));
    c->callback([this] { run(); });
  }
  void run() {
    qparams.resolve();
    const QuantRange range = qparams.range(dtype_from_name(qparams.dtype, "--dtype"));
    const Tensor x = read_float32(in, qparams.where, "--in");
    const Tensor q = qparams.per_channel
                         ? quantize_per_channel(x, qparams.channel_scales,
                                                qparams.channel_zero_points, *qparams.axis, range)
                         : quantize_per_tensor(x, qparams.tensor_scale,
                                               qparams.tensor_zero_point, range);
    write_npy(out, q);
  }
};

struct DequantizeCommand {
  std::string in, out;
  QParamsFlags qparams;

  void add(CLI::App& parent) {
    auto* c = parent.add_subcommand("dequantize",
                                    "Dequantize integer codes (dtype from the file) to float32");
    c->add_option("--in", in, "Input .npy file of integer codes")->required();
    c->add_option("--out", out, "Output float32 .npy file")->required();
    qparams.add_to(*c, /*dtype_required=*/false);
    c->get_option("--dtype")->check(CLI::IsMember(kQuantDTypes));
    c->callback([this] { run(); });
  }
  void run() {
    qparams.resolve();
    const Tensor q = read_npy(in);
    if (!qparams.dtype.empty()) {
      check_argument(dtype_name(q.dtype()) == qparams.dtype, qparams.where, "--dtype",
                     qparams.dtype,
                     "the dtype of " + in + " (" + std::string(dtype_name(q.dtype())) + ")");
    }
    // Validates the codes' dtype and, when given, the range the zero point must lie in.
    (void)qparams.range(q.dtype());
    const Tensor x = qparams.per_channel
                         ? dequantize_per_channel(q, qparams.channel_scales,
                                                  qparams.channel_zero_points, *qparams.axis)
                         : dequantize_per_tensor(q, qparams.tensor_scale,
                                                 qparams.tensor_zero_point);
    write_npy(out, x);
  }
};

struct FakeQuantizeCommand {
  std::string in, out;
  QParamsFlags qparams;

  void add(CLI::App& parent) {
    auto* c = parent.add_subcommand(
        "fake-quantize", "Quantize then dequantize a float32 tensor (QAT's fake quantization)");
    c->add_option("--in", in, "Input float32 .npy file")->required();
    c->add_option("--out", out, "Output float32 .npy file")->required();
    qparams.add_to(*c, /*dtype_required=*/false);
    c->get_option("--dtype")->check(CLI::IsMember(kQuantDTypes))->default_str("uint8");
    c->callback([this] { run(); });
  }
  void run() {
    qparams.resolve();
    const QuantRange range =
        qparams.range(dtype_from_name(qparams.dtype.empty() ? "uint8" : qparams.dtype, "--dtype"));
    const Tensor x = read_float32(in, qparams.where, "--in");
    const Tensor y = qparams.per_channel
                         ? fake_quantize_per_channel(x, qparams.channel_scales,
                                                     qparams.channel_zero_points, *qparams.axis,
                                                     range.quant_min, range.quant_max)
                         : fake_quantize_per_tensor(x, qparams.tensor_scale,
                                                    qparams.tensor_zero_point, range.quant_min,
                                                    range.quant_max);
    write_npy(out, y);
  }
};

struct ObserveCommand {
  std::string observer = "minmax";
  std::string dtype = "uint8";
  bool symmetric = false;
  bool reduce_range = false;
  std::optional<std::int64_t> quant_min, quant_max, axis, bins;
  std::optional<float> eps, averaging_constant;
  std::vector<std::string> batches;

  void add(CLI::App& parent) {
    auto* c = parent.add_subcommand(
        "observe", "Run an observer over .npy batches (in order) and print its qparams as JSON");
    c->add_option("--observer", observer, "Observer kind")
        ->required()
        ->check(CLI::IsMember({"minmax", "moving-average-minmax", "per-channel-minmax",
                               "moving-average-per-channel-minmax", "histogram"}));
    c->add_option("--dtype", dtype, "Quantized dtype: int8 or uint8")
        ->required()
        ->check(CLI::IsMember({"int8", "uint8"}));
    c->add_flag("--symmetric", symmetric, "Symmetric qparams (default: affine)");
    c->add_flag("--reduce-range", reduce_range, "Use one bit less of the range (like torch)");
    // int8 / uint8 bounds are checked by the observer; these only keep the text a number.
    c->add_option("--quant-min", quant_min, "Custom range lower bound (with --quant-max)")
        ->transform(integer_in(-255, 255));
    c->add_option("--quant-max", quant_max, "Custom range upper bound (with --quant-min)")
        ->transform(integer_in(-255, 255));
    c->add_option("--eps", eps, "Smallest scale (default: float32 epsilon)")
        ->transform(number_in(std::numeric_limits<float>::denorm_min(),
                          std::numeric_limits<float>::max()));
    c->add_option("--axis", axis, "Channel axis (per-channel observers; default 0)")
        ->transform(integer_in(-kMaxAxis, kMaxAxis - 1));
    c->add_option("--averaging-constant", averaging_constant,
                  "Moving-average weight of a new batch, in (0, 1] (default 0.01)")
        ->transform(number_in(std::numeric_limits<float>::denorm_min(), 1.0));
    c->add_option("--bins", bins, "Histogram bins, 1 to 65536 (histogram observer; default 2048)")
        ->transform(integer_in(1, 65536));
    c->add_option("batches", batches, "float32 .npy batches, observed in order")->required();
    c->callback([this] { run(); });
  }

  void run() {
    const bool per_channel = observer.find("per-channel") != std::string::npos;
    check_argument(per_channel || !axis, "tensor observe", "--axis", axis.value_or(0),
                   "no --axis for the per-tensor observer '" + observer + "'");
    check_argument(observer.find("moving-average") != std::string::npos || !averaging_constant,
                   "tensor observe", "--averaging-constant",
                   averaging_constant.value_or(0.0f), "a moving-average observer");
    check_argument(observer == "histogram" || !bins, "tensor observe", "--bins",
                   bins.value_or(0), "--observer histogram");
    ObserverOptions options;
    options.dtype = dtype_from_name(dtype, "--dtype");
    options.qscheme = per_channel ? (symmetric ? QScheme::PerChannelSymmetric
                                               : QScheme::PerChannelAffine)
                                  : (symmetric ? QScheme::PerTensorSymmetric
                                               : QScheme::PerTensorAffine);
    options.reduce_range = reduce_range;
    options.quant_min = quant_min;
    options.quant_max = quant_max;
    if (eps) options.eps = *eps;
    if (axis) options.ch_axis = *axis;
    if (averaging_constant) options.averaging_constant = *averaging_constant;
    if (bins) options.bins = *bins;
    std::unique_ptr<Observer> obs = make_observer(observer, options);
    for (const std::string& path : batches) {
      obs->observe(read_float32(path, "tensor observe", "batches"));
    }
    const QParams qp = obs->calculate_qparams();
    nlohmann::json out;
    out["scale"] = qp.scale;
    out["zero_point"] = qp.zero_point;
    const std::vector<float> min_val = obs->min_val();
    const std::vector<float> max_val = obs->max_val();
    out["min_val"] = std::vector<double>(min_val.begin(), min_val.end());
    out["max_val"] = std::vector<double>(max_val.begin(), max_val.end());
    print_json(out);
  }
};

}  // namespace

void register_tensor_commands(CLI::App& app) {
  auto* tensor = app.add_subcommand(
      "tensor", "Uniform affine quantization of .npy tensors (PyTorch-exact numerics)");
  tensor->require_subcommand(1);
  // The commands live as long as the App (static storage: main builds one App per process).
  static QuantizeCommand quantize;
  static DequantizeCommand dequantize;
  static FakeQuantizeCommand fake_quantize;
  static ObserveCommand observe;
  quantize.add(*tensor);
  dequantize.add(*tensor);
  fake_quantize.add(*tensor);
  observe.add(*tensor);
}

}  // namespace quantkit::cli
