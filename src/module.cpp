#include "src/module.hpp"

#include <caf/actor_system.hpp>

#include "actors/container_module.hpp"
#include "actors/containerd_client.hpp"
#include "actors/log_io.hpp"
#include "actors/shim_reaper.hpp"
#include "actors/spec_builder.hpp"

namespace contd {

module_handles spawn_container_module(caf::actor_system& sys, const module_config& cfg) {
  module_handles h;
  containerd_client_config ccfg;
  ccfg.socket = cfg.containerd_socket;
  ccfg.call_timeout = cfg.call_timeout;
  h.client = sys.spawn(containerd_client, ccfg);

  spec_builder_config scfg;
  scfg.node = oci::discover_node_facts();
  scfg.node.netns_dir = cfg.netns_dir;
  scfg.node.corex_path = cfg.corex_path;
  scfg.defaults.memory = cfg.default_memory;
  scfg.defaults.pids_limit = cfg.pids_limit;
  h.builder = sys.spawn(spec_builder, scfg);

  tenant_config tcfg;
  tcfg.log_dir = cfg.root + "/logs";
  tcfg.logger_path = cfg.logger_path;
  tcfg.log_max_size = cfg.log_max_size;
  tcfg.forwarding = cfg.forwarding;
  tcfg.call_timeout = cfg.call_timeout;
  tcfg.kill_bound = cfg.kill_bound;
  tcfg.idle_timeout = cfg.tenant_idle;
  tcfg.shim_group_size = cfg.shim_per_container ? 0 : cfg.shim_group_size;
  h.module = sys.spawn(container_module, tcfg, h.client, h.builder);

  // Blocking /proc and file work: detached. It asks containerd before it removes anything.
  shim_reaper_config rcfg;
  rcfg.containerd_socket = cfg.containerd_socket;
  rcfg.confirm_with = h.client;
  h.reaper = sys.spawn<caf::detached>(shim_reaper, rcfg);
  caf::anon_send(h.module, atom::attach_v, h.reaper);

  // Every file access of logs and exec captures: detached, so a slow disk stalls only it.
  log_io_config icfg;
  icfg.log_dir = cfg.root + "/logs";
  icfg.scratch_dir = cfg.root + "/exec";
  h.io = sys.spawn<caf::detached>(log_io, icfg);
  caf::anon_send(h.module, atom::attach_v, h.io);
  return h;
}

void stop_container_module(const module_handles& h) {
  caf::anon_send_exit(h.module, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(h.builder, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(h.client, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(h.reaper, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(h.io, caf::exit_reason::user_shutdown);
}

} // namespace contd
