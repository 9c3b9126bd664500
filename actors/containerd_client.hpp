// The containerd adapter: the only actor that speaks gRPC (see containerd_client_actor in
// messages/interfaces.hpp for the operations). Every handler starts an asynchronous call with a
// deadline on grpc++'s callback API and returns a response promise; the completion runs on a
// gRPC thread, which only posts (call id, status) back to the actor, and the actor delivers the
// promise. No scheduler thread ever waits for containerd.
//
// grpc++ headers stay out of this header (they cost ~10 s per translation unit): the gRPC side of
// the state lives behind a pointer to an incomplete type.
#pragma once

#include <memory>
#include <string>

#include <caf/timespan.hpp>

#include "messages/messages.hpp"

namespace contd {

namespace containerd {
struct client_core; // channel, stubs, calls in flight, subscriptions (containerd_client.cpp)
} // namespace containerd

struct containerd_client_config {
  /// containerd's gRPC socket (a path or a unix:// target).
  std::string socket = "/run/containerd/containerd.sock";
  /// Deadline of every call that has no timeout of its own.
  caf::timespan call_timeout = std::chrono::seconds{30};
  /// After a successful Tasks.Wait timeout, how long to wait for the SIGKILLed exec to go.
  caf::timespan exec_kill_wait = std::chrono::seconds{5};
  /// Re-subscription backoff after an event stream broke: first delay, doubled up to the cap.
  caf::timespan resubscribe_min = std::chrono::milliseconds{100};
  caf::timespan resubscribe_max = std::chrono::seconds{2};
};

struct containerd_client_state {
  static inline const char* name = "contd.containerd_client";
  containerd_client_state();
  ~containerd_client_state(); // cancels calls and streams still in flight
  containerd_client_config config;
  std::unique_ptr<containerd::client_core> core;
};

using containerd_client_pointer =
  containerd_client_impl_actor::stateful_pointer<containerd_client_state>;

/// Spawn with `sys.spawn(containerd_client, config)`; the result converts to
/// containerd_client_actor. Stop it with an exit message: parked promises pin it otherwise.
containerd_client_impl_actor::behavior_type containerd_client(containerd_client_pointer self,
                                                              containerd_client_config config);

} // namespace contd
