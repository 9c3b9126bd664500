// Opening files contd does not fully control (its log directory may be reachable from inside a
// container through a bind mount) without following symbolic links, without blocking on a FIFO or
// a device, and only when the target is a regular file.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace contd::logs {

/// An open file descriptor or why there is none. Movable, closes on destruction.
class fd_result {
public:
  fd_result() = default;
  explicit fd_result(int fd) : fd_(fd) {}
  explicit fd_result(std::string error) : error_(std::move(error)) {}
  fd_result(fd_result&& other) noexcept;
  fd_result& operator=(fd_result&& other) noexcept;
  fd_result(const fd_result&) = delete;
  fd_result& operator=(const fd_result&) = delete;
  ~fd_result();

  explicit operator bool() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  /// Set when there is no fd: e.g. "/x/y.log: no such file", "/x/y.log is a FIFO, not a
  /// regular file", "/x/y.log is a symbolic link".
  const std::string& error() const { return error_; }
  /// errno of the failed open (ENOENT, ELOOP, …), or 0 (also for "not a regular file").
  int code() const { return code_; }
  /// Gives the fd up (the caller closes it).
  int release();

  static fd_result failure(std::string error, int code) {
    fd_result r{std::move(error)};
    r.code_ = code;
    return r;
  }

private:
  int fd_ = -1;
  std::string error_;
  int code_ = 0;
};

/// open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode), then fstat: anything but a
/// regular file is closed again and reported. With O_CREAT the file is created if missing.
/// O_NONBLOCK makes opening a FIFO or a device return at once; it has no effect on regular files.
fd_result open_regular(const std::string& path, int flags, unsigned mode = 0640);

/// Creates `dir` and its missing parents with mode 0750 and checks that it is a real directory
/// (not a symbolic link to one). Empty on success, else the error text.
std::string ensure_dir(const std::string& dir);

/// What a bounded read returned.
struct tail_read {
  std::string bytes;
  bool from_start = true; // false: the bytes begin inside the file (a tail)
  std::string error;      // set when nothing could be read (open_regular's text)
  bool missing = false;   // ... because there is no file at the path
  bool timed_out = false; // the time bound cut the read short
};

/// Reads at most `max_bytes` from the end of the regular file `path` (all of it when smaller),
/// stopping when `budget` has passed between two chunk reads.
tail_read read_tail(const std::string& path, uint64_t max_bytes, std::chrono::milliseconds budget);

/// Reads at most `max_bytes` from offset `from` of an open fd (pread in chunks).
std::string read_at(int fd, uint64_t from, uint64_t max_bytes);

/// 32 hex characters of kernel randomness (getrandom), for names nobody can guess.
std::string random_hex();

} // namespace contd::logs
