#include "cli_support.h"

#include <iostream>
#include <limits>

#include "quantkit/core/npy.h"

namespace quantkit::cli {
namespace {

// "--scale" / "--zero-point" name a per-channel .npy file exactly when they end in ".npy";
// anything else must be a number, so a typo is reported as one, not as a missing file.
bool names_npy_file(std::string_view text) { return text.ends_with(".npy"); }

std::vector<double> read_scales(const std::string& path, std::string_view where) {
  const Tensor t = read_npy(path);
  check_argument(t.dtype() == DType::Float32 || t.dtype() == DType::Float64, where, "--scale",
                 path + " (" + std::string(dtype_name(t.dtype())) + ")",
                 "a float32 or float64 .npy file");
  check_argument(t.dim() <= 1, where, "--scale", path + " of shape " + shape_to_string(t.shape()),
                 "a 1-D .npy file");
  std::vector<double> out;
  if (t.dtype() == DType::Float32) {
    for (float v : t.span<float>()) out.push_back(v);
  } else {
    out = t.to_vector<double>();
  }
  return out;
}

std::vector<std::int64_t> read_zero_points(const std::string& path, std::string_view where) {
  const Tensor t = read_npy(path);
  check_argument(is_integer(t.dtype()), where, "--zero-point",
                 path + " (" + std::string(dtype_name(t.dtype())) + ")",
                 "an integer .npy file");
  check_argument(t.dim() <= 1, where, "--zero-point",
                 path + " of shape " + shape_to_string(t.shape()), "a 1-D .npy file");
  return t.to(DType::Int64).to_vector<std::int64_t>();
}

}  // namespace

std::string command_path(const CLI::App& command) {
  std::string path = command.get_name();
  for (const CLI::App* a = command.get_parent(); a != nullptr && a->get_parent() != nullptr;
       a = a->get_parent()) {
    path = a->get_name() + " " + path;
  }
  return path;
}

void QParamsFlags::add_to(CLI::App& command, bool dtype_required) {
  where = command_path(command);
  auto* d = command.add_option("--dtype", dtype, "Integer dtype: int8, uint8, int16 or int32");
  if (dtype_required) d->required();
  // int32 is the widest quantized dtype; the dtype's own range is checked by range().
  const CLI::Validator int32_value = integer_in(std::numeric_limits<std::int32_t>::min(),
                                                std::numeric_limits<std::int32_t>::max());
  command.add_option("--quant-min", quant_min, "Lower clamp bound (default: the dtype's minimum)")
      ->transform(int32_value);
  command.add_option("--quant-max", quant_max, "Upper clamp bound (default: the dtype's maximum)")
      ->transform(int32_value);
  command.add_option("--scale", scale, "Scale: a number (per tensor) or a float32/float64 .npy file (per channel)")
      ->required();
  command.add_option("--zero-point", zero_point,
                     "Zero point: an integer (per tensor, default 0) or an integer .npy file (per channel)");
  command
      .add_option("--axis", axis,
                  "Channel axis for per-channel qparams (negative counts from the end)")
      ->transform(integer_in(-kMaxAxis, kMaxAxis - 1));
}

void QParamsFlags::resolve() {
  // The form decides: numbers are parsed strictly before any file is looked at.
  if (!names_npy_file(scale)) {
    per_channel = false;
    tensor_scale = parse_number_or_throw(scale, where, "--scale",
                                         "a number (per-tensor scale) or a .npy file of "
                                         "per-channel scales");
    check_argument(!names_npy_file(zero_point), where, "--zero-point", zero_point,
                   "an integer when --scale is a number");
    tensor_zero_point = parse_integer_or_throw(zero_point, where, "--zero-point",
                                               "an integer when --scale is a number");
    check_argument(!axis.has_value(), where, "--axis", axis.value_or(0),
                   "no --axis with a scalar --scale (per-channel qparams come from .npy files)");
    return;
  }
  per_channel = true;
  check_argument(axis.has_value(), where, "--axis", "(missing)",
                 "an axis when --scale is a .npy file");
  check_argument(names_npy_file(zero_point) || zero_point == "0", where, "--zero-point",
                 zero_point, "a .npy file when --scale is a .npy file (or 0, the default)");
  channel_scales = read_scales(scale, where);
  if (names_npy_file(zero_point)) {
    channel_zero_points = read_zero_points(zero_point, where);
  } else {
    channel_zero_points.assign(channel_scales.size(), 0);
  }
}

QuantRange QParamsFlags::range(DType dtype) const {
  check_argument(quant_min.has_value() == quant_max.has_value(), where,
                 quant_min ? "--quant-max" : "--quant-min", "(missing)",
                 "--quant-min and --quant-max together");
  if (!quant_min) return QuantRange::full(dtype);
  return QuantRange::of(dtype, *quant_min, *quant_max);
}

void print_json(const nlohmann::json& value) { std::cout << value.dump() << "\n"; }

}  // namespace quantkit::cli
