// The zbus front door as one piece: the Redis listener and replier (detached, one blocking
// connection each) and the ingress between them, serving a container module, plus the publisher
// (detached, its own connection) that PUBLISHes the module's state transitions on
// zbus::events_channel(). contd's main, the integration tests and the benchmarks all start it the
// same way.
#pragma once

#include <cstdint>

#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

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

/// What a drain left behind; all zero after a clean one.
struct drain_report {
  /// Calls of the object queue not answered when the wait ended.
  uint64_t calls_in_flight = 0;
  /// Replies the replier could not deliver (Redis unavailable).
  uint64_t replies_held = 0;
  /// Container events the publisher could not publish (Redis unavailable).
  uint64_t events_held = 0;
};

/// A graceful stop, blocking the caller: the listener stops (no new requests; its last BLPOP
/// ends within front_door_config::pop_timeout_s), the ingress answers once every call in flight
/// is answered or `deadline` has passed (it tells, nobody polls), then the replier and the
/// publisher push out what they still hold. The ingress, replier and publisher keep running
/// until stop_front_door().
drain_report drain_front_door(caf::actor_system& sys, const front_door& fd, caf::timespan deadline);

/// Makes a drain_front_door() waiting for calls in flight stop waiting at once (from any
/// thread, e.g. on a second signal); the replies and events still go out.
void cut_drain_short(const front_door& fd);

/// Stops all four at once (contd's main drains first; tests need not).
void stop_front_door(const front_door& fd);

} // namespace contd
