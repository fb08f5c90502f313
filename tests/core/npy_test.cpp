#include "quantkit/core/npy.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

namespace quantkit {
namespace {

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// Builds an .npy image by hand: version, header dict text, data bytes.
std::string make_npy(int major, const std::string& dict, const std::string& data) {
  std::string header = dict;
  const std::size_t len_size = major == 1 ? 2 : 4;
  while ((6 + 2 + len_size + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  for (std::size_t i = 0; i < len_size; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

TEST(Npy, RoundTripsEveryDtype) {
  for (DType d : {DType::Float32, DType::Float64, DType::Int8, DType::UInt8, DType::Int16,
                  DType::Int32, DType::Int64}) {
    Tensor t = Tensor::zeros({2, 3}, d);
    static_cast<unsigned char*>(t.raw_data())[1] = 0x5a;
    Tensor back = parse_npy(as_bytes(serialize_npy(t)));
    EXPECT_TRUE(bitwise_equal(t, back)) << dtype_name(d);
  }
}

TEST(Npy, RoundTripsZeroDimAndEmptyAndOneDim) {
  for (const Shape& s : {Shape{}, Shape{0}, Shape{5}, Shape{0, 3}, Shape{1, 1, 1, 1}}) {
    Tensor t = Tensor::zeros(s, DType::Float32);
    Tensor back = parse_npy(as_bytes(serialize_npy(t)));
    EXPECT_EQ(back.shape(), s) << shape_to_string(s);
  }
}

TEST(Npy, HeaderIsPaddedTo64Bytes) {
  const std::string image = serialize_npy(Tensor::zeros({3}, DType::Float32));
  EXPECT_EQ((image.size() - 12) % 64, 0u);
  EXPECT_NE(image.find("'shape': (3,)"), std::string::npos);
}

TEST(Npy, ReadsVersion2And3) {
  const std::string data(8, '\0');
  for (int major : {2, 3}) {
    Tensor t = parse_npy(as_bytes(make_npy(major, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data)));
    EXPECT_EQ(t.shape(), Shape{2});
  }
}

TEST(Npy, AcceptsNativeOrderMarker) {
  Tensor t = parse_npy(as_bytes(make_npy(1, "{'descr': '=i4', 'fortran_order': False, 'shape': (1,), }", std::string(4, '\0'))));
  EXPECT_EQ(t.dtype(), DType::Int32);
}

struct BadCase {
  const char* name;
  std::string image;
  const char* message_part;
};

// The fuzzer's seeds (fuzz/corpus/npy_fuzz) must stay what their names say, or fuzzing
// silently loses the paths they open: every seed parses except the two near-misses.
TEST(Npy, FuzzSeedsParseExceptTheNamedNearMisses) {
  const std::filesystem::path seeds =
      std::filesystem::path(QUANTKIT_TEST_DATA_DIR) / ".." / ".." / "fuzz" / "corpus" / "npy_fuzz";
  int parsed = 0, rejected = 0;
  for (const auto& entry : std::filesystem::directory_iterator(seeds)) {
    const std::string name = entry.path().filename().string();
    if (name.find("fortran") != std::string::npos || name.find("bigendian") != std::string::npos) {
      EXPECT_THROW(read_npy(entry.path()), Error) << name;
      ++rejected;
    } else {
      EXPECT_NO_THROW(read_npy(entry.path())) << name;
      ++parsed;
    }
  }
  EXPECT_GE(parsed, 8);
  EXPECT_EQ(rejected, 2);
}

TEST(Npy, RejectsMalformedFilesWithClearErrors) {
  const std::string ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const std::vector<BadCase> cases = {
      {"empty", "", "bad magic"},
      {"bad magic", "\x93NUMPZ\x01\x00\x10\x00", "bad magic"},
      {"version", make_npy(1, ok_dict, std::string(8, '\0')).replace(6, 1, "\x07"), "version 7"},
      {"big endian", make_npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", std::string(8, '\0')), "unsupported dtype"},
      {"complex", make_npy(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", std::string(16, '\0')), "unsupported dtype"},
      {"object", make_npy(1, "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", std::string(16, '\0')), "unsupported dtype"},
      {"fortran", make_npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", std::string(8, '\0')), "Fortran"},
      {"truncated data", make_npy(1, ok_dict, std::string(7, '\0')), "needs 8 data bytes"},
      {"extra data", make_npy(1, ok_dict, std::string(9, '\0')), "needs 8 data bytes"},
      {"huge shape", make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", std::string(8, '\0')), "too many elements"},
      {"huge shape fits int64", make_npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1152921504606846976,), }", std::string(8, '\0')), "data bytes"},
      {"overflowing dim", make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", ""), "too large"},
      {"negative dim", make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", ""), "malformed"},
      {"missing key", make_npy(1, "{'descr': '<f4', 'shape': (2,), }", std::string(8, '\0')), "must have"},
      {"unknown key", make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", std::string(8, '\0')), "unexpected header key"},
      {"unterminated", make_npy(1, "{'descr': '<f4", ""), "unterminated"},
      {"truncated header", std::string("\x93NUMPY\x01\x00\xff\x00{'descr'", 17), "truncated header"},
  };
  for (const auto& c : cases) {
    try {
      parse_npy(as_bytes(c.image), "case.npy");
      ADD_FAILURE() << c.name << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.message_part), std::string::npos)
          << c.name << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find("case.npy"), std::string::npos) << c.name;
    }
  }
}

TEST(Npy, WriteIsAtomicAndReadBack) {
  const auto dir = std::filesystem::temp_directory_path() / "quantkit_npy_test";
  std::filesystem::create_directories(dir);
  const auto path = dir / "t.npy";
  Tensor t = Tensor::from_vector<std::int32_t>({1, -2, 3}, {3});
  write_npy(path, t);
  EXPECT_TRUE(bitwise_equal(read_npy(path), t));
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos);
  }
  // Writing into a missing folder fails without leaving anything behind.
  EXPECT_THROW(write_npy(dir / "missing" / "x.npy", t), Error);
  EXPECT_THROW(read_npy(dir / "does_not_exist.npy"), Error);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace quantkit
