// libFuzzer target for the IDX reader: any byte string — raw IDX or gzip-compressed, as
// read_idx sees a file — must either parse into a tensor or throw quantkit::Error; never
// crash, leak, hang, allocate without bound or hit undefined behaviour (built with
// -fsanitize=fuzzer,address,undefined; see scripts/fuzz).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "quantkit/core/error.h"
#include "quantkit/data/idx.h"

namespace {
// Bounds what a small compressed input may inflate to (zlib reaches about 1000:1), so a
// gzip bomb is refused quickly instead of exhausting libFuzzer's memory limit.
constexpr std::size_t kMaxInflatedBytes = std::size_t{64} << 20;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const std::string bytes = quantkit::data::maybe_gunzip(
        std::string(reinterpret_cast<const char*>(data), size), "fuzz.idx", kMaxInflatedBytes);
    const quantkit::Tensor t = quantkit::data::parse_idx(
        std::as_bytes(std::span<const char>(bytes.data(), bytes.size())), "fuzz.idx");
    // The payload is copied into the tensor: it can never hold more than the inflated bytes.
    if (t.nbytes() > bytes.size()) std::abort();
  } catch (const quantkit::Error&) {
    // Rejected cleanly. Any other exception escapes and libFuzzer reports it.
  }
  return 0;
}
