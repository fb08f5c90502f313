// quantkit: the command-line tool. Each command group lives in its own file (cmd_*.cpp).
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "cli_support.h"
#include "qat_command.h"
#include "quantkit/core/atomic_file.h"
#include "quantkit/core/error.h"

namespace {

// Every error, from CLI11's parser or from a command, is printed as "quantkit: error: <what>"
// exactly once; messages themselves name the command ("run: invalid argument ..."), never
// "quantkit".
std::string failure_message(const CLI::App* app, const CLI::Error& e) {
  std::string message = "quantkit: error: " + std::string(e.what()) + "\n";
  if (app->get_help_ptr() != nullptr) message += "Run with --help for more information.\n";
  return message;
}

}  // namespace

int main(int argc, char** argv) {
  // A write interrupted by Ctrl-C or kill leaves no temporary file behind.
  quantkit::remove_temporary_files_on_signals();
  CLI::App app{"quantkit: PyTorch-exact quantization in C++ (uniform affine, observers, fake quant, APoT, PT2E graph flow, ONNX in/out)"};
  app.set_version_flag("--version", "quantkit 0.1.0");
  app.require_subcommand(1);
  app.failure_message(failure_message);
  quantkit::cli::register_tensor_commands(app);
  quantkit::cli::register_apot_commands(app);
  quantkit::cli::register_demo_command(app);
  quantkit::cli::register_model_commands(app);
  quantkit::cli::register_quantize_commands(app);
  quantkit::cli::register_evaluate_command(app);
  quantkit::cli::register_qat_command(app);
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
