#include "src/zbus/client.hpp"

#include <algorithm>
#include <cstdio>
#include <random>

namespace contd::zbus {

std::string new_uuid() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL; // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL; // variant 10
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(hi >> 32), static_cast<unsigned>((hi >> 16) & 0xffff),
                static_cast<unsigned>(hi & 0xffff), static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

client::client(broker_url broker, std::string module, object_id object)
  : conn_(std::move(broker), std::chrono::seconds{2}), module_(std::move(module)),
    object_(std::move(object)) {
}

std::optional<response> client::call(const std::string& method, std::vector<bytes> inputs,
                                     std::chrono::milliseconds timeout, std::string& error) {
  request req;
  req.id = new_uuid();
  req.reply_to = req.id;
  req.object = object_;
  req.method = method;
  req.inputs = std::move(inputs);
  return call_raw(queue_name(module_, object_.name, object_.version), encode_request(req),
                  req.reply_to, timeout, error);
}

std::optional<response> client::call_raw(const std::string& queue, const std::string& payload,
                                         const std::string& reply_to,
                                         std::chrono::milliseconds timeout, std::string& error) {
  if (!conn_.connected() && !conn_.connect()) {
    error = conn_.error();
    return std::nullopt;
  }
  if (!conn_.rpush(queue, payload)) {
    error = conn_.error().empty() ? "RPUSH refused" : conn_.error();
    return std::nullopt;
  }
  return wait_reply(reply_to, timeout, error);
}

std::optional<response> client::status(std::chrono::milliseconds timeout, std::string& error) {
  request req;
  req.id = new_uuid();
  req.reply_to = req.id;
  req.object = {status_object_name, status_object_version};
  return call_raw(queue_name(module_, status_object_name, status_object_version),
                  encode_request(req), req.reply_to, timeout, error);
}

std::optional<response> client::wait_reply(const std::string& reply_to,
                                           std::chrono::milliseconds timeout,
                                           std::string& error) {
  using clock = std::chrono::steady_clock;
  auto deadline = clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration<double>(deadline - clock::now()).count();
    if (left <= 0) {
      error = "no reply within " + std::to_string(timeout.count()) + " ms";
      return std::nullopt;
    }
    std::string key, value;
    switch (conn_.blpop({reply_to}, std::min(left, 1.0), key, value)) {
      case redis_connection::pop_result::item:
        if (auto r = decode_response(value, error))
          return r;
        error = "undecodable reply: " + error;
        return std::nullopt;
      case redis_connection::pop_result::timeout:
        break;
      case redis_connection::pop_result::failed:
        error = conn_.error();
        return std::nullopt;
    }
  }
}

} // namespace contd::zbus
