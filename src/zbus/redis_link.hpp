// A blocking hiredis connection for the zbus adapters. Used only from detached actors (or from
// contctl's own thread): every call blocks for at most its timeout.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "messages/result.hpp"

struct redisContext;

namespace contd::zbus {

/// `unix:///path/to.sock` or `tcp://[password@]host:port` (the URL's user is the AUTH password, as
/// in the Go client).
struct broker_url {
  bool is_unix = true;
  std::string path;              // unix
  std::string host;              // tcp
  int port = 6379;               // tcp
  std::string password;          // optional
  std::string to_string() const; // without the password
};

/// Parses a broker URL.
result<broker_url> parse_broker_url(const std::string& url);

class redis_connection {
public:
  explicit redis_connection(broker_url url,
                            std::chrono::milliseconds io_timeout = std::chrono::seconds{5});
  ~redis_connection();
  redis_connection(const redis_connection&) = delete;
  redis_connection& operator=(const redis_connection&) = delete;

  /// Connects (again), AUTHs and PINGs. False + `error()` on failure.
  bool connect();
  bool connected() const { return ctx_ != nullptr; }
  void disconnect();
  const std::string& error() const { return error_; }

  enum class pop_result { item, timeout, failed };
  /// BLPOP on `keys` (first non-empty key wins) for at most `timeout_s` seconds.
  pop_result blpop(const std::vector<std::string>& keys, double timeout_s, std::string& key,
                   std::string& value);

  /// RPUSH key bytes + EXPIRE key ttl, pipelined. False on failure (the reply was not stored).
  bool push_reply(const std::string& key, const std::string& value, int ttl_seconds);

  /// RPUSH key bytes.
  bool rpush(const std::string& key, const std::string& value);

  /// DEL key (tests, contctl clean-up).
  bool del(const std::string& key);

  /// LLEN key, or -1 on failure.
  long long llen(const std::string& key);

  /// TTL key (seconds), or a negative value.
  long long ttl(const std::string& key);

  /// PUBLISH channel payload. False when Redis did not take it: `connected()` then tells an
  /// outage (false) from an error answer (true). `receivers` gets the number of subscribers that
  /// received it (pub/sub keeps nothing for absent subscribers).
  bool publish(const std::string& channel, const std::string& payload,
               long long* receivers = nullptr);

  /// PUBLISH channel p for every p, pipelined (one round trip). False when Redis did not take
  /// all of them; some may have been published (the caller sends them again: duplicates).
  bool publish_many(const std::string& channel, const std::vector<std::string>& payloads);

  /// SUBSCRIBE to `channels` and wait for Redis to confirm each. From then on the connection is in
  /// pub/sub mode: only next_message() and disconnect() may be used on it (a reconnect needs a new
  /// subscribe()).
  bool subscribe(const std::vector<std::string>& channels);

  enum class message_result { message, timeout, failed };
  /// Waits at most `timeout` for the next message of a subscribed connection. A timeout leaves the
  /// connection usable; `failed` means it is gone (or Redis sent something unexpected) and was
  /// disconnected. A signal interrupting the wait is reported as a timeout.
  message_result next_message(std::chrono::milliseconds timeout, std::string& channel,
                              std::string& payload);

private:
  bool fail(const std::string& what);
  long long integer_command(const std::vector<std::string>& args);

  broker_url url_;
  std::chrono::milliseconds io_timeout_;
  redisContext* ctx_ = nullptr;
  std::string error_;
  bool subscribed_ = false;
};

} // namespace contd::zbus
