// IDX reader and model input batches (data/idx.h, data/samples.h).
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/core/npy.h"
#include "quantkit/data/idx.h"
#include "quantkit/data/samples.h"

namespace quantkit::data {
namespace {

std::string idx_bytes(unsigned char type, const std::vector<std::uint32_t>& dims,
                      const std::string& payload) {
  std::string b{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (std::uint32_t d : dims) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<char>((d >> s) & 0xff));
  }
  return b + payload;
}

Tensor parse(const std::string& bytes) {
  return parse_idx(std::as_bytes(std::span<const char>(bytes.data(), bytes.size())), "test");
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("quantkit_idx_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path write(const std::string& name, const std::string& bytes) {
    const auto p = dir_ / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  std::filesystem::path write_gz(const std::string& name, const std::string& bytes) {
    const auto p = dir_ / name;
    gzFile f = gzopen(p.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
    return p;
  }
  std::filesystem::path dir_;
};

TEST(Idx, ParsesUint8Images) {
  const Tensor t = parse(idx_bytes(0x08, {2, 2, 3}, std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\xff", 12)));
  ASSERT_EQ(t.dtype(), DType::UInt8);
  ASSERT_EQ(t.shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(t.data<std::uint8_t>()[0], 1);
  EXPECT_EQ(t.data<std::uint8_t>()[11], 255);
}

TEST(Idx, ConvertsBigEndianInt32AndFloat32) {
  const Tensor i = parse(idx_bytes(0x0C, {2}, std::string("\x00\x00\x01\x02\xff\xff\xff\xfe", 8)));
  ASSERT_EQ(i.dtype(), DType::Int32);
  EXPECT_EQ(i.data<std::int32_t>()[0], 258);
  EXPECT_EQ(i.data<std::int32_t>()[1], -2);
  // 1.5f = 0x3FC00000
  const Tensor f = parse(idx_bytes(0x0D, {1}, std::string("\x3f\xc0\x00\x00", 4)));
  EXPECT_EQ(f.data<float>()[0], 1.5f);
}

TEST(Idx, RejectsMalformedHeadersWithClearErrors) {
  auto message = [](const std::string& bytes) {
    try {
      parse(bytes);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("\x00").find("shorter than"), std::string::npos);
  EXPECT_NE(message(std::string("\x01\x00\x08\x01", 4)).find("magic"), std::string::npos);
  EXPECT_NE(message(std::string("\x00\x00\x07\x01\x00\x00\x00\x01\x00", 9)).find("type code"),
            std::string::npos);
  EXPECT_NE(message(std::string("\x00\x00\x08\x02\x00\x00", 6)).find("truncated header"),
            std::string::npos);
  // Claims 2^32-1 x 2^32-1 elements with 3 bytes of data: rejected before allocating.
  EXPECT_NE(message(idx_bytes(0x08, {0xffffffffu, 0xffffffffu}, "abc")).find("holds 3 data bytes"),
            std::string::npos);
  EXPECT_NE(message(idx_bytes(0x0C, {2}, "abc")).find("holds 3 data bytes"), std::string::npos);
  // The message names every dim the header claims, not only those read before the size check.
  EXPECT_NE(message(idx_bytes(0x0D, {0xffffffffu, 0xffffffffu, 2}, "abcd"))
                .find("[4294967295, 4294967295, 2] of float32"),
            std::string::npos);
}

TEST(Idx, ZeroDimAfterHugeDimsIsAValidEmptyTensor) {
  // 65536^3 * 0 elements: the product of the leading dims exceeds the (empty) payload, but the
  // last dim makes the tensor empty and the file exact, as numpy would read it.
  const Tensor t = parse(idx_bytes(0x08, {65536, 65536, 65536, 0}, ""));
  EXPECT_EQ(t.shape(), (Shape{65536, 65536, 65536, 0}));
  EXPECT_EQ(t.numel(), 0);
}

TEST(Idx, MaybeGunzipPassesPlainBytesThroughAndRejectsBadStreams) {
  EXPECT_EQ(maybe_gunzip("plain", "test"), "plain");
  // The gzip magic followed by garbage, and a gzip member cut after its header.
  EXPECT_THROW(maybe_gunzip(std::string("\x1f\x8b\x08\x00garbage", 11), "test"), Error);
  EXPECT_THROW(maybe_gunzip(std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10), "test"),
               Error);
}

// The fuzzer's seeds (fuzz/corpus/idx_fuzz, raw and gzipped) must stay valid files, or
// fuzzing silently loses the paths they open.
TEST(Idx, FuzzSeedsAreValidFiles) {
  const std::filesystem::path seeds =
      std::filesystem::path(QUANTKIT_TEST_DATA_DIR) / ".." / ".." / "fuzz" / "corpus" / "idx_fuzz";
  int gzipped = 0, plain = 0;
  for (const auto& entry : std::filesystem::directory_iterator(seeds)) {
    EXPECT_NO_THROW(read_idx(entry.path())) << entry.path();
    ++(entry.path().extension() == ".gz" ? gzipped : plain);
  }
  EXPECT_GE(gzipped, 2);
  EXPECT_GE(plain, 4);
}

TEST_F(TempDir, ReadsGzippedAndPlainFilesAlike) {
  const std::string bytes = idx_bytes(0x08, {3}, "\x07\x08\x09");
  const Tensor plain = read_idx(write("a-idx1-ubyte", bytes));
  const Tensor gz = read_idx(write_gz("a-idx1-ubyte.gz", bytes));
  ASSERT_EQ(gz.shape(), (Shape{3}));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(gz.data<std::uint8_t>()[i], plain.data<std::uint8_t>()[i]);
}

TEST_F(TempDir, TruncatedGzipIsAnError) {
  std::string big(5000, '\x05');
  const auto p = write_gz("b.gz", idx_bytes(0x08, {5000}, big));
  std::string compressed;
  {
    std::ifstream in(p, std::ios::binary);
    compressed.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto cut = write("c-idx.gz", compressed.substr(0, compressed.size() / 2));
  EXPECT_THROW(read_idx(cut), Error);
}

TEST_F(TempDir, BatchesFromIdxImagesKeepRawPixelValues) {
  std::string pixels;
  for (int i = 0; i < 5 * 4; ++i) pixels.push_back(static_cast<char>(i * 10));
  const auto p = write_gz("img-idx3-ubyte.gz", idx_bytes(0x08, {5, 2, 2}, pixels));
  const TensorType input{DType::Float32, Shape{2, 1, 2, 2}};
  const Batches b = load_batches(p, input);
  ASSERT_EQ(b.batches.size(), 2u);
  EXPECT_EQ(b.samples, 4u);
  EXPECT_EQ(b.dropped, 1u);
  EXPECT_EQ(b.batches[1].shape(), input.shape);
  EXPECT_EQ(b.batches[1].data<float>()[0], 80.0f);
  const Batches limited = load_batches(p, TensorType{DType::Float32, Shape{1, 1, 2, 2}}, 3);
  EXPECT_EQ(limited.batches.size(), 3u);
}

TEST_F(TempDir, BatchesFromNpyFileAndDirectory) {
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[i] = static_cast<float>(i);
  write_npy(dir_ / "a.npy", Tensor::from_vector(v, Shape{3, 4}));
  write_npy(dir_ / "b.npy", Tensor::from_vector(std::vector<float>{9, 9, 9, 9}, Shape{1, 4}));
  const TensorType input{DType::Float32, Shape{1, 4}};
  const Batches file = load_batches(dir_ / "a.npy", input);
  ASSERT_EQ(file.batches.size(), 3u);
  EXPECT_EQ(file.batches[2].data<float>()[3], 11.0f);
  const Batches all = load_batches(dir_, input);
  ASSERT_EQ(all.batches.size(), 4u);
  EXPECT_EQ(all.batches[3].data<float>()[0], 9.0f);
  // 4 values per sample do not divide 3-element samples.
  EXPECT_THROW(load_batches(dir_ / "a.npy", TensorType{DType::Float32, Shape{1, 3}}), Error);
  EXPECT_THROW(load_batches(dir_ / "missing.npy", input), Error);
}

TEST(FashionMnist, DebianTestLabelsAreReadable) {
  const std::filesystem::path labels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
  if (!std::filesystem::exists(labels)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const std::vector<std::int64_t> y = load_labels(labels);
  ASSERT_EQ(y.size(), 10000u);
  EXPECT_EQ(y[0], 9);  // the first test image is an ankle boot
  std::vector<int> counts(10, 0);
  for (std::int64_t v : y) counts[static_cast<std::size_t>(v)]++;
  for (int c : counts) EXPECT_EQ(c, 1000);  // the test set is balanced
}

}  // namespace
}  // namespace quantkit::data
