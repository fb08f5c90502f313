#pragma once
// The one way quantkit writes a file: every output (write_npy, onnx::export_onnx, the CLI's --out /
// -o / --output / --report / --svg / --plot) goes through write_file_atomically.
//
// Policy:
//   * The destination must be a regular file or a name that does not exist yet. A directory,
//     character or block device (/dev/null), FIFO or socket is refused with an Error naming
//     the path and what it is: replacing /dev/null by a regular file would break the machine,
//     and writing into a FIFO or device is not what an "output file" means.
//   * A symbolic link is followed, like `cp`: the file it finally points to is replaced and the
//     link stays a link. A link whose target does not exist (dangling) is refused, as `cp`
//     refuses to write through one. The target must itself be a regular file.
//   * The data goes to a new temporary file in the destination's directory, created with
//     O_CREAT | O_EXCL | O_NOFOLLOW under an unpredictable name (".<name>.<16 random hex
//     digits>.tmp"), so nothing planted there in advance can be opened or followed. It gets
//     the final permissions before any data is written: the existing file's mode, or
//     0666 & ~umask for a new file (the kernel applies the umask, as for any new file). It is
//     written, fsync'ed, renamed over the destination, and the directory is fsync'ed.
//   * On every error path the temporary file is removed and the destination is untouched (a
//     failure never leaves a partial or missing file). remove_temporary_files_on_signals()
//     extends that to SIGINT, SIGTERM, SIGHUP and SIGXFSZ (a write past `ulimit -f`): the
//     handler removes the temporary files of writes in progress, then re-raises the signal
//     with the previous disposition. SIGKILL cannot be caught: it may leave a temporary file,
//     never a partial destination.
//   * Between the type check and the rename another process could swap the destination; the
//     rename then replaces that directory entry (it never writes into a device), so the
//     window only matters where someone else can write to the destination's directory.
#include <filesystem>
#include <string_view>

namespace quantkit {

// Writes `contents` to `path` atomically under the policy above. Throws quantkit::Error
// ("write_file_atomically: ..." naming the path) on a refused destination or an I/O error.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);

// Installs the SIGINT / SIGTERM / SIGHUP / SIGXFSZ handler that removes in-flight temporary files.
// Idempotent; a signal that is ignored (SIG_IGN, e.g. under nohup) stays ignored. The CLI calls it
// first thing; a library user who wants the same guarantee calls it too (it is not installed
// implicitly because signal dispositions belong to the program, not a library).
void remove_temporary_files_on_signals();

namespace detail {
// The registry behind the signal handler, exposed for tests. At most kMaxTemporaryFiles writes
// (across threads) are tracked at once; further ones are written normally but a signal during them
// may leave their temporary file behind.
inline constexpr int kMaxTemporaryFiles = 32;
// Records `path` (copied) as in flight; false when the registry is full or the path too long.
bool register_temporary_file(const char* path) noexcept;
// Forgets `path` (call after renaming or removing it).
void unregister_temporary_file(const char* path) noexcept;
// unlink()s every registered path and forgets it. Async-signal-safe (what the handler runs).
void remove_registered_temporary_files() noexcept;
}  // namespace detail

}  // namespace quantkit
