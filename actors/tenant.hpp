// A tenant: the actor that owns one containerd namespace. It turns the module's calls into
// containerd operations, one FIFO per container (operations on one container never reorder or
// overlap; different containers proceed interleaved), and owns the transactions: Run is
// all-or-nothing, Delete is SIGTERM -> grace -> SIGKILL to all -> bounded wait -> delete.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include <caf/actor_clock.hpp>

#include "messages/messages.hpp"

namespace contd {

struct tenant_config {
  /// Log files live at <log_dir>/<ns>/<id>.log (stdout and stderr, appended by the shim).
  std::string log_dir = "/var/cache/modules/contd/logs";
  /// Deadline of ordinary containerd calls as seen from the tenant.
  std::chrono::milliseconds call_timeout{30000};
  /// ShutdownTimeout of containers that have none (the original's 3 s).
  std::chrono::milliseconds default_grace{3000};
  /// How long a task may take to die after SIGKILL before Delete reports it stuck.
  std::chrono::milliseconds kill_bound{5000};
  /// Exec output kept for the error text.
  uint64_t exec_max_output = 64 * 1024;
  /// Lines returned by Logs, and the most bytes read from the end of the log for them.
  size_t log_lines = 100;
  size_t log_max_bytes = 256 * 1024;
  /// A tenant without work for this long asks the module to retire it.
  std::chrono::milliseconds idle_timeout{60000};
};

/// Labels contd puts on what it creates.
inline constexpr const char* label_managed = "contd.managed";
inline constexpr const char* label_stop_requested = "contd.stop-requested";
inline constexpr const char* label_oom_killed = "contd.oom-killed";

struct tenant_state {
  static inline const char* name = "contd.tenant";

  using step = std::function<void()>;

  std::string ns;
  tenant_config config;
  module_actor module;
  containerd_client_actor client;
  spec_builder_actor builder;
  /// Per container: what runs and what waits. An operation gets `done` and calls it once.
  struct lane {
    struct entry {
      std::function<void(step)> op;
      bool read = false;
    };
    std::deque<entry> waiting;
    size_t running = 0;
    bool reading = false; // the running operations are reads
  };
  std::map<std::string, lane> lanes;
  /// List calls in flight (not bound to one container).
  size_t side_calls = 0;
  uint64_t idle_generation = 0; // bumped by every operation
  bool tick_pending = false;
  caf::actor_clock::time_point idle_since; // when the last work ended
  bool retiring = false;
  uint64_t exec_counter = 0;
  std::string exec_prefix; // random per tenant incarnation
};

using tenant_pointer = tenant_actor::stateful_pointer<tenant_state>;

tenant_actor::behavior_type tenant(tenant_pointer self, std::string ns, tenant_config config,
                                   module_actor module, containerd_client_actor client,
                                   spec_builder_actor builder);

/// <log_dir>/<ns>/<id>.log
std::string log_path(const tenant_config& cfg, const std::string& ns, const std::string& id);

/// The last `lines` lines of `path`, reading at most `max_bytes` from its end. Missing file:
/// nullopt.
std::optional<std::string> tail_file(const std::string& path, size_t lines, size_t max_bytes);

} // namespace contd
