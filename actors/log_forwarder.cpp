#include "actors/log_forwarder.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <spdlog/spdlog.h>

#include "src/logs/format.hpp"
#include "src/logs/safe_file.hpp"
#include "src/zbus/redis_link.hpp"

namespace contd {

using std::string;

namespace {

using pointer = log_forwarder_actor::stateful_pointer<log_forwarder_state>;

struct file_id {
  uint64_t dev = 0, ino = 0, size = 0;
};

std::optional<file_id> id_of(int fd) {
  struct stat sb {};
  if (::fstat(fd, &sb) != 0)
    return std::nullopt;
  return file_id{static_cast<uint64_t>(sb.st_dev), static_cast<uint64_t>(sb.st_ino),
                 static_cast<uint64_t>(sb.st_size)};
}

void load_offsets(log_follow& f) {
  f.positioned = true;
  auto fd = logs::open_regular(f.offsets, O_RDONLY);
  if (!fd)
    return; // none yet: from the start of the oldest log file
  auto text = logs::read_at(fd.fd(), 0, 128);
  unsigned long long dev = 0, ino = 0, off = 0;
  if (std::sscanf(text.c_str(), "%llu %llu %llu", &dev, &ino, &off) == 3) {
    f.dev = dev;
    f.ino = ino;
    f.offset = off;
  }
}

void save_offsets(log_follow& f) {
  auto keep = f.partial.empty() ? f.offset : f.partial_from;
  auto text =
    std::to_string(f.dev) + " " + std::to_string(f.ino) + " " + std::to_string(keep) + "\n";
  auto tmp = f.offsets + ".tmp";
  auto fd = logs::open_regular(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0640);
  if (!fd || ::write(fd.fd(), text.data(), text.size()) != static_cast<ssize_t>(text.size())
      || ::rename(tmp.c_str(), f.offsets.c_str()) != 0) {
    if (!f.warned)
      spdlog::warn("log forwarder: cannot keep the position of {} in {}: {}", f.id, f.offsets,
                   fd ? std::strerror(errno) : fd.error());
    f.warned = true;
  }
}

enum class step { idle, more, failed };

/// Publishes what is new in the follow's log; `failed` when Redis did not take it.
step forward(pointer self, log_follow& f) {
  auto& st = self->state;
  if (!f.positioned)
    load_offsets(f);
  auto cur = logs::open_regular(f.log, O_RDONLY);
  if (!cur)
    return step::idle; // not written yet, or removed: nothing to publish
  auto cid = id_of(cur.fd());
  if (!cid)
    return step::idle;
  logs::fd_result old;
  std::optional<file_id> oid;
  if (auto o = logs::open_regular(f.log + ".1", O_RDONLY)) {
    oid = id_of(o.fd());
    old = std::move(o);
  }
  int fd = -1;
  uint64_t size = 0;
  bool in_old = false;
  if (f.ino == 0) { // first time: the oldest file
    auto& start = oid ? *oid : *cid;
    f.dev = start.dev;
    f.ino = start.ino;
    f.offset = 0;
  }
  if (f.dev == cid->dev && f.ino == cid->ino) {
    fd = cur.fd();
    size = cid->size;
  } else if (oid && f.dev == oid->dev && f.ino == oid->ino) {
    fd = old.fd();
    size = oid->size;
    in_old = true;
  } else {
    // Rotated away twice before it could be published (the endpoint was down for longer than
    // the log's cap takes to fill): continue with the oldest file there is.
    spdlog::warn("log forwarder {}: output of {} was rotated away before it was published; "
                 "continuing with the oldest log kept",
                 st.config.name, f.id);
    auto& start = oid ? *oid : *cid;
    f.dev = start.dev;
    f.ino = start.ino;
    f.offset = 0;
    f.partial.clear();
    save_offsets(f);
    return step::more;
  }
  if (f.offset > size) // replaced by a shorter file of the same inode: start over
    f.offset = 0;
  if (f.offset == size) {
    if (!in_old)
      return step::idle;
    // The rotated file is done: on to the current one.
    f.dev = cid->dev;
    f.ino = cid->ino;
    f.offset = 0;
    save_offsets(f);
    return step::more;
  }
  auto bytes =
    logs::read_at(fd, f.offset, std::min<uint64_t>(st.config.batch_bytes, size - f.offset));
  auto last_nl = bytes.rfind('\n');
  if (last_nl == string::npos)
    return step::idle; // a record still being written
  std::vector<string> payloads;
  auto partial = f.partial;
  auto partial_from = f.partial_from;
  size_t pos = 0;
  while (pos <= last_nl) {
    auto nl = bytes.find('\n', pos);
    auto rec = logs::parse(std::string_view{bytes}.substr(pos, nl - pos));
    if (rec && logs::stream_name(rec->source) == f.stream) {
      if (rec->partial) {
        if (partial.empty())
          partial_from = f.offset + pos;
        partial += rec->text;
      } else {
        payloads.push_back(partial + rec->text);
        partial.clear();
      }
    }
    pos = nl + 1;
  }
  if (!st.conn->publish_many(f.channel, payloads))
    return step::failed;
  st.published += payloads.size();
  f.partial = std::move(partial);
  f.partial_from = partial_from;
  f.offset += last_nl + 1;
  save_offsets(f);
  return f.offset < size || in_old ? step::more : step::idle;
}

void arm(pointer self, caf::timespan delay) {
  auto& st = self->state;
  if (st.tick_pending)
    return;
  st.tick_pending = true;
  self->delayed_send(self, delay, atom::timer_v);
}

void failed(pointer self) {
  auto& st = self->state;
  auto& cfg = st.config;
  st.conn->disconnect();
  st.backoff =
    st.backoff.count() == 0 ? cfg.backoff_min : std::min(st.backoff * 2, cfg.backoff_max);
  st.next_connect = self->clock().now() + st.backoff;
  spdlog::warn("log forwarder {}: {}; retrying in {} ms", cfg.name, st.conn->error(),
               st.backoff.count());
  arm(self, st.backoff);
}

void pass(pointer self) {
  auto& st = self->state;
  st.tick_pending = false;
  if (st.follows.empty() && st.stats.empty())
    return; // nothing to do until the next follow or stats message
  if (!st.conn->connected()) {
    auto now = self->clock().now();
    if (now < st.next_connect) {
      arm(self, st.next_connect - now);
      return;
    }
    if (!st.conn->connect()) {
      failed(self);
      return;
    }
    if (st.backoff.count() != 0)
      spdlog::info("log forwarder {}: connected again", st.config.name);
    st.backoff = std::chrono::milliseconds{0};
  }
  while (!st.stats.empty()) {
    auto& [channel, payload] = st.stats.front();
    if (!st.conn->publish(channel, payload) && !st.conn->connected()) {
      failed(self);
      return;
    }
    st.stats.pop_front();
  }
  bool more = false;
  for (auto& [key, f] : st.follows) {
    auto r = forward(self, f);
    if (r == step::failed) {
      failed(self);
      return;
    }
    more = more || r == step::more;
  }
  arm(self, more ? caf::timespan{0} : caf::timespan{st.config.period});
}

} // namespace

log_forwarder_actor::behavior_type log_forwarder(pointer self, log_forwarder_config config) {
  auto& st = self->state;
  st.config = std::move(config);
  zbus::broker_url url;
  url.is_unix = false;
  url.host = st.config.host;
  url.port = st.config.port;
  st.conn = std::make_unique<zbus::redis_connection>(url, st.config.io_timeout);
  return {
    [self](atom::follow, const string& id, const string& log, const string& stream,
           const string& channel, const string& offsets) {
      auto key = id + "\n" + stream + "\n" + channel;
      auto& f = self->state.follows[key];
      if (f.positioned && f.offsets == offsets)
        return; // already following
      f = log_follow{};
      f.id = id;
      f.log = log;
      f.stream = stream;
      f.channel = channel;
      f.offsets = offsets;
      arm(self, caf::timespan{0});
    },
    [self](atom::unfollow, const string& id, bool purge) {
      auto& follows = self->state.follows;
      for (auto it = follows.begin(); it != follows.end();) {
        if (it->second.id != id) {
          ++it;
          continue;
        }
        if (purge) {
          ::unlink(it->second.offsets.c_str());
          ::unlink((it->second.offsets + ".tmp").c_str());
        }
        it = follows.erase(it);
      }
    },
    [self](atom::publish, string& channel, string& payload) {
      auto& st = self->state;
      if (st.stats.size() >= st.config.max_queued_stats) {
        st.stats.pop_front();
        st.dropped_stats++;
      }
      st.stats.emplace_back(std::move(channel), std::move(payload));
      arm(self, caf::timespan{0});
    },
    [self](atom::stats) -> caf::result<uint64_t, uint64_t, uint64_t, bool> {
      auto& st = self->state;
      uint64_t backlog = 0;
      for (auto& [key, f] : st.follows) {
        struct stat sb {};
        if (::stat(f.log.c_str(), &sb) == 0 && static_cast<uint64_t>(sb.st_ino) == f.ino
            && static_cast<uint64_t>(sb.st_size) > f.offset)
          backlog += static_cast<uint64_t>(sb.st_size) - f.offset;
      }
      return {st.published, backlog, st.dropped_stats, st.conn->connected()};
    },
    [self](atom::timer) { pass(self); },
  };
}

} // namespace contd
