#include "src/containerd/event_stream.hpp"

#include "src/containerd/convert.hpp"

namespace contd::containerd {

event_stream::event_stream(inflight::token token, event_fn on_event, done_fn on_done)
    : token_(std::move(token)), on_event_(std::move(on_event)), on_done_(std::move(on_done)) {}

std::shared_ptr<event_stream> event_stream::open(events_v1::Events::Stub& stub,
                                                 inflight::token token,
                                                 const std::vector<std::string>& filters,
                                                 event_fn on_event, done_fn on_done) {
  auto s =
    std::make_shared<event_stream>(std::move(token), std::move(on_event), std::move(on_done));
  for (const auto& f : filters)
    s->req_.add_filters(f);
  s->keep_alive_ = s;
  stub.async()->Subscribe(&s->ctx_, &s->req_, s.get());
  s->StartRead(&s->env_);
  s->StartCall();
  return s;
}

void event_stream::OnReadDone(bool ok) {
  if (!ok)
    return; // the stream is over; OnDone follows with the status
  if (auto ev = unpack_event(env_))
    on_event_(std::move(*ev));
  env_.Clear();
  StartRead(&env_);
}

void event_stream::OnDone(const grpc::Status& status) {
  on_done_(static_cast<int32_t>(status.error_code()), status.error_message());
  // Last statement: this may destroy *this when nobody else holds the stream.
  auto self = std::move(keep_alive_);
}

} // namespace contd::containerd
