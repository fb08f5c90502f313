#pragma once
// IDX files (the MNIST / Fashion-MNIST format): a big-endian header — two zero bytes, a type
// code, the number of dims, one uint32 size per dim — then the data. Gzip-compressed files
// (.gz, as Debian's dataset-fashion-mnist ships them) are read transparently.
//
// Every header field is validated against the file size before anything is allocated, so a
// malformed or hostile file gives an Error naming the file, never a crash or a huge
// allocation.
#include <filesystem>
#include <span>
#include <string>

#include "quantkit/core/tensor.h"

namespace quantkit::data {

// Type codes 0x08 (uint8), 0x09 (int8), 0x0B (int16), 0x0C (int32), 0x0D (float32),
// 0x0E (float64). Returns a tensor of the stored dtype and shape (multi-byte values
// converted from big endian).
Tensor read_idx(const std::filesystem::path& path);
// The same from the (uncompressed) bytes; `origin` names them in errors.
Tensor parse_idx(std::span<const std::byte> bytes, const std::string& origin = "<memory>");

// Reads a whole file, gunzipping it when it starts with the gzip magic. Refuses
// uncompressed sizes above `max_bytes` (default 2 GiB).
std::string read_maybe_gzipped(const std::filesystem::path& path,
                               std::size_t max_bytes = std::size_t{1} << 31);
// The same on bytes already in memory (`origin` names them in errors): gunzips them when they
// start with the gzip magic, returns them unchanged otherwise.
std::string maybe_gunzip(std::string bytes, const std::string& origin,
                         std::size_t max_bytes = std::size_t{1} << 31);

}  // namespace quantkit::data
