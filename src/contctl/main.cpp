// contctl: an operator CLI that speaks zbus to contd, exactly as the Go callers do.
//
// Exit codes: 0 success, 1 the call failed (contd answered with an error), 2 usage,
// 3 contd or Redis could not be reached in time.
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "messages/fields_json.hpp"
#include "src/contctl/command_line.hpp"
#include "src/zbus/client.hpp"
#include "src/zbus/codec.hpp"
#include "src/zbus/redis_link.hpp"

using namespace contd;
using contd::ctl::usage_text;
using namespace std::chrono_literals;

namespace {

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;
constexpr int exit_unreachable = 3;

struct usage_error {
  std::string text;
};

/// "10s", "1500ms", "2m", "1h", "250us", a bare number = seconds.
std::optional<int64_t> parse_duration_ns(const std::string& s) {
  if (s.empty())
    return std::nullopt;
  size_t i = 0;
  while (i < s.size() && (isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.'))
    ++i;
  if (i == 0)
    return std::nullopt;
  double v = 0;
  try {
    v = std::stod(s.substr(0, i));
  } catch (...) {
    return std::nullopt;
  }
  auto unit = s.substr(i);
  double mul = 0;
  if (unit.empty() || unit == "s")
    mul = 1e9;
  else if (unit == "ms")
    mul = 1e6;
  else if (unit == "us")
    mul = 1e3;
  else if (unit == "ns")
    mul = 1;
  else if (unit == "m")
    mul = 60e9;
  else if (unit == "h")
    mul = 3600e9;
  else
    return std::nullopt;
  if (v * mul > 9.2e18)
    return std::nullopt;
  return static_cast<int64_t>(v * mul);
}

/// "256M", "1G", "512K", "1048576" (bytes).
std::optional<uint64_t> parse_size(const std::string& s) {
  if (s.empty())
    return std::nullopt;
  size_t i = 0;
  while (i < s.size() && isdigit(static_cast<unsigned char>(s[i])))
    ++i;
  if (i == 0 || i > 18)
    return std::nullopt;
  uint64_t v = std::stoull(s.substr(0, i));
  auto unit = s.substr(i);
  if (unit.empty() || unit == "B")
    return v;
  if (unit == "K" || unit == "KiB" || unit == "k")
    return v << 10;
  if (unit == "M" || unit == "MiB" || unit == "m")
    return v << 20;
  if (unit == "G" || unit == "GiB" || unit == "g")
    return v << 30;
  return std::nullopt;
}

/// Quotes one argument so that the original's shlex splitter gives it back unchanged.
std::string shell_quote(const std::string& a) {
  if (!a.empty() && a.find_first_of(" \t\r\n'\"\\#") == std::string::npos)
    return a;
  std::string out = "'";
  for (char c : a) {
    if (c == '\'')
      out += "'\"'\"'"; // close, a double-quoted quote, reopen
    else
      out.push_back(c);
  }
  return out + "'";
}

/// RFC 3339 in UTC with `digits` decimals of the second (0, 3 or 9); "-" for Go's zero time.
std::string format_time(const go_time& t, int digits = 0) {
  if (t.is_zero())
    return "-";
  time_t secs = static_cast<time_t>(t.sec);
  char buf[64];
  struct tm tm;
  if (gmtime_r(&secs, &tm) == nullptr || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
    return "@" + std::to_string(t.sec); // beyond what the C library can represent
  std::string out = buf;
  if (digits == 3) {
    std::snprintf(buf, sizeof(buf), ".%03u", t.nsec / 1000000);
    out += buf;
  } else if (digits == 9) {
    std::snprintf(buf, sizeof(buf), ".%09u", t.nsec);
    out += buf;
  }
  return out + "Z";
}

/// Text from the wire, made safe for a terminal: control characters become \xNN.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

/// JSON text that never throws on invalid UTF-8 from the wire (replaced by U+FFFD).
template <class Json>
std::string dump_json(const Json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string signal_name(uint32_t sig) {
  switch (sig) {
  case 1:
    return "SIGHUP";
  case 2:
    return "SIGINT";
  case 3:
    return "SIGQUIT";
  case 4:
    return "SIGILL";
  case 6:
    return "SIGABRT";
  case 7:
    return "SIGBUS";
  case 8:
    return "SIGFPE";
  case 9:
    return "SIGKILL";
  case 11:
    return "SIGSEGV";
  case 13:
    return "SIGPIPE";
  case 14:
    return "SIGALRM";
  case 15:
    return "SIGTERM";
  default:
    return "signal " + std::to_string(sig);
  }
}

/// One event as a line: time, namespace/id, kind, exit code / signal / OOM, restarts, reason.
std::string event_line(const container_event& ev) {
  std::string out = format_time(ev.at, 3) + " " + printable(ev.ns) + "/" + printable(ev.id) + " "
                    + printable(ev.kind);
  if (ev.exit_code != 0 || ev.kind == "exited" || ev.kind == "stopped")
    out += " exit=" + std::to_string(ev.exit_code);
  if (ev.signal != 0)
    out += " signal=" + signal_name(ev.signal);
  if (ev.oom_killed)
    out += " oom";
  out += " restarts=" + std::to_string(ev.restarts);
  if (!ev.reason.empty())
    out += " reason=\"" + printable(ev.reason) + "\"";
  return out;
}

nlohmann::ordered_json event_json(const container_event& ev) {
  nlohmann::ordered_json j;
  j["At"] = format_time(ev.at, 9);
  j["Namespace"] = ev.ns;
  j["ID"] = ev.id;
  j["Kind"] = ev.kind;
  j["ExitCode"] = ev.exit_code;
  j["Signal"] = ev.signal;
  j["OOMKilled"] = ev.oom_killed;
  j["Restarts"] = ev.restarts;
  j["Reason"] = ev.reason;
  return j;
}

/// Set by SIGINT/SIGTERM while `contctl events` runs.
volatile sig_atomic_t stop_requested = 0;

extern "C" void on_stop_signal(int) {
  stop_requested = 1;
}

// Every key of the reply, from the field table the wire codec uses; times as text.
nlohmann::ordered_json container_json(const container& c) {
  return fields_to_json<nlohmann::ordered_json>(c, [](const go_time& t) { return format_time(t); });
}

class cli {
public:
  std::string broker;
  std::chrono::milliseconds timeout = 30s;
  bool json = false;

  int run(int argc, char** argv) {
    auto parsed = ctl::parse_command_line(argc, argv);
    if (!parsed)
      throw usage_error{parsed.error()};
    inv_ = std::move(*parsed);
    if (inv_.help) {
      std::cout << usage_text;
      return exit_ok;
    }
    if (inv_.version) {
      std::cout << "contctl " << CONTD_VERSION << "\n";
      return exit_ok;
    }
    broker = inv_.broker;
    json = inv_.json;
    if (inv_.timeout)
      timeout = duration_ms(*inv_.timeout);
    auto url = zbus::parse_broker_url(broker);
    if (!url)
      throw usage_error{url.error()};
    client_.emplace(*url);
    const auto& cmd = inv_.command;
    auto& params = inv_.params;
    if (cmd == "status")
      return status(params);
    if (cmd == "ns")
      return list_ns(params);
    if (cmd == "ls")
      return list(params);
    if (cmd == "run")
      return run_container(params);
    if (cmd == "inspect")
      return inspect(params);
    if (cmd == "exec")
      return exec(params);
    if (cmd == "logs")
      return logs(params);
    if (cmd == "stats")
      return stats(params);
    if (cmd == "stop")
      return simple("SignalDelete", params);
    if (cmd == "rm")
      return simple("Delete", params);
    if (cmd == "events")
      return events(*url, params);
    throw usage_error{"unknown command " + cmd};
  }

private:
  std::optional<zbus::client> client_;
  /// The command line, parsed.
  ctl::invocation inv_;

  static std::chrono::milliseconds duration_ms(const std::string& s) {
    auto ns = parse_duration_ns(s);
    if (!ns || *ns <= 0)
      throw usage_error{"bad duration '" + s + "'"};
    return std::chrono::milliseconds{*ns / 1'000'000};
  }

  static void need(const std::vector<std::string>& params, size_t n, const char* what) {
    if (params.size() != n)
      throw usage_error{std::string{"expecting "} + what};
  }

  /// One call; prints transport failures and returns their exit code through `rc`.
  std::optional<zbus::response> call(const std::string& method, std::vector<zbus::bytes> inputs,
                                     int& rc, std::chrono::milliseconds extra = 0ms) {
    auto r = client_->call(method, std::move(inputs), timeout + extra);
    if (!r) {
      std::cerr << "contctl: cannot reach contd through " << broker << ": " << r.error() << "\n";
      rc = exit_unreachable;
      return std::nullopt;
    }
    if (r->protocol_error) {
      std::cerr << "contctl: protocol error: " << *r->protocol_error << "\n";
      rc = exit_failed;
      return std::nullopt;
    }
    if (r->call_error) {
      if (json)
        std::cout << nlohmann::json{{"error", *r->call_error}}.dump() << "\n";
      std::cerr << "contctl: " << method << ": " << *r->call_error << "\n";
      rc = exit_failed;
      return std::nullopt;
    }
    rc = exit_ok;
    return std::move(*r);
  }

  int status(std::vector<std::string>& params) {
    need(params, 0, "no arguments");
    auto r = client_->status(timeout);
    if (!r) {
      std::cerr << "contctl: cannot reach contd through " << broker << ": " << r.error() << "\n";
      return exit_unreachable;
    }
    if (!r->data) {
      std::cerr << "contctl: status reply without data\n";
      return exit_failed;
    }
    auto j = nlohmann::json::from_msgpack(r->data->begin(), r->data->end());
    size_t busy = 0;
    for (const auto& w : j["Workers"])
      if (w["State"] == "busy")
        ++busy;
    if (json) {
      nlohmann::json out;
      out["objects"] = nlohmann::json::array();
      for (const auto& o : j["Objects"])
        out["objects"].push_back(o["Name"].get<std::string>() + "@"
                                 + o["Version"].get<std::string>());
      out["busy"] = busy;
      if (j.contains("Stats") && j["Stats"].is_object())
        out["stats"] = j["Stats"];
      std::cout << out.dump() << "\n";
    } else {
      for (const auto& o : j["Objects"])
        std::cout << "serving " << o["Name"].get<std::string>() << "@"
                  << o["Version"].get<std::string>() << "\n";
      std::cout << "calls in flight: " << busy << "\n";
      // contd's counters (the Go module has none): requests refused or dropped and why.
      if (j.contains("Stats") && j["Stats"].is_object())
        for (auto& [k, v] : j["Stats"].items())
          if (v.is_number())
            std::cout << k << ": " << v.dump() << "\n";
    }
    return exit_ok;
  }

  int print_list(const zbus::response& r) {
    auto xs = zbus::decode_strings(*r.data);
    if (json)
      std::cout << nlohmann::json(xs).dump() << "\n";
    else
      for (const auto& x : xs)
        std::cout << x << "\n";
    return exit_ok;
  }

  int list_ns(std::vector<std::string>& params) {
    need(params, 0, "no arguments");
    int rc = 0;
    auto r = call("ListNS", {}, rc);
    return r ? print_list(*r) : rc;
  }

  /// A table of NAMESPACE, ID, STATUS, RESTARTS, PID (one Inspect per container; STATUS is the
  /// supervisor's: running, restarting, failed, stuck, ...); --json: objects.
  int list(std::vector<std::string>& params) {
    bool ids_only = inv_.ids_only;
    if (params.size() > 1)
      throw usage_error{"expecting ls [-q] [NS]"};
    int rc = 0;
    std::vector<std::string> namespaces;
    if (params.empty()) {
      auto r = call("ListNS", {}, rc);
      if (!r)
        return rc;
      namespaces = zbus::decode_strings(*r->data);
    } else {
      namespaces = {params[0]};
    }
    auto rows = nlohmann::json::array();
    for (const auto& ns : namespaces) {
      auto r = call("List", {zbus::encode_string(ns)}, rc);
      if (!r)
        return rc;
      for (const auto& id : zbus::decode_strings(*r->data)) {
        nlohmann::json row{{"namespace", ns}, {"id", id}};
        if (!ids_only) {
          auto i =
            client_->call("Inspect", {zbus::encode_string(ns), zbus::encode_string(id)}, timeout);
          if (i && i->data && !i->call_error) {
            auto c = zbus::decode_container(*i->data);
            row["status"] = c.has_state ? to_string(c.state.status) : "?";
            row["restarts"] = c.state.restarts;
            row["pid"] = c.state.pid;
            row["last_exit_code"] = c.state.last_exit_code;
            row["reason"] = c.state.reason;
          } else {
            row["status"] = "?";
            row["restarts"] = 0;
            row["pid"] = 0;
            row["last_exit_code"] = 0;
            row["reason"] = "";
          }
        }
        rows.push_back(std::move(row));
      }
    }
    if (json) {
      std::cout << rows.dump() << "\n";
    } else if (ids_only) {
      for (const auto& r : rows)
        std::cout << r["id"].get<std::string>() << "\n";
    } else {
      std::printf("%-24s %-32s %-10s %-8s %s\n", "NAMESPACE", "ID", "STATUS", "RESTARTS", "PID");
      for (const auto& r : rows)
        std::printf("%-24s %-32s %-10s %-8llu %u\n", r["namespace"].get<std::string>().c_str(),
                    r["id"].get<std::string>().c_str(), r["status"].get<std::string>().c_str(),
                    static_cast<unsigned long long>(r["restarts"].get<uint64_t>()),
                    r["pid"].get<unsigned>());
    }
    return exit_ok;
  }

  int run_container(std::vector<std::string>& params) {
    container c = inv_.spec;
    for (const auto& spec : inv_.mounts) {
      mount_info m;
      auto p1 = spec.find(':');
      if (p1 == std::string::npos)
        throw usage_error{"--mount SRC:DST[:ro], got '" + spec + "'"};
      m.source = spec.substr(0, p1);
      auto rest = spec.substr(p1 + 1);
      auto p2 = rest.find(':');
      m.target = rest.substr(0, p2);
      if (p2 != std::string::npos) {
        auto mode = rest.substr(p2 + 1);
        if (mode != "ro" && mode != "rw")
          throw usage_error{"--mount mode must be ro or rw, got '" + mode + "'"};
        m.type = "bind";
        m.options = {"rbind", mode};
      }
      c.mounts.push_back(m);
    }
    if (inv_.memory) {
      auto sz = parse_size(*inv_.memory);
      if (!sz)
        throw usage_error{"bad size '" + *inv_.memory + "'"};
      c.memory = *sz;
    }
    if (inv_.cpu) {
      const auto& v = *inv_.cpu;
      char* end = nullptr;
      auto n = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0')
        throw usage_error{"bad --cpu '" + v + "'"};
      c.cpu = n;
    }
    if (inv_.shutdown_timeout) {
      auto ns = parse_duration_ns(*inv_.shutdown_timeout);
      if (!ns)
        throw usage_error{"bad duration '" + *inv_.shutdown_timeout + "'"};
      c.shutdown_timeout = *ns;
    }
    const auto& positional = params;
    const auto& command = inv_.command_line;
    if (positional.size() != 2)
      throw usage_error{"expecting run NS NAME ... -- CMD [ARG...]"};
    if (command.empty() && !c.interactive)
      throw usage_error{"run needs a command after --"};
    c.name = positional[1];
    for (const auto& a : command)
      c.entrypoint += (c.entrypoint.empty() ? "" : " ") + shell_quote(a);
    int rc = 0;
    auto r = call("Run", {zbus::encode_string(positional[0]), zbus::encode_container(c)}, rc);
    if (!r)
      return rc;
    auto id = zbus::decode_string(*r->data);
    if (json)
      std::cout << nlohmann::json{{"id", id}}.dump() << "\n";
    else
      std::cout << id << "\n";
    return exit_ok;
  }

  int inspect(std::vector<std::string>& params) {
    bool as_json = json || inv_.command_json;
    need(params, 2, "inspect NS ID");
    int rc = 0;
    auto r = call("Inspect", {zbus::encode_string(params[0]), zbus::encode_string(params[1])}, rc);
    if (!r)
      return rc;
    auto c = zbus::decode_container(*r->data);
    auto j = container_json(c);
    if (as_json) {
      std::cout << dump_json(j, 2) << "\n";
      return exit_ok;
    }
    std::printf("%-18s %s\n", "Name", c.name.c_str());
    if (c.has_state) {
      std::printf("%-18s %s\n", "Status", to_string(c.state.status).c_str());
      std::printf("%-18s %u\n", "Pid", c.state.pid);
      if (c.state.status == container_status::stopped) {
        std::printf("%-18s %u\n", "ExitCode", c.state.exit_code);
        std::printf("%-18s %s\n", "ExitedAt", format_time(c.state.exited_at).c_str());
      }
      if (c.state.oom_killed)
        std::printf("%-18s yes\n", "OOMKilled");
      if (c.state.stop_requested)
        std::printf("%-18s yes\n", "StopRequested");
      std::printf("%-18s %llu\n", "Restarts", static_cast<unsigned long long>(c.state.restarts));
      if (!c.state.last_exited_at.is_zero()) {
        std::printf("%-18s %u\n", "LastExitCode", c.state.last_exit_code);
        std::printf("%-18s %s\n", "LastExitedAt", format_time(c.state.last_exited_at).c_str());
      }
      if (!c.state.reason.empty())
        std::printf("%-18s %s\n", "Reason", c.state.reason.c_str());
    }
    std::printf("%-18s %s\n", "RootFS", c.root_fs.c_str());
    std::printf("%-18s %s\n", "Entrypoint", c.entrypoint.c_str());
    std::printf("%-18s %s\n", "Network", c.network.ns.c_str());
    std::printf("%-18s %s\n", "WorkingDir", c.working_dir.c_str());
    for (const auto& e : c.env)
      std::printf("%-18s %s\n", "Env", e.c_str());
    for (const auto& m : c.mounts)
      std::printf("%-18s %s -> %s%s\n", "Mount", m.source.c_str(), m.target.c_str(),
                  m.options.empty() ? "" : (" (" + nlohmann::json(m.options).dump() + ")").c_str());
    std::printf("%-18s %llu\n", "CPU", static_cast<unsigned long long>(c.cpu));
    std::printf("%-18s %llu\n", "Memory", static_cast<unsigned long long>(c.memory));
    std::printf("%-18s %s\n", "Interactive", c.interactive ? "true" : "false");
    std::printf("%-18s %s\n", "Elevated", c.elevated ? "true" : "false");
    std::printf("%-18s %.3fs\n", "ShutdownTimeout", c.shutdown_timeout / 1e9);
    std::printf("%-18s %s\n", "CreatedAt", format_time(c.created_at).c_str());
    return exit_ok;
  }

  int exec(std::vector<std::string>& params) {
    const auto& positional = params;
    const auto& command = inv_.command_line;
    int64_t exec_timeout = 10'000'000'000;
    if (inv_.exec_timeout) {
      auto ns = parse_duration_ns(*inv_.exec_timeout);
      if (!ns || *ns <= 0)
        throw usage_error{"bad duration '" + *inv_.exec_timeout + "'"};
      exec_timeout = *ns;
    }
    if (positional.size() != 2 || command.empty())
      throw usage_error{"expecting exec NS ID [--timeout D] -- CMD [ARG...]"};
    std::vector<zbus::bytes> inputs{zbus::encode_string(positional[0]),
                                    zbus::encode_string(positional[1])};
    nlohmann::json t = exec_timeout;
    auto tb = nlohmann::json::to_msgpack(t);
    inputs.emplace_back(tb.begin(), tb.end());
    for (const auto& a : command)
      inputs.push_back(zbus::encode_string(a));
    int rc = 0;
    auto r =
      call("Exec", std::move(inputs), rc, std::chrono::milliseconds{exec_timeout / 1'000'000});
    if (r && json)
      std::cout << nlohmann::json{{"ok", true}}.dump() << "\n";
    return r ? exit_ok : rc;
  }

  static std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < text.size()) {
      auto nl = text.find('\n', pos);
      if (nl == std::string::npos)
        nl = text.size();
      out.push_back(text.substr(pos, nl - pos));
      pos = nl + 1;
    }
    return out;
  }

  /// How many of `next`'s first lines repeat the end of `prev` (the longest such overlap).
  static size_t overlap(const std::vector<std::string>& prev,
                        const std::vector<std::string>& next) {
    for (size_t k = std::min(prev.size(), next.size()); k > 0; --k)
      if (std::equal(prev.end() - static_cast<std::ptrdiff_t>(k), prev.end(), next.begin()))
        return k;
    return 0;
  }

  static void install_stop_handler() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
  }

  static void pause_for(std::chrono::milliseconds d) {
    for (auto waited = 0ms; waited < d && !stop_requested; waited += 50ms)
      std::this_thread::sleep_for(50ms);
  }

  int logs(std::vector<std::string>& params) {
    bool follow = inv_.follow;
    need(params, 2, "logs [-f] NS ID");
    int rc = 0;
    auto r = call("Logs", {zbus::encode_string(params[0]), zbus::encode_string(params[1])}, rc);
    if (!r)
      return rc;
    auto text = zbus::decode_string(*r->data);
    if (json && !follow) {
      std::cout << nlohmann::json{{"logs", text}}.dump() << "\n";
      return exit_ok;
    }
    std::cout << text << std::flush;
    if (!follow)
      return exit_ok;
    // Following polls Logs (the last 100 lines) and prints the lines after the longest overlap
    // with the previous answer. More than 100 new lines between two polls are not all shown.
    install_stop_handler();
    auto prev = split_lines(text);
    while (!stop_requested) {
      pause_for(500ms);
      if (stop_requested)
        break;
      auto again =
        call("Logs", {zbus::encode_string(params[0]), zbus::encode_string(params[1])}, rc);
      if (!again)
        return rc; // the container is gone (or contd is)
      auto next = split_lines(zbus::decode_string(*again->data));
      for (size_t i = overlap(prev, next); i < next.size(); ++i)
        std::cout << next[i] << "\n";
      std::cout << std::flush;
      prev = std::move(next);
    }
    return exit_ok;
  }

  static std::string human_bytes(uint64_t n) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(n);
    size_t u = 0;
    while (v >= 1024 && u + 1 < std::size(units)) {
      v /= 1024;
      ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    return buf;
  }

  /// Stats of NS/ID, of every container of NS, or of every container.
  int stats(std::vector<std::string>& params) {
    bool watch = inv_.watch;
    if (params.size() > 2)
      throw usage_error{"expecting stats [NS [ID]] [--watch]"};
    if (watch)
      install_stop_handler();
    do {
      int rc = 0;
      std::vector<std::pair<std::string, std::string>> targets;
      std::vector<std::string> namespaces;
      if (params.empty()) {
        auto r = call("ListNS", {}, rc);
        if (!r)
          return rc;
        namespaces = zbus::decode_strings(*r->data);
      } else {
        namespaces = {params[0]};
      }
      for (const auto& ns : namespaces) {
        if (params.size() == 2) {
          targets.emplace_back(ns, params[1]);
          continue;
        }
        auto r = call("List", {zbus::encode_string(ns)}, rc);
        if (!r)
          return rc;
        for (auto& id : zbus::decode_strings(*r->data))
          targets.emplace_back(ns, id);
      }
      auto rows = nlohmann::json::array();
      for (const auto& [ns, id] : targets) {
        auto r =
          client_->call("Stats", {zbus::encode_string(ns), zbus::encode_string(id)}, timeout);
        nlohmann::json row{{"namespace", ns}, {"id", id}};
        auto why = [&] {
          return r ? (r->call_error ? *r->call_error : r->protocol_error.value_or("no data"))
                   : r.error();
        };
        if (r && r->data && !r->call_error && !r->protocol_error) {
          for (auto& [k, v] : zbus::decode_stats(*r->data))
            row[k] = v;
        } else if (params.size() == 2) {
          // One container asked for: its error is the answer.
          std::cerr << "contctl: " << why() << "\n";
          return r ? exit_failed : exit_unreachable;
        } else {
          row["error"] = why();
        }
        rows.push_back(std::move(row));
      }
      if (json) {
        std::cout << rows.dump() << std::endl;
      } else {
        if (watch)
          std::cout << "\x1b[H\x1b[2J"; // home, clear
        std::printf("%-16s %-24s %12s %12s %12s %14s %6s\n", "NAMESPACE", "ID", "MEMORY", "LIMIT",
                    "CACHE", "CPU", "PIDS");
        for (const auto& row : rows) {
          auto ns = row["namespace"].get<std::string>(), id = row["id"].get<std::string>();
          if (!row.contains("memory_usage")) {
            std::printf("%-16s %-24s %12s %12s %12s %14s %6s\n", ns.c_str(), id.c_str(), "-", "-",
                        "-", "-", "-");
            continue;
          }
          char cpu[32];
          std::snprintf(cpu, sizeof cpu, "%.2fs",
                        static_cast<double>(row.value("cpu_usage", uint64_t{0})) / 1e9);
          std::printf("%-16s %-24s %12s %12s %12s %14s %6llu\n", ns.c_str(), id.c_str(),
                      human_bytes(row.value("memory_usage", uint64_t{0})).c_str(),
                      human_bytes(row.value("memory_limit", uint64_t{0})).c_str(),
                      human_bytes(row.value("memory_cache", uint64_t{0})).c_str(), cpu,
                      static_cast<unsigned long long>(row.value("pids_current", uint64_t{0})));
        }
        std::fflush(stdout);
      }
      if (watch)
        pause_for(2s);
    } while (watch && !stop_requested);
    return exit_ok;
  }

  /// SUBSCRIBE to the events channel and print each event until SIGINT/SIGTERM (exit 0).
  /// Reconnects with backoff when Redis goes away; pub/sub does not replay what was missed.
  /// Payloads come from the wire: a malformed one is reported on stderr and skipped.
  int events(const zbus::broker_url& url, std::vector<std::string>& params) {
    bool as_json = json || inv_.command_json;
    if (params.size() > 1)
      throw usage_error{"expecting events [NS] [--json]"};
    std::optional<std::string> only_ns;
    if (!params.empty())
      only_ns = params[0];

    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; // no SA_RESTART: a signal ends the wait at once
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    const auto channel = zbus::events_channel();
    zbus::redis_connection conn{url, std::min<std::chrono::milliseconds>(timeout, 5s)};
    bool subscribed = false;
    bool down = false;
    auto delay = 100ms;
    while (!stop_requested) {
      if (!subscribed) {
        if (!conn.subscribe({channel})) {
          if (!down)
            std::cerr << "contctl: redis at " << url.to_string() << " unavailable (" << conn.error()
                      << "); retrying\n";
          down = true;
          for (auto waited = 0ms; waited < delay && !stop_requested; waited += 50ms)
            std::this_thread::sleep_for(50ms);
          delay = std::min<std::chrono::milliseconds>(delay * 2, 5s);
          continue;
        }
        if (down)
          std::cerr << "contctl: redis at " << url.to_string()
                    << " is back; events published meanwhile are lost\n";
        subscribed = true;
        down = false;
        delay = 100ms;
      }
      std::string from, payload;
      switch (conn.next_message(1s, from, payload)) {
      case zbus::redis_connection::message_result::timeout:
        continue;
      case zbus::redis_connection::message_result::failed:
        std::cerr << "contctl: lost redis at " << url.to_string() << " (" << conn.error()
                  << "); reconnecting\n";
        subscribed = false;
        down = true;
        continue;
      case zbus::redis_connection::message_result::message:
        break;
      }
      if (from != channel)
        continue;
      container_event ev;
      try {
        ev = zbus::decode_event(payload);
      } catch (const zbus::type_error& e) {
        std::cerr << "contctl: skipping a malformed event (" << payload.size()
                  << " bytes): " << e.what() << "\n";
        continue;
      }
      if (only_ns && ev.ns != *only_ns)
        continue;
      if (as_json)
        std::cout << dump_json(event_json(ev)) << std::endl;
      else
        std::cout << event_line(ev) << std::endl;
    }
    return exit_ok;
  }

  int simple(const std::string& method, std::vector<std::string>& params) {
    need(params, 2, "NS ID");
    int rc = 0;
    auto r = call(method, {zbus::encode_string(params[0]), zbus::encode_string(params[1])}, rc);
    if (r && json)
      std::cout << nlohmann::json{{"ok", true}}.dump() << "\n";
    return r ? exit_ok : rc;
  }
};

} // namespace

int main(int argc, char** argv) {
  try {
    cli c;
    return c.run(argc, argv);
  } catch (const usage_error& e) {
    std::cerr << "contctl: " << e.text << "\n\n" << usage_text;
    return exit_usage;
  } catch (const std::exception& e) {
    std::cerr << "contctl: " << e.what() << "\n";
    return exit_failed;
  }
}
