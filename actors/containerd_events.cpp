// Event subscriptions in the containerd adapter: one server stream per subscription, re-opened
// with a doubling backoff whenever it breaks (containerd restarts), and a probe that tells the
// sink when a new stream is live so that it can reconcile what it may have missed.
#include <algorithm>

#include "actors/containerd_client_core.hpp"

namespace contd::adapter {

using std::string;
namespace rpcs = containerd::rpcs;

/// Tells the sink that stream `generation` of subscription `sub_id` is open, once containerd
/// answers a call made after the stream was started: the call travels on the same connection,
/// so containerd has the subscription by then (an event in the instant between is caught by the
/// reconciliation the sink starts on this message). Retried while the stream lives.
void probe_stream(pointer self, uint64_t sub_id, uint64_t generation) {
  launch<rpcs::version>(self, "", {}, [self, sub_id, generation](auto&, rpc_status& s) {
    auto& subs = self->state.core->subs;
    auto i = subs.find(sub_id);
    if (i == subs.end() || i->second.generation != generation || !i->second.stream)
      return; // cancelled, or a newer stream has its own probe
    if (!s.ok()) {
      self->delayed_send(self, self->state.config.resubscribe_min, atom::sub_probe_v, sub_id,
                         generation);
      return;
    }
    self->send(i->second.sink, atom::resync_v);
  });
}

void open_stream(pointer self, uint64_t sub_id) {
  auto& core = *self->state.core;
  auto i = core.subs.find(sub_id);
  if (i == core.subs.end())
    return;
  auto hdl = caf::actor_cast<containerd_client_impl_actor>(self);
  i->second.opened = self->clock().now(); // CAF's clock: manual in deterministic tests
  auto generation = ++i->second.generation;
  // Both callbacks run on gRPC threads: post, never touch the state.
  i->second.stream = containerd::event_stream::open(
    *core.rpc.events, containerd::inflight::enter(core.calls), i->second.filters,
    [hdl, sub_id](task_event ev) { caf::anon_send(hdl, atom::sub_event_v, sub_id, std::move(ev)); },
    [hdl, sub_id](int32_t code, string msg) {
      caf::anon_send(hdl, atom::sub_ended_v, sub_id, code, std::move(msg));
    });
  probe_stream(self, sub_id, generation);
}

void subscribe(pointer self, const event_sink_actor& sink, std::vector<string> filters) {
  auto& core = *self->state.core;
  if (filters.empty())
    filters = {R"(topic=="/tasks/exit")", R"(topic=="/tasks/oom")"};
  auto sub_id = ++core.next_sub;
  core.subs.emplace(
    sub_id, containerd::subscription{
              sink, std::move(filters), nullptr, self->state.config.resubscribe_min, {}, 0});
  self->monitor(sink);
  open_stream(self, sub_id);
}

void drop_subscriptions_of(pointer self, const caf::actor_addr& sink) {
  auto& subs = self->state.core->subs;
  for (auto i = subs.begin(); i != subs.end();) {
    if (i->second.sink.address() == sink) {
      if (i->second.stream)
        i->second.stream->cancel();
      i = subs.erase(i);
    } else {
      ++i;
    }
  }
}

void on_sub_event(pointer self, uint64_t sub_id, task_event& ev) {
  auto& subs = self->state.core->subs;
  auto i = subs.find(sub_id);
  if (i == subs.end())
    return;                                               // cancelled meanwhile
  i->second.backoff = self->state.config.resubscribe_min; // the stream works
  self->send(i->second.sink, atom::event_v, std::move(ev));
}

void on_sub_ended(pointer self, uint64_t sub_id, int32_t code, const string& message) {
  auto& cfg = self->state.config;
  auto& subs = self->state.core->subs;
  auto i = subs.find(sub_id);
  if (i == subs.end())
    return; // we cancelled it ourselves
  auto& sub = i->second;
  sub.stream.reset();
  // A stream that lived a while was healthy: start the backoff over.
  if (self->clock().now() - sub.opened > std::chrono::seconds{5})
    sub.backoff = cfg.resubscribe_min;
  spdlog::info("containerd: event stream ended (gRPC code {}: {}); re-subscribing in {} ms", code,
               message, std::chrono::duration_cast<std::chrono::milliseconds>(sub.backoff).count());
  // A timer, not a sleep: the actor keeps serving while containerd comes back.
  self->delayed_send(self, sub.backoff, atom::sub_retry_v, sub_id);
  sub.backoff = std::min(sub.backoff * 2, cfg.resubscribe_max);
}

} // namespace contd::adapter
