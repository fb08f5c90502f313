#include <CLI/CLI.hpp>
#include <iostream>

#include "quantkit/core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"quantkit: PyTorch-exact quantization in C++"};
  app.require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const quantkit::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
