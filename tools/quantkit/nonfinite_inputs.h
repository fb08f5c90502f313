#pragma once
// The CLI's policy for NaN and infinity in data fed to a quantized model (`run`, `compare`,
// `evaluate`): an error by default, naming the data, the count and the first sample; with
// --allow-nonfinite a warning with the count, and the model runs (the library's defined behaviour:
// NaN quantizes to quant_min, +-inf to the ends of the range, quant/affine.h). Calibration data is
// always checked, without an override (pipeline::quantize_model).
#include <CLI/CLI.hpp>
#include <span>
#include <string>
#include <string_view>

#include "quantkit/core/tensor.h"

namespace quantkit::cli {

void add_allow_nonfinite_flag(CLI::App& command, bool& allow);

// `what` names the data in messages ("--input x.npy", "--data test.npy"). `batches` are model
// inputs of `batch_size` samples each (sample indices count across them).
void check_finite_model_input(std::span<const Tensor> batches, std::int64_t batch_size,
                              std::string_view where, std::string_view what, bool allow);

}  // namespace quantkit::cli
