// contd: a thin main around the container module — flags, logging, signals, readiness, shutdown.
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <spdlog/spdlog.h>

#include "src/config/actor_config.hpp"
#include "src/contd/flags.hpp"
#include "src/front_door.hpp"
#include "src/log/log.hpp"
#include "src/module.hpp"
#include "src/zbus/codec.hpp"

using namespace contd;
using namespace std::chrono_literals;

namespace {

/// Waits for SIGTERM/SIGINT for at most `d`; true when one arrived.
bool signalled_within(const sigset_t& set, std::chrono::milliseconds d) {
  timespec ts;
  ts.tv_sec = static_cast<time_t>(d.count() / 1000);
  ts.tv_nsec = static_cast<long>((d.count() % 1000) * 1'000'000);
  for (;;) {
    int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig > 0)
      return true;
    if (errno == EINTR)
      continue;
    return false;
  }
}

struct usage_error {
  std::string text;
};

/// Until `done` becomes readable: a SIGTERM or SIGINT (one of `set`) makes the drain stop
/// waiting for the calls in flight.
void watch_second_signal(const sigset_t& set, int done, const front_door& door) {
  int sfd = signalfd(-1, &set, SFD_CLOEXEC);
  if (sfd < 0) {
    spdlog::warn("shutdown: signalfd: {}; a second signal will not cut the drain short",
                 std::strerror(errno));
    return;
  }
  pollfd fds[2] = {{sfd, POLLIN, 0}, {done, POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (fds[1].revents != 0)
      break;
    if (fds[0].revents != 0) {
      signalfd_siginfo si;
      auto n = ::read(sfd, &si, sizeof si);
      (void)n;
      spdlog::warn("second signal: not waiting for the calls in flight any longer");
      cut_drain_short(door);
      break;
    }
  }
  ::close(sfd);
}

int serve(const flags::settings& opts) {
  std::error_code ec;
  std::filesystem::path root = opts.root;
  if (!log::init(opts.log_level, opts.log_format))
    throw usage_error{"bad --log-level or --log-format"};
  std::filesystem::path logger = opts.logger;
  if (logger.empty())
    logger = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "contd-logger";
  if (!logger.is_absolute())
    throw usage_error{"--logger must be an absolute path"};
  if (::access(logger.c_str(), X_OK) != 0) {
    spdlog::critical("the logger program {} is not executable: {}", logger.string(),
                     std::strerror(errno));
    return 1;
  }

  std::filesystem::create_directories(root / "logs", ec);
  if (ec) {
    spdlog::critical("cannot create {}: {}", (root / "logs").string(), ec.message());
    return 1;
  }
  std::filesystem::permissions(root, std::filesystem::perms(0750), ec);

  // Signals are taken by sigtimedwait on this thread only: block them before CAF starts threads.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  spdlog::info("contd {} starting: broker {}, containerd {}, root {}", CONTD_VERSION,
               opts.broker.to_string(), opts.containerd, root.string());
  actor_config cfg;
  caf::actor_system sys{cfg};
  module_config mcfg;
  mcfg.containerd_socket = opts.containerd;
  mcfg.root = root.string();
  mcfg.netns_dir = opts.netns_dir;
  mcfg.corex_path = opts.corex;
  mcfg.shim_per_container = opts.shim_per_container;
  mcfg.shim_group_size = opts.shim_group_size;
  mcfg.logger_path = logger.string();
  mcfg.log_max_size = opts.log_max_size;
  auto module = spawn_container_module(sys, mcfg);

  // Ready for containerd first: say so while waiting, never exit for it.
  caf::scoped_actor self{sys};
  auto delay = 200ms;
  bool said = false;
  for (;;) {
    std::optional<std::string> version;
    std::string why;
    self->request(module.client, 3s, atom::version_v)
      .receive([&](std::string& x) { version = x; }, [&](caf::error& e) { why = error_text(e); });
    if (version) {
      spdlog::info("containerd {} answers on {}", *version, mcfg.containerd_socket);
      break;
    }
    if (!said)
      spdlog::warn("waiting for containerd on {}: {}", mcfg.containerd_socket, why);
    said = true;
    if (signalled_within(set, delay)) {
      spdlog::info("signal received before containerd was ready; exiting");
      stop_container_module(module);
      return 0;
    }
    delay = std::min(delay * 2, std::chrono::milliseconds{5000});
  }

  auto door =
    spawn_front_door(sys, module.module, front_door_config{opts.broker, opts.max_inflight});
  spdlog::info("serving {} and {}; container events on {}", zbus::object_queue(),
               zbus::status_queue(), zbus::events_channel());

  while (!signalled_within(set, std::chrono::hours{24})) {
  }
  spdlog::info("shutting down: no new requests; answering the ones in flight");
  int done = ::eventfd(0, EFD_CLOEXEC);
  std::thread watcher;
  if (done >= 0)
    watcher = std::thread{[&] { watch_second_signal(set, done, door); }};
  auto report = drain_front_door(sys, door, 60s);
  if (watcher.joinable()) {
    uint64_t one = 1;
    auto n = ::write(done, &one, sizeof one);
    (void)n;
    watcher.join();
  }
  if (done >= 0)
    ::close(done);
  if (report.calls_in_flight > 0)
    spdlog::warn("shutdown: {} calls still in flight; leaving them", report.calls_in_flight);
  if (report.replies_held > 0)
    spdlog::warn("shutdown: {} replies could not be delivered (Redis unavailable)",
                 report.replies_held);
  if (report.events_held > 0)
    spdlog::warn("shutdown: {} container events could not be published (Redis unavailable)",
                 report.events_held);
  stop_front_door(door);
  stop_container_module(module);
  spdlog::info("contd stopped");
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  auto parsed = flags::parse(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed) {
    std::cerr << "contd: " << parsed.error() << "\n\n" << flags::usage;
    return 2;
  }
  if (parsed->help) {
    std::cout << flags::usage;
    return 0;
  }
  if (parsed->version) {
    std::cout << "contd " << CONTD_VERSION << "\n";
    return 0;
  }
  try {
    return serve(*parsed);
  } catch (const usage_error& e) {
    std::cerr << "contd: " << e.text << "\n\n" << flags::usage;
    return 2;
  }
}
