// contd-logger: the program containerd's runc v2 shim starts for every task of a container when
// the task's log URI is binary:///<this program>?path=<log file>&max=<bytes>.
//
// The shim passes the query as argument pairs in any order ("max 10485760 path /x/ns/id.log"),
// CONTAINER_ID and CONTAINER_NAMESPACE in the environment, the read ends of the container's
// stdout and stderr pipes as fds 3 and 4, and the write end of a ready pipe as fd 5: the task
// starts once that is closed. When the task is deleted the shim closes its pipe ends, sends
// SIGTERM, and SIGKILLs 12 s later.
//
// Two threads. The reader (main) polls fds 3 and 4 and a signalfd, splits the output into
// records (src/logs/format.hpp), timestamps them and appends them to a queue bounded to 4 MiB; a
// record that does not fit is dropped and counted, so the container never waits for the disk.
// The writer appends the queue to the log file under an flock of <path>.lock, rotates the file
// to <path>.1 when it would exceed half of max, and after a successful write reports dropped
// output in a record of stream "logger". contd creates the lock file before the task starts and
// removes it first when the container is deleted: a lock file that is missing, or has no links
// any more, means nothing is written and no file is created again.
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "src/logs/format.hpp"
#include "src/logs/safe_file.hpp"

namespace {

using namespace contd::logs;
using steady = std::chrono::steady_clock;

constexpr size_t line_limit = 16 * 1024;             // longer lines become P parts of this size
constexpr size_t queue_limit = 4 << 20;              // encoded bytes queued or being written
constexpr size_t chunk_size = 64 * 1024;             // queue blocks
constexpr int pipe_size = 256 * 1024;                // F_SETPIPE_SZ of the stdout and stderr pipes
constexpr auto trim_after = std::chrono::seconds{1}; // idle time before memory is given back
constexpr size_t batch_limit = 1 << 20;              // bytes the writer takes at once
constexpr size_t header_size = 40; // time, stream and tag of a record, with spaces
constexpr uint64_t min_max = 64 * 1024;
constexpr uint64_t default_max = 10 << 20;
constexpr auto retry_after = std::chrono::milliseconds{200};
constexpr auto drain_limit = std::chrono::seconds{1}; // reading what is left after SIGTERM
constexpr auto flush_limit = std::chrono::seconds{5}; // writing what is queued at the end
const char* const queue_full = "logger queue full: the filesystem is too slow";

bool stderr_open = false;
/// How the logger names itself on stderr (the container is added once known). A function-local
/// static: constructed on first use, not before main.
std::string& who() {
  static std::string name = "contd-logger";
  return name;
}

void say(const std::string& text) {
  if (!stderr_open)
    return;
  auto line = who() + ": " + text + "\n";
  auto rc = ::write(2, line.data(), line.size());
  (void)rc;
}

int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct drop {
  std::string reason;
  uint64_t lines = 0, bytes = 0;
};

void add_drop(std::vector<drop>& drops, const std::string& reason, uint64_t lines, uint64_t bytes) {
  if (lines == 0)
    return;
  auto it = std::find_if(drops.begin(), drops.end(), [&](auto& d) { return d.reason == reason; });
  if (it == drops.end() && drops.size() < 8) // a bound on distinct reasons
    it = drops.insert(it, drop{reason});
  else if (it == drops.end()) // later ones count with the last
    --it;
  it->lines += lines;
  it->bytes += bytes;
}

// Records (lines) and output bytes (text, plus the newline of an F record) of encoded records.
void count_records(std::string_view data, uint64_t& lines, uint64_t& bytes) {
  for (size_t pos = 0; pos < data.size();) {
    auto nl = data.find('\n', pos);
    if (nl == std::string_view::npos)
      nl = data.size();
    auto len = nl - pos;
    ++lines;
    if (len >= header_size)
      bytes += len - header_size + (data[pos + header_size - 2] == 'F' ? 1 : 0);
    pos = nl + 1;
  }
}

// Shared by the reader and the writer, under `m`.
struct queue {
  std::mutex m;
  std::condition_variable wake; // the writer: data, closing
  std::condition_variable done_cv;
  std::deque<std::string> chunks;
  size_t queued = 0;    // bytes in chunks
  size_t in_flight = 0; // bytes the writer is writing
  std::vector<drop> drops;
  std::string failing; // the writer's last error until a write succeeds again
  bool closing = false;
  bool done = false;
  std::atomic<bool> discard{false}; // no path, no lock file, or the container was deleted
};

class writer {
public:
  writer(queue& q, std::string path, uint64_t max, fd_result lock)
      : q_(q), path_(std::move(path)), rotated_(path_ + ".1"), half_(max / 2),
        lock_(std::move(lock)) {}

  void run() {
    std::unique_lock lk(q_.m);
    auto retry_at = steady::time_point{};
    size_t since_trim = 0;
    bool last_notice = false; // at the end: one try to report drops without new output
    for (;;) {
      if (q_.chunks.empty()) {
        if (q_.closing) {
          if (last_notice || q_.drops.empty() || q_.discard)
            break;
        } else if (since_trim > 2 * chunk_size) {
          // Give the memory of a burst back once output has paused for a while (trimming at
          // every empty queue would make a steady stream fault its pages in again and again).
          if (q_.wake.wait_for(lk, trim_after) == std::cv_status::no_timeout)
            continue;
          if (!q_.chunks.empty() || q_.closing)
            continue;
          lk.unlock();
          ::malloc_trim(0);
          lk.lock();
          since_trim = 0;
          continue; // data may have come meanwhile
        } else {
          q_.wake.wait(lk);
          continue;
        }
      }
      if (!q_.failing.empty() && !q_.discard && steady::now() < retry_at) {
        q_.wake.wait_until(lk, retry_at);
        continue;
      }
      last_notice = q_.chunks.empty();
      std::vector<std::string> batch;
      size_t bytes = 0;
      while (!q_.chunks.empty() && bytes < batch_limit) {
        bytes += q_.chunks.front().size();
        batch.push_back(std::move(q_.chunks.front()));
        q_.chunks.pop_front();
      }
      q_.queued -= bytes;
      q_.in_flight = bytes;
      since_trim += bytes;
      auto reported = q_.drops;
      lk.unlock();
      auto r = q_.discard ? result{} : write_batch(batch, reported);
      batch.clear();
      lk.lock();
      q_.in_flight = 0;
      if (r.error.empty()) {
        if (!q_.failing.empty())
          say("writing " + path_ + " again");
        q_.failing.clear();
        if (r.reported) // the notice settled what it reported; later drops stay
          for (const auto& d : reported) {
            auto it = std::find_if(q_.drops.begin(), q_.drops.end(),
                                   [&](auto& x) { return x.reason == d.reason; });
            it->lines -= d.lines;
            it->bytes -= d.bytes;
          }
        q_.drops.erase(
          std::remove_if(q_.drops.begin(), q_.drops.end(), [](auto& d) { return d.lines == 0; }),
          q_.drops.end());
      } else {
        if (q_.failing != r.error)
          say(r.error);
        q_.failing = r.error;
        retry_at = steady::now() + retry_after;
        add_drop(q_.drops, r.error, r.lines, r.bytes);
      }
    }
    q_.done = true;
    q_.done_cv.notify_all();
  }

private:
  struct result {
    std::string error;             // empty: written (or discarded because the container is gone)
    uint64_t lines = 0, bytes = 0; // dropped because of error
    bool reported = false;         // the drop notice was written
  };

  result write_batch(const std::vector<std::string>& batch, const std::vector<drop>& reported) {
    result r;
    if (!lock_) {
      q_.discard = true;
      return r;
    }
    while (::flock(lock_.fd(), LOCK_EX) != 0) {
      if (errno != EINTR) {
        r.error = "cannot lock " + path_ + ".lock: " + std::strerror(errno);
        for (const auto& c : batch)
          count_records(c, r.lines, r.bytes);
        return r;
      }
    }
    opened_ = false;
    moved_ = {};
    if (deleted()) {
      ::flock(lock_.fd(), LOCK_UN);
      return r;
    }
    r.error = open_file();
    size_t i = 0;
    for (; i < batch.size() && r.error.empty(); ++i) {
      size_t written = 0;
      r.error = append(batch[i], written);
      if (!r.error.empty())
        count_records(std::string_view{batch[i]}.substr(written), r.lines, r.bytes);
    }
    for (; i < batch.size(); ++i)
      count_records(batch[i], r.lines, r.bytes);
    if (r.error.empty() && !reported.empty()) {
      std::string notice;
      auto t = now_ns();
      for (const auto& d : reported)
        append_encoded(notice, t, stream::logger, false,
                       "dropped " + std::to_string(d.lines) + " lines (" + std::to_string(d.bytes)
                         + " bytes) of output: " + d.reason);
      size_t written = 0;
      r.reported = append(notice, written).empty();
    }
    // contd removes the lock file before the logs without taking the lock: a file this batch
    // created or rotated after that would stay behind.
    if ((opened_ || moved_.st_ino != 0) && deleted())
      remove_own_files();
    ::flock(lock_.fd(), LOCK_UN);
    return r;
  }

  // The container was deleted: the lock file has no name any more.
  bool deleted() {
    struct stat st {};
    if (::fstat(lock_.fd(), &st) == 0 && st.st_nlink > 0)
      return false;
    if (!q_.discard)
      say("the lock file is gone: the container was deleted, discarding its output");
    q_.discard = true;
    return true;
  }

  static bool same(const struct stat& a, const struct stat& b) {
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
  }

  void remove_own_files() {
    struct stat mine {
    }, cur{};
    if (opened_ && file_ && ::fstat(file_.fd(), &mine) == 0 && ::lstat(path_.c_str(), &cur) == 0
        && same(mine, cur))
      ::unlink(path_.c_str());
    if (moved_.st_ino != 0 && ::lstat(rotated_.c_str(), &cur) == 0 && same(moved_, cur))
      ::unlink(rotated_.c_str());
    file_ = fd_result{};
  }

  // Makes file_ the file now at path_ (another logger of the container may have rotated it,
  // or something else may be in its place), creating it when there is none.
  std::string open_file() {
    struct stat mine {
    }, cur{};
    if (file_ && ::fstat(file_.fd(), &mine) == 0 && ::lstat(path_.c_str(), &cur) == 0
        && same(mine, cur))
      return {};
    file_ = open_regular(path_, O_WRONLY | O_APPEND);
    if (!file_ && file_.code() == ENOENT) {
      file_ = open_regular(path_, O_WRONLY | O_APPEND | O_CREAT | O_EXCL, 0640);
      opened_ = static_cast<bool>(file_);
    }
    if (!file_)
      return file_.error();
    if (::fstat(file_.fd(), &cur) != 0)
      return path_ + ": " + std::strerror(errno);
    if (cur.st_nlink != 1) {
      file_ = fd_result{};
      return path_ + " has " + std::to_string(cur.st_nlink) + " links, not written to";
    }
    return {};
  }

  // Appends whole records, rotating whenever the file would grow beyond half of max. `written`
  // is how much of `data` is in a file when an error is returned.
  std::string append(std::string_view data, size_t& written) {
    while (written < data.size()) {
      struct stat st {};
      if (::fstat(file_.fd(), &st) != 0)
        return path_ + ": " + std::strerror(errno);
      auto size = static_cast<uint64_t>(st.st_size);
      auto room = size < half_ ? half_ - size : 0;
      auto rest = data.substr(written);
      size_t piece = rest.size();
      if (piece > room) {
        auto cut = room > 0 ? rest.rfind('\n', room - 1) : std::string_view::npos;
        if (cut != std::string_view::npos) {
          piece = cut + 1;
        } else if (size > 0) {
          if (auto err = rotate(st); !err.empty())
            return err;
          continue;
        } else { // a record longer than half of max, alone in its file
          auto nl = rest.find('\n');
          piece = nl == std::string_view::npos ? rest.size() : nl + 1;
        }
      }
      if (auto err = write_all(rest.substr(0, piece), size); !err.empty())
        return err;
      written += piece;
    }
    return {};
  }

  std::string write_all(std::string_view piece, uint64_t size_before) {
    size_t off = 0;
    while (off < piece.size()) {
      auto n = ::write(file_.fd(), piece.data() + off, piece.size() - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        auto err = n < 0 ? errno : EIO;
        // No half record stays behind (the lock keeps other loggers out meanwhile).
        if (off > 0 && ::ftruncate(file_.fd(), static_cast<off_t>(size_before)) != 0)
          say(path_ + ": cannot cut a partly written record: " + std::strerror(errno));
        return path_ + ": " + std::strerror(err);
      }
      off += static_cast<size_t>(n);
    }
    return {};
  }

  std::string rotate(const struct stat& current) {
    if (::rename(path_.c_str(), rotated_.c_str()) != 0)
      return "cannot rotate " + path_ + ": " + std::strerror(errno);
    moved_ = current;
    file_ = fd_result{};
    return open_file();
  }

  queue& q_;
  std::string path_, rotated_;
  uint64_t half_;
  fd_result lock_;
  fd_result file_;
  bool opened_ = false;  // this batch created path_
  struct stat moved_ {}; // the file this batch rotated to path.1
};

// The reader side: fds 3 and 4.
class reader {
public:
  struct source {
    int fd = -1;
    stream name = stream::out;
    std::string partial; // the start of a line whose '\n' has not come
  };

  reader(queue& q, bool have_out, bool have_err) : q_(q), buf_(64 * 1024) {
    srcs[0] = {have_out ? 3 : -1, stream::out, {}};
    srcs[1] = {have_err ? 4 : -1, stream::err, {}};
    for (auto& s : srcs)
      if (s.fd >= 0) {
        ::fcntl(s.fd, F_SETFL, ::fcntl(s.fd, F_GETFL) | O_NONBLOCK);
        // A larger pipe (64 KiB by default) lets a burst land without the writer waiting for
        // this process to be scheduled; pages are only used while data waits. Best effort.
        ::fcntl(s.fd, F_SETPIPE_SZ, pipe_size);
      }
  }

  // Reads once: the bytes read, 0 when there were none, -1 when the stream ended.
  ssize_t read_some(source& src) {
    auto n = ::read(src.fd, buf_.data(), buf_.size());
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      return 0;
    auto t = now_ns();
    {
      std::lock_guard lk(q_.m);
      if (n > 0)
        feed(src, buf_.data(), static_cast<size_t>(n), t);
      else
        finish(src, t);
    }
    q_.wake.notify_one();
    return n > 0 ? n : -1;
  }

  // The stream ended (or is cut off): its last line without '\n' is complete. Under q_.m.
  void finish(source& src, int64_t t) {
    if (!src.partial.empty())
      emit(src, t, false, 0, nullptr);
    std::string{}.swap(src.partial);
    ::close(src.fd);
    src.fd = -1;
  }

  source srcs[2];

private:
  // Splits `data` read from `src` into records; under q_.m.
  void feed(source& src, const char* p, size_t n, int64_t t) {
    while (n > 0) {
      auto* nl = static_cast<const char*>(std::memchr(p, '\n', n));
      size_t seg = nl ? static_cast<size_t>(nl - p) : n;
      while (src.partial.size() + seg > line_limit) {
        size_t take = line_limit - src.partial.size();
        emit(src, t, true, take, p);
        p += take;
        n -= take;
        seg -= take;
      }
      if (!nl) {
        src.partial.append(p, seg);
        return;
      }
      emit(src, t, false, seg, p);
      p += seg + 1;
      n -= seg + 1;
    }
  }

  // One record: what src.partial holds followed by `len` bytes at `p`.
  void emit(source& src, int64_t t, bool partial, size_t len, const char* p) {
    std::string_view text{p, len};
    if (!src.partial.empty()) {
      if (len > 0)
        src.partial.append(p, len);
      text = src.partial;
    }
    push(src.name, t, partial, text);
    src.partial.clear();
  }

  void push(stream s, int64_t t, bool partial, std::string_view text) {
    if (q_.discard)
      return;
    auto size = header_size + text.size() + 1;
    if (q_.queued + q_.in_flight + size > queue_limit) {
      add_drop(q_.drops, q_.failing.empty() ? queue_full : q_.failing, 1,
               text.size() + (partial ? 0 : 1));
      return;
    }
    if (q_.chunks.empty() || q_.chunks.back().size() >= chunk_size) {
      q_.chunks.emplace_back();
      q_.chunks.back().reserve(chunk_size + line_limit + header_size + 1);
    }
    auto& chunk = q_.chunks.back();
    auto before = chunk.size();
    append_encoded(chunk, t, s, partial, text);
    q_.queued += chunk.size() - before;
  }

  queue& q_;
  std::vector<char> buf_;
};

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1;
}

struct options {
  std::string path;
  uint64_t max = default_max;
};

options parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; i += 2) {
    std::string key = argv[i];
    if (i + 1 >= argc) {
      say("ignoring the argument " + key + " without a value");
      break;
    }
    std::string value = argv[i + 1];
    if (key == "path") {
      o.path = value;
    } else if (key == "max") {
      char* end = nullptr;
      errno = 0;
      auto n = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || value[0] == '-' || *end != '\0' || errno != 0)
        say("max " + value + " is not a number of bytes, using " + std::to_string(o.max));
      else
        o.max = std::min<uint64_t>(std::max<uint64_t>(n, min_max), uint64_t{1} << 62);
    }
  }
  return o;
}

} // namespace

int main(int argc, char** argv) {
  // Which of the inherited fds exist, before anything is opened that could take their numbers.
  stderr_open = is_open(2);
  bool have_out = is_open(3), have_err = is_open(4), have_ready = is_open(5);
  ::signal(SIGPIPE, SIG_IGN);
  if (auto* id = std::getenv("CONTAINER_ID")) {
    auto* ns = std::getenv("CONTAINER_NAMESPACE");
    who() += std::string{" "} + (ns ? ns : "") + "/" + id;
  }

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  ::pthread_sigmask(SIG_BLOCK, &sigs, nullptr); // the writer inherits the mask
  // Before the task can start: a SIGTERM from then on is read, never fatal.
  int sigfd = ::signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0) { // SIGTERM then ends the logger without a flush rather than not at all
    say(std::string{"signalfd: "} + std::strerror(errno));
    ::pthread_sigmask(SIG_UNBLOCK, &sigs, nullptr);
  }

  auto opts = parse_args(argc, argv);
  queue q;
  fd_result lock;
  if (opts.path.empty() || opts.path[0] != '/') {
    say(opts.path.empty() ? "no log path given (argument: path <absolute file>), discarding output"
                          : "the log path " + opts.path + " is not absolute, discarding output");
    q.discard = true;
  } else {
    lock = open_regular(opts.path + ".lock", O_RDWR);
    if (!lock) {
      say("no lock file (" + lock.error() + "): the container is gone, discarding output");
      q.discard = true;
    }
  }
  if (have_ready)
    ::close(5);

  writer w{q, opts.path, opts.max, std::move(lock)};
  std::thread writer_thread;
  try {
    writer_thread = std::thread{[&w] { w.run(); }};
  } catch (const std::exception& e) {
    say(std::string{"cannot start the writer: "} + e.what() + ", discarding output");
    q.discard = true;
    q.done = true;
  }

  reader rd{q, have_out, have_err};
  auto& srcs = rd.srcs;
  bool stop = false;
  while (!stop && (srcs[0].fd >= 0 || srcs[1].fd >= 0)) {
    pollfd pfd[3];
    nfds_t n = 0;
    for (auto& s : srcs)
      pfd[n++] = {s.fd, POLLIN, 0}; // a negative fd is ignored
    if (sigfd >= 0)
      pfd[n++] = {sigfd, POLLIN, 0};
    if (::poll(pfd, n, -1) < 0) {
      if (errno == EINTR)
        continue;
      say(std::string{"poll: "} + std::strerror(errno));
      break;
    }
    stop = sigfd >= 0 && (pfd[2].revents & POLLIN);
    for (int i = 0; i < 2; ++i)
      if (pfd[i].revents != 0)
        rd.read_some(srcs[i]);
  }

  // Terminated: what is already in the pipes still goes to the log, within a bound (a writer in
  // the container may go on writing).
  auto drain_end = steady::now() + drain_limit;
  for (bool more = stop; more && steady::now() < drain_end;) {
    more = false;
    for (auto& s : srcs)
      more = (s.fd >= 0 && rd.read_some(s) > 0) || more;
  }
  {
    std::unique_lock lk(q.m);
    for (auto& s : srcs)
      if (s.fd >= 0)
        rd.finish(s, now_ns());
    q.closing = true;
    q.wake.notify_one();
    if (!q.done_cv.wait_for(lk, flush_limit, [&] { return q.done; })) {
      say("the log file did not take the last output within 5 s, exiting");
      std::_Exit(0); // the writer is stuck in the filesystem
    }
  }
  if (writer_thread.joinable())
    writer_thread.join();
  return 0;
}
