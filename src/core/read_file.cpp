#include "quantkit/core/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "file_type.h"
#include "quantkit/core/error.h"

namespace quantkit {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

std::string read_regular_file(const std::filesystem::path& path, std::string_view who,
                              std::size_t max_bytes) {
  auto fail = [&](const std::string& why) -> void {
    throw Error(std::string(who) + ": cannot read '" + path.string() + "': " + why);
  };
  // O_NONBLOCK: opening a FIFO must not wait for a writer before fstat can refuse it.
  const Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) fail(detail::errno_message(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) fail(detail::errno_message(errno));
  if (!S_ISREG(st.st_mode)) {
    fail(std::string("it is ") + detail::describe_file_type(st.st_mode) +
         " (expected a regular file)");
  }
  if (static_cast<std::uintmax_t>(st.st_size) > max_bytes) {
    fail("it has " + std::to_string(st.st_size) + " bytes (at most " + std::to_string(max_bytes) +
         " are read)");
  }
  std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(detail::errno_message(errno));
    if (n == 0) fail("it shrank while being read");
    done += static_cast<std::size_t>(n);
  }
  return bytes;
}

}  // namespace quantkit
