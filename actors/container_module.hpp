// The container module: the actor behind zbus. It validates the namespace, routes each call to the
// tenant of that namespace (spawned on first use or by reconciliation, retired when idle and
// supervising nothing), answers ListNS and List("") across namespaces itself, routes containerd
// events to tenants, and forwards their state transitions to a publisher.
#pragma once

#include <map>
#include <string>

#include "actors/tenant.hpp"
#include "messages/messages.hpp"

namespace contd {

struct container_module_state {
  static inline const char* name = "contd.container_module";
  tenant_config config;
  containerd_client_actor client;
  spec_builder_actor builder;
  std::map<std::string, tenant_actor> tenants;
  uint64_t tenants_spawned = 0;
  uint64_t resyncs = 0;            // event stream (re)openings seen
  event_publisher_actor publisher; // where state transitions go; none by default
  shim_reaper_actor reaper;        // removes leaked shims; none by default
  log_io_actor io;                 // log files and exec captures; none by default
};

using container_module_pointer = module_actor::stateful_pointer<container_module_state>;

/// The module over the given adapter and spec builder (real ones, or fakes in tests). Tenants are
/// linked to the module: when it stops, they stop.
module_actor::behavior_type container_module(container_module_pointer self, tenant_config config,
                                             containerd_client_actor client,
                                             spec_builder_actor builder);

} // namespace contd
