// Every typed actor interface of contd, one comment per handler. Messages an actor sends to itself
// (timers, completions from foreign threads) are part of its interface, grouped last as "internal".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/timespan.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/error.hpp"
#include "messages/types.hpp"

namespace contd {

// --- the container module (what zbus calls) --------------------------------------------------

/// The eight zbus methods of `container@0.0.1`, with arguments already decoded and type-checked.
/// Errors are contd errors whose text is what the Go caller receives.
using container_module_actor = caf::typed_actor<
  // Run(ns, Container) -> ContainerID
  caf::replies_to<atom::run, std::string, container>::with<std::string>,
  // Inspect(ns, id) -> Container (with the live State)
  caf::replies_to<atom::inspect, std::string, std::string>::with<container>,
  // Delete(ns, id): stop gracefully, then remove task, container and log
  caf::replies_to<atom::delete_, std::string, std::string>::with<void>,
  // SignalDelete(ns, id): mark stop-requested and send SIGTERM, without waiting
  caf::replies_to<atom::sig_delete, std::string, std::string>::with<void>,
  // Exec(ns, id, timeout, args...)
  caf::replies_to<atom::exec, std::string, std::string, caf::timespan,
                  std::vector<std::string>>::with<void>,
  // Logs(ns, id) -> the last 100 lines
  caf::replies_to<atom::logs, std::string, std::string>::with<std::string>,
  // List(ns) -> ids; ns == "" lists every namespace
  caf::replies_to<atom::list, std::string>::with<std::vector<std::string>>,
  // ListNS() -> namespaces
  caf::replies_to<atom::list_ns>::with<std::vector<std::string>>>;

// --- zbus front door ---------------------------------------------------------------------------

/// Detached: owns the blocking BLPOP connection. Pops only while it holds credit.
using zbus_listener_actor = caf::typed_actor<
  // grant n more requests of the object queue (the status queue needs no credit)
  caf::reacts_to<atom::credit, uint32_t>,
  // internal: do one bounded BLPOP (or one reconnect attempt), then schedule the next
  caf::reacts_to<atom::pop>>;

/// Detached: owns the connection replies go out on.
using zbus_replier_actor = caf::typed_actor<
  // RPUSH <key> <bytes>, EXPIRE <key> 300 — queued and retried until Redis takes it
  caf::reacts_to<atom::reply, std::string, std::string>,
  // internal: retry the queued replies after an outage
  caf::reacts_to<atom::retry>>;

/// Decodes requests, answers protocol errors and the status object, dispatches to the module.
using zbus_ingress_actor = caf::typed_actor<
  // a listener announces itself; the ingress grants it the in-flight budget as credit
  caf::reacts_to<atom::attach, zbus_listener_actor>,
  // one payload popped from <queue>
  caf::reacts_to<atom::payload, std::string, std::string>,
  // counters
  caf::replies_to<atom::stats>::with<ingress_stats>>;

} // namespace contd
