// The zbus ingress: decodes each popped payload, answers protocol errors and the status object
// itself, dispatches valid calls to the container module and encodes the replies. It never blocks
// and never awaits: any number of calls can be in flight, bounded by the credit it grants.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include <caf/actor_clock.hpp>
#include <caf/typed_response_promise.hpp>

#include "messages/messages.hpp"
#include "src/log/log.hpp"
#include "src/zbus/codec.hpp"
#include "src/zbus/dispatch.hpp"

namespace contd {

struct zbus_ingress_config {
  /// At most this many calls of the object queue are out of Redis at once.
  uint32_t max_in_flight = 1024;
  /// The wall clock at spawn in Unix ns (0: read it then). Later wall times are this plus the
  /// time CAF's clock has advanced, so a deterministic test controls them.
  int64_t unix_origin_ns = 0;
};

struct zbus_ingress_state {
  static inline const char* name = "contd.zbus_ingress";

  struct active_call {
    zbus::method m;
    caf::actor_clock::time_point started; // CAF's clock
    go_time started_wall;
  };

  container_module_actor module;
  zbus_replier_actor replier;
  zbus_listener_actor listener;
  zbus_ingress_config config;
  ingress_stats stats;
  uint64_t next_call = 0;
  std::map<uint64_t, active_call> active;
  go_time idle_since;
  caf::actor_clock::time_point clock_origin;
  /// Drain requests waiting for the calls in flight to end, by number.
  std::map<uint64_t, caf::typed_response_promise<uint64_t>> drains;
  uint64_t next_drain = 0;
  /// A drain with a zero timespan came: no drain waits any more.
  bool drain_cut = false;
  /// Warnings about bad requests: at most 10 a minute, the rest counted (see stats).
  log::limiter bad_request_log{10, std::chrono::seconds{60}};
};

using zbus_ingress_pointer = zbus_ingress_actor::stateful_pointer<zbus_ingress_state>;

zbus_ingress_actor::behavior_type zbus_ingress(zbus_ingress_pointer self,
                                               container_module_actor module,
                                               zbus_replier_actor replier,
                                               zbus_ingress_config config);

} // namespace contd
