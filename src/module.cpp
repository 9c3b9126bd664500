#include "src/module.hpp"

#include <caf/actor_system.hpp>

#include "actors/container_module.hpp"
#include "actors/containerd_client.hpp"
#include "actors/shim_reaper.hpp"
#include "actors/spec_builder.hpp"

namespace contd {

module_handles spawn_container_module(caf::actor_system& sys, const module_config& cfg) {
  module_handles h;
  containerd_client_config ccfg;
  ccfg.socket = cfg.containerd_socket;
  ccfg.call_timeout = cfg.call_timeout;
  ccfg.scratch_dir = cfg.root + "/exec";
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
  tcfg.call_timeout = cfg.call_timeout;
  tcfg.kill_bound = cfg.kill_bound;
  tcfg.idle_timeout = cfg.tenant_idle;
  h.module = sys.spawn(container_module, tcfg, h.client, h.builder);

  // Blocking /proc and file work: detached. It asks containerd before it removes anything.
  shim_reaper_config rcfg;
  rcfg.containerd_socket = cfg.containerd_socket;
  rcfg.confirm_with = h.client;
  h.reaper = sys.spawn<caf::detached>(shim_reaper, rcfg);
  caf::anon_send(h.module, atom::attach_v, h.reaper);
  return h;
}

void stop_container_module(const module_handles& h) {
  caf::anon_send_exit(h.module, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(h.builder, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(h.client, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(h.reaper, caf::exit_reason::user_shutdown);
}

} // namespace contd
