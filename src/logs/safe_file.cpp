#include "src/logs/safe_file.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace contd::logs {

fd_result::fd_result(fd_result&& other) noexcept
    : fd_(other.fd_), error_(std::move(other.error_)), code_(other.code_) {
  other.fd_ = -1;
}

fd_result& fd_result::operator=(fd_result&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = other.fd_;
    error_ = std::move(other.error_);
    code_ = other.code_;
    other.fd_ = -1;
  }
  return *this;
}

fd_result::~fd_result() {
  if (fd_ >= 0)
    ::close(fd_);
}

int fd_result::release() {
  auto fd = fd_;
  fd_ = -1;
  return fd;
}

namespace {

const char* kind_of(mode_t mode) {
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISCHR(mode))
    return "a character device";
  if (S_ISBLK(mode))
    return "a block device";
  if (S_ISSOCK(mode))
    return "a socket";
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISLNK(mode))
    return "a symbolic link";
  return "not a regular file";
}

} // namespace

fd_result open_regular(const std::string& path, int flags, unsigned mode) {
  int fd = ::open(path.c_str(), flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode);
  if (fd < 0) {
    auto err = errno;
    if (err == ELOOP)
      return fd_result::failure(path + " is a symbolic link, not a regular file", err);
    if (err == ENOENT)
      return fd_result::failure(path + ": no such file", err);
    if (err == ENXIO) // a FIFO opened for writing without a reader, or a socket
      return fd_result::failure(path + " is not a regular file (a FIFO or a socket)", err);
    return fd_result::failure(path + ": " + std::strerror(err), err);
  }
  fd_result r{fd};
  struct stat sb {};
  if (::fstat(fd, &sb) != 0)
    return fd_result::failure(path + ": " + std::strerror(errno), errno);
  if (!S_ISREG(sb.st_mode))
    return fd_result::failure(path + " is " + kind_of(sb.st_mode) + ", not a regular file", 0);
  return r;
}

std::string ensure_dir(const std::string& dir) {
  struct stat pre {};
  if (::lstat(dir.c_str(), &pre) == 0 && !S_ISDIR(pre.st_mode))
    return dir + " is " + kind_of(pre.st_mode) + ", not a directory";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return "cannot create " + dir + ": " + ec.message();
  struct stat sb {};
  if (::lstat(dir.c_str(), &sb) != 0)
    return "cannot create " + dir + ": " + std::strerror(errno);
  if (!S_ISDIR(sb.st_mode))
    return dir + " is " + kind_of(sb.st_mode) + ", not a directory";
  return {};
}

std::string read_at(int fd, uint64_t from, uint64_t max_bytes) {
  std::string out;
  out.resize(max_bytes);
  size_t got = 0;
  while (got < max_bytes) {
    auto n = ::pread(fd, out.data() + got, max_bytes - got, static_cast<off_t>(from + got));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

tail_read read_tail(const std::string& path, uint64_t max_bytes, std::chrono::milliseconds budget) {
  tail_read r;
  auto f = open_regular(path, O_RDONLY);
  if (!f) {
    r.error = f.error();
    r.missing = f.code() == ENOENT;
    return r;
  }
  struct stat sb {};
  if (::fstat(f.fd(), &sb) != 0) {
    r.error = path + ": " + std::strerror(errno);
    return r;
  }
  auto size = static_cast<uint64_t>(sb.st_size);
  auto len = std::min(size, max_bytes);
  auto from = size - len;
  r.from_start = from == 0;
  // Chunks, so that a slow filesystem is noticed between them.
  constexpr uint64_t chunk = 64 * 1024;
  auto deadline = std::chrono::steady_clock::now() + budget;
  for (uint64_t at = from; at < size;) {
    auto part = read_at(f.fd(), at, std::min(chunk, size - at));
    if (part.empty())
      break;
    at += part.size();
    r.bytes += part;
    if (at < size && std::chrono::steady_clock::now() > deadline) {
      r.timed_out = true;
      break;
    }
  }
  return r;
}

std::string random_hex() {
  unsigned char buf[16];
  size_t got = 0;
  while (got < sizeof buf) {
    auto n = ::getrandom(buf + got, sizeof buf - got, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; // getrandom(0) only fails before the pool is seeded at boot
    got += static_cast<size_t>(n);
  }
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (auto b : buf) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

} // namespace contd::logs
