#include "nonfinite_inputs.h"

#include <algorithm>
#include <cmath>
#include <iostream>

#include "quantkit/core/error.h"
#include "quantkit/core/nonfinite.h"

namespace quantkit::cli {

void add_allow_nonfinite_flag(CLI::App& command, bool& allow) {
  command.add_flag("--allow-nonfinite", allow,
                   "Run a quantized model on data holding NaN or infinity (a warning "
                   "instead of "
                   "an error; NaN quantizes to quant_min, +-inf to the ends of the range)");
}

void check_finite_model_input(std::span<const Tensor> batches, std::int64_t batch_size,
                              std::string_view where, std::string_view what, bool allow) {
  std::int64_t nan = 0, inf = 0;
  std::string first;  // "nan in sample 7 (batch 7, flat index 12)"
  for (std::size_t b = 0; b < batches.size(); ++b) {
    const NonFiniteCount c = count_nonfinite(batches[b]);
    if (c.total() == 0) continue;
    if (first.empty()) {
      const std::int64_t per_sample =
          std::max<std::int64_t>(batches[b].numel() / std::max<std::int64_t>(batch_size, 1), 1);
      const std::int64_t sample =
          static_cast<std::int64_t>(b) * batch_size + c.first_index / per_sample;
      first = std::string(std::isnan(c.first_value) ? "nan"
                          : c.first_value > 0       ? "inf"
                                                    : "-inf") +
              ", in sample " + std::to_string(sample) + " (batch " + std::to_string(b) +
              ", flat index " + std::to_string(c.first_index) + ")";
    }
    nan += c.nan;
    inf += c.inf;
  }
  if (nan + inf == 0) return;
  const std::string message = std::string(where) + ": " + std::string(what) + " has " +
                              std::to_string(nan + inf) + " non-finite value" +
                              (nan + inf == 1 ? " (" : "s (") + std::to_string(nan) + " NaN, " +
                              std::to_string(inf) + " infinite); the first is " + first;
  if (allow) {
    std::cerr << "quantkit: warning: " << message
              << "; running anyway (--allow-nonfinite): NaN quantizes to "
                 "quant_min and +-inf to "
                 "the ends of the range, so quantized outputs are finite but "
                 "meaningless\n";
    return;
  }
  throw Error(message +
              ": a quantized model would turn them into finite, normal-looking outputs "
              "(pass --allow-nonfinite to run anyway)");
}

}  // namespace quantkit::cli
