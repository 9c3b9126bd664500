// A tenant's sinks: the Redis channels its containers' output is forwarded to and its stats are
// published on. One detached forwarder per endpoint (host:port) does the network I/O; the tenant
// tells it what to follow and, every stats period, reads each running container's metrics from
// containerd and hands the message over. A slow or dead endpoint stalls only its forwarder.
#include <cstdint>
#include <optional>

#include <spdlog/spdlog.h>

#include "actors/log_forwarder.hpp"
#include "actors/log_io.hpp"
#include "actors/tenant_steps.hpp"
#include "src/zbus/codec.hpp"

namespace contd::jobs {

namespace {

struct sink_url {
  std::string endpoint; // host:port, the forwarder's key
  std::string host;
  int port = 6379;
  std::string channel;
};

/// redis://host[:port]/channel, already validated at Run (oci::check_redis_url).
std::optional<sink_url> parse_sink(const std::string& url) {
  static const std::string scheme = "redis://";
  if (url.size() <= scheme.size())
    return std::nullopt;
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  if (slash == std::string::npos || slash + 1 >= rest.size())
    return std::nullopt;
  sink_url u;
  auto authority = rest.substr(0, slash);
  u.channel = rest.substr(slash + 1);
  std::string port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos)
      return std::nullopt;
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size())
      port = authority.substr(close + 2);
  } else {
    auto colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos)
      port = authority.substr(colon + 1);
  }
  if (!port.empty())
    u.port = std::stoi(port);
  if (u.host.empty() || u.port <= 0 || u.port > 65535)
    return std::nullopt;
  u.endpoint = u.host + ":" + std::to_string(u.port);
  return u;
}

/// 64-bit FNV-1a, in hex: names a follow's offset file after its stream and URL.
std::string fnv_hex(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  static const char* digits = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4)
    out[static_cast<size_t>(i)] = digits[h & 15];
  return out;
}

log_forwarder_actor forwarder_for(tenant_pointer self, const sink_url& u) {
  auto& st = self->state;
  if (auto it = st.forwarders.find(u.endpoint); it != st.forwarders.end())
    return it->second;
  log_forwarder_config cfg;
  cfg.host = u.host;
  cfg.port = u.port;
  cfg.name = st.ns + " -> " + u.endpoint;
  // Detached: its Redis calls block; linked: it ends with the tenant.
  auto f = self->spawn<caf::detached + caf::linked>(log_forwarder, cfg);
  st.forwarders.emplace(u.endpoint, f);
  return f;
}

void pass(tenant_pointer self);

void arm(tenant_pointer self) {
  auto& st = self->state;
  if (st.sinks_armed || !st.config.forwarding)
    return;
  st.sinks_armed = true;
  after(self, st.config.stats_period, [self] {
    self->state.sinks_armed = false;
    pass(self);
  });
}

/// One stats period: publish the metrics of every running container with stats sinks, stop
/// forwarding for containers that are gone, and re-arm while anything is left to serve.
void pass(tenant_pointer self) {
  auto& st = self->state;
  bool any = !st.forwarded.empty();
  for (auto& [id, m] : st.models) {
    if (m.request.stats.empty())
      continue;
    any = true;
    if (m.state.status != container_status::running)
      continue; // stats start with the task, and follow its restarts
    self->request(client(self), call_timeout(self), atom::tsk_metrics_v, st.ns, id)
      .then(
        [self, id = id](task_metrics& tm) {
          auto* m = model_of(self, id);
          if (!m)
            return;
          if (tm.unix_ns == 0)
            tm.unix_ns = unix_now(self);
          auto payload = zbus::stats_json(tm);
          for (const auto& s : m->request.stats)
            if (auto u = parse_sink(s.endpoint))
              self->send(forwarder_for(self, *u), atom::publish_v, u->channel, payload);
        },
        [self, id = id](caf::error& err) {
          spdlog::debug("tenant {}: no stats for {}: {}", self->state.ns, id, error_text(err));
        });
  }
  std::vector<std::string> gone;
  for (const auto& id : st.forwarded)
    if (!st.models.count(id))
      gone.push_back(id);
  for (const auto& id : gone)
    stop_forwarding(self, id, true);
  if (any)
    arm(self);
}

} // namespace

void start_sinks(tenant_pointer self, const string& id) {
  auto& st = self->state;
  auto* m = model_of(self, id);
  if (!m || !st.config.forwarding)
    return;
  if (!m->request.logs.empty() && st.io && !st.config.logger_path.empty()
      && st.forwarded.insert(id).second) {
    auto log = container_log_path(st.config.log_dir, st.ns, id);
    for (const auto& entry : m->request.logs) {
      for (const auto& [url, stream] : {std::pair{entry.data.stdout_url, "stdout"},
                                        std::pair{entry.data.stderr_url, "stderr"}}) {
        if (url.empty())
          continue;
        auto u = parse_sink(url);
        if (!u) {
          spdlog::warn("tenant {}: {}: unusable log sink {}", st.ns, id, url);
          continue;
        }
        auto offsets = log + ".fwd-" + fnv_hex(std::string{stream} + " " + url);
        self->send(forwarder_for(self, *u), atom::follow_v, id, log, std::string{stream},
                   u->channel, offsets);
      }
    }
  }
  if (!m->request.stats.empty() || !st.forwarded.empty())
    arm(self);
}

void stop_forwarding(tenant_pointer self, const string& id, bool purge) {
  auto& st = self->state;
  bool was = st.forwarded.erase(id) > 0;
  if (!was && !purge)
    return;
  for (auto& [endpoint, f] : st.forwarders)
    self->send(f, atom::unfollow_v, id, purge);
}

} // namespace contd::jobs
