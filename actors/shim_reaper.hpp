// The leaked-shim reaper: removes runc v2 shims that containerd leaked when it was killed during
// Tasks.Create (the logic, and its safety criterion, is src/containerd/shim_reaper). It reads
// /proc, signals processes, runs runc and removes files, all blocking: spawn it detached.
#pragma once

#include <string>

#include <caf/timespan.hpp>

#include "messages/messages.hpp"
#include "src/containerd/shim_reaper.hpp"

namespace contd {

struct shim_reaper_config {
  /// containerd's gRPC socket (path or unix:// target); also how its shims are recognised.
  std::string containerd_socket = "/run/containerd/containerd.sock";
  /// The runc v2 shim's runc root.
  std::string runc_root = "/run/containerd/runc";
  /// When set, a shim is only reaped after containerd answered Tasks.Get(ns, id) with NotFound:
  /// files alone cannot tell the deepest leak from a task created but not yet started. Without
  /// it, the caller must have confirmed that itself.
  containerd_client_actor confirm_with;
  caf::timespan confirm_timeout = std::chrono::seconds{30};
  /// Where the cgroup hierarchies are mounted (v1: one directory per controller; v2: unified).
  std::string cgroup_root = "/sys/fs/cgroup";
  /// The rest of the library's options (paths, waits); containerd_socket and runc_root above win.
  containerd::reap_options options;
};

struct shim_reaper_state {
  static inline const char* name = "contd.shim_reaper";
  shim_reaper_config config;
};

using shim_reaper_pointer = shim_reaper_actor::stateful_pointer<shim_reaper_state>;

/// Removes the empty cgroup directories <cgroup_root>/<ns> and <cgroup_root>/<hierarchy>/<ns>
/// that runc leaves (cgroupsPath "/<ns>/<id>"): rmdir only, so a directory that still holds a
/// cgroup stays. Hierarchies reached through a symbolic link (cpu -> cpu,cpuacct) are skipped:
/// they are the same directory. Returns how many were removed.
uint32_t remove_cgroup_parents(const std::string& cgroup_root, const std::string& ns);

/// Spawn with `sys.spawn<caf::detached>(shim_reaper, config)`.
shim_reaper_actor::behavior_type shim_reaper(shim_reaper_pointer self, shim_reaper_config config);

} // namespace contd
