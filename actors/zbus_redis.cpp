#include "actors/zbus_redis.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "src/log/log.hpp"

namespace contd {

namespace {

std::chrono::milliseconds next_delay(std::chrono::milliseconds current, const redis_backoff& b) {
  if (current.count() == 0)
    return b.initial;
  return std::min(current * 2, b.max);
}

} // namespace

zbus_listener_actor::behavior_type
zbus_listener(zbus_listener_actor::stateful_pointer<zbus_listener_state> self,
              zbus_listener_config config, zbus_ingress_actor ingress) {
  auto& st = self->state;
  st.conn = std::make_unique<zbus::redis_connection>(config.broker);
  st.config = std::move(config);
  st.ingress = std::move(ingress);
  self->send(st.ingress, atom::attach_v, zbus_listener_actor{self});
  self->send(self, atom::pop_v);
  return {
    [self](atom::credit, uint32_t n) { self->state.credit += n; },
    [self](atom::pop) {
      auto& st = self->state;
      auto outage = [&](const std::string& what) {
        if (!st.outage)
          spdlog::warn("zbus listener: redis at {} unavailable ({}); retrying with backoff",
                       st.config.broker.to_string(), what);
        st.outage = true;
        st.delay = next_delay(st.delay, st.config.backoff);
        self->delayed_send(self, st.delay, atom::pop_v);
      };
      if (!st.conn->connected() && !st.conn->connect())
        return outage(st.conn->error());
      if (st.outage) {
        spdlog::info("zbus listener: redis at {} is back", st.config.broker.to_string());
        st.outage = false;
      }
      st.delay = std::chrono::milliseconds{0};
      // The status queue first and always: health checks are answered even at zero credit.
      std::vector<std::string> keys{st.config.status_queue};
      if (st.credit > 0)
        keys.push_back(st.config.object_queue);
      std::string key, value;
      switch (st.conn->blpop(keys, st.config.pop_timeout_s, key, value)) {
      case zbus::redis_connection::pop_result::item:
        if (key == st.config.object_queue && st.credit > 0)
          st.credit--;
        st.popped++;
        // From here the request lives in the ingress: it is answered even if Redis goes away.
        self->send(st.ingress, atom::payload_v, std::move(key), std::move(value));
        break;
      case zbus::redis_connection::pop_result::timeout:
        break;
      case zbus::redis_connection::pop_result::failed:
        return outage(st.conn->error());
      }
      self->send(self, atom::pop_v);
    },
  };
}

namespace {

void flush(zbus_replier_actor::stateful_pointer<zbus_replier_state> self) {
  auto& st = self->state;
  while (!st.queue.empty()) {
    auto& [key, bytes] = st.queue.front();
    if (!st.conn->push_reply(key, bytes, st.config.ttl_seconds)) {
      if (st.conn->connected()) {
        // Redis answered with an error (e.g. the key holds another type): retrying cannot help.
        spdlog::error("zbus replier: reply to {} refused: {}", log::printable(key),
                      st.conn->error());
        st.queue.pop_front();
        continue;
      }
      if (!st.outage)
        spdlog::warn("zbus replier: redis at {} unavailable ({}); {} replies held for retry",
                     st.config.broker.to_string(), st.conn->error(), st.queue.size());
      st.outage = true;
      if (!st.retry_scheduled) {
        st.retry_scheduled = true;
        st.delay = next_delay(st.delay, st.config.backoff);
        self->delayed_send(self, st.delay, atom::retry_v);
      }
      return;
    }
    if (st.outage) {
      spdlog::info("zbus replier: redis at {} is back", st.config.broker.to_string());
      st.outage = false;
    }
    st.delay = std::chrono::milliseconds{0};
    st.queue.pop_front();
  }
}

} // namespace

zbus_replier_actor::behavior_type
zbus_replier(zbus_replier_actor::stateful_pointer<zbus_replier_state> self,
             zbus_replier_config config) {
  self->state.conn = std::make_unique<zbus::redis_connection>(config.broker);
  self->state.config = std::move(config);
  return {
    [self](atom::reply, std::string& key, std::string& bytes) {
      self->state.queue.emplace_back(std::move(key), std::move(bytes));
      if (!self->state.outage)
        flush(self);
    },
    [self](atom::drain) {
      flush(self);
      return static_cast<uint64_t>(self->state.queue.size());
    },
    [self](atom::retry) {
      self->state.retry_scheduled = false;
      flush(self);
    },
  };
}

namespace {

void flush(zbus_publisher_actor::stateful_pointer<zbus_publisher_state> self) {
  auto& st = self->state;
  while (!st.queue.empty()) {
    if (!st.conn->publish(st.config.channel, st.queue.front())) {
      if (st.conn->connected()) {
        // Redis answered with an error (e.g. OOM, NOAUTH): retrying this event cannot help.
        if (!st.refusing)
          spdlog::error("zbus publisher: redis refused an event on {}: {}", st.config.channel,
                        st.conn->error());
        st.refusing = true;
        st.queue.pop_front();
        continue;
      }
      if (!st.outage) {
        spdlog::warn("zbus publisher: redis at {} unavailable ({}); holding up to {} events "
                     "for retry",
                     st.config.broker.to_string(), st.conn->error(), st.config.max_queued);
        st.outage = true;
      }
      if (!st.retry_scheduled) {
        st.retry_scheduled = true;
        st.delay = next_delay(st.delay, st.config.backoff);
        self->delayed_send(self, st.delay, atom::retry_v);
      }
      return;
    }
    st.refusing = false;
    if (st.outage) {
      if (st.dropped_in_outage > 0)
        spdlog::info("zbus publisher: redis at {} is back; {} events were dropped meanwhile",
                     st.config.broker.to_string(), st.dropped_in_outage);
      else
        spdlog::info("zbus publisher: redis at {} is back", st.config.broker.to_string());
      st.outage = false;
      st.drop_warned = false;
      st.dropped_in_outage = 0;
    }
    st.delay = std::chrono::milliseconds{0};
    st.queue.pop_front();
    st.published++;
  }
}

} // namespace

zbus_publisher_actor::behavior_type
zbus_publisher(zbus_publisher_actor::stateful_pointer<zbus_publisher_state> self,
               zbus_publisher_config config) {
  self->state.conn = std::make_unique<zbus::redis_connection>(config.broker, config.io_timeout);
  self->state.config = std::move(config);
  if (self->state.config.max_queued == 0)
    self->state.config.max_queued = 1;
  return {
    [self](atom::publish, const container_event& ev) {
      auto& st = self->state;
      if (st.queue.size() >= st.config.max_queued) {
        if (!st.drop_warned)
          spdlog::warn("zbus publisher: {} events held; dropping the oldest until redis is back",
                       st.queue.size());
        st.drop_warned = true;
        st.queue.pop_front();
        st.dropped++;
        st.dropped_in_outage++;
      }
      st.queue.push_back(zbus::encode_event(ev));
      // During an outage only the retry timer touches Redis: events never wait for a connect.
      if (!st.outage)
        flush(self);
    },
    [self](atom::drain) {
      flush(self);
      return static_cast<uint64_t>(self->state.queue.size());
    },
    [self](atom::stats) -> caf::result<uint64_t, uint64_t, uint64_t> {
      auto& st = self->state;
      return {st.published, st.dropped, static_cast<uint64_t>(st.queue.size())};
    },
    [self](atom::retry) {
      self->state.retry_scheduled = false;
      flush(self);
    },
  };
}

} // namespace contd
