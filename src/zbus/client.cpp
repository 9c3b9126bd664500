#include "src/zbus/client.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace contd::zbus {

std::string new_uuid() {
  // 122 random bits from the kernel for every id (RFC 4122 version 4): every caller shares the
  // reply key space, so ids must not be predictable or collide.
  unsigned char b[16];
  size_t got = 0;
  while (got < sizeof b) {
    auto n = ::getrandom(b + got, sizeof b - got, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      throw std::runtime_error("getrandom failed: " + std::string{std::strerror(errno)});
    got += static_cast<size_t>(n);
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40); // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80); // variant 10
  char buf[40];
  std::snprintf(
    buf, sizeof(buf), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
    b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return buf;
}

client::client(broker_url broker, std::string module, object_id object)
    : conn_(std::move(broker), std::chrono::seconds{2}), module_(std::move(module)),
      object_(std::move(object)) {}

result<response> client::call(const std::string& method, std::vector<bytes> inputs,
                              std::chrono::milliseconds timeout) {
  request req;
  req.id = new_uuid();
  req.reply_to = req.id;
  req.object = object_;
  req.method = method;
  req.inputs = std::move(inputs);
  return call_raw(queue_name(module_, object_.name, object_.version), encode_request(req),
                  req.reply_to, timeout);
}

result<response> client::call_raw(const std::string& queue, const std::string& payload,
                                  const std::string& reply_to, std::chrono::milliseconds timeout) {
  if (!conn_.connected() && !conn_.connect())
    return fail(conn_.error());
  if (!conn_.rpush(queue, payload))
    return fail(conn_.error().empty() ? "RPUSH refused" : conn_.error());
  return wait_reply(reply_to, timeout);
}

result<response> client::status(std::chrono::milliseconds timeout) {
  request req;
  req.id = new_uuid();
  req.reply_to = req.id;
  req.object = {status_object_name, status_object_version};
  return call_raw(queue_name(module_, status_object_name, status_object_version),
                  encode_request(req), req.reply_to, timeout);
}

result<response> client::wait_reply(const std::string& reply_to,
                                    std::chrono::milliseconds timeout) {
  using clock = std::chrono::steady_clock;
  auto deadline = clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration<double>(deadline - clock::now()).count();
    if (left <= 0)
      return fail("no reply within " + std::to_string(timeout.count()) + " ms");
    std::string key, value;
    switch (conn_.blpop({reply_to}, std::min(left, 1.0), key, value)) {
    case redis_connection::pop_result::item:
      if (auto r = decode_response(value); !r)
        return fail("undecodable reply: " + r.error());
      else
        return r;
    case redis_connection::pop_result::timeout:
      break;
    case redis_connection::pop_result::failed:
      return fail(conn_.error());
    }
  }
}

} // namespace contd::zbus
