// `quantkit apot qparams | quantize | levels`: APoT nonuniform quantization on .npy files.
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "cli_support.h"
#include "quantkit/apot/observer.h"
#include "quantkit/apot/quantizer.h"
#include "quantkit/core/atomic_file.h"
#include "quantkit/core/npy.h"
#include "svg_staircase.h"

namespace quantkit::cli {
namespace {

// --b, --k, --signed, --alpha shared by the apot commands.
struct SchemeFlags {
  int b = 4;
  int k = 2;
  bool is_signed = false;
  std::optional<float> alpha;
  std::string where;  // the command, for messages

  void add_to(CLI::App& c, const std::string& alpha_help) {
    where = command_path(c);
    // The scheme's own limits (b a multiple of k, at most 2^23 levels) are checked by the
    // library; the flags only have to be small positive integers.
    c.add_option("--b", b, "Total bits per code")->required()->transform(integer_in(1, 32));
    c.add_option("--k", k, "Bits per additive power-of-two term (b must be a multiple of k)")
        ->required()
        ->transform(integer_in(1, 32));
    c.add_flag("--signed", is_signed, "Signed levels (symmetric around 0)");
    c.add_option("--alpha", alpha, alpha_help)
        ->transform(number_in(0.0, std::numeric_limits<float>::max()));
  }

  // qparams from --alpha, or from an observer over `batches` (in order).
  apot::ApotQParams qparams(const std::vector<std::string>& batches) const {
    apot::ApotObserver observer(b, k);
    if (alpha) {
      check_argument(batches.empty(), where, "--alpha", *alpha,
                     "either --alpha or data to observe, not both");
      check_argument(std::isfinite(*alpha) && *alpha >= 0, where, "--alpha", *alpha,
                     "a finite value >= 0");
      observer.set_min_val(-*alpha);
      observer.set_max_val(*alpha);
    } else {
      check_argument(!batches.empty(), where, "--alpha", "(missing)",
                     "--alpha or at least one .npy batch to observe");
      for (const std::string& path : batches) observer.observe(read_npy(path));
    }
    return observer.calculate_qparams(is_signed);
  }
};

nlohmann::json qparams_json(const apot::ApotQParams& qp) {
  nlohmann::json j;
  j["alpha"] = static_cast<double>(qp.alpha);
  j["gamma"] = static_cast<double>(qp.gamma);
  j["levels"] = std::vector<double>(qp.levels.begin(), qp.levels.end());
  j["level_indices"] = qp.level_indices;
  return j;
}

struct QParamsCommand {
  SchemeFlags scheme;
  std::vector<std::string> batches;
  void add(CLI::App& parent) {
    auto* c = parent.add_subcommand(
        "qparams", "APoT qparams (alpha, gamma, levels, level indices) as JSON");
    scheme.add_to(*c, "Clipping level (otherwise observed from the batches)");
    c->add_option("batches", batches, ".npy batches observed in order (instead of --alpha)");
    c->callback([this] { print_json(qparams_json(scheme.qparams(batches))); });
  }
};

struct QuantizeCommand {
  SchemeFlags scheme;
  std::string in, codes_out, out;
  void add(CLI::App& parent) {
    auto* c = parent.add_subcommand("quantize", "APoT-quantize a tensor to codes");
    scheme.add_to(*c, "Clipping level (default: observed from --in)");
    c->add_option("--in", in, "Input float32/float64 .npy file")->required();
    c->add_option("--codes-out", codes_out, "Output int32 .npy file of APoT codes")->required();
    c->add_option("--out", out, "Optional output float32 .npy file of dequantized values");
    c->callback([this] { run(); });
  }
  void run() {
    const Tensor x = read_npy(in);
    const apot::ApotQParams qp = scheme.alpha ? scheme.qparams({}) : scheme.qparams({in});
    const apot::ApotQuantizer quantizer(qp);
    const Tensor codes = quantizer.quantize(x);
    const Tensor y = out.empty() ? Tensor() : quantizer.dequantize_f32(codes);
    write_npy(codes_out, codes);
    if (!out.empty()) write_npy(out, y);
  }
};

struct LevelsCommand {
  SchemeFlags scheme;
  std::string plot;
  void add(CLI::App& parent) {
    auto* c = parent.add_subcommand(
        "levels", "Print the APoT level table; optionally plot the quantizer's staircase (SVG)");
    scheme.add_to(*c, "Clipping level (default 1)");
    c->add_option("--plot", plot, "Write the input-vs-quantized staircase to this SVG file");
    c->callback([this] { run(); });
  }
  void run() {
    if (!scheme.alpha) scheme.alpha = 1.0f;
    const apot::ApotQParams qp = scheme.qparams({});
    fmt::print("APoT b={} k={} {} alpha={} gamma={} levels={}\n", scheme.b, scheme.k,
               scheme.is_signed ? "signed" : "unsigned", qp.alpha, qp.gamma, qp.levels.size());
    fmt::print("{:>8} {:>10} {:>16}\n", "position", "code", "level");
    for (std::size_t p = 0; p < qp.levels.size(); ++p) {
      fmt::print("{:>8} {:>10} {:>16.9g}\n", p, qp.level_indices[p], qp.levels[p]);
    }
    if (!plot.empty()) {
      const double lo = scheme.is_signed ? -1.1 * qp.alpha : 0.0;
      const std::string title = fmt::format("APoT b={} k={} {} (alpha={:g})", scheme.b, scheme.k,
                                            scheme.is_signed ? "signed" : "unsigned", qp.alpha);
      write_file_atomically(plot, staircase_svg(qp.levels, lo, 1.1 * qp.alpha, title));
    }
  }
};

}  // namespace

void register_apot_commands(CLI::App& app) {
  auto* apot = app.add_subcommand(
      "apot", "APoT (Additive Powers-of-Two) nonuniform quantization of .npy tensors");
  apot->require_subcommand(1);
  static QParamsCommand qparams;
  static QuantizeCommand quantize;
  static LevelsCommand levels;
  qparams.add(*apot);
  quantize.add(*apot);
  levels.add(*apot);
}

}  // namespace quantkit::cli
