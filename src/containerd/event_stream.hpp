// One Events.Subscribe server stream, driven by grpc++'s callback reactor. Its callbacks run on
// gRPC threads, so it never touches actor state: it hands each TaskExit/TaskOOM and the end of
// the stream to the functions it was given (the adapter's post messages to itself).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/client_context.h>
#include <grpcpp/support/client_callback.h>

#include "src/containerd/channel.hpp"
#include "messages/containerd_types.hpp"

namespace contd::containerd {

class event_stream : public grpc::ClientReadReactor<events_v1::Envelope> {
public:
  using event_fn = std::function<void(task_event)>;
  using done_fn = std::function<void(int32_t code, std::string message)>;

  /// Opens the stream. `on_done` runs exactly once, when the stream ends for any reason;
  /// `on_event` never runs after it. No deadline: the stream lives until cancelled or broken.
  static std::shared_ptr<event_stream> open(events_v1::Events::Stub& stub, inflight::token token,
                                            const std::vector<std::string>& filters,
                                            event_fn on_event, done_fn on_done);

  /// Ends the stream (thread-safe; harmless when it has ended already).
  void cancel() { ctx_.TryCancel(); }

  event_stream(inflight::token token, event_fn on_event, done_fn on_done);

private:
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

  inflight::token token_; // first: released after the context
  grpc::ClientContext ctx_;
  events_v1::SubscribeRequest req_;
  events_v1::Envelope env_;
  event_fn on_event_;
  done_fn on_done_;
  // gRPC owns a reactor until OnDone; this reference is that ownership, dropped in OnDone.
  std::shared_ptr<event_stream> keep_alive_;
};

} // namespace contd::containerd
