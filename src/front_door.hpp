// The zbus front door as one piece: the Redis listener and replier (detached, one blocking
// connection each) and the ingress between them, serving a container module, plus the publisher
// (detached, its own connection) that PUBLISHes the module's state transitions on
// zbus::events_channel(). contd's main, the integration tests and the benchmarks all start it the
// same way.
#pragma once

#include <cstdint>

#include <caf/fwd.hpp>

#include "messages/messages.hpp"
#include "src/zbus/redis_link.hpp"

namespace contd {

struct front_door_config {
  zbus::broker_url broker;
  /// Calls out of Redis at once.
  uint32_t max_in_flight = 1024;
  /// BLPOP block time: bounds how long a stop waits for the listener.
  double pop_timeout_s = 1.0;
};

struct front_door {
  zbus_listener_actor listener;
  zbus_ingress_actor ingress;
  zbus_replier_actor replier;
  zbus_publisher_actor publisher;
};

/// Serves `module` (any implementation of the public interface, e.g. a test double). The
/// publisher runs but nothing feeds it until attach_publisher().
front_door spawn_front_door(caf::actor_system& sys, container_module_actor module,
                            const front_door_config& cfg);

/// Serves the module and attaches the publisher to it: every state transition of its containers
/// goes out on zbus::events_channel().
front_door spawn_front_door(caf::actor_system& sys, const module_actor& module,
                            const front_door_config& cfg);

/// Makes the module send its state transitions to the front door's publisher.
void attach_publisher(const front_door& fd, const module_actor& module);

/// Stops all four at once (contd's main stops the listener first and drains; tests need not).
void stop_front_door(const front_door& fd);

} // namespace contd
