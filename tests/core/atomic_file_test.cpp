// write_file_atomically: what it refuses, how it treats symlinks, permissions, and that no
// temporary file survives an error or a signal (policy in core/atomic_file.h).
#include "quantkit/core/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "quantkit/core/error.h"

namespace quantkit {
namespace {

namespace fs = std::filesystem;

// Death-test bodies (run in a forked child). A file-size limit makes write() fail with EFBIG
// halfway through the data; exit 0 when the Error says so.
[[noreturn]] void write_past_a_file_size_limit(const fs::path& path) {
  std::signal(SIGXFSZ, SIG_IGN);
  const rlimit limit{4096, 4096};
  ::setrlimit(RLIMIT_FSIZE, &limit);
  try {
    write_file_atomically(path, std::string(1 << 16, 'x'));
  } catch (const Error& e) {
    std::_Exit(std::string(e.what()).find("write error") != std::string::npos ? 0 : 2);
  }
  std::_Exit(1);
}

[[noreturn]] void raise_with_a_file_in_flight(const fs::path& path, int signal_number) {
  remove_temporary_files_on_signals();
  detail::register_temporary_file(path.c_str());
  std::raise(signal_number);
  std::_Exit(0);  // not reached when the signal's default action terminates
}

[[noreturn]] void raise_an_ignored_sigint() {
  std::signal(SIGINT, SIG_IGN);  // as under nohup or for a background shell job
  remove_temporary_files_on_signals();
  std::raise(SIGINT);
  std::_Exit(7);
}

class AtomicFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "quantkit_atomic_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(dir_, ec);
  }
  fs::path file(const std::string& name) const { return dir_ / name; }
  // Every name in the folder: a leftover temporary file shows up here.
  std::set<std::string> names() const {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.insert(e.path().filename().string());
    return out;
  }
  static std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static void put(const fs::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary) << text;
  }
  // The Error's message (fails the test when nothing is thrown).
  static std::string error_of(const fs::path& p, std::string_view contents = "data") {
    try {
      write_file_atomically(p, contents);
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "no error writing " << p;
    return "";
  }
  static mode_t mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_mode;
  }

  fs::path dir_;
};

TEST_F(AtomicFile, NewFileGetsContentsAndUmaskPermissions) {
  const mode_t old_mask = ::umask(027);
  write_file_atomically(file("new.bin"), std::string("a\0b", 3));
  ::umask(old_mask);
  EXPECT_EQ(slurp(file("new.bin")), std::string("a\0b", 3));
  EXPECT_EQ(mode_of(file("new.bin")) & 07777, 0640u);  // 0666 & ~027
  EXPECT_EQ(names(), (std::set<std::string>{"new.bin"}));
}

TEST_F(AtomicFile, ReplacingKeepsTheExistingFilesMode) {
  put(file("out.txt"), "old");
  ASSERT_EQ(::chmod(file("out.txt").c_str(), 0604), 0);
  write_file_atomically(file("out.txt"), "new");
  EXPECT_EQ(slurp(file("out.txt")), "new");
  EXPECT_EQ(mode_of(file("out.txt")) & 07777, 0604u);
  EXPECT_EQ(names(), (std::set<std::string>{"out.txt"}));
}

TEST_F(AtomicFile, RefusesADirectory) {
  fs::create_directory(file("d"));
  const std::string message = error_of(file("d"));
  EXPECT_NE(message.find(file("d").string()), std::string::npos) << message;
  EXPECT_NE(message.find("is a directory"), std::string::npos) << message;
  EXPECT_TRUE(fs::is_directory(file("d")));
  EXPECT_EQ(names(), (std::set<std::string>{"d"}));
}

TEST_F(AtomicFile, RefusesAFifoAndLeavesItAFifo) {
  ASSERT_EQ(::mkfifo(file("pipe").c_str(), 0600), 0);
  const std::string message = error_of(file("pipe"));
  EXPECT_NE(message.find("FIFO"), std::string::npos) << message;
  EXPECT_TRUE(S_ISFIFO(mode_of(file("pipe"))));
  EXPECT_EQ(names(), (std::set<std::string>{"pipe"}));
}

TEST_F(AtomicFile, RefusesACharacterDevice) {
  // The case: as root the old writer replaced /dev/null by a regular file. A private copy
  // of the null device (root can create one) keeps a regression from breaking the machine's
  // /dev/null; without root, /dev/null itself is safe to try.
  fs::path device = file("null");
  if (::mknod(device.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) {
    if (::geteuid() == 0 || !fs::exists("/dev/null")) GTEST_SKIP() << "no device to try";
    device = "/dev/null";
  }
  const std::string message = error_of(device);
  EXPECT_NE(message.find("'" + device.string() + "': it is a character device"), std::string::npos)
      << message;
  EXPECT_TRUE(S_ISCHR(mode_of(device)));
}

TEST_F(AtomicFile, FollowsASymlinkLikeCpAndKeepsTheLink) {
  fs::create_directory(file("real"));
  put(file("real/target.txt"), "old");
  ASSERT_EQ(::chmod(file("real/target.txt").c_str(), 0640), 0);
  fs::create_symlink("real/target.txt",
                     file("link"));           // relative to the link's folder
  fs::create_symlink("link", file("link2"));  // a chain resolves too
  write_file_atomically(file("link2"), "new");
  EXPECT_TRUE(fs::is_symlink(file("link")));
  EXPECT_TRUE(fs::is_symlink(file("link2")));
  EXPECT_EQ(fs::read_symlink(file("link")), "real/target.txt");
  EXPECT_EQ(slurp(file("real/target.txt")), "new");
  EXPECT_EQ(mode_of(file("real/target.txt")) & 07777, 0640u);
  EXPECT_EQ(names(), (std::set<std::string>{"real", "link", "link2"}));
  std::set<std::string> real;
  for (const auto& e : fs::directory_iterator(file("real"))) real.insert(e.path().filename());
  EXPECT_EQ(real, (std::set<std::string>{"target.txt"}));  // the temporary file went there
}

TEST_F(AtomicFile, RefusesDanglingSymlinksAndSymlinksToNonRegularFiles) {
  fs::create_symlink(file("nowhere"), file("dangling"));
  std::string message = error_of(file("dangling"));
  EXPECT_NE(message.find("dangling"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(file("nowhere")));

  fs::create_directory(file("d"));
  fs::create_symlink(file("d"), file("to_dir"));
  message = error_of(file("to_dir"));
  EXPECT_NE(message.find("which is a directory"), std::string::npos) << message;
  EXPECT_TRUE(fs::is_symlink(file("to_dir")));
  EXPECT_EQ(names(), (std::set<std::string>{"dangling", "d", "to_dir"}));
}

TEST_F(AtomicFile, APlantedSymlinkAtTheOldPredictableNameIsNotFollowed) {
  // The old writer opened "<out>.tmp.<pid>" with O_TRUNC, through any symlink planted there.
  put(file("victim"), "precious");
  const fs::path planted = file("out.npy.tmp." + std::to_string(::getpid()));
  fs::create_symlink(file("victim"), planted);
  write_file_atomically(file("out.npy"), "payload");
  EXPECT_EQ(slurp(file("out.npy")), "payload");
  EXPECT_EQ(slurp(file("victim")), "precious");
  EXPECT_TRUE(fs::is_symlink(planted));
  EXPECT_EQ(names(), (std::set<std::string>{"out.npy", "victim", planted.filename().string()}));
}

TEST_F(AtomicFile, MissingOrUnwritableFolderFailsWithoutLeavingAnything) {
  std::string message = error_of(file("missing/x.bin"));
  EXPECT_NE(message.find("cannot create a temporary file"), std::string::npos) << message;
  EXPECT_TRUE(names().empty());
  if (::geteuid() == 0) return;  // root writes into read-only folders
  put(file("keep.txt"), "old");
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec);
  message = error_of(file("keep.txt"));
  EXPECT_NE(message.find("Permission denied"), std::string::npos) << message;
  fs::permissions(dir_, fs::perms::owner_all);
  EXPECT_EQ(slurp(file("keep.txt")), "old");
  EXPECT_EQ(names(), (std::set<std::string>{"keep.txt"}));
}

TEST_F(AtomicFile, AFailedWriteLeavesNoTemporaryFileAndTheOldContents) {
  put(file("out.bin"), "old");
  // In a child: a file-size limit makes write() fail with EFBIG halfway through the data.
  EXPECT_EXIT(write_past_a_file_size_limit(file("out.bin")), ::testing::ExitedWithCode(0), "");
  EXPECT_EQ(slurp(file("out.bin")), "old");
  EXPECT_EQ(names(), (std::set<std::string>{"out.bin"}));
}

TEST_F(AtomicFile, TheRegistryRemovesWhatIsInFlight) {
  put(file("a.tmp"), "x");
  put(file("b.tmp"), "x");
  ASSERT_TRUE(detail::register_temporary_file(file("a.tmp").c_str()));
  ASSERT_TRUE(detail::register_temporary_file(file("b.tmp").c_str()));
  detail::unregister_temporary_file(file("b.tmp").c_str());  // renamed: no longer ours
  detail::remove_registered_temporary_files();
  EXPECT_EQ(names(), (std::set<std::string>{"b.tmp"}));
  // Removed entries are forgotten: a later file of the same name is left alone.
  put(file("a.tmp"), "x");
  detail::remove_registered_temporary_files();
  EXPECT_TRUE(fs::exists(file("a.tmp")));
}

TEST_F(AtomicFile, TheRegistryIsBoundedAndSlotsAreReused) {
  std::vector<std::string> paths;
  for (int i = 0; i <= detail::kMaxTemporaryFiles; ++i) paths.push_back(file(std::to_string(i)));
  for (int i = 0; i < detail::kMaxTemporaryFiles; ++i) {
    EXPECT_TRUE(detail::register_temporary_file(paths[i].c_str())) << i;
  }
  EXPECT_FALSE(detail::register_temporary_file(paths.back().c_str()));
  detail::unregister_temporary_file(paths[3].c_str());
  EXPECT_TRUE(detail::register_temporary_file(paths.back().c_str()));
  EXPECT_FALSE(detail::register_temporary_file(std::string(5000, 'a').c_str()));  // too long
  detail::remove_registered_temporary_files();  // nothing exists: empties the
                                                // registry
  EXPECT_TRUE(detail::register_temporary_file(paths[0].c_str()));
  detail::unregister_temporary_file(paths[0].c_str());
}

TEST_F(AtomicFile, SigtermRemovesInFlightTemporaryFilesThenKills) {
  put(file("in_flight.tmp"), "partial");
  EXPECT_EXIT(raise_with_a_file_in_flight(file("in_flight.tmp"), SIGTERM),
              ::testing::KilledBySignal(SIGTERM), "");
  EXPECT_FALSE(fs::exists(file("in_flight.tmp")));
}

TEST_F(AtomicFile, AnIgnoredSignalStaysIgnored) {
  EXPECT_EXIT(raise_an_ignored_sigint(), ::testing::ExitedWithCode(7), "");
}

}  // namespace
}  // namespace quantkit
