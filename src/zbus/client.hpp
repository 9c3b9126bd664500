// A blocking zbus v1 client, as the Go client behaves (§4.2): RPUSH the request, then BLPOP the
// reply list in short polls until the deadline. For contctl and tests; never used on an actor's
// scheduler thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "src/zbus/codec.hpp"
#include "src/zbus/redis_link.hpp"

namespace contd::zbus {

class client {
public:
  explicit client(broker_url broker, std::string module = module_name,
                  object_id object = {object_name, object_version});

  /// Calls `method` with the given encoded inputs. Fails when Redis cannot be reached or no reply
  /// arrived before `timeout` (the request then stays queued, as with Go).
  result<response> call(const std::string& method, std::vector<bytes> inputs,
                        std::chrono::milliseconds timeout);

  /// Pushes raw bytes to a queue and waits for a reply on `reply_to` (tests of hostile input).
  result<response> call_raw(const std::string& queue, const std::string& payload,
                            const std::string& reply_to, std::chrono::milliseconds timeout);

  /// The status object (`<module>.zbus@1.0`).
  result<response> status(std::chrono::milliseconds timeout);

  redis_connection& connection() { return conn_; }

private:
  result<response> wait_reply(const std::string& reply_to, std::chrono::milliseconds timeout);

  redis_connection conn_;
  std::string module_;
  object_id object_;
};

/// A random UUIDv4 in lower case, as the Go client uses for ID and ReplyTo.
std::string new_uuid();

} // namespace contd::zbus
