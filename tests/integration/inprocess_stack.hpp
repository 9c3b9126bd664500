// contd in-process, for the end-to-end tests and the benches: the container module and its zbus
// front door on a private redis-server and a private containerd with runc, and a network
// namespace made with `ip netns add` for the containers. The including target defines
// CONTD_BIN_DIR (where contd-logger is) and links contd_module, contd_front_door and both
// fixtures.
#pragma once

#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>

#include "messages/messages.hpp"
#include "src/config/actor_config.hpp"
#include "src/front_door.hpp"
#include "src/module.hpp"
#include "tests/integration/containerd_fixture.hpp"
#include "tests/integration/redis_fixture.hpp"

namespace contd::test {

/// A network namespace (`ip netns add`), deleted at the end.
struct named_netns {
  std::string name = random_name("contd-net-");
  named_netns() {
    auto r = run_command({"ip", "netns", "add", name});
    if (r.status != 0)
      throw std::runtime_error("ip netns add " + name + " failed: " + r.output);
  }
  ~named_netns() { run_command({"ip", "netns", "del", name}); }
  named_netns(const named_netns&) = delete;
  named_netns& operator=(const named_netns&) = delete;
};

struct inprocess_stack {
  redis_server redis;
  containerd_instance ctrd;
  named_netns net;
  std::filesystem::path root = ctrd.dir() / "contd-root";
  actor_config cfg;
  caf::actor_system sys{cfg};
  module_handles module;
  front_door door;
  /// containerd namespaces purged once contd has stopped (so that it does not react to it).
  std::vector<std::string> purge_at_end;

  /// `tune` adjusts the module's configuration; the containerd socket, root and logger are set.
  explicit inprocess_stack(const std::function<void(module_config&)>& tune = {}) {
    std::filesystem::create_directories(root / "logs");
    module_config mc;
    mc.containerd_socket = ctrd.socket();
    mc.root = root.string();
    mc.logger_path = std::string{CONTD_BIN_DIR} + "/contd-logger";
    if (tune)
      tune(mc);
    module = spawn_container_module(sys, mc);
    door = spawn_front_door(sys, container_module_actor{module.module},
                            front_door_config{redis.broker(), 1024, 0.2});
  }

  ~inprocess_stack() {
    stop_front_door(door);
    stop_container_module(module);
    for (const auto& ns : purge_at_end)
      ctrd.purge_namespace(ns);
  }

  inprocess_stack(const inprocess_stack&) = delete;
  inprocess_stack& operator=(const inprocess_stack&) = delete;

  /// A container of this stack's rootfs, in its network namespace.
  container make(const std::string& name, const std::string& entrypoint) const {
    container c;
    c.name = name;
    c.root_fs = ctrd.rootfs().string();
    c.network.ns = net.name;
    c.entrypoint = entrypoint;
    return c;
  }
};

} // namespace contd::test
