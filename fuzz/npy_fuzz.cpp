// libFuzzer target for the .npy reader: any byte string must either parse into a tensor whose
// size matches its shape and dtype, or throw quantkit::Error — never crash, leak, hang or hit
// undefined behaviour (built with -fsanitize=fuzzer,address,undefined; see scripts/fuzz).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "quantkit/core/error.h"
#include "quantkit/core/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const quantkit::Tensor t =
        quantkit::parse_npy(std::as_bytes(std::span<const std::uint8_t>(data, size)), "fuzz.npy");
    // The reader copies the payload into the tensor: it can never hold more than the file.
    if (t.nbytes() > size) std::abort();
  } catch (const quantkit::Error&) {
    // Rejected cleanly. Any other exception escapes and libFuzzer reports it.
  }
  return 0;
}
