// Benchmarks of container logging. Prints figures as ratios against references measured in the
// same run; asserts nothing.
//
//   logs_bench [lines=2000000] [forward_lines=200000] [rounds=3]
//
// 1. A writer printing `lines` lines as fast as it can (busybox `yes | head -n`), its stdout wired
//    to contd-logger exactly as the runc v2 shim wires it (fd 3 stdout pipe, fd 4 stderr pipe,
//    fd 5 ready pipe), against the same writer with stdout on /dev/null, and on a pipe drained by
//    `cat > /dev/null` (the cost of a pipe alone). Printed: the writer's rate ratios, and the CPU
//    the logger used (user + system, from wait4) per million lines and relative to the writer's.
// 2. Forwarding: `forward_lines` records in a log file published by a log_forwarder actor to a
//    private Redis, against the floor of the same lines sent with pipelined PUBLISH directly.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/log_forwarder.hpp"
#include "bench/figures.hpp"
#include "src/config/actor_config.hpp"
#include "src/logs/format.hpp"
#include "src/zbus/redis_link.hpp"
#include "tests/integration/redis_fixture.hpp"

extern char** environ;

using namespace contd;
using namespace std::chrono_literals;
using bench::clk;
using bench::ms_since;

namespace {

const std::string logger_bin = std::string{CONTD_BIN_DIR} + "/contd-logger";
const std::string line = "0123456789012345678901234567890123456789012345678901234567890123456789";

struct child {
  pid_t pid = -1;
  rusage usage{};
  double wall_ms = 0;
};

/// posix_spawn with fds mapped: (target fd -> source fd), and stdout/stderr as given.
pid_t spawn(const std::vector<std::string>& args, const std::vector<std::pair<int, int>>& fds) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  for (auto [target, source] : fds)
    posix_spawn_file_actions_adddup2(&fa, source, target);
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0)
    pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

rusage reap(pid_t pid) {
  rusage ru{};
  int status = 0;
  wait4(pid, &status, 0, &ru);
  return ru;
}

double cpu_ms(const rusage& ru) {
  auto tv = [](const timeval& t) { return t.tv_sec * 1000.0 + t.tv_usec / 1000.0; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

std::vector<std::string> writer_args(long lines) {
  return {"/bin/busybox", "sh", "-c", "yes " + line + " | head -n " + std::to_string(lines)};
}

/// The writer with stdout on `out_fd`; its wall time (until it exits) and CPU.
child run_writer(long lines, int out_fd) {
  child c;
  auto t0 = clk::now();
  c.pid = spawn(writer_args(lines), {{1, out_fd}});
  c.usage = reap(c.pid);
  c.wall_ms = ms_since(t0);
  return c;
}

struct logged {
  child writer;
  rusage logger{};
  uint64_t bytes_on_disk = 0;
};

/// The writer wired to contd-logger as the shim wires it.
logged run_logged(long lines, const std::filesystem::path& dir) {
  logged out;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto log = (dir / "c.log").string();
  std::ofstream{log + ".lock"};
  int out_pipe[2], err_pipe[2], ready[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0
      || pipe2(ready, O_CLOEXEC) != 0)
    return out;
  auto logger = spawn({logger_bin, "path", log, "max", std::to_string(1ull << 30)},
                      {{3, out_pipe[0]}, {4, err_pipe[0]}, {5, ready[1]}});
  close(out_pipe[0]);
  close(err_pipe[0]);
  close(ready[1]);
  char b;
  while (read(ready[0], &b, 1) > 0) {
  }
  close(ready[0]);
  out.writer = run_writer(lines, out_pipe[1]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  out.logger = reap(logger);
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(dir, ec))
    out.bytes_on_disk += e.is_regular_file() ? e.file_size() : 0;
  return out;
}

/// The writer on a pipe drained by cat into /dev/null.
child run_piped(long lines) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0)
    return {};
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  auto cat = spawn({"/bin/busybox", "cat"}, {{0, p[0]}, {1, devnull}});
  close(p[0]);
  auto w = run_writer(lines, p[1]);
  close(p[1]);
  reap(cat);
  close(devnull);
  return w;
}

void bench_logger(long lines, int rounds) {
  std::printf("1. a writer printing %ld lines of %zu bytes as fast as it can (best of %d)\n", lines,
              line.size() + 1, rounds);
  auto dir =
    std::filesystem::temp_directory_path() / ("contd-logs-bench-" + std::to_string(getpid()));
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  double best_null = 1e18, best_pipe = 1e18, best_log = 1e18, logger_cpu = 0, writer_cpu = 0;
  uint64_t disk = 0;
  for (int r = 0; r < rounds; ++r) {
    best_null = std::min(best_null, run_writer(lines, devnull).wall_ms);
    best_pipe = std::min(best_pipe, run_piped(lines).wall_ms);
    auto l = run_logged(lines, dir);
    if (l.writer.wall_ms < best_log) {
      best_log = l.writer.wall_ms;
      logger_cpu = cpu_ms(l.logger);
      writer_cpu = cpu_ms(l.writer.usage);
      disk = l.bytes_on_disk;
    }
  }
  close(devnull);
  std::filesystem::remove_all(dir);
  auto rate = [&](double ms) { return lines / (ms / 1000.0); };
  std::printf("   writer rate: /dev/null %.0f lines/s, pipe+cat %.0f lines/s, contd-logger %.0f "
              "lines/s\n",
              rate(best_null), rate(best_pipe), rate(best_log));
  std::printf("   ratio with contd-logger vs /dev/null: %.2f; vs a pipe drained by cat: %.2f\n",
              rate(best_log) / rate(best_null), rate(best_log) / rate(best_pipe));
  std::printf("   logger CPU: %.0f ms for %ld lines = %.0f ms per million lines; %.2f x the "
              "writer's own CPU (%.0f ms); %llu bytes on disk\n",
              logger_cpu, lines, logger_cpu / (lines / 1e6), logger_cpu / writer_cpu, writer_cpu,
              static_cast<unsigned long long>(disk));
}

void bench_forwarding(long n) {
  std::printf("2. forwarding %ld lines from a local log to a local Redis\n", n);
  std::random_device rd;
  int port = 20000 + static_cast<int>(rd() % 20000);
  test::redis_server redis{port, ""};
  auto dir = std::filesystem::path{redis.dir()} / "logs";
  std::filesystem::create_directories(dir);
  auto log = (dir / "c.log").string();
  std::vector<std::string> texts;
  {
    std::ofstream out(log, std::ios::binary);
    for (long i = 0; i < n; ++i) {
      texts.push_back("line " + std::to_string(i) + " " + line);
      out << logs::encode(
        logs::record{1800000000'000000000 + i, logs::stream::out, false, texts.back()});
    }
  }
  // Floor: the same payloads, pipelined PUBLISH in batches of 1000, no file.
  zbus::broker_url url;
  url.is_unix = false;
  url.host = "127.0.0.1";
  url.port = port;
  zbus::redis_connection conn{url};
  auto t0 = clk::now();
  for (size_t i = 0; i < texts.size(); i += 1000) {
    std::vector<std::string> batch(texts.begin() + static_cast<long>(i),
                                   texts.begin()
                                     + static_cast<long>(std::min(i + 1000, texts.size())));
    conn.publish_many("floor", batch);
  }
  auto floor_ms = ms_since(t0);

  actor_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  log_forwarder_config fcfg;
  fcfg.host = "127.0.0.1";
  fcfg.port = port;
  fcfg.name = "bench";
  auto fwd = sys.spawn<caf::detached>(log_forwarder, fcfg);
  t0 = clk::now();
  self->send(fwd, atom::follow_v, std::string{"c"}, log, std::string{"stdout"},
             std::string{"lines"}, log + ".fwd-bench");
  uint64_t published = 0;
  while (published < static_cast<uint64_t>(n) && ms_since(t0) < 120000) {
    std::this_thread::sleep_for(10ms);
    self->request(fwd, 5s, atom::stats_v)
      .receive([&](uint64_t p, uint64_t, uint64_t, bool) { published = p; }, [](caf::error&) {});
  }
  auto fwd_ms = ms_since(t0);
  self->send_exit(fwd, caf::exit_reason::user_shutdown);
  std::printf("   forwarder: %.0f lines/s (%llu published in %.0f ms); pipelined PUBLISH floor: "
              "%.0f lines/s\n",
              published / (fwd_ms / 1000.0), static_cast<unsigned long long>(published), fwd_ms,
              n / (floor_ms / 1000.0));
  std::printf("   ratio forwarder / floor: %.2f\n", (published / fwd_ms) / (n / floor_ms));
}

} // namespace

int main(int argc, char** argv) {
  long lines = argc > 1 ? std::stol(argv[1]) : 2000000;
  long forward = argc > 2 ? std::stol(argv[2]) : 200000;
  int rounds = argc > 3 ? std::stoi(argv[3]) : 3;
  spdlog::set_level(spdlog::level::warn);
  bench_logger(lines, rounds);
  bench_forwarding(forward);
  return 0;
}
