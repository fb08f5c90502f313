#include "cli_support.h"

#include <charconv>
#include <iostream>

#include "quantkit/core/npy.h"

namespace quantkit::cli {
namespace {

std::optional<double> parse_double(const std::string& text) {
  double v = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

std::optional<std::int64_t> parse_int(const std::string& text) {
  std::int64_t v = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

std::vector<double> read_scales(const std::string& path) {
  const Tensor t = read_npy(path);
  check_argument(t.dtype() == DType::Float32 || t.dtype() == DType::Float64, "quantkit", "--scale",
                 path + " (" + std::string(dtype_name(t.dtype())) + ")",
                 "a float32 or float64 .npy file");
  check_argument(t.dim() <= 1, "quantkit", "--scale", path + " of shape " + shape_to_string(t.shape()),
                 "a 1-D .npy file");
  std::vector<double> out;
  if (t.dtype() == DType::Float32) {
    for (float v : t.span<float>()) out.push_back(v);
  } else {
    out = t.to_vector<double>();
  }
  return out;
}

std::vector<std::int64_t> read_zero_points(const std::string& path) {
  const Tensor t = read_npy(path);
  check_argument(is_integer(t.dtype()), "quantkit", "--zero-point",
                 path + " (" + std::string(dtype_name(t.dtype())) + ")",
                 "an integer .npy file");
  check_argument(t.dim() <= 1, "quantkit", "--zero-point",
                 path + " of shape " + shape_to_string(t.shape()), "a 1-D .npy file");
  return t.to(DType::Int64).to_vector<std::int64_t>();
}

}  // namespace

void QParamsFlags::add_to(CLI::App& command, bool dtype_required) {
  auto* d = command.add_option("--dtype", dtype, "Integer dtype: int8, uint8, int16 or int32");
  if (dtype_required) d->required();
  command.add_option("--quant-min", quant_min, "Lower clamp bound (default: the dtype's minimum)");
  command.add_option("--quant-max", quant_max, "Upper clamp bound (default: the dtype's maximum)");
  command.add_option("--scale", scale, "Scale: a number (per tensor) or a float32/float64 .npy file (per channel)")
      ->required();
  command.add_option("--zero-point", zero_point,
                     "Zero point: an integer (per tensor, default 0) or an integer .npy file (per channel)");
  command.add_option("--axis", axis, "Channel axis for per-channel qparams (negative counts from the end)");
}

void QParamsFlags::resolve() {
  if (const auto s = parse_double(scale)) {
    per_channel = false;
    tensor_scale = *s;
    const auto z = parse_int(zero_point);
    check_argument(z.has_value(), "quantkit", "--zero-point", zero_point,
                   "an integer when --scale is a number");
    tensor_zero_point = *z;
    check_argument(!axis.has_value(), "quantkit", "--axis", axis.value_or(0),
                   "no --axis with a scalar --scale (per-channel qparams come from .npy files)");
    return;
  }
  per_channel = true;
  check_argument(axis.has_value(), "quantkit", "--axis", "(missing)",
                 "an axis when --scale is a .npy file");
  check_argument(!parse_int(zero_point).has_value() || zero_point == "0", "quantkit",
                 "--zero-point", zero_point, "a .npy file when --scale is a .npy file");
  channel_scales = read_scales(scale);
  if (parse_int(zero_point)) {
    channel_zero_points.assign(channel_scales.size(), 0);
  } else {
    channel_zero_points = read_zero_points(zero_point);
  }
}

QuantRange QParamsFlags::range(DType dtype) const {
  check_argument(quant_min.has_value() == quant_max.has_value(), "quantkit",
                 quant_min ? "--quant-max" : "--quant-min", "(missing)",
                 "--quant-min and --quant-max together");
  if (!quant_min) return QuantRange::full(dtype);
  return QuantRange::of(dtype, *quant_min, *quant_max);
}

void print_json(const nlohmann::json& value) { std::cout << value.dump() << "\n"; }

}  // namespace quantkit::cli
