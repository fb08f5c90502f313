// quantkit: the command-line tool. Each command group lives in its own file (cmd_*.cpp).
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "cli_support.h"
#include "quantkit/core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"quantkit: PyTorch-exact quantization in C++ (uniform affine, observers, fake quant, APoT, PT2E graph flow, ONNX in/out)"};
  app.set_version_flag("--version", "quantkit 0.1.0");
  app.require_subcommand(1);
  quantkit::cli::register_tensor_commands(app);
  quantkit::cli::register_apot_commands(app);
  quantkit::cli::register_demo_command(app);
  quantkit::cli::register_model_commands(app);
  quantkit::cli::register_quantize_commands(app);
  quantkit::cli::register_evaluate_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const quantkit::Error& e) {
    std::cerr << "quantkit: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "quantkit: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
