// read_regular_file and the readers built on it (read_npy, read_idx, import_onnx): anything but a
// regular file is a clear Error naming the path, never an attempt to read it (a directory used to
// surface as std::bad_alloc, a FIFO would block).
#include "quantkit/core/read_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "quantkit/core/error.h"
#include "quantkit/core/npy.h"
#include "quantkit/data/idx.h"
#include "quantkit/onnx/onnx_import.h"

namespace quantkit {
namespace {

namespace fs = std::filesystem;

class ReadFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "quantkit_read_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  template <class F>
  static std::string error_of(F&& read) {
    try {
      read();
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "no quantkit::Error";
    return "";
  }
  fs::path dir_;
};

TEST_F(ReadFile, ReadsARegularFileAndFollowsSymlinks) {
  std::ofstream(dir_ / "f.bin", std::ios::binary) << std::string("x\0y", 3);
  fs::create_symlink(dir_ / "f.bin", dir_ / "link");
  EXPECT_EQ(read_regular_file(dir_ / "f.bin", "test"), std::string("x\0y", 3));
  EXPECT_EQ(read_regular_file(dir_ / "link", "test"), std::string("x\0y", 3));
}

TEST_F(ReadFile, RefusesDirectoriesFifosAndMissingFilesByName) {
  const std::string dir_message = error_of([&] { read_regular_file(dir_, "who"); });
  EXPECT_EQ(dir_message, "who: cannot read '" + dir_.string() +
                             "': it is a directory (expected a regular file)");
  ASSERT_EQ(::mkfifo((dir_ / "pipe").c_str(), 0600), 0);
  // Would block forever if the reader opened the FIFO without checking it first.
  EXPECT_NE(error_of([&] { read_regular_file(dir_ / "pipe", "who"); }).find("FIFO"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              read_regular_file(dir_ / "missing", "who");
            }).find("'" + (dir_ / "missing").string() + "': No such file"),
            std::string::npos);
}

TEST_F(ReadFile, EnforcesTheSizeBound) {
  std::ofstream(dir_ / "big", std::ios::binary) << std::string(100, 'a');
  EXPECT_EQ(read_regular_file(dir_ / "big", "who", 100).size(), 100u);
  EXPECT_NE(error_of([&] { read_regular_file(dir_ / "big", "who", 99); }).find("100 bytes"),
            std::string::npos);
}

TEST_F(ReadFile, TheNpyIdxAndOnnxReadersRefuseADirectory) {
  EXPECT_NE(error_of([&] {
              read_npy(dir_);
            }).find("read_npy: cannot read '" + dir_.string() + "': it is a directory"),
            std::string::npos);
  EXPECT_NE(error_of([&] { data::read_idx(dir_); }).find("it is a directory"), std::string::npos);
}

}  // namespace
}  // namespace quantkit
