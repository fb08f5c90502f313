#pragma once
// NumPy .npy files (format versions 1.0, 2.0 and 3.0; little-endian; C order).
//
// Reading validates everything it is given: magic, version, header syntax, dtype
// (<f4 <f8 |i1 |u1 <i2 <i4 <i8, also '=' and native byte order markers), shape, and that the
// file holds exactly the bytes the header promises. Anything else (big-endian, Fortran
// order, object arrays, truncated data, absurd shapes) is a quantkit::Error naming the file.
// Writing is atomic: the data goes to a temporary file in the same folder, which is renamed
// over the destination only when complete, so a failure never leaves a partial file.
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>

#include "quantkit/core/tensor.h"

namespace quantkit {

Tensor read_npy(const std::filesystem::path& path);
// Parses an in-memory .npy image; `origin` names it in error messages.
Tensor parse_npy(std::span<const std::byte> bytes, const std::string& origin = "<memory>");
// Serializes to .npy (version 1.0, or 2.0 if the header needs it).
std::string serialize_npy(const Tensor& tensor);
void write_npy(const std::filesystem::path& path, const Tensor& tensor);

// Writes `contents` to `path` atomically (temp file + rename). Shared by every writer.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);

}  // namespace quantkit
