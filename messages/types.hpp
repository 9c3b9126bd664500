// The container vocabulary: data that travels between contd's actors.
//
// `container` is the superset of the seed-era struct (mounts with Type and Options) and the current
// 16-field struct of the zos `pkg.Container`. Field names follow Go's, in snake_case; the zbus codec
// maps them to the exact Go keys.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

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
  std::string ns; // Go: Namespace — the name of a netns file in the netns directory
  friend bool operator==(const network_info& a, const network_info& b) { return a.ns == b.ns; }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, network_info& x) {
  return f(caf::meta::type_name("contd.network_info"), x.ns);
}

/// A mount. `type` and `options` exist only in the seed-era shape; empty means "bind, rbind, rw"
/// as the current original does.
struct mount_info {
  std::string source;
  std::string target;
  std::string type;
  std::vector<std::string> options;
  friend bool operator==(const mount_info& a, const mount_info& b) {
    return a.source == b.source && a.target == b.target && a.type == b.type
           && a.options == b.options;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mount_info& x) {
  return f(caf::meta::type_name("contd.mount_info"), x.source, x.target, x.type, x.options);
}

struct logs_redis {
  std::string stdout_url; // Go: Stdout
  std::string stderr_url; // Go: Stderr
  friend bool operator==(const logs_redis& a, const logs_redis& b) {
    return a.stdout_url == b.stdout_url && a.stderr_url == b.stderr_url;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, logs_redis& x) {
  return f(caf::meta::type_name("contd.logs_redis"), x.stdout_url, x.stderr_url);
}

struct log_sink {
  std::string type; // "redis"
  logs_redis data;
  friend bool operator==(const log_sink& a, const log_sink& b) {
    return a.type == b.type && a.data == b.data;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, log_sink& x) {
  return f(caf::meta::type_name("contd.log_sink"), x.type, x.data);
}

struct stats_sink {
  std::string type; // "redis"
  std::string endpoint;
  friend bool operator==(const stats_sink& a, const stats_sink& b) {
    return a.type == b.type && a.endpoint == b.endpoint;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stats_sink& x) {
  return f(caf::meta::type_name("contd.stats_sink"), x.type, x.endpoint);
}

/// What contd does when a container's task exits (an extra `RestartPolicy` key; Go stubs never
/// send it). All zero: the original's behaviour, restart on every exit and give up at the 4th
/// exit within 60 s. A zero MaxRestarts or Window means its default (3 restarts, 60 s).
struct restart_policy {
  std::string name;          // "always", "on-failure", "no"; "" = "always"
  uint64_t max_restarts = 0; // restarts allowed within the window
  int64_t window = 0;        // nanoseconds (Go time.Duration)
  bool is_default() const { return name.empty() && max_restarts == 0 && window == 0; }
  friend bool operator==(const restart_policy& a, const restart_policy& b) {
    return a.name == b.name && a.max_restarts == b.max_restarts && a.window == b.window;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, restart_policy& x) {
  return f(caf::meta::type_name("contd.restart_policy"), x.name, x.max_restarts, x.window);
}

/// The live state of a container, reported by Inspect in an extra `State` key.
struct container_state {
  /// created, running, stopped, restarting (backoff), failed (gave up), stuck, paused, pausing,
  /// unknown, no-task
  std::string status = "unknown";
  uint32_t pid = 0;
  uint32_t exit_code = 0;
  go_time exited_at;
  bool oom_killed = false;
  bool stop_requested = false;
  uint64_t restarts = 0;       // restarts contd made, over the container's life
  uint32_t last_exit_code = 0; // of the last exit, also while a restart already runs
  go_time last_exited_at;
  std::string reason;          // why it is failed, stuck or restarting
  friend bool operator==(const container_state& a, const container_state& b) {
    return a.status == b.status && a.pid == b.pid && a.exit_code == b.exit_code
           && a.exited_at == b.exited_at && a.oom_killed == b.oom_killed
           && a.stop_requested == b.stop_requested && a.restarts == b.restarts
           && a.last_exit_code == b.last_exit_code && a.last_exited_at == b.last_exited_at
           && a.reason == b.reason;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, container_state& x) {
  return f(caf::meta::type_name("contd.container_state"), x.status, x.pid, x.exit_code,
           x.exited_at, x.oom_killed, x.stop_requested, x.restarts, x.last_exit_code,
           x.last_exited_at, x.reason);
}

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
  restart_policy restart;       // Go: RestartPolicy (contd only; absent = the default)
  /// Only on Inspect results: the live task state. Absent from Run arguments.
  bool has_state = false;
  container_state state;

  friend bool operator==(const container& a, const container& b) {
    return a.name == b.name && a.root_fs == b.root_fs && a.env == b.env
           && a.working_dir == b.working_dir && a.network == b.network && a.mounts == b.mounts
           && a.entrypoint == b.entrypoint && a.interactive == b.interactive && a.cpu == b.cpu
           && a.memory == b.memory && a.logs == b.logs && a.stats == b.stats
           && a.elevated == b.elevated && a.created_at == b.created_at
           && a.root_fs_propagation == b.root_fs_propagation
           && a.shutdown_timeout == b.shutdown_timeout && a.restart == b.restart
           && a.has_state == b.has_state
           && a.state == b.state;
  }
  friend bool operator!=(const container& a, const container& b) { return !(a == b); }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, container& x) {
  return f(caf::meta::type_name("contd.container"), x.name, x.root_fs, x.env, x.working_dir,
           x.network, x.mounts, x.entrypoint, x.interactive, x.cpu, x.memory, x.logs, x.stats,
           x.elevated, x.created_at, x.root_fs_propagation, x.shutdown_timeout, x.restart,
           x.has_state, x.state);
}

/// A state transition of a managed container, as published on
/// `container.container@0.0.1.Events` (msgpack map with the Go-style keys in the comments).
struct container_event {
  std::string ns;   // Namespace
  std::string id;   // ID
  std::string kind; // Kind: started, exited, oom, restarting, restarted, failed, stopped,
                    // deleted, stuck, removed (a leftover of an unfinished Run)
  uint32_t exit_code = 0; // ExitCode
  uint32_t signal = 0;    // Signal: the signal that ended the process (exit code 128+n), or 0
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
  return f(caf::meta::type_name("contd.container_event"), x.ns, x.id, x.kind, x.exit_code,
           x.signal, x.oom_killed, x.restarts, x.at, x.reason);
}

/// Counters of the ingress, for tests, logs and the status of the daemon.
struct ingress_stats {
  uint64_t received = 0;     // payloads handed over by the listener
  uint64_t replied = 0;      // replies handed to the replier
  uint64_t undecodable = 0;  // payloads that were not a zbus request
  uint64_t dropped = 0;      // undecodable payloads without a recoverable ReplyTo
  uint64_t protocol_errors = 0;
  uint64_t unanswerable = 0; // decodable requests without a ReplyTo: not executed
  uint64_t warnings_suppressed = 0; // bad-request warnings the rate limit did not write
  uint32_t in_flight = 0;
  friend bool operator==(const ingress_stats& a, const ingress_stats& b) {
    return a.received == b.received && a.replied == b.replied && a.undecodable == b.undecodable
           && a.dropped == b.dropped && a.protocol_errors == b.protocol_errors
           && a.unanswerable == b.unanswerable
           && a.warnings_suppressed == b.warnings_suppressed && a.in_flight == b.in_flight;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ingress_stats& x) {
  return f(caf::meta::type_name("contd.ingress_stats"), x.received, x.replied, x.undecodable,
           x.dropped, x.protocol_errors, x.unanswerable, x.warnings_suppressed, x.in_flight);
}

} // namespace contd
