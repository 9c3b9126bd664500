// The container vocabulary: data that travels between contd's actors.
//
// `container` is the superset of the seed-era struct (mounts with Type and Options) and the current
// 16-field struct of the zos `pkg.Container`. Field names follow Go's, in snake_case; the zbus
// codec maps them to the exact Go keys.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/fields.hpp"
#include "messages/status.hpp"

namespace contd {

using container_id = std::string;

/// A Go `time.Time` as it travels in msgpack: seconds since the Unix epoch plus nanoseconds.
/// The default value is Go's zero time (0001-01-01T00:00:00Z), which callers send when unset.
struct go_time {
  static constexpr int64_t zero_seconds = -62135596800;
  int64_t sec = zero_seconds;
  uint32_t nsec = 0;
  bool is_zero() const { return sec == zero_seconds && nsec == 0; }
  friend bool operator==(const go_time& a, const go_time& b) {
    return a.sec == b.sec && a.nsec == b.nsec;
  }
  friend bool operator!=(const go_time& a, const go_time& b) { return !(a == b); }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, go_time& x) {
  return f(caf::meta::type_name("contd.go_time"), x.sec, x.nsec);
}

struct network_info {
  std::string ns; // the name of a netns file in the netns directory
};

CONTD_FIELDS(network_info) {
  return std::make_tuple(fld("Namespace", x.ns));
}
CONTD_FIELD_OPS(network_info, "contd.network_info")

/// A mount. `type` and `options` exist only in the seed-era shape; empty means "bind, rbind, rw"
/// as the current original does.
struct mount_info {
  std::string source;
  std::string target;
  std::string type;
  std::vector<std::string> options;
};

CONTD_FIELDS(mount_info) {
  return std::make_tuple(fld("Source", x.source), fld("Target", x.target), fld("Type", x.type),
                         fld("Options", x.options));
}
CONTD_FIELD_OPS(mount_info, "contd.mount_info")

struct logs_redis {
  std::string stdout_url;
  std::string stderr_url;
};

CONTD_FIELDS(logs_redis) {
  return std::make_tuple(fld("Stdout", x.stdout_url), fld("Stderr", x.stderr_url));
}
CONTD_FIELD_OPS(logs_redis, "contd.logs_redis")

struct log_sink {
  std::string type; // "redis"
  logs_redis data;
};

CONTD_FIELDS(log_sink) {
  return std::make_tuple(fld("Type", x.type), fld("Data", x.data));
}
CONTD_FIELD_OPS(log_sink, "contd.log_sink")

struct stats_sink {
  std::string type; // "redis"
  std::string endpoint;
};

CONTD_FIELDS(stats_sink) {
  return std::make_tuple(fld("Type", x.type), fld("Endpoint", x.endpoint));
}
CONTD_FIELD_OPS(stats_sink, "contd.stats_sink")

/// What contd does when a container's task exits (an extra `RestartPolicy` key; Go stubs never
/// send it). All zero: the original's behaviour, restart on every exit and give up at the 4th
/// exit within 60 s. A zero MaxRestarts or Window means its default (3 restarts, 60 s).
struct restart_policy {
  std::string name;          // "always", "on-failure", "no"; "" = "always"
  uint64_t max_restarts = 0; // restarts allowed within the window
  int64_t window = 0;        // nanoseconds (Go time.Duration)
  bool is_default() const { return name.empty() && max_restarts == 0 && window == 0; }
};

CONTD_FIELDS(restart_policy) {
  return std::make_tuple(fld("Name", x.name), fld("MaxRestarts", x.max_restarts),
                         fld("Window", x.window));
}
CONTD_FIELD_OPS(restart_policy, "contd.restart_policy")

/// The live state of a container, reported by Inspect in an extra `State` key.
struct container_state {
  container_status status = container_status::unknown;
  uint32_t pid = 0;
  uint32_t exit_code = 0;
  go_time exited_at;
  bool oom_killed = false;
  bool stop_requested = false;
  uint64_t restarts = 0;       // restarts contd made, over the container's life
  uint32_t last_exit_code = 0; // of the last exit, also while a restart already runs
  go_time last_exited_at;
  std::string reason; // why it is failed, stuck or restarting
};

CONTD_FIELDS(container_state) {
  return std::make_tuple(fld("Status", x.status), fld("Pid", x.pid), fld("ExitCode", x.exit_code),
                         fld("ExitedAt", x.exited_at), fld("OOMKilled", x.oom_killed),
                         fld("StopRequested", x.stop_requested), fld("Restarts", x.restarts),
                         fld("LastExitCode", x.last_exit_code),
                         fld("LastExitedAt", x.last_exited_at), fld("Reason", x.reason));
}
CONTD_FIELD_OPS(container_state, "contd.container_state")

/// Go `pkg.Container`. Slices that Go distinguishes as nil vs. empty are kept as "empty" here; the
/// codec writes nil for empty optional lists, which every Go decoder accepts.
struct container {
  std::string name;
  std::string root_fs;
  std::vector<std::string> env;
  std::string working_dir;
  network_info network;
  std::vector<mount_info> mounts;
  std::string entrypoint;
  bool interactive = false;
  uint64_t cpu = 0;
  uint64_t memory = 0; // bytes
  std::vector<log_sink> logs;
  std::vector<stats_sink> stats;
  bool elevated = false;
  go_time created_at;
  std::string root_fs_propagation;
  int64_t shutdown_timeout = 0; // nanoseconds (Go time.Duration)
  restart_policy restart;       // contd only; written only when not the default
  /// Only on Inspect results: the live task state. Absent from Run arguments.
  bool has_state = false;
  container_state state;
};

/// Go's 16 keys in Go's order (the wire's byte order depends on it), then contd's extras, which
/// Go decoders skip.
CONTD_FIELDS(container) {
  return std::make_tuple(
    fld("Name", x.name), fld("RootFS", x.root_fs), fld("Env", x.env),
    fld("WorkingDir", x.working_dir), fld("Network", x.network), fld("Mounts", x.mounts),
    fld("Entrypoint", x.entrypoint), fld("Interactive", x.interactive), fld("CPU", x.cpu),
    fld("Memory", x.memory), fld("Logs", x.logs), fld("Stats", x.stats),
    fld("Elevated", x.elevated), fld("CreatedAt", x.created_at),
    fld("RootFsPropagation", x.root_fs_propagation), fld("ShutdownTimeout", x.shutdown_timeout),
    fld("RestartPolicy", x.restart), opt_fld("State", x.state, x.has_state));
}
CONTD_FIELD_OPS(container, "contd.container")

/// A state transition of a managed container, as published on
/// `container.container@0.0.1.Events` (msgpack map with the Go-style keys in the comments).
struct container_event {
  std::string ns;          // Namespace
  std::string id;          // ID
  std::string kind;        // Kind: started, exited, oom, restarting, restarted, failed, stopped,
                           // deleted, stuck, removed (a leftover of an unfinished Run)
  uint32_t exit_code = 0;  // ExitCode
  uint32_t signal = 0;     // Signal: the signal that ended the process (exit code 128+n), or 0
  bool oom_killed = false; // OOMKilled
  uint64_t restarts = 0;   // Restarts
  go_time at;              // At
  std::string reason;      // Reason
  friend bool operator==(const container_event& a, const container_event& b) {
    return a.ns == b.ns && a.id == b.id && a.kind == b.kind && a.exit_code == b.exit_code
           && a.signal == b.signal && a.oom_killed == b.oom_killed && a.restarts == b.restarts
           && a.at == b.at && a.reason == b.reason;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, container_event& x) {
  return f(caf::meta::type_name("contd.container_event"), x.ns, x.id, x.kind, x.exit_code, x.signal,
           x.oom_killed, x.restarts, x.at, x.reason);
}

/// Counters of the ingress, for tests, logs and the status of the daemon.
struct ingress_stats {
  uint64_t received = 0;    // payloads handed over by the listener
  uint64_t replied = 0;     // replies handed to the replier
  uint64_t undecodable = 0; // payloads that were not a zbus request
  uint64_t dropped = 0;     // undecodable payloads without a recoverable ReplyTo
  uint64_t protocol_errors = 0;
  uint64_t unanswerable = 0;        // decodable requests without a ReplyTo: not executed
  uint64_t warnings_suppressed = 0; // bad-request warnings the rate limit did not write
  uint32_t in_flight = 0;
  friend bool operator==(const ingress_stats& a, const ingress_stats& b) {
    return a.received == b.received && a.replied == b.replied && a.undecodable == b.undecodable
           && a.dropped == b.dropped && a.protocol_errors == b.protocol_errors
           && a.unanswerable == b.unanswerable && a.warnings_suppressed == b.warnings_suppressed
           && a.in_flight == b.in_flight;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ingress_stats& x) {
  return f(caf::meta::type_name("contd.ingress_stats"), x.received, x.replied, x.undecodable,
           x.dropped, x.protocol_errors, x.unanswerable, x.warnings_suppressed, x.in_flight);
}

} // namespace contd
