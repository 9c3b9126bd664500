// contd-logger as containerd's runc v2 shim runs it: argument pairs in any order, CONTAINER_ID and
// CONTAINER_NAMESPACE, the container's stdout and stderr pipes on fds 3 and 4, the ready pipe on
// fd 5. Every case works in its own temporary directory.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "src/logs/format.hpp"
#include "tests/integration/eventually.hpp"

namespace fs = std::filesystem;
using namespace contd::logs;
using namespace std::chrono_literals;
using contd::test::eventually;

namespace {

struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/contd-logger-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// The file's bytes; empty when it is missing or not a regular file (never blocks on a FIFO).
std::string slurp(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return {};
  struct stat st {};
  std::string out;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    char buf[65536];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
      out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

uint64_t size_of(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

void touch(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
  REQUIRE(fd >= 0);
  ::close(fd);
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

// The records of path.1 and path, oldest first; fails when a line of them is not a record.
std::vector<record> records_of(const std::string& path) {
  auto bytes = slurp(path + ".1") + slurp(path);
  auto rs = parse_all(bytes, false);
  CHECK(rs.size() == static_cast<size_t>(std::count(bytes.begin(), bytes.end(), '\n')));
  return rs;
}

// Records whose text starts with `prefix`; with `width`, each must be one whole line written
// by numbered() (a record cut by a failed write and glued to the next one is not).
size_t count_prefix(const std::vector<record>& rs, const std::string& prefix, size_t width = 0) {
  size_t n = 0, wrong = 0;
  for (const auto& r : rs)
    if (r.text.compare(0, prefix.size(), prefix) == 0) {
      ++n;
      wrong += width != 0 && (r.text.size() != width - 1 || r.partial) ? 1 : 0;
    }
  CHECK(wrong == 0);
  return n;
}

bool has_line(const std::string& path, const std::string& text) {
  for (const auto& r : records_of(path))
    if (r.text == text)
      return true;
  return false;
}

// Lines of `width` bytes with their '\n': "<tag> <9-digit number> xxx…".
std::string numbered(const std::string& tag, size_t from, size_t count, size_t width) {
  std::string out;
  char num[16];
  for (size_t i = from; i < from + count; ++i) {
    std::snprintf(num, sizeof num, " %09zu ", i);
    auto line = tag + num;
    line.resize(width - 1, 'x');
    out += line + '\n';
  }
  return out;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// What the logger reported in its "logger" records: dropped lines and bytes, and the reasons.
struct drops {
  uint64_t lines = 0, bytes = 0;
  std::string reasons;
};

drops drops_of(const std::vector<record>& rs) {
  static const std::regex notice{R"(dropped (\d+) lines \((\d+) bytes\) of output: (.+))"};
  drops d;
  for (const auto& r : rs) {
    std::smatch m;
    if (r.source != stream::logger)
      continue;
    REQUIRE(std::regex_match(r.text, m, notice));
    d.lines += std::stoull(m[1]);
    d.bytes += std::stoull(m[2]);
    d.reasons += m[3].str() + "\n";
  }
  return d;
}

// The logger process with the shim's file descriptors.
class logger {
public:
  logger(const std::vector<std::string>& args, const std::string& dir) {
    ::signal(SIGPIPE, SIG_IGN); // a killed logger must not kill the test with it
    int out[2], err[2], ready[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(ready, O_CLOEXEC) == 0);
    static int n = 0;
    stderr_path = dir + "/logger-" + std::to_string(++n) + ".stderr";
    int errfile = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    REQUIRE(errfile >= 0);
    std::vector<std::string> argv_s{CONTD_LOGGER_BIN};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv, envp;
    for (auto& a : argv_s)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string id = "CONTAINER_ID=c1", ns = "CONTAINER_NAMESPACE=ns1";
    envp = {id.data(), ns.data(), nullptr};
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // Out of the way of 2..5 first, then into place (dup2 clears FD_CLOEXEC).
      int from[4] = {errfile, out[0], err[0], ready[1]};
      for (auto& f : from)
        f = ::fcntl(f, F_DUPFD_CLOEXEC, 10);
      for (int i = 0; i < 4; ++i)
        ::dup2(from[i], i + 2);
      ::close_range(6, ~0U, 0);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(errfile);
    ::close(out[0]);
    ::close(err[0]);
    ::close(ready[1]);
    out_w = out[1];
    err_w = err[1];
    ready_r = ready[0];
  }
  logger(const logger&) = delete;
  logger& operator=(const logger&) = delete;

  ~logger() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    for (int fd : {out_w, err_w, ready_r})
      if (fd >= 0)
        ::close(fd);
  }

  // The ready pipe was closed (EOF) within `limit`.
  bool ready(std::chrono::milliseconds limit = 5s) {
    pollfd p{ready_r, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) != 1)
      return false;
    char c;
    return ::read(ready_r, &c, 1) == 0;
  }

  void close_out() { ::close(std::exchange(out_w, -1)); }
  void close_err() { ::close(std::exchange(err_w, -1)); }

  // The exit code, or nothing when still running after `limit`.
  std::optional<int> wait_exit(std::chrono::milliseconds limit = 10s) {
    int status = 0;
    bool gone = eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, limit);
    if (!gone)
      return std::nullopt;
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  // Closes both streams, as the shim does when the task is gone; the exit code.
  std::optional<int> finish() {
    close_out();
    close_err();
    return wait_exit();
  }

  std::string errors() const { return slurp(stderr_path); }

  // VmHWM: the most resident memory the logger had.
  uint64_t peak_kib() const {
    auto status = slurp("/proc/" + std::to_string(pid) + "/status");
    auto at = status.find("VmHWM:");
    return at == std::string::npos ? 0 : std::stoull(status.substr(at + 6));
  }

  pid_t pid = -1;
  int out_w = -1, err_w = -1, ready_r = -1;
  std::string stderr_path;
};

// A temporary directory with the lock file of c1.log, as contd prepares it.
struct scene : temp_dir {
  std::string log = path + "/c1.log";
  explicit scene(bool lock = true) {
    if (lock)
      touch(log + ".lock");
  }
};

std::vector<std::string> args(const std::string& path, uint64_t max) {
  return {"path", path, "max", std::to_string(max)};
}

// Writes the line `text` to stdout until it is in the log (while the queue is full it is
// dropped); how many times it was written.
size_t get_through(logger& lg, const std::string& path, const std::string& text) {
  size_t written = 0;
  REQUIRE(eventually(
    [&] {
      ++written;
      return write_all(lg.out_w, text + "\n")
             && eventually([&] { return has_line(path, text); }, 200ms);
    },
    20s));
  return written;
}

// Writes into a pipe from a thread, so a blocked writer is a failed check, not a hung test.
// Declared before the logger it feeds: the logger is killed first, which ends a blocked write.
struct pump {
  std::thread t;
  std::atomic<bool> done{false};
  std::atomic<bool> ok{false};
  std::chrono::steady_clock::duration took{};

  void start(int fd, std::string tag, size_t count, size_t width) {
    t = std::thread{[this, fd, tag, count, width] {
      auto t0 = std::chrono::steady_clock::now();
      bool good = true;
      for (size_t i = 0; i < count && good; i += 1000)
        good = write_all(fd, numbered(tag, i, std::min<size_t>(1000, count - i), width));
      took = std::chrono::steady_clock::now() - t0;
      ok = good;
      done = true;
    }};
  }
  bool finished(std::chrono::milliseconds limit) {
    return eventually([&] { return done.load(); }, limit) && ok;
  }
  ~pump() {
    if (t.joinable())
      t.join();
  }
};

} // namespace

TEST_CASE("both streams arrive in read order with times and stream names, in either arg order") {
  auto path_first = GENERATE(true, false);
  scene d;
  auto& path = d.log;
  std::vector<std::string> a{"max", "10485760", "path", path};
  logger lg{path_first ? args(path, 10 << 20) : a, d.path};
  REQUIRE(lg.ready());
  auto before = now_ns();
  REQUIRE(write_all(lg.out_w, "out one\n"));
  REQUIRE(eventually([&] { return records_of(path).size() == 1; }));
  REQUIRE(write_all(lg.err_w, "err one\n"));
  REQUIRE(eventually([&] { return records_of(path).size() == 2; }));
  REQUIRE(write_all(lg.out_w, "out two\n"));
  REQUIRE(eventually([&] { return records_of(path).size() == 3; }));
  REQUIRE(write_all(lg.err_w, "cut off"));
  REQUIRE(lg.finish() == 0);
  auto after = now_ns();
  auto rs = records_of(path);
  REQUIRE(rs.size() == 4);
  std::vector<std::pair<stream, std::string>> want{{stream::out, "out one"},
                                                   {stream::err, "err one"},
                                                   {stream::out, "out two"},
                                                   {stream::err, "cut off"}};
  for (size_t i = 0; i < 4; ++i) {
    CHECK(rs[i].source == want[i].first);
    CHECK(rs[i].text == want[i].second);
    CHECK_FALSE(rs[i].partial);
    CHECK(rs[i].unix_ns >= before);
    CHECK(rs[i].unix_ns <= after);
    if (i > 0)
      CHECK(rs[i].unix_ns >= rs[i - 1].unix_ns);
  }
  CHECK(slurp(path).find(" stderr F err one\n") != std::string::npos);
  CHECK_FALSE(exists(path + ".1"));
  CHECK(lg.errors().empty());
}

TEST_CASE("lines longer than 16 KiB become P parts and end with F") {
  scene d;
  auto& path = d.log;
  logger lg{args(path, 10 << 20), d.path};
  REQUIRE(lg.ready());
  std::string exact(16384, 'a'), longer(40000, 'b'), unfinished(20000, 'c');
  REQUIRE(write_all(lg.out_w, exact + "\n" + longer + "\n" + unfinished));
  REQUIRE(lg.finish() == 0);
  auto rs = records_of(path);
  std::vector<std::pair<bool, size_t>> want{{false, 16384}, {true, 16384}, {true, 16384},
                                            {false, 7232},  {true, 16384}, {false, 3616}};
  REQUIRE(rs.size() == want.size());
  for (size_t i = 0; i < rs.size(); ++i) {
    CHECK(rs[i].partial == want[i].first);
    CHECK(rs[i].text.size() == want[i].second);
  }
  CHECK(tail_text(rs, 10) == exact + "\n" + longer + "\n" + unfinished + "\n");
}

TEST_CASE("100 MB leave at most max bytes on disk, the newest lines included") {
  scene d;
  auto& path = d.log;
  const uint64_t max = 1 << 20;
  const size_t lines = 1'000'000, width = 100;
  pump p;
  logger lg{args(path, max), d.path};
  REQUIRE(lg.ready());
  p.start(lg.out_w, "n", lines, width);
  REQUIRE(p.finished(60s));
  auto peak = lg.peak_kib();
  auto markers = get_through(lg, path, "newest");
  REQUIRE(lg.finish() == 0);
  CHECK(size_of(path) + size_of(path + ".1") <= max);
  CHECK(size_of(path + ".1") > max / 2 - 20'000);
  auto rs = records_of(path);
  auto dropped = drops_of(rs);
  // Order kept: the numbers only grow; without drops they are the last ones written.
  std::vector<uint64_t> numbers;
  for (const auto& r : rs)
    if (r.text.compare(0, 2, "n ") == 0)
      numbers.push_back(std::stoull(r.text.substr(2, 9)));
  REQUIRE(numbers.size() > max / 2 / (width + 40));
  CHECK(std::is_sorted(numbers.begin(), numbers.end()));
  CHECK(std::adjacent_find(numbers.begin(), numbers.end()) == numbers.end());
  if (dropped.lines == 0) {
    CHECK(count_prefix(rs, "newest") == markers);
    CHECK(numbers.back() == lines - 1);
    CHECK(numbers.back() - numbers.front() + 1 == numbers.size());
  } else {
    WARN("dropped under load: " << dropped.reasons);
    CHECK(dropped.reasons.find("logger queue full") != std::string::npos);
  }
  // The queue is bounded: 4 MiB plus the program itself.
  INFO("peak resident KiB " << peak);
  CHECK(peak < 16 * 1024);
}

TEST_CASE("the container's writes never wait for the log file") {
  auto stalled = GENERATE(false, true);
  scene d;
  auto& path = d.log;
  const size_t lines = 200'000, width = 100; // 20 MB
  // Stalled: the test holds the lock, so the logger's writer waits like on a hung filesystem.
  int held = ::open((path + ".lock").c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(held >= 0);
  if (stalled)
    REQUIRE(::flock(held, LOCK_EX) == 0);
  pump p;
  logger lg{args(path, 64 << 20), d.path};
  REQUIRE(lg.ready());
  p.start(lg.out_w, "n", lines, width);
  bool finished = p.finished(20s);
  if (finished) { // the end of the output comes while the writer may still be stalled
    lg.close_out();
    lg.close_err();
  }
  ::close(held); // the lock goes with it
  REQUIRE(finished);
  INFO("20 MB took " << std::chrono::duration_cast<std::chrono::milliseconds>(p.took).count()
                     << " ms");
  REQUIRE(lg.wait_exit() == 0);
  auto rs = records_of(path);
  auto dropped = drops_of(rs);
  // Every line is in the file or counted as dropped, and the count is written before the exit.
  CHECK(count_prefix(rs, "n ", width) + dropped.lines == lines);
  if (stalled) {
    CHECK(dropped.lines > 0);
    CHECK(dropped.reasons.find("logger queue full: the filesystem is too slow")
          != std::string::npos);
  }
}

namespace {

// Something that is not the log file appears at its path: the logger keeps draining, writes
// nothing there, and once the path is free again reports what it dropped.
template <class Make, class Check>
void obstacle(const std::string& error, Make make, Check untouched) {
  scene d;
  auto& path = d.log;
  pump p;
  logger lg{args(path, 10 << 20), d.path};
  REQUIRE(lg.ready());
  REQUIRE(write_all(lg.out_w, "before\n"));
  REQUIRE(eventually([&] { return has_line(path, "before"); }));
  REQUIRE(::unlink(path.c_str()) == 0);
  make(d.path, path);
  const size_t lines = 2000, width = 100; // more than a pipe holds: the logger must read on
  p.start(lg.out_w, "blocked", lines, width);
  REQUIRE(p.finished(20s));
  REQUIRE(eventually([&] { return lg.errors().find(error) != std::string::npos; }));
  untouched(path);
  REQUIRE(::unlink(path.c_str()) == 0);
  REQUIRE(write_all(lg.out_w, "after\n"));
  REQUIRE(eventually([&] { return has_line(path, "after"); }));
  REQUIRE(lg.finish() == 0);
  // The file at the path now was created after the obstacle went: the lines that got through
  // first, then the report.
  auto rs = records_of(path);
  auto dropped = drops_of(rs);
  CHECK(dropped.lines > 0);
  CHECK(count_prefix(rs, "blocked ", width) + dropped.lines == lines);
  CHECK(dropped.bytes == dropped.lines * width);
  CHECK(dropped.reasons.find(error) != std::string::npos);
  REQUIRE(rs.size() >= 2);
  CHECK(rs.front().source == stream::out);
  CHECK(rs.back().source == stream::logger);
  CHECK(has_line(path, "after"));
}

} // namespace

TEST_CASE("a FIFO at the log path is refused without blocking") {
  int reader = -1;
  obstacle(
    "is a FIFO, not a regular file",
    [&](const std::string&, const std::string& path) {
      REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
      // With a reader the logger's open succeeds; only the file type check refuses it.
      reader = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      REQUIRE(reader >= 0);
    },
    [&](const std::string&) {
      char c;
      CHECK(::read(reader, &c, 1) <= 0); // nothing was written into it
      ::close(reader);
    });
}

TEST_CASE("a symbolic link at the log path is not written through") {
  std::string target;
  obstacle(
    "is a symbolic link, not a regular file",
    [&](const std::string& dir, const std::string& path) {
      REQUIRE(::mkdir((dir + "/outside").c_str(), 0700) == 0);
      target = dir + "/outside/secret";
      int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
      REQUIRE(write_all(fd, "secret\n"));
      ::close(fd);
      REQUIRE(::symlink(target.c_str(), path.c_str()) == 0);
    },
    [&](const std::string&) { CHECK(slurp(target) == "secret\n"); });
}

TEST_CASE("a removed lock file means the container is gone: nothing is written or recreated") {
  auto at_start = GENERATE(false, true);
  scene d{!at_start};
  auto& path = d.log;
  pump p;
  logger lg{args(path, 64 * 1024), d.path};
  REQUIRE(lg.ready());
  if (!at_start) {
    REQUIRE(write_all(lg.out_w, "kept\n"));
    REQUIRE(eventually([&] { return has_line(path, "kept"); }));
    // What contd does on delete: the lock file first.
    for (auto f : {path + ".lock", path, path + ".1"})
      ::unlink(f.c_str());
  }
  p.start(lg.out_w, "gone", 10'000, 100); // 1 MB: would rotate with this max
  REQUIRE(p.finished(20s));
  REQUIRE(lg.finish() == 0);
  CHECK_FALSE(exists(path));
  CHECK_FALSE(exists(path + ".1"));
  CHECK_FALSE(exists(path + ".lock"));
}

TEST_CASE("SIGTERM: what is left in the pipes is written, then the logger exits") {
  scene d;
  auto& path = d.log;
  logger lg{args(path, 10 << 20), d.path};
  REQUIRE(lg.ready());
  // A pipe of 1 MiB holds all of it: the logger has to read it after the signal.
  REQUIRE(::fcntl(lg.out_w, F_SETPIPE_SZ, 1 << 20) >= 0);
  const size_t lines = 5000;
  REQUIRE(write_all(lg.out_w, numbered("t", 0, lines, 100)));
  REQUIRE(write_all(lg.err_w, "no newline"));
  // Still in the pipes, most likely; the write ends stay open.
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(::kill(lg.pid, SIGTERM) == 0);
  REQUIRE(lg.wait_exit(3s) == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < 1500ms);
  auto rs = records_of(path);
  CHECK(count_prefix(rs, "t ", 100) == lines);
  REQUIRE(!rs.empty());
  CHECK(rs.back().text == "no newline");
  CHECK_FALSE(rs.back().partial);
}

namespace {

// A tmpfs mounted for one test, in a mount namespace of the test process when it can have one
// (so nothing is left mounted even if the test is killed), and unmounted at the end.
struct small_tmpfs {
  std::string dir;
  bool mounted = false;
  explicit small_tmpfs(std::string at) : dir(std::move(at)) {
    REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
    if (::unshare(CLONE_NEWNS) == 0)
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
    mounted = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=256k") == 0;
    INFO("mount tmpfs: " << std::strerror(errno));
    REQUIRE(mounted);
  }
  ~small_tmpfs() {
    if (mounted)
      ::umount2(dir.c_str(), MNT_DETACH);
  }
};

} // namespace

TEST_CASE("a full disk: output is dropped, counted, and reported once there is space") {
  if (::geteuid() != 0) {
    WARN("not root: cannot mount a small tmpfs");
    return;
  }
  temp_dir d;
  small_tmpfs fsys{d.path + "/mnt"};
  auto path = fsys.dir + "/c1.log";
  touch(path + ".lock");
  auto filler = fsys.dir + "/filler";
  {
    int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    REQUIRE(write_all(fd, std::string(160 * 1024, 'f')));
    ::close(fd);
  }
  pump p;
  logger lg{args(path, 10 << 20), d.path};
  REQUIRE(lg.ready());
  const size_t lines = 2000, width = 100; // 280 KB of records for about 96 KiB of space
  p.start(lg.out_w, "full", lines, width);
  REQUIRE(p.finished(20s));
  REQUIRE(eventually([&] { return lg.errors().find("No space left") != std::string::npos; }));
  REQUIRE(::unlink(filler.c_str()) == 0);
  REQUIRE(write_all(lg.out_w, "after\n"));
  REQUIRE(eventually([&] { return has_line(path, "after"); }));
  REQUIRE(lg.finish() == 0);
  auto rs = records_of(path); // also: no half record was left in the file
  auto dropped = drops_of(rs);
  CHECK(dropped.lines > 0);
  CHECK(count_prefix(rs, "full ", width) + dropped.lines == lines);
  CHECK(dropped.bytes == dropped.lines * width);
  CHECK(dropped.reasons.find("No space left on device") != std::string::npos);
  CHECK(rs.back().source == stream::logger);
}

TEST_CASE("two loggers of one container share the file and its rotation without losing lines") {
  scene d;
  auto& path = d.log;
  const uint64_t max = 2 << 20; // 12000 records of 140 bytes: one rotation, nothing rotated away
  const size_t lines = 6000;
  pump pa, pb;
  logger a{args(path, max), d.path};
  logger b{{"max", std::to_string(max), "path", path}, d.path};
  REQUIRE(a.ready());
  REQUIRE(b.ready());
  pa.start(a.out_w, "A", lines, 100);
  pb.start(b.err_w, "B", lines, 100);
  REQUIRE(pa.finished(30s));
  REQUIRE(pb.finished(30s));
  // Everything is written before the pipes close (a logger gives up 5 s after EOF).
  auto last_of = [&](const char* tag) { return numbered(tag, lines - 1, 1, 100).substr(0, 99); };
  CHECK(
    eventually([&] { return has_line(path, last_of("A")) && has_line(path, last_of("B")); }, 30s));
  for (auto* lg : {&a, &b}) {
    REQUIRE(lg->finish() == 0);
  }
  CHECK(exists(path + ".1"));
  CHECK(size_of(path) + size_of(path + ".1") <= max);
  auto rs = records_of(path);
  auto dropped = drops_of(rs);
  INFO("dropped: " << dropped.reasons << "\nA: " << a.errors() << "\nB: " << b.errors());
  CHECK(dropped.lines == 0);
  for (const char* tag : {"A ", "B "}) {
    std::vector<size_t> seen;
    for (const auto& r : rs)
      if (r.text.compare(0, 2, tag) == 0)
        seen.push_back(std::stoull(r.text.substr(2, 9)));
    REQUIRE(seen.size() == lines);
    for (size_t i = 0; i < lines; ++i)
      CHECK(seen[i] == i);
  }
}

TEST_CASE("without a path the output is drained and discarded") {
  temp_dir d;
  pump p;
  logger lg{{"max", "100000"}, d.path};
  REQUIRE(lg.ready());
  p.start(lg.out_w, "x", 10'000, 100);
  REQUIRE(p.finished(20s));
  REQUIRE(lg.finish() == 0);
  CHECK(lg.errors().find("ns1/c1") != std::string::npos);
  CHECK(lg.errors().find("no log path") != std::string::npos);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(d.path))
    files += e.path().extension() == ".stderr" ? 0 : 1;
  CHECK(files == 0);
}

TEST_CASE("max below 64 KiB is raised to 64 KiB") {
  scene d;
  auto& path = d.log;
  pump p;
  logger lg{args(path, 1000), d.path};
  REQUIRE(lg.ready());
  p.start(lg.out_w, "m", 10'000, 100);
  REQUIRE(p.finished(20s));
  auto last = numbered("m", 9999, 1, 100).substr(0, 99);
  CHECK(eventually([&] { return has_line(path, last); }, 30s));
  REQUIRE(lg.finish() == 0);
  auto total = size_of(path) + size_of(path + ".1");
  CHECK(total <= 64 * 1024);
  CHECK(total > 32 * 1024);
}
