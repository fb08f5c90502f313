// IDX reader (see idx.h). Gzip through zlib's inflate with a gzip header (windowBits 15+16).
#include "quantkit/data/idx.h"

#include <zlib.h>

#include <bit>
#include <cstring>
#include <iterator>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/core/read_file.h"

namespace quantkit::data {
namespace {

static_assert(std::endian::native == std::endian::little, "parse_idx swaps into little endian");

std::string gunzip(std::string_view compressed, const std::string& origin, std::size_t max_bytes) {
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 16) != Z_OK) throw Error("read_idx: zlib init failed");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  std::vector<char> chunk(1 << 20);
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk.data());
    stream.avail_out = static_cast<uInt>(chunk.size());
    status = inflate(&stream, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END) {
      inflateEnd(&stream);
      throw Error("read_idx: '" + origin + "' is not a valid gzip stream (zlib status " +
                  std::to_string(status) + ")");
    }
    out.append(chunk.data(), chunk.size() - stream.avail_out);
    if (out.size() > max_bytes) {
      inflateEnd(&stream);
      throw Error("read_idx: '" + origin + "' inflates to more than " +
                  std::to_string(max_bytes) + " bytes");
    }
    if (status != Z_STREAM_END && stream.avail_in == 0 && stream.avail_out != 0) {
      inflateEnd(&stream);
      throw Error("read_idx: '" + origin + "' is a truncated gzip stream");
    }
  }
  inflateEnd(&stream);
  return out;
}

std::uint32_t big_endian_u32(const std::byte* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) |
         std::uint32_t(p[3]);
}

}  // namespace

std::string maybe_gunzip(std::string bytes, const std::string& origin, std::size_t max_bytes) {
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
      static_cast<unsigned char>(bytes[1]) == 0x8b) {
    return gunzip(bytes, origin, max_bytes);
  }
  return bytes;
}

std::string read_maybe_gzipped(const std::filesystem::path& path, std::size_t max_bytes) {
  return maybe_gunzip(read_regular_file(path, "read_idx", max_bytes), path.string(), max_bytes);
}

Tensor parse_idx(std::span<const std::byte> bytes, const std::string& origin) {
  auto fail = [&](const std::string& what) -> Error {
    return Error("parse_idx: '" + origin + "': " + what);
  };
  if (bytes.size() < 4) throw fail("shorter than the 4-byte IDX magic");
  if (bytes[0] != std::byte{0} || bytes[1] != std::byte{0}) {
    throw fail("does not start with the IDX magic (two zero bytes)");
  }
  DType dtype;
  switch (static_cast<unsigned>(bytes[2])) {
    case 0x08: dtype = DType::UInt8; break;
    case 0x09: dtype = DType::Int8; break;
    case 0x0B: dtype = DType::Int16; break;
    case 0x0C: dtype = DType::Int32; break;
    case 0x0D: dtype = DType::Float32; break;
    case 0x0E: dtype = DType::Float64; break;
    default:
      throw fail("unknown IDX type code 0x" + std::to_string(static_cast<unsigned>(bytes[2])) +
                 " (expected 0x08, 0x09, 0x0B, 0x0C, 0x0D or 0x0E)");
  }
  const std::size_t rank = static_cast<std::size_t>(bytes[3]);
  if (rank == 0) throw fail("has 0 dimensions");
  const std::size_t header = 4 + 4 * rank;
  if (bytes.size() < header) throw fail("truncated header (" + std::to_string(rank) + " dims)");
  Shape shape;
  const std::size_t item = dtype_size(dtype);
  const std::uint64_t payload = bytes.size() - header;
  const std::uint64_t max_numel = payload / item;
  // Saturates at max_numel + 1 instead of overflowing, and keeps reading the dims: a later
  // zero dim still makes a valid empty tensor (numpy and torch accept [70000, 70000, 0]).
  std::uint64_t numel = 1;
  for (std::size_t d = 0; d < rank; ++d) {
    const std::uint32_t n = big_endian_u32(bytes.data() + 4 + 4 * d);
    shape.push_back(static_cast<std::int64_t>(n));
    numel = (n != 0 && numel > max_numel / n) ? max_numel + 1 : numel * n;
  }
  if (numel > max_numel || numel * item != payload) {
    throw fail("header says " + shape_to_string(shape) + " of " + std::string(dtype_name(dtype)) +
               " but the file holds " + std::to_string(payload) + " data bytes");
  }
  Tensor out = Tensor::empty(shape, dtype);
  auto* dst = static_cast<unsigned char*>(out.raw_data());
  const auto* src = reinterpret_cast<const unsigned char*>(bytes.data() + header);
  // IDX stores multi-byte values big endian; swap each item into host (little-endian) order.
  for (std::uint64_t i = 0; i < numel; ++i) {
    for (std::size_t b = 0; b < item; ++b) dst[i * item + b] = src[i * item + (item - 1 - b)];
  }
  return out;
}

Tensor read_idx(const std::filesystem::path& path) {
  const std::string bytes = read_maybe_gzipped(path);
  return parse_idx(std::as_bytes(std::span<const char>(bytes.data(), bytes.size())), path.string());
}

}  // namespace quantkit::data
