#pragma once
// What a non-regular file is, for the messages of the file readers and the atomic writer.
#include <sys/stat.h>

#include <string>
#include <system_error>

namespace quantkit::detail {

inline const char* describe_file_type(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

// strerror's text, thread-safe.
inline std::string errno_message(int error) {
  return std::error_code(error, std::generic_category()).message();
}

}  // namespace quantkit::detail
