// contd: a thin main around the container module — flags, logging, signals, readiness, shutdown.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <spdlog/spdlog.h>

#include "src/config/actor_config.hpp"
#include "src/front_door.hpp"
#include "src/log/log.hpp"
#include "src/module.hpp"
#include "src/zbus/codec.hpp"

using namespace contd;
using namespace std::chrono_literals;

namespace {

constexpr const char* contd_version = "0.1.0";

const char* usage_text = R"(usage: contd [flags]

  --broker URL          Redis broker, unix:///path or tcp://[password@]host:port
                        (default unix:///var/run/redis.sock)
  --root DIR            working directory; logs in DIR/logs (default /var/cache/modules/contd)
  --containerd SOCKET   containerd's socket (default /run/containerd/containerd.sock)
  --netns-dir DIR       named network namespaces (default /var/run/netns)
  --corex PATH          coreX binary for interactive containers (default /usr/bin/corex)
  --max-inflight N      calls out of Redis at once (default 1024)
  --log-max-size SIZE   cap of one container's log plus its rotated file, in bytes or with
                        a K, M or G suffix (default 10M; at least 64K)
  --logger PATH         the contd-logger program the shim starts for every task
                        (default: contd-logger next to contd)
  --log-level LEVEL     trace, debug, info, warn, error (default info)
  --log-format FORMAT   text or json (default text)
  --config FILE         read flags from FILE (lines "name = value"; flags given here win)
  --version             print the version and exit
  --help                this text

Flags accept -name value, --name value and --name=value, like the Go original.
)";

struct usage_error {
  std::string text;
};

struct options {
  std::map<std::string, std::string> values{
    {"broker", "unix:///var/run/redis.sock"},
    {"root", "/var/cache/modules/contd"},
    {"containerd", "/run/containerd/containerd.sock"},
    {"netns-dir", "/var/run/netns"},
    {"corex", "/usr/bin/corex"},
    {"max-inflight", "1024"},
    {"log-max-size", "10M"},
    {"logger", ""},
    {"log-level", "info"},
    {"log-format", "text"},
  };
  bool help = false;
  bool version = false;
};

const std::vector<std::string>& value_flags() {
  static const std::vector<std::string> names{
    "broker",    "root",       "containerd",   "netns-dir", "corex",  "max-inflight",
    "log-level", "log-format", "log-max-size", "logger",    "config"};
  return names;
}

bool is_value_flag(const std::string& name) {
  for (const auto& n : value_flags())
    if (n == name)
      return true;
  return false;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string{} : s.substr(b, e - b + 1);
}

/// Go-flag style: -name value, --name value, -name=value, --name=value.
std::map<std::string, std::string> parse_argv(const std::vector<std::string>& args,
                                              options& opts) {
  std::map<std::string, std::string> given;
  for (size_t i = 0; i < args.size(); ++i) {
    auto a = args[i];
    if (a.size() < 2 || a[0] != '-')
      throw usage_error{"unexpected argument '" + a + "'"};
    auto name = a.substr(a[1] == '-' ? 2 : 1);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (name == "help" || name == "h") {
      opts.help = true;
      continue;
    }
    if (name == "version" || name == "v") {
      opts.version = true;
      continue;
    }
    if (!is_value_flag(name))
      throw usage_error{"unknown flag '" + a + "'"};
    if (!value) {
      if (i + 1 >= args.size())
        throw usage_error{"flag --" + name + " needs a value"};
      value = args[++i];
    }
    given[name] = *value;
  }
  return given;
}

void read_config_file(const std::string& path, options& opts) {
  std::ifstream in(path);
  if (!in)
    throw usage_error{"cannot read config file '" + path + "'"};
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    line = trim(line.substr(0, line.find('#')));
    if (line.empty())
      continue;
    auto eq = line.find_first_of("=:");
    if (eq == std::string::npos)
      throw usage_error{path + ":" + std::to_string(n) + ": expecting 'name = value'"};
    auto name = trim(line.substr(0, eq));
    auto value = trim(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (!is_value_flag(name) || name == "config")
      throw usage_error{path + ":" + std::to_string(n) + ": unknown setting '" + name + "'"};
    opts.values[name] = value;
  }
}

/// "10485760", "64K", "10M", "1G" (binary multiples) -> bytes; 0 when malformed.
uint64_t parse_size(const std::string& text) {
  if (text.empty() || text.size() > 20)
    return 0;
  uint64_t mult = 1;
  auto digits = text;
  switch (text.back()) {
    case 'K': case 'k': mult = 1ull << 10; digits.pop_back(); break;
    case 'M': case 'm': mult = 1ull << 20; digits.pop_back(); break;
    case 'G': case 'g': mult = 1ull << 30; digits.pop_back(); break;
    default: break;
  }
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos
      || digits.size() > 12)
    return 0;
  return std::stoull(digits) * mult;
}

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

int serve(const options& opts) {
  const auto& v = opts.values;
  std::string err;
  auto broker = zbus::parse_broker_url(v.at("broker"), err);
  if (!broker)
    throw usage_error{err};
  char* end = nullptr;
  auto max_inflight = std::strtoul(v.at("max-inflight").c_str(), &end, 10);
  if (*end != '\0' || max_inflight == 0 || max_inflight > 1'000'000)
    throw usage_error{"--max-inflight must be between 1 and 1000000"};
  std::error_code ec;
  std::filesystem::path root = v.at("root");
  if (!root.is_absolute())
    throw usage_error{"--root must be an absolute path"};
  if (!log::init(v.at("log-level"), v.at("log-format")))
    throw usage_error{"bad --log-level or --log-format"};
  auto log_max = parse_size(v.at("log-max-size"));
  if (log_max < (64u << 10) || log_max > (1ull << 40))
    throw usage_error{"--log-max-size must be a size from 64K to 1024G"};
  std::filesystem::path logger = v.at("logger");
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

  spdlog::info("contd {} starting: broker {}, containerd {}, root {}", contd_version,
               broker->to_string(), v.at("containerd"), root.string());
  actor_config cfg;
  caf::actor_system sys{cfg};
  module_config mcfg;
  mcfg.containerd_socket = v.at("containerd");
  mcfg.root = root.string();
  mcfg.netns_dir = v.at("netns-dir");
  mcfg.corex_path = v.at("corex");
  mcfg.logger_path = logger.string();
  mcfg.log_max_size = log_max;
  auto module = spawn_container_module(sys, mcfg);

  // Ready for containerd first: say so while waiting, never exit for it.
  caf::scoped_actor self{sys};
  auto delay = 200ms;
  bool said = false;
  for (;;) {
    std::optional<std::string> version;
    std::string why;
    self->request(module.client, 3s, atom::version_v)
      .receive([&](std::string& x) { version = x; },
               [&](caf::error& e) { why = error_text(e); });
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

  auto door = spawn_front_door(sys, module.module,
                               front_door_config{*broker, static_cast<uint32_t>(max_inflight)});
  spdlog::info("serving {} and {}; container events on {}", zbus::object_queue(),
               zbus::status_queue(), zbus::events_channel());

  while (!signalled_within(set, std::chrono::hours{24})) {
  }
  spdlog::info("shutting down: no new requests; answering the ones in flight");
  caf::anon_send_exit(door.listener, caf::exit_reason::user_shutdown);
  auto deadline = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    ingress_stats stats;
    self->request(door.ingress, 5s, atom::stats_v)
      .receive([&](ingress_stats& s) { stats = s; }, [&](caf::error&) {});
    if (stats.in_flight == 0)
      break;
    if (std::chrono::steady_clock::now() > deadline) {
      spdlog::warn("shutdown: {} calls still in flight after 60 s; leaving them",
                   stats.in_flight);
      break;
    }
    if (signalled_within(set, 100ms)) {
      spdlog::warn("second signal: stopping now with {} calls in flight", stats.in_flight);
      break;
    }
  }
  // The replies handed over so far go out before the replier stops.
  uint64_t pending = 0;
  self->request(door.replier, 10s, atom::drain_v)
    .receive([&](uint64_t n) { pending = n; }, [&](caf::error&) {});
  if (pending > 0)
    spdlog::warn("shutdown: {} replies could not be delivered (Redis unavailable)", pending);
  // Likewise the state transitions of the shutdown itself.
  uint64_t events = 0;
  self->request(door.publisher, 5s, atom::drain_v)
    .receive([&](uint64_t n) { events = n; }, [&](caf::error&) {});
  if (events > 0)
    spdlog::warn("shutdown: {} container events could not be published (Redis unavailable)",
                 events);
  stop_front_door(door);
  stop_container_module(module);
  spdlog::info("contd stopped");
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  try {
    options opts;
    auto given = parse_argv(std::vector<std::string>(argv + 1, argv + argc), opts);
    if (opts.help) {
      std::cout << usage_text;
      return 0;
    }
    if (opts.version) {
      std::cout << "contd " << contd_version << "\n";
      return 0;
    }
    if (auto it = given.find("config"); it != given.end())
      read_config_file(it->second, opts);
    for (auto& [k, val] : given)
      if (k != "config")
        opts.values[k] = val;
    return serve(opts);
  } catch (const usage_error& e) {
    std::cerr << "contd: " << e.text << "\n\n" << usage_text;
    return 2;
  }
}
