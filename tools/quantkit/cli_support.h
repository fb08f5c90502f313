#pragma once
// Shared pieces of the quantkit command-line tool: the qparams flags that every
// `quantkit tensor` command takes, and JSON output with exactly round-tripping floats.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_numbers.h"
#include "quantkit/core/tensor.h"
#include "quantkit/quant/qparams.h"

namespace quantkit::cli {

// "tensor quantize" for that subcommand: what error messages name (main adds "quantkit: error:").
std::string command_path(const CLI::App& command);

// --dtype, --quant-min/--quant-max, --scale (number or .npy), --zero-point (integer or .npy),
// --axis. Per-tensor: --scale F [--zero-point N]. Per-channel: --scale S.npy
// --zero-point Z.npy --axis A. A value ending in ".npy" is a file, anything else must parse
// as a number.
struct QParamsFlags {
  std::string where;  // the command, for messages (set by add_to)
  std::string dtype;
  std::optional<std::int64_t> quant_min;
  std::optional<std::int64_t> quant_max;
  std::string scale;
  std::string zero_point = "0";
  std::optional<std::int64_t> axis;

  void add_to(CLI::App& command, bool dtype_required);

  // Resolved values (after resolve()).
  bool per_channel = false;
  double tensor_scale = 1.0;
  std::int64_t tensor_zero_point = 0;
  std::vector<double> channel_scales;
  std::vector<std::int64_t> channel_zero_points;

  // Parses --scale/--zero-point strictly (reading .npy files when they name one) and validates
  // the combination. Throws quantkit::Error naming the flag on bad input.
  void resolve();
  // The integer range: --dtype's full range, narrowed by --quant-min/--quant-max.
  QuantRange range(DType dtype) const;
};

// Prints JSON on stdout. Floats are written as the shortest decimal that parses back to the
// same double (nlohmann's default), and every float32 value is widened exactly to double, so
// every number round-trips bit for bit.
void print_json(const nlohmann::json& value);

// Registers `quantkit tensor ...` and `quantkit demo`.
void register_tensor_commands(CLI::App& app);
void register_demo_command(CLI::App& app);
// Registers `quantkit apot ...`.
void register_apot_commands(CLI::App& app);
// Registers `quantkit inspect | run | bench` (cmd_model.cpp), `quantize | compare`
// (cmd_quantize.cpp) and `evaluate` (cmd_evaluate.cpp, the main job).
void register_model_commands(CLI::App& app);
void register_quantize_commands(CLI::App& app);
void register_evaluate_command(CLI::App& app);

}  // namespace quantkit::cli
