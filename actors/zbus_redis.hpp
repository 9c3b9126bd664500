// The Redis adapters of the zbus front door: listener, replier and the event publisher. All are
// meant to be spawned detached: each owns one blocking hiredis connection and does one bounded
// blocking call per message, so exit and control messages are handled between calls.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "src/zbus/codec.hpp"

#include "messages/messages.hpp"
#include "src/zbus/redis_link.hpp"

namespace contd {

struct redis_backoff {
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{5000};
};

struct zbus_listener_config {
  zbus::broker_url broker;
  std::string object_queue;
  std::string status_queue;
  /// BLPOP block time: bounds how long exit and credit messages wait.
  double pop_timeout_s = 1.0;
  redis_backoff backoff;
};

struct zbus_listener_state {
  static inline const char* name = "contd.zbus_listener";
  std::unique_ptr<zbus::redis_connection> conn;
  zbus_listener_config config;
  zbus_ingress_actor ingress;
  uint32_t credit = 0;
  bool outage = false;
  std::chrono::milliseconds delay{0};
  uint64_t popped = 0;
};

zbus_listener_actor::behavior_type
zbus_listener(zbus_listener_actor::stateful_pointer<zbus_listener_state> self,
              zbus_listener_config config, zbus_ingress_actor ingress);

struct zbus_replier_config {
  zbus::broker_url broker;
  int ttl_seconds = 300;
  redis_backoff backoff;
};

struct zbus_replier_state {
  static inline const char* name = "contd.zbus_replier";
  std::unique_ptr<zbus::redis_connection> conn;
  zbus_replier_config config;
  std::deque<std::pair<std::string, std::string>> queue;
  bool outage = false;
  bool retry_scheduled = false;
  std::chrono::milliseconds delay{0};
};

zbus_replier_actor::behavior_type
zbus_replier(zbus_replier_actor::stateful_pointer<zbus_replier_state> self,
             zbus_replier_config config);

struct zbus_publisher_config {
  zbus::broker_url broker;
  std::string channel = zbus::events_channel();
  /// Events held while Redis is away; beyond this the oldest are dropped (and counted).
  size_t max_queued = 10000;
  redis_backoff backoff;
  /// Connect and PUBLISH timeout: bounds how long one attempt keeps the actor busy.
  std::chrono::milliseconds io_timeout{1000};
};

/// Pub/sub keeps nothing: an event published while nobody subscribes is gone, and so are the
/// events still held when the actor stops.
struct zbus_publisher_state {
  static inline const char* name = "contd.zbus_publisher";
  std::unique_ptr<zbus::redis_connection> conn;
  zbus_publisher_config config;
  std::deque<zbus::bytes> queue; // encoded events, oldest first
  bool outage = false;
  bool retry_scheduled = false;
  bool drop_warned = false; // one warning per outage about a full queue
  bool refusing = false;    // one error per streak of PUBLISH errors answered by Redis
  std::chrono::milliseconds delay{0};
  uint64_t published = 0;
  uint64_t dropped = 0;           // over the actor's life
  uint64_t dropped_in_outage = 0; // since the current outage began
};

zbus_publisher_actor::behavior_type
zbus_publisher(zbus_publisher_actor::stateful_pointer<zbus_publisher_state> self,
               zbus_publisher_config config);

} // namespace contd
