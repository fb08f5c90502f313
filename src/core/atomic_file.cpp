// The atomic writer and its signal-time cleanup (policy in atomic_file.h).
#include "quantkit/core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>

#include "file_type.h"
#include "quantkit/core/error.h"

namespace quantkit {
namespace detail {
namespace {

// One slot per in-flight temporary file. The signal handler may only read what a completed store
// published, so a slot is claimed (kClaimed), filled, then published (kActive).
constexpr int kFree = 0, kClaimed = 1, kActive = 2;
constexpr std::size_t kMaxPath = 4096;
struct Slot {
  std::atomic<int> state{kFree};
  char path[kMaxPath] = {};
};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler reads slot states");
std::array<Slot, kMaxTemporaryFiles> g_slots;

}  // namespace

bool register_temporary_file(const char* path) noexcept {
  const std::size_t length = std::strlen(path);
  if (length >= kMaxPath) return false;
  for (Slot& slot : g_slots) {
    int expected = kFree;
    if (!slot.state.compare_exchange_strong(expected, kClaimed, std::memory_order_acquire)) {
      continue;
    }
    std::memcpy(slot.path, path, length + 1);
    slot.state.store(kActive, std::memory_order_release);
    return true;
  }
  return false;
}

void unregister_temporary_file(const char* path) noexcept {
  for (Slot& slot : g_slots) {
    if (slot.state.load(std::memory_order_acquire) == kActive &&
        std::strcmp(slot.path, path) == 0) {
      slot.state.store(kFree, std::memory_order_release);
      return;
    }
  }
}

void remove_registered_temporary_files() noexcept {
  for (Slot& slot : g_slots) {
    int expected = kActive;
    // Claim it first so that two signals (or a signal and the writer) never both act on it.
    if (slot.state.compare_exchange_strong(expected, kClaimed, std::memory_order_acquire)) {
      ::unlink(slot.path);
      slot.state.store(kFree, std::memory_order_release);
    }
  }
}

}  // namespace detail

namespace {

// SIGXFSZ: a write beyond the file-size limit (ulimit -f) kills the process mid-write.
constexpr std::array<int, 4> kCleanupSignals{SIGINT, SIGTERM, SIGHUP, SIGXFSZ};
std::array<struct sigaction, kCleanupSignals.size()> g_previous_actions;

void remove_temporaries_and_reraise(int signal_number) {
  const int saved_errno = errno;
  detail::remove_registered_temporary_files();
  for (std::size_t i = 0; i < kCleanupSignals.size(); ++i) {
    if (kCleanupSignals[i] == signal_number) {
      ::sigaction(signal_number, &g_previous_actions[i], nullptr);
    }
  }
  // Blocked while this handler runs: delivered with the previous disposition on return.
  ::raise(signal_number);
  errno = saved_errno;
}

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& why) {
  throw Error("write_file_atomically: cannot write '" + path.string() + "': " + why);
}

struct Destination {
  std::filesystem::path target;  // the file to replace: `path`, or where its symlink points
  bool exists = false;
  struct stat status {};
};

Destination resolve_destination(const std::filesystem::path& path) {
  if (path.empty()) fail(path, "the path is empty");
  Destination d;
  d.target = path;
  if (::lstat(path.c_str(), &d.status) != 0) {
    if (errno != ENOENT) fail(path, detail::errno_message(errno));
    return d;  // a new file
  }
  if (S_ISLNK(d.status.st_mode)) {
    char* resolved = ::realpath(path.c_str(), nullptr);
    if (resolved == nullptr) {
      if (errno == ENOENT) {
        fail(path,
             "it is a symbolic link whose target does not exist (not "
             "writing through a "
             "dangling link)");
      }
      fail(path, "cannot resolve the symbolic link: " + detail::errno_message(errno));
    }
    d.target = resolved;
    std::free(resolved);
    if (::stat(d.target.c_str(), &d.status) != 0) {
      fail(path, "cannot inspect its target '" + d.target.string() +
                     "': " + detail::errno_message(errno));
    }
    if (!S_ISREG(d.status.st_mode)) {
      fail(path, "it is a symbolic link to '" + d.target.string() + "', which is " +
                     detail::describe_file_type(d.status.st_mode) +
                     " (only regular files are replaced)");
    }
  } else if (!S_ISREG(d.status.st_mode)) {
    fail(path, std::string("it is ") + detail::describe_file_type(d.status.st_mode) +
                   " (only regular files are replaced)");
  }
  d.exists = true;
  return d;
}

// ".<name>.<16 hex digits>.tmp" beside `target`; the name part is shortened so that the whole stays
// within NAME_MAX.
std::filesystem::path temporary_name(const std::filesystem::path& target) {
  std::random_device random;  // the OS's entropy: names nobody can predict
  const std::uint64_t bits = (std::uint64_t{random()} << 32) ^ random();
  const std::string name = target.filename().string().substr(0, 200);
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%016llx", static_cast<unsigned long long>(bits));
  return target.parent_path() / ("." + name + "." + suffix + ".tmp");
}

// The temporary file: created exclusively, registered for the signal handler, and removed by the
// destructor unless commit() renamed it.
class TemporaryFile {
 public:
  TemporaryFile(const std::filesystem::path& path, const Destination& d) : path_(path) {
    // Nothing may throw after open() succeeds: the destructor would not run.
    for (int attempt = 0; attempt < 16 && fd_ < 0; ++attempt) {
      tmp_ = temporary_name(d.target);
      // 0666: the kernel applies the umask, exactly as for any new file.
      fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
      if (fd_ < 0 && errno != EEXIST) {
        fail(path_, "cannot create a temporary file in '" + directory().string() +
                        "': " + detail::errno_message(errno));
      }
    }
    if (fd_ < 0)
      fail(path_, "cannot create a unique temporary file in '" + directory().string() + "'");
    registered_ = detail::register_temporary_file(tmp_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
    if (registered_) detail::unregister_temporary_file(tmp_.c_str());
  }

  // The final permissions, before any data is written.
  void take_permissions_of(const Destination& d) {
    if (d.exists) {
      if (::fchmod(fd_, d.status.st_mode & 07777) != 0) {
        check_errno("cannot give the temporary file the destination's permissions");
      }
      // Keep the owner where we may (root replacing a user's file); otherwise the new file belongs
      // to whoever wrote it, as with any replace-by-rename.
      if (d.status.st_uid != ::geteuid() || d.status.st_gid != ::getegid()) {
        [[maybe_unused]] const int ignored = ::fchown(fd_, d.status.st_uid, d.status.st_gid);
      }
    }
  }

  void write(std::string_view contents) {
    const char* p = contents.data();
    std::size_t left = contents.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_, p, std::min<std::size_t>(left, std::size_t{1} << 30));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) check_errno("write error");
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    if (::fsync(fd_) != 0) check_errno("fsync failed");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) check_errno("close failed");
  }

  void commit(const std::filesystem::path& target) {
    if (::rename(tmp_.c_str(), target.c_str()) != 0) {
      check_errno("cannot rename the temporary file onto '" + target.string() + "'");
    }
    committed_ = true;
    // Make the rename itself durable; not every file system supports fsync on a directory.
    const int dir = ::open(directory().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
  }

 private:
  std::filesystem::path directory() const {
    const std::filesystem::path parent = tmp_.parent_path();
    return parent.empty() ? std::filesystem::path(".") : parent;
  }
  [[noreturn]] void check_errno(const std::string& what) {
    fail(path_, what + " (" + detail::errno_message(errno) + ")");
  }

  std::filesystem::path path_;
  std::filesystem::path tmp_;
  int fd_ = -1;
  bool registered_ = false;
  bool committed_ = false;
};

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view contents) {
  const Destination d = resolve_destination(path);
  TemporaryFile tmp(path, d);
  tmp.take_permissions_of(d);
  tmp.write(contents);
  tmp.commit(d.target);
}

void remove_temporary_files_on_signals() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_handler = remove_temporaries_and_reraise;
    sigemptyset(&action.sa_mask);
    for (int s : kCleanupSignals) sigaddset(&action.sa_mask, s);
    for (std::size_t i = 0; i < kCleanupSignals.size(); ++i) {
      struct sigaction previous {};
      ::sigaction(kCleanupSignals[i], nullptr, &previous);
      const bool ignored = !(previous.sa_flags & SA_SIGINFO) && previous.sa_handler == SIG_IGN;
      if (ignored) continue;  // e.g. nohup: the signal must stay ignored
      g_previous_actions[i] = previous;
      ::sigaction(kCleanupSignals[i], &action, nullptr);
    }
  });
}

}  // namespace quantkit
