#pragma once
// Reading a whole input file (.npy, IDX, ONNX) with one set of checks: the path (after following
// symbolic links) must be a regular file — a directory, device, FIFO or socket is an Error naming
// the path and what it is, never an attempt to read it — and at most `max_bytes` long.
#include <cstddef>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>

namespace quantkit {

// `who` starts the error message ("read_npy: cannot read '<path>': it is a directory").
std::string read_regular_file(const std::filesystem::path& path, std::string_view who,
                              std::size_t max_bytes = std::numeric_limits<std::size_t>::max());

}  // namespace quantkit
