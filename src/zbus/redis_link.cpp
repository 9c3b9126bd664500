#include "src/zbus/redis_link.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <mutex>

#include <hiredis/hiredis.h>

namespace contd::zbus {

namespace {

struct reply_deleter {
  void operator()(redisReply* r) const {
    if (r != nullptr)
      freeReplyObject(r);
  }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

timeval to_timeval(std::chrono::milliseconds d) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

reply_ptr command_argv(redisContext* ctx, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return reply_ptr{static_cast<redisReply*>(
    redisCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data()))};
}

} // namespace

std::string broker_url::to_string() const {
  if (is_unix)
    return "unix://" + path;
  return "tcp://" + host + ":" + std::to_string(port);
}

result<broker_url> parse_broker_url(const std::string& url) {
  auto sep = url.find("://");
  if (sep == std::string::npos)
    return fail("invalid broker URL '" + url + "': expecting tcp:// or unix://");
  auto scheme = url.substr(0, sep);
  auto rest = url.substr(sep + 3);
  broker_url out;
  // userinfo@ : the user name is the password, as the Go client does.
  auto slash = rest.find('/');
  auto at = rest.find('@');
  if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
    auto user = rest.substr(0, at);
    auto colon = user.find(':');
    out.password = colon == std::string::npos ? user : user.substr(0, colon);
    rest = rest.substr(at + 1);
    slash = rest.find('/');
  }
  if (scheme == "unix") {
    // The socket path is the URL path: unix:///var/run/redis.sock -> /var/run/redis.sock.
    if (slash == std::string::npos)
      return fail("invalid broker URL '" + url + "': no socket path");
    out.is_unix = true;
    out.path = rest.substr(slash);
    if (out.path.size() < 2)
      return fail("invalid broker URL '" + url + "': no socket path");
    return out;
  }
  if (scheme == "tcp" || scheme == "redis") {
    out.is_unix = false;
    auto hostport = slash == std::string::npos ? rest : rest.substr(0, slash);
    auto colon = hostport.rfind(':');
    if (colon == std::string::npos) {
      out.host = hostport;
    } else {
      out.host = hostport.substr(0, colon);
      auto port = hostport.substr(colon + 1);
      char* end = nullptr;
      long p = std::strtol(port.c_str(), &end, 10);
      if (port.empty() || *end != '\0' || p <= 0 || p > 65535)
        return fail("invalid broker URL '" + url + "': bad port '" + port + "'");
      out.port = static_cast<int>(p);
    }
    if (out.host.empty())
      return fail("invalid broker URL '" + url + "': no host");
    return out;
  }
  return fail("unknown scheme '" + scheme + "' expecting tcp or unix");
}

redis_connection::redis_connection(broker_url url, std::chrono::milliseconds io_timeout)
    : url_(std::move(url)), io_timeout_(io_timeout) {
  // hiredis writes with write(2): a Redis that went away must be an error, not a SIGPIPE that
  // kills the process.
  static std::once_flag ignore_sigpipe;
  std::call_once(ignore_sigpipe, [] { signal(SIGPIPE, SIG_IGN); });
}

redis_connection::~redis_connection() {
  disconnect();
}

void redis_connection::disconnect() {
  subscribed_ = false;
  if (ctx_ != nullptr) {
    redisFree(ctx_);
    ctx_ = nullptr;
  }
}

bool redis_connection::fail(const std::string& what) {
  error_ = what;
  if (ctx_ != nullptr && ctx_->err != 0)
    error_ += ": " + std::string{ctx_->errstr};
  disconnect();
  return false;
}

bool redis_connection::connect() {
  disconnect();
  auto tv = to_timeval(io_timeout_);
  ctx_ = url_.is_unix ? redisConnectUnixWithTimeout(url_.path.c_str(), tv)
                      : redisConnectWithTimeout(url_.host.c_str(), url_.port, tv);
  if (ctx_ == nullptr) {
    error_ = "cannot allocate a redis context";
    return false;
  }
  if (ctx_->err != 0)
    return fail("cannot connect to redis at " + url_.to_string());
  redisSetTimeout(ctx_, tv);
  if (!url_.password.empty()) {
    auto r = command_argv(ctx_, {"AUTH", url_.password});
    if (!r || r->type == REDIS_REPLY_ERROR)
      return fail("redis AUTH failed" + (r ? ": " + std::string{r->str, r->len} : std::string{}));
  }
  auto r = command_argv(ctx_, {"PING"});
  if (!r || r->type == REDIS_REPLY_ERROR)
    return fail("redis PING failed" + (r ? ": " + std::string{r->str, r->len} : std::string{}));
  error_.clear();
  return true;
}

redis_connection::pop_result redis_connection::blpop(const std::vector<std::string>& keys,
                                                     double timeout_s, std::string& key,
                                                     std::string& value) {
  if (ctx_ == nullptr && !connect())
    return pop_result::failed;
  // BLPOP 0 blocks forever: never let rounding get there.
  timeout_s = std::max(timeout_s, 0.01);
  // The socket timeout must outlast the server-side block.
  auto block = std::chrono::milliseconds{static_cast<long>(std::ceil(timeout_s * 1000))};
  auto tv = to_timeval(block + io_timeout_);
  redisSetTimeout(ctx_, tv);
  std::vector<std::string> args{"BLPOP"};
  args.insert(args.end(), keys.begin(), keys.end());
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", timeout_s);
  args.emplace_back(buf);
  auto r = command_argv(ctx_, args);
  if (!r) {
    fail("redis BLPOP failed");
    return pop_result::failed;
  }
  if (r->type == REDIS_REPLY_NIL)
    return pop_result::timeout;
  if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
    key.assign(r->element[0]->str, r->element[0]->len);
    value.assign(r->element[1]->str, r->element[1]->len);
    return pop_result::item;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    error_ = "redis BLPOP error: " + std::string{r->str, r->len};
    disconnect();
    return pop_result::failed;
  }
  fail("unexpected BLPOP reply");
  return pop_result::failed;
}

bool redis_connection::push_reply(const std::string& key, const std::string& value,
                                  int ttl_seconds) {
  if (ctx_ == nullptr && !connect())
    return false;
  redisSetTimeout(ctx_, to_timeval(io_timeout_));
  auto ttl = std::to_string(ttl_seconds);
  // Pipelined: both commands go out in one write.
  redisAppendCommand(ctx_, "RPUSH %b %b", key.data(), key.size(), value.data(), value.size());
  redisAppendCommand(ctx_, "EXPIRE %b %s", key.data(), key.size(), ttl.c_str());
  bool ok = true;
  for (int i = 0; i < 2; ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK)
      return fail("redis RPUSH/EXPIRE failed");
    reply_ptr r{static_cast<redisReply*>(raw)};
    if (r && r->type == REDIS_REPLY_ERROR) {
      error_ = "redis error: " + std::string{r->str, r->len};
      ok = false;
    }
  }
  return ok;
}

bool redis_connection::rpush(const std::string& key, const std::string& value) {
  if (ctx_ == nullptr && !connect())
    return false;
  auto r = command_argv(ctx_, {"RPUSH", key, value});
  if (!r)
    return fail("redis RPUSH failed");
  return r->type != REDIS_REPLY_ERROR;
}

bool redis_connection::del(const std::string& key) {
  if (ctx_ == nullptr && !connect())
    return false;
  auto r = command_argv(ctx_, {"DEL", key});
  if (!r)
    return fail("redis DEL failed");
  return r->type != REDIS_REPLY_ERROR;
}

long long redis_connection::ttl(const std::string& key) {
  return integer_command({"TTL", key});
}

long long redis_connection::llen(const std::string& key) {
  return integer_command({"LLEN", key});
}

bool redis_connection::publish(const std::string& channel, const std::string& payload,
                               long long* receivers) {
  if (subscribed_) {
    error_ = "PUBLISH on a subscribed connection";
    return false;
  }
  if (ctx_ == nullptr && !connect())
    return false;
  redisSetTimeout(ctx_, to_timeval(io_timeout_));
  auto r = command_argv(ctx_, {"PUBLISH", channel, payload});
  if (!r)
    return fail("redis PUBLISH failed");
  if (r->type == REDIS_REPLY_ERROR) {
    error_ = "redis PUBLISH error: " + std::string{r->str, r->len};
    return false;
  }
  if (receivers != nullptr)
    *receivers = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
  return true;
}

bool redis_connection::publish_many(const std::string& channel,
                                    const std::vector<std::string>& payloads) {
  if (subscribed_) {
    error_ = "PUBLISH on a subscribed connection";
    return false;
  }
  if (payloads.empty())
    return true;
  if (ctx_ == nullptr && !connect())
    return false;
  redisSetTimeout(ctx_, to_timeval(io_timeout_));
  // Pipelined: every command is appended to the output buffer, then the replies are read.
  for (const auto& p : payloads) {
    const char* argv[] = {"PUBLISH", channel.data(), p.data()};
    size_t lens[] = {7, channel.size(), p.size()};
    if (redisAppendCommandArgv(ctx_, 3, argv, lens) != REDIS_OK)
      return fail("redis PUBLISH failed");
  }
  bool ok = true;
  for (size_t i = 0; i < payloads.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr)
      return fail("redis PUBLISH failed");
    reply_ptr r{static_cast<redisReply*>(raw)};
    if (r->type == REDIS_REPLY_ERROR && ok) {
      error_ = "redis PUBLISH error: " + std::string{r->str, r->len};
      ok = false;
    }
  }
  return ok;
}

bool redis_connection::subscribe(const std::vector<std::string>& channels) {
  if (channels.empty()) {
    error_ = "SUBSCRIBE without channels";
    return false;
  }
  if (ctx_ == nullptr && !connect())
    return false;
  redisSetTimeout(ctx_, to_timeval(io_timeout_));
  std::vector<std::string> args{"SUBSCRIBE"};
  args.insert(args.end(), channels.begin(), channels.end());
  auto r = command_argv(ctx_, args); // the confirmation of the first channel
  for (size_t i = 0;; ++i) {
    if (!r)
      return fail("redis SUBSCRIBE failed");
    if (r->type == REDIS_REPLY_ERROR) {
      error_ = "redis SUBSCRIBE error: " + std::string{r->str, r->len};
      disconnect();
      return false;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3
        || r->element[0]->type != REDIS_REPLY_STRING
        || std::string{r->element[0]->str, r->element[0]->len} != "subscribe")
      return fail("unexpected SUBSCRIBE reply");
    if (i + 1 == channels.size())
      break;
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK)
      return fail("redis SUBSCRIBE failed");
    r.reset(static_cast<redisReply*>(raw));
  }
  subscribed_ = true;
  return true;
}

redis_connection::message_result redis_connection::next_message(std::chrono::milliseconds timeout,
                                                                std::string& channel,
                                                                std::string& payload) {
  if (ctx_ == nullptr || !subscribed_) {
    error_ = "not subscribed";
    return message_result::failed;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // A reply may already be complete in hiredis's buffer (several messages in one read).
    void* raw = nullptr;
    if (redisGetReplyFromReader(ctx_, &raw) != REDIS_OK) {
      fail("malformed reply from redis");
      return message_result::failed;
    }
    if (raw == nullptr) {
      // Wait for the socket with poll(2): a hiredis read timeout would leave the context
      // unusable, and an idle channel is normal.
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() < 0)
        left = std::chrono::milliseconds{0};
      pollfd pfd{ctx_->fd, POLLIN, 0};
      int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
      if (n < 0 && errno != EINTR) {
        fail("poll on the redis socket failed");
        return message_result::failed;
      }
      if (n <= 0)
        return message_result::timeout;
      // Readable: the rest of a started message follows promptly, so a bounded blocking read
      // completes it.
      redisSetTimeout(ctx_, to_timeval(io_timeout_));
      if (redisGetReply(ctx_, &raw) != REDIS_OK) {
        fail("redis connection lost");
        return message_result::failed;
      }
    }
    reply_ptr r{static_cast<redisReply*>(raw)};
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3
        || r->element[0]->type != REDIS_REPLY_STRING) {
      fail("unexpected message on a subscribed connection");
      return message_result::failed;
    }
    std::string kind{r->element[0]->str, r->element[0]->len};
    if (kind == "message" && r->elements == 3 && r->element[1]->type == REDIS_REPLY_STRING
        && r->element[2]->type == REDIS_REPLY_STRING) {
      channel.assign(r->element[1]->str, r->element[1]->len);
      payload.assign(r->element[2]->str, r->element[2]->len);
      return message_result::message;
    }
    if (kind == "subscribe")
      continue; // a confirmation, not a message
    fail("unexpected " + kind + " on a subscribed connection");
    return message_result::failed;
  }
}

long long redis_connection::integer_command(const std::vector<std::string>& args) {
  if (ctx_ == nullptr && !connect())
    return -1;
  auto r = command_argv(ctx_, args);
  if (!r) {
    fail("redis " + args.front() + " failed");
    return -1;
  }
  return r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
}

} // namespace contd::zbus
