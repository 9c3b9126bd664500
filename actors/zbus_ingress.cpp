#include "actors/zbus_ingress.hpp"

#include <utility>

#include <spdlog/spdlog.h>

#include "src/log/log.hpp"

namespace contd {

namespace {

/// Wall-clock now as a Go time, from the origin and CAF's clock.
go_time wall_now(zbus_ingress_pointer self) {
  const auto& st = self->state;
  auto ns =
    st.config.unix_origin_ns
    + std::chrono::duration_cast<std::chrono::nanoseconds>(self->clock().now() - st.clock_origin)
        .count();
  go_time t;
  t.sec = ns / 1'000'000'000;
  t.nsec = static_cast<uint32_t>(ns % 1'000'000'000);
  return t;
}

using zbus::bytes;

/// One reply: hand it to the replier and account for it.
void send_reply(zbus_ingress_pointer self, const std::string& reply_to, zbus::response resp) {
  self->state.stats.replied++;
  self->send(self->state.replier, atom::reply_v, reply_to, zbus::encode_response(resp));
}

/// Answers every waiting drain with the number of calls in flight now.
void answer_drains(zbus_ingress_pointer self) {
  auto drains = std::move(self->state.drains);
  self->state.drains.clear();
  for (auto& [n, promise] : drains)
    promise.deliver(uint64_t{self->state.stats.in_flight});
}

/// A call of the object queue is over: return its credit to the listener.
void finish(zbus_ingress_pointer self, uint64_t call_id) {
  auto& st = self->state;
  st.active.erase(call_id);
  if (st.active.empty())
    st.idle_since = wall_now(self);
  if (st.stats.in_flight > 0)
    st.stats.in_flight--;
  if (st.listener)
    self->send(st.listener, atom::credit_v, uint32_t{1});
  if (st.stats.in_flight == 0 && !st.drains.empty())
    answer_drains(self);
}

void log_call(zbus_ingress_pointer self, uint64_t call_id, const zbus::call& c,
              const std::string& outcome) {
  const auto& st = self->state;
  auto it = st.active.find(call_id);
  double ms = 0;
  if (it != st.active.end())
    ms =
      std::chrono::duration<double, std::milli>(self->clock().now() - it->second.started).count();
  spdlog::info("zbus {} ns=\"{}\" id=\"{}\" {:.1f}ms {}", zbus::method_name(c.m),
               log::printable(c.ns, 80), log::printable(c.id.empty() ? c.data.name : c.id, 80), ms,
               outcome);
}

/// Completes a call: Data per the method's rules, Output.Error from a failure.
void complete(zbus_ingress_pointer self, uint64_t call_id, const zbus::request& req,
              const zbus::call& c, std::optional<bytes> data, const caf::error& err) {
  zbus::response resp;
  resp.id = req.id;
  if (err) {
    auto text = error_text(err);
    if (text.empty())
      text = "internal error"; // never an empty message: Go would read it as success
    resp.call_error = text;
    resp.data = zbus::zero_result(c.m);
    log_call(self, call_id, c, "error: " + log::printable(text));
  } else {
    resp.data = zbus::returns_value(c.m) ? std::move(data) : std::nullopt;
    log_call(self, call_id, c, "ok");
  }
  send_reply(self, req.reply_to, std::move(resp));
  finish(self, call_id);
}

void dispatch(zbus_ingress_pointer self, uint64_t call_id, zbus::request req, zbus::call c) {
  auto& module = self->state.module;
  auto on_error = [self, call_id, req, c](caf::error& err) {
    complete(self, call_id, req, c, std::nullopt, err);
  };
  switch (c.m) {
  case zbus::method::run:
    self->request(module, caf::infinite, atom::run_v, c.ns, c.data)
      .then([self, call_id, req,
             c](std::string& id) { complete(self, call_id, req, c, zbus::encode_string(id), {}); },
            on_error);
    break;
  case zbus::method::inspect:
    self->request(module, caf::infinite, atom::inspect_v, c.ns, c.id)
      .then([self, call_id, req,
             c](container& x) { complete(self, call_id, req, c, zbus::encode_container(x), {}); },
            on_error);
    break;
  case zbus::method::delete_:
    self->request(module, caf::infinite, atom::delete_v, c.ns, c.id)
      .then([self, call_id, req, c]() { complete(self, call_id, req, c, std::nullopt, {}); },
            on_error);
    break;
  case zbus::method::signal_delete:
    self->request(module, caf::infinite, atom::sig_delete_v, c.ns, c.id)
      .then([self, call_id, req, c]() { complete(self, call_id, req, c, std::nullopt, {}); },
            on_error);
    break;
  case zbus::method::exec:
    self
      ->request(module, caf::infinite, atom::exec_v, c.ns, c.id,
                caf::timespan{std::chrono::nanoseconds{c.timeout_ns}}, c.args)
      .then([self, call_id, req, c]() { complete(self, call_id, req, c, std::nullopt, {}); },
            on_error);
    break;
  case zbus::method::logs:
    self->request(module, caf::infinite, atom::logs_v, c.ns, c.id)
      .then(
        [self, call_id, req, c](std::string& text) {
          complete(self, call_id, req, c, zbus::encode_string(text), {});
        },
        on_error);
    break;
  case zbus::method::stats:
    self->request(module, caf::infinite, atom::metrics_v, c.ns, c.id)
      .then([self, call_id, req,
             c](task_metrics& m) { complete(self, call_id, req, c, zbus::encode_stats(m), {}); },
            on_error);
    break;
  case zbus::method::list:
    self->request(module, caf::infinite, atom::list_v, c.ns)
      .then(
        [self, call_id, req, c](std::vector<std::string>& ids) {
          complete(self, call_id, req, c, zbus::encode_strings(ids), {});
        },
        on_error);
    break;
  case zbus::method::list_ns:
    self->request(module, caf::infinite, atom::list_ns_v)
      .then(
        [self, call_id, req, c](std::vector<std::string>& names) {
          complete(self, call_id, req, c, zbus::encode_strings(names), {});
        },
        on_error);
    break;
  }
}

/// A warning about a bad request, within the rate limit; the rest are counted.
template <class... Ts>
void warn_bad_request(zbus_ingress_pointer self, const char* fmt, Ts&&... xs) {
  auto& st = self->state;
  uint64_t held = 0;
  bool ok = st.bad_request_log.allow(self->clock().now(), held);
  if (held > 0)
    spdlog::warn("zbus: {} more bad requests in the last minute were not logged", held);
  if (!ok) {
    st.stats.warnings_suppressed++;
    return;
  }
  spdlog::warn(fmt::runtime(fmt), std::forward<Ts>(xs)...);
}

void answer_status(zbus_ingress_pointer self, const std::string& payload) {
  auto req = zbus::decode_request(payload);
  if (!req) {
    const auto& failure = req.error();
    // The Go status loop drops what it cannot decode; so do we, unless a ReplyTo survived.
    self->state.stats.undecodable++;
    if (failure.reply_to.empty()) {
      self->state.stats.dropped++;
      warn_bad_request(self, "zbus status: dropped an undecodable payload: {}", failure.reason);
      return;
    }
    self->state.stats.protocol_errors++;
    send_reply(self, failure.reply_to, {failure.id, std::nullopt, std::nullopt, failure.reason});
    return;
  }
  auto& st = self->state;
  if (req->reply_to.empty()) {
    st.stats.unanswerable++;
    warn_bad_request(self, "zbus status: a request without ReplyTo: not answered");
    return;
  }
  std::vector<zbus::worker_status> workers;
  // One busy worker per call in flight (listing at most 32), and the idle capacity as one free
  // worker: the Go server reports its fixed pool the same way.
  size_t listed = 0;
  for (const auto& [id, call] : st.active) {
    if (listed++ == 32)
      break;
    workers.push_back({"busy", call.started_wall,
                       std::string{"["} + zbus::object_name + "@" + zbus::object_version + "]."
                         + zbus::method_name(call.m) + "()"});
  }
  if (st.stats.in_flight < st.config.max_in_flight)
    workers.push_back({"free", st.idle_since, ""});
  auto data = zbus::encode_status({{zbus::object_name, zbus::object_version}}, workers, &st.stats);
  send_reply(self, req->reply_to, {req->id, std::move(data), std::nullopt, std::nullopt});
}

void handle_request(zbus_ingress_pointer self, const std::string& payload) {
  auto& st = self->state;
  auto call_id = st.next_call++;
  st.stats.in_flight++;
  auto req = zbus::decode_request(payload);
  if (!req) {
    const auto& failure = req.error();
    st.stats.undecodable++;
    if (failure.reply_to.empty()) {
      st.stats.dropped++;
      warn_bad_request(self, "zbus: dropped an undecodable payload of {} bytes (no ReplyTo): {}",
                       payload.size(), failure.reason);
    } else {
      st.stats.protocol_errors++;
      warn_bad_request(self, "zbus: undecodable payload for {}: {}",
                       log::printable(failure.reply_to), failure.reason);
      send_reply(self, failure.reply_to, {failure.id, std::nullopt, std::nullopt, failure.reason});
    }
    finish(self, call_id);
    return;
  }
  if (req->reply_to.empty()) {
    // Nobody could receive the answer (it would go to the Redis key ""): a Run would create a
    // container and tell no one. Not executed, counted.
    st.stats.unanswerable++;
    warn_bad_request(self, "zbus: {} {}.{} has no ReplyTo: not executed", log::printable(req->id),
                     log::printable(req->object.name + "@" + req->object.version),
                     log::printable(req->method));
    finish(self, call_id);
    return;
  }
  auto checked = zbus::check_call(*req);
  if (!checked.value) {
    st.stats.protocol_errors++;
    warn_bad_request(self, "zbus: {} {}.{}: {}", log::printable(req->id),
                     log::printable(req->object.name + "@" + req->object.version),
                     log::printable(req->method), checked.protocol_error);
    send_reply(self, req->reply_to, {req->id, std::nullopt, std::nullopt, checked.protocol_error});
    finish(self, call_id);
    return;
  }
  st.active.emplace(call_id, zbus_ingress_state::active_call{checked.value->m, self->clock().now(),
                                                             wall_now(self)});
  dispatch(self, call_id, std::move(*req), std::move(*checked.value));
}

} // namespace

zbus_ingress_actor::behavior_type zbus_ingress(zbus_ingress_pointer self,
                                               container_module_actor module,
                                               zbus_replier_actor replier,
                                               zbus_ingress_config config) {
  self->state.module = std::move(module);
  self->state.replier = std::move(replier);
  self->state.config = config;
  if (self->state.config.unix_origin_ns == 0)
    self->state.config.unix_origin_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count();
  self->state.clock_origin = self->clock().now();
  self->state.idle_since = wall_now(self);
  return {
    [self](atom::attach, zbus_listener_actor listener) {
      auto& st = self->state;
      st.listener = std::move(listener);
      auto budget = st.config.max_in_flight > st.stats.in_flight
                      ? st.config.max_in_flight - st.stats.in_flight
                      : 0u;
      self->send(st.listener, atom::credit_v, budget);
    },
    [self](atom::payload, const std::string& queue, const std::string& bytes) {
      self->state.stats.received++;
      if (queue == zbus::status_queue())
        answer_status(self, bytes);
      else
        handle_request(self, bytes);
    },
    [self](atom::stats) { return self->state.stats; },
    [self](atom::drain, caf::timespan within) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (st.stats.in_flight == 0)
        return uint64_t{0};
      if (within <= caf::timespan::zero())
        st.drain_cut = true;
      if (st.drain_cut) {
        answer_drains(self);
        return uint64_t{st.stats.in_flight};
      }
      auto n = st.next_drain++;
      auto promise = self->make_response_promise<uint64_t>();
      st.drains.emplace(n, promise);
      self->delayed_send(self, within, atom::timer_v, n);
      return promise;
    },
    [self](atom::timer, uint64_t n) {
      auto& st = self->state;
      auto it = st.drains.find(n);
      if (it == st.drains.end())
        return; // answered when the last call ended
      auto promise = std::move(it->second);
      st.drains.erase(it);
      promise.deliver(uint64_t{st.stats.in_flight});
    },
  };
}

} // namespace contd
