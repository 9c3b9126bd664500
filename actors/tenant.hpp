// A tenant: the actor that owns one containerd namespace and supervises the containers contd
// manages in it.
//
// Per container it keeps a model: what the caller asked for (the request, the desired state, the
// restart policy) and what containerd reports (the observed state, exits, restarts). The model is
// fed by containerd's events and by reconciliation; its durable part is stored on the container
// as labels, so a restarted contd decides as the one before it. Inspect answers from the model.
//
// Operations on one container run in order and never overlap (a FIFO per container); different
// containers never wait for each other. The transactions — run, delete, signal, exec, restart,
// sync — are jobs in tenant_jobs.cpp; this file routes calls and events to them.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>

#include <caf/actor_clock.hpp>

#include "messages/messages.hpp"
#include "src/supervise/fifo.hpp"
#include "src/supervise/policy.hpp"

namespace contd {

struct tenant_config {
  /// The logger program the shim starts for every task (binary:// log URI), absolute. It writes
  /// <log_dir>/<ns>/<id>.log (see src/logs/format.hpp). Empty, or no log I/O actor attached: the
  /// task's output is discarded.
  std::string logger_path;
  /// Container logs: <log_dir>/<ns>/<id>.log (the forwarders read them).
  std::string log_dir = "/var/cache/modules/contd/logs";
  /// Cap of a container's log file plus its one rotated file, in bytes.
  uint64_t log_max_size = 10ull << 20;
  /// Forward output and publish stats to the containers' Redis sinks (detached forwarders).
  bool forwarding = true;
  /// How often stats are published (and forwarding is checked against the model).
  std::chrono::milliseconds stats_period{2000};
  /// How long Logs and the exec capture steps may take on the log I/O actor.
  std::chrono::milliseconds io_timeout{10000};
  /// Deadline of ordinary containerd calls as seen from the tenant.
  std::chrono::milliseconds call_timeout{30000};
  /// ShutdownTimeout of containers that have none (the original's 3 s).
  std::chrono::milliseconds default_grace{3000};
  /// How long a task may take to die after SIGKILL before Delete reports it stuck.
  std::chrono::milliseconds kill_bound{5000};
  /// Exec output kept for the error text.
  uint64_t exec_max_output = 64 * 1024;
  /// A tenant without work and without containers to supervise for this long asks the module to
  /// retire it.
  std::chrono::milliseconds idle_timeout{60000};
  /// How often a tenant with containers reconciles its namespace even without a stream gap.
  std::chrono::milliseconds reconcile_period{60000};
  /// How long a rollback keeps retrying while containerd is unreachable before it leaves the
  /// rest to reconciliation (the caller waits for it).
  std::chrono::milliseconds rollback_bound{10000};
  /// Unix time (ns) at the tenant's start; 0 reads the system clock once at spawn. Afterwards
  /// the tenant measures time only with its actor clock (simulated in tests).
  int64_t unix_origin_ns = 0;
  /// Seed of the backoff jitter; 0 draws one.
  uint64_t jitter_seed = 0;
  /// At most this many containers of the namespace share one containerd shim (runc v2 shim
  /// groups: one shim process of about 13 MB instead of one per container). A shim creates its
  /// tasks one at a time, so the bound also keeps a burst of Runs in one namespace spread over
  /// several shims. 0: a shim per container.
  size_t shim_group_size = 0;
};

/// Labels contd puts on what it creates; the durable part of a container's model.
inline constexpr const char* label_managed = "contd.managed";
inline constexpr const char* label_stop_requested = "contd.stop-requested";
inline constexpr const char* label_oom_killed = "contd.oom-killed";
/// creating (a Run not yet answered), running, stopped (SignalDelete), deleted (a Delete or a
/// rolled-back Run not yet finished).
inline constexpr const char* label_desired = "contd.desired";
inline constexpr const char* label_restarts = "contd.restarts";
inline constexpr const char* label_exits = "contd.exits";   // see supervise::encode_exits
inline constexpr const char* label_failed = "contd.failed"; // why contd gave up, or empty

enum class desired_state { creating, running, stopped, deleted };

const char* to_string(desired_state d);
desired_state desired_from_labels(const label_map& labels);

/// What a tenant knows of one managed container.
struct container_model {
  container request;      // what Inspect returns (name, created_at filled in)
  std::string spec_json;  // the OCI spec stored in containerd
  std::string shim_group; // its runc shim group; empty: a shim of its own
  desired_state desired = desired_state::creating;
  supervise::policy policy;
  supervise::history history;
  container_state state; // observed: status, pid, exits, restarts, reason
  /// A pending restart timer carries this; bumping it cancels the timer.
  uint64_t restart_generation = 0;
  bool restart_pending = false;
  /// A task of it is being created and started.
  bool starting = false;
  /// An exit that arrived while a Run of this container was still in flight.
  std::optional<task_event> exit_during_run;
};

struct tenant_state {
  static inline const char* name = "contd.tenant";

  std::string ns;
  tenant_config config;
  module_actor module;
  containerd_client_actor client;
  spec_builder_actor builder;
  shim_reaper_actor reaper; // may be none: leaked shims are then left alone
  log_io_actor io;          // may be none: output is then discarded

  /// One forwarder per Redis endpoint ("host:port") of this tenant's sinks.
  std::map<std::string, log_forwarder_actor> forwarders;
  /// The containers whose sinks were handed to the forwarders.
  std::set<std::string> forwarded;
  bool sinks_armed = false; // the periodic stats/forwarding pass is scheduled

  std::map<std::string, container_model> models;
  /// Shim groups chosen by Runs still in flight (not yet, or not any more, in the model), with
  /// how many Runs chose each.
  std::map<std::string, size_t> shim_reserved;
  /// Shim groups with a Tasks.Create in flight, each with the creates waiting for it to answer.
  std::map<std::string, std::deque<std::function<void()>>> shim_gates;
  supervise::container_fifo fifo;
  /// Work not bound to one container (List, Logs, reconcile listings).
  size_t side_calls = 0;
  /// False from a stream gap until the reconciliation after it is complete: meanwhile Inspect
  /// asks containerd instead of the model.
  bool synced = false;
  /// The namespace was created (or found) with contd's label by this tenant: later Runs skip
  /// Namespaces.Create. A tenant lives at most an idle period past its last work.
  bool ns_ready = false;
  bool reconciling = false;
  bool reconcile_again = false; // a gap arrived during a reconciliation
  size_t syncs_pending = 0;     // per-container syncs of the running reconciliation
  uint64_t reconcile_generation = 0;

  uint64_t idle_generation = 0; // bumped by every operation
  bool tick_pending = false;
  caf::actor_clock::time_point idle_since; // when the last work ended
  bool retiring = false;

  int64_t unix_origin_ns = 0;
  caf::actor_clock::time_point clock_origin;
  std::minstd_rand jitter;

  /// Continuations waiting for a timer (atom::retry carries the key).
  std::map<uint64_t, std::function<void()>> timers;
  uint64_t next_timer = 0;

  uint64_t exec_counter = 0;
  std::string exec_prefix; // random per tenant incarnation
};

using tenant_pointer = tenant_actor::stateful_pointer<tenant_state>;

tenant_actor::behavior_type tenant(tenant_pointer self, std::string ns, tenant_config config,
                                   module_actor module, containerd_client_actor client,
                                   spec_builder_actor builder);

} // namespace contd
