#include "quantkit/core/npy.h"

#include <cctype>
#include <cstring>
#include <limits>
#include <optional>

#include "quantkit/core/atomic_file.h"
#include "quantkit/core/read_file.h"

namespace quantkit {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
// A real header is a few hundred bytes; anything larger is refused before it is parsed.
constexpr std::size_t kMaxHeaderSize = 1 << 20;

[[noreturn]] void fail(const std::string& origin, const std::string& what) {
  throw Error("npy file " + origin + ": " + what);
}

// Minimal parser for the Python dict literal of an .npy header:
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& origin) : s_(text), origin_(origin) {}

  void parse(std::string& descr, bool& fortran, Shape& shape) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') { ++pos_; break; }
      const std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        descr = parse_string();
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran = parse_bool();
        have_fortran = true;
      } else if (key == "shape") {
        shape = parse_shape();
        have_shape = true;
      } else {
        fail(origin_, "unexpected header key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') { ++pos_; continue; }
      expect('}');
      break;
    }
    if (!have_descr || !have_fortran || !have_shape) {
      fail(origin_, "header must have 'descr', 'fortran_order' and 'shape'");
    }
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(origin_, std::string("malformed header: expected '") + c + "'");
    ++pos_;
  }
  std::string parse_string() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail(origin_, "malformed header: expected a string");
    const std::size_t end = s_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) fail(origin_, "malformed header: unterminated string");
    std::string out(s_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return out;
  }
  bool parse_bool() {
    skip_space();
    if (s_.substr(pos_, 4) == "True") { pos_ += 4; return true; }
    if (s_.substr(pos_, 5) == "False") { pos_ += 5; return false; }
    fail(origin_, "malformed header: fortran_order must be True or False");
  }
  Shape parse_shape() {
    expect('(');
    Shape shape;
    while (true) {
      skip_space();
      if (peek() == ')') { ++pos_; break; }
      std::int64_t v = 0;
      bool any = false;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        const int digit = peek() - '0';
        if (v > (std::numeric_limits<std::int64_t>::max() - digit) / 10) {
          fail(origin_, "shape dimension too large");
        }
        v = v * 10 + digit;
        any = true;
        ++pos_;
      }
      if (peek() == 'L') ++pos_;  // Python 2 long suffix
      if (!any) fail(origin_, "malformed header: shape must be a tuple of non-negative integers");
      shape.push_back(v);
      if (shape.size() > 64) fail(origin_, "shape has more than 64 dimensions");
      skip_space();
      if (peek() == ',') { ++pos_; continue; }
      expect(')');
      break;
    }
    return shape;
  }

  std::string_view s_;
  const std::string& origin_;
  std::size_t pos_ = 0;
};

std::optional<DType> dtype_from_descr(const std::string& descr) {
  if (descr.size() < 2) return std::nullopt;
  const char order = descr[0];
  const std::string code = descr.substr(1);
  const bool one_byte = code == "i1" || code == "u1" || code == "b1";
  // Little-endian only ('<', '=' and '|' for 1-byte types are little-endian on our targets).
  if (!(order == '<' || order == '=' || (order == '|' && one_byte))) return std::nullopt;
  if (code == "f4") return DType::Float32;
  if (code == "f8") return DType::Float64;
  if (code == "i1") return DType::Int8;
  if (code == "u1") return DType::UInt8;
  if (code == "i2") return DType::Int16;
  if (code == "i4") return DType::Int32;
  if (code == "i8") return DType::Int64;
  return std::nullopt;
}

std::string descr_of(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "<f4";
    case DType::Float64: return "<f8";
    case DType::Int8: return "|i1";
    case DType::UInt8: return "|u1";
    case DType::Int16: return "<i2";
    case DType::Int32: return "<i4";
    case DType::Int64: return "<i8";
  }
  return "";
}

std::uint32_t read_le(const std::byte* p, int nbytes) {
  std::uint32_t v = 0;
  for (int i = nbytes - 1; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

}  // namespace

Tensor parse_npy(std::span<const std::byte> bytes, const std::string& origin) {
  if (bytes.size() < kMagicSize + 4 || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0) {
    fail(origin, "not an .npy file (bad magic string)");
  }
  const int major = static_cast<int>(bytes[6]);
  std::size_t header_len_size = 0;
  if (major == 1) {
    header_len_size = 2;
  } else if (major == 2 || major == 3) {
    header_len_size = 4;
  } else {
    fail(origin, "unsupported format version " + std::to_string(major) + " (expected 1, 2 or 3)");
  }
  const std::size_t prefix = kMagicSize + 2 + header_len_size;
  if (bytes.size() < prefix) fail(origin, "truncated header");
  const std::size_t header_len =
      read_le(bytes.data() + kMagicSize + 2, static_cast<int>(header_len_size));
  if (header_len > kMaxHeaderSize) fail(origin, "header length " + std::to_string(header_len) + " is too large");
  if (bytes.size() < prefix + header_len) fail(origin, "truncated header");
  const std::string_view header(reinterpret_cast<const char*>(bytes.data() + prefix), header_len);

  std::string descr;
  bool fortran = false;
  Shape shape;
  HeaderParser(header, origin).parse(descr, fortran, shape);
  if (fortran) fail(origin, "Fortran-order arrays are not supported (expected C order)");
  const std::optional<DType> dtype = dtype_from_descr(descr);
  if (!dtype) {
    fail(origin, "unsupported dtype '" + descr +
                     "' (expected little-endian float32, float64, int8, uint8, int16, int32 or "
                     "int64)");
  }

  std::int64_t numel = 0;
  try {
    numel = shape_numel(shape);
  } catch (const Error&) {
    fail(origin, "shape " + shape_to_string(shape) + " has too many elements");
  }
  const std::size_t available = bytes.size() - prefix - header_len;
  const std::size_t elem = dtype_size(*dtype);
  if (static_cast<std::uint64_t>(numel) > available / elem || numel * elem != available) {
    fail(origin, "shape " + shape_to_string(shape) + " of " + std::string(dtype_name(*dtype)) +
                     " needs " +
                     (static_cast<std::uint64_t>(numel) > std::numeric_limits<std::uint64_t>::max() / elem
                          ? std::string("more")
                          : std::to_string(static_cast<std::uint64_t>(numel) * elem)) +
                     " data bytes but the file has " + std::to_string(available));
  }
  Tensor t = Tensor::empty(shape, *dtype);
  if (available) std::memcpy(t.raw_data(), bytes.data() + prefix + header_len, available);
  return t;
}

Tensor read_npy(const std::filesystem::path& path) {
  const std::string bytes = read_regular_file(path, "read_npy");
  return parse_npy(std::as_bytes(std::span<const char>(bytes)), path.string());
}

std::string serialize_npy(const Tensor& tensor) {
  std::string header = "{'descr': '" + descr_of(tensor.dtype()) + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < tensor.shape().size(); ++i) {
    header += std::to_string(tensor.shape()[i]);
    if (tensor.shape().size() == 1 || i + 1 < tensor.shape().size()) header += ",";
    if (i + 1 < tensor.shape().size()) header += " ";
  }
  header += "), }";
  // Pad with spaces and a newline so that the data starts on a 64-byte boundary.
  const bool v2 = header.size() + 1 + kMagicSize + 2 + 2 > 65535;
  const std::size_t prefix = kMagicSize + 2 + (v2 ? 4 : 2);
  const std::size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header += '\n';

  std::string out(kMagic, kMagicSize);
  out += static_cast<char>(v2 ? 2 : 1);
  out += static_cast<char>(0);
  const std::size_t len = header.size();
  for (std::size_t i = 0; i < (v2 ? 4u : 2u); ++i) out += static_cast<char>((len >> (8 * i)) & 0xff);
  out += header;
  out.append(static_cast<const char*>(tensor.raw_data()), tensor.nbytes());
  return out;
}

void write_npy(const std::filesystem::path& path, const Tensor& tensor) {
  write_file_atomically(path, serialize_npy(tensor));
}

}  // namespace quantkit
