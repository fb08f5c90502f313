// Every output flag goes through the one safe writer (core/atomic_file.h): a FIFO, a device or a
// directory at the output path is refused and left as it was; a symlink is followed like `cp` (the
// link stays, its target gets the data); no temporary file is left behind.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include "cli/cli_runner.h"
#include "quantkit/core/npy.h"

namespace quantkit::testing {
namespace {

const std::string kData = std::string(QUANTKIT_TEST_DATA_DIR) + "/onnx/";
const std::string kModel = kData + "resnet_small.onnx";
const std::string kInput = kData + "resnet_small.input.npy";

std::set<std::string> names(const std::filesystem::path& dir) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    out.insert(e.path().filename().string());
  }
  out.erase("stdout.txt");
  out.erase("stderr.txt");
  return out;
}

bool is_fifo(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
}

// One command per output flag, writing to `out`.
std::vector<std::string> commands_writing_to(const std::string& out, const TempDir& dir) {
  const std::string x = dir.file("x.npy");
  return {
      "tensor fake-quantize --in " + x + " --out " + out + " --scale 0.3 --dtype int8",
      "apot quantize --b 4 --k 2 --in " + x + " --codes-out " + out,
      "apot levels --b 4 --k 2 --plot " + out,
      "run " + kModel + " --input " + kInput + " --output " + out,
      "quantize " + kModel + " -o " + out + " --calib " + kInput + " --config int8",
      "quantize " + kModel + " -o " + dir.file("q.onnx") + " --calib " + kInput +
          " --config int8 --report " + out,
      "compare " + kModel + " " + dir.file("q.onnx") + " --data " + kInput + " --svg " + out,
  };
}

class OutputCli : public ::testing::Test {
 protected:
  void SetUp() override {
    write_npy(dir_.file("x.npy"), Tensor::from_vector<float>({0.5f, -1.0f, 2.0f}));
    ASSERT_EQ(run_cli("quantize " + kModel + " -o " + dir_.file("q.onnx") + " --calib " + kInput +
                          " --config int8",
                      dir_)
                  .exit_code,
              0);
  }
  TempDir dir_;
};

TEST_F(OutputCli, AFifoAtTheOutputIsRefusedAndStaysAFifo) {
  const std::string fifo = dir_.file("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto before = names(dir_.path());
  for (const std::string& args : commands_writing_to(fifo, dir_)) {
    const CliResult r = run_cli(args, dir_);
    EXPECT_EQ(r.exit_code, 1) << args;
    EXPECT_NE(r.err.find("cannot write '" + fifo + "': it is a FIFO (named pipe)"),
              std::string::npos)
        << args << "\n"
        << r.err;
    EXPECT_TRUE(is_fifo(fifo)) << args;
    EXPECT_EQ(names(dir_.path()), before) << args;  // no temporary file left
  }
}

TEST_F(OutputCli, ADirectoryOrADeviceAtTheOutputIsRefused) {
  std::filesystem::create_directory(dir_.file("d"));
  for (const std::string& args : commands_writing_to(dir_.file("d"), dir_)) {
    const CliResult r = run_cli(args, dir_);
    EXPECT_EQ(r.exit_code, 1) << args;
    EXPECT_NE(r.err.find("it is a directory"), std::string::npos) << args << "\n" << r.err;
    EXPECT_TRUE(std::filesystem::is_empty(dir_.file("d"))) << args;
  }
  // The case, `--out /dev/null` as root, on a private null device (root can make one).
  const std::string null = dir_.file("null");
  if (::mknod(null.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) GTEST_SKIP() << "not root";
  const CliResult r = run_cli(commands_writing_to(null, dir_).front(), dir_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("it is a character device"), std::string::npos) << r.err;
  struct stat st {};
  ASSERT_EQ(::lstat(null.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

TEST_F(OutputCli, ASymlinkAtTheOutputIsFollowedAndKept) {
  std::filesystem::create_directory(dir_.file("real"));
  for (const std::string& args : commands_writing_to(dir_.file("link"), dir_)) {
    write_npy(dir_.file("real/target"), Tensor::from_vector<float>({1.0f}));
    const auto old_size = std::filesystem::file_size(dir_.file("real/target"));
    std::filesystem::remove(dir_.file("link"));
    std::filesystem::create_symlink("real/target", dir_.file("link"));
    const CliResult r = run_cli(args, dir_);
    ASSERT_EQ(r.exit_code, 0) << args << "\n" << r.err;
    EXPECT_TRUE(std::filesystem::is_symlink(dir_.file("link"))) << args;
    EXPECT_NE(std::filesystem::file_size(dir_.file("real/target")), old_size) << args;
    EXPECT_EQ(names(dir_.file("real")), (std::set<std::string>{"target"})) << args;
  }
}

TEST(OutputCliSignals, KilledMidWriteLeavesNoTemporaryFileAndTheOldOutput) {
  // A file-size limit (ulimit -f) makes the kernel send SIGXFSZ in the middle of writing the
  // ~400 KB output: a deterministic "killed mid-write". The old writer left <out>.tmp.<pid>.
  TempDir dir;
  std::vector<float> big(100000, 0.5f);
  write_npy(dir.file("x.npy"), Tensor::from_vector(big));
  write_npy(dir.file("y.npy"), Tensor::from_vector<float>({7.0f}));
  const auto before = names(dir.path());
  const std::string cmd = "ulimit -f 64 && exec " + std::string(QUANTKIT_CLI_PATH) +
                          " tensor fake-quantize --in " + dir.file("x.npy") + " --out " +
                          dir.file("y.npy") + " --scale 0.5 --dtype int8 2>/dev/null";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGXFSZ);
  EXPECT_EQ(names(dir.path()), before);  // the handler removed the temporary file
  EXPECT_EQ(read_npy(dir.file("y.npy")).to_vector<float>(), (std::vector<float>{7.0f}));
}

}  // namespace
}  // namespace quantkit::testing
