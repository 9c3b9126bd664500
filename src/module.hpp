// The embeddable container module: spawn_container_module() starts the whole actor graph
// (containerd adapter, spec builder, module with its tenants) inside any CAF actor system.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <caf/fwd.hpp>

#include "messages/messages.hpp"

namespace contd {

struct module_config {
  /// containerd's gRPC socket.
  std::string containerd_socket = "/run/containerd/containerd.sock";
  /// contd's working directory; logs live in <root>/logs/<ns>/<id>.log, exec output is captured
  /// in <root>/exec.
  std::string root = "/var/cache/modules/contd";
  /// The contd-logger program the shim starts for every task (absolute). Empty: output is
  /// discarded.
  std::string logger_path;
  /// Cap of a container's log file plus its one rotated file, in bytes.
  uint64_t log_max_size = 10ull << 20;
  /// Forward output and publish stats to the containers' Redis sinks.
  bool forwarding = true;
  /// Where named network namespaces live.
  std::string netns_dir = "/var/run/netns";
  /// coreX on the host, bind-mounted read-only for interactive containers.
  std::string corex_path = "/usr/bin/corex";
  /// Deadline of ordinary containerd calls.
  std::chrono::milliseconds call_timeout{30000};
  /// How long a task may take to die after SIGKILL before Delete reports it stuck.
  std::chrono::milliseconds kill_bound{10000};
  /// A tenant without work for this long is retired.
  std::chrono::milliseconds tenant_idle{60000};
  /// Memory of containers that ask for 0 (bytes), and their pids limit.
  uint64_t default_memory = 256ull << 20;
  int64_t pids_limit = 4096;
  /// True: one containerd shim per container. False (the default): containers of a namespace
  /// share shims, at most shim_group_size per shim (tenant_config::shim_group_size).
  bool shim_per_container = false;
  size_t shim_group_size = 10;
};

/// The actors of a running module. `module` is what zbus calls; `client` answers readiness
/// (atom::version) and shutdown stops both.
struct module_handles {
  module_actor module;
  containerd_client_actor client;
  spec_builder_actor builder;
  shim_reaper_actor reaper;
  log_io_actor io;
};

module_handles spawn_container_module(caf::actor_system& sys, const module_config& cfg);

/// Stops the module's actors (tenants stop with the module).
void stop_container_module(const module_handles& handles);

} // namespace contd
