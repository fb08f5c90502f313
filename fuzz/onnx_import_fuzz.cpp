// libFuzzer target for the ONNX importer: any byte string must either import into a
// verified graph or throw quantkit::Error — never crash, hang, leak or hit undefined
// behaviour (built with -fsanitize=fuzzer,address,undefined; see scripts/fuzz-onnx-import).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "quantkit/core/error.h"
#include "quantkit/graph/verifier.h"
#include "quantkit/onnx/onnx_import.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const quantkit::graph::Graph g = quantkit::onnx::import_onnx_bytes(bytes, "fuzz.onnx");
    // import_onnx verifies; verifying again checks that what it returns is self-consistent.
    quantkit::graph::verify(g);
  } catch (const quantkit::Error&) {
    // Rejected cleanly. Any other exception escapes and libFuzzer reports it.
  }
  return 0;
}
