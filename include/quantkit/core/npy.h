#pragma once
// NumPy .npy files (format versions 1.0, 2.0 and 3.0; little-endian; C order).
//
// Reading validates everything it is given: magic, version, header syntax, dtype
// (<f4 <f8 |i1 |u1 <i2 <i4 <i8, also '=' and native byte order markers), shape, and that the
// file holds exactly the bytes the header promises. Anything else (big-endian, Fortran
// order, object arrays, truncated data, absurd shapes) is a quantkit::Error naming the file.
// Reading refuses anything but a regular file (read_file.h). Writing goes through
// write_file_atomically (atomic_file.h): a failure never leaves a partial file, and devices,
// directories and FIFOs are never replaced.
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>

#include "quantkit/core/atomic_file.h"
#include "quantkit/core/tensor.h"

namespace quantkit {

Tensor read_npy(const std::filesystem::path& path);
// Parses an in-memory .npy image; `origin` names it in error messages.
Tensor parse_npy(std::span<const std::byte> bytes, const std::string& origin = "<memory>");
// Serializes to .npy (version 1.0, or 2.0 if the header needs it).
std::string serialize_npy(const Tensor& tensor);
void write_npy(const std::filesystem::path& path, const Tensor& tensor);

}  // namespace quantkit
