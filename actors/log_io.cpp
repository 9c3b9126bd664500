#include "actors/log_io.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "src/logs/format.hpp"
#include "src/logs/safe_file.hpp"

namespace contd {

using std::string;

string container_log_path(const string& log_dir, const string& ns, const string& id) {
  return log_dir + "/" + ns + "/" + id + ".log";
}

namespace {

using pointer = log_io_actor::stateful_pointer<log_io_state>;

// ns and id reach this actor validated (containerd identifiers: no '/', no ".."), so every path
// stays inside the configured directories. Checked again here: this actor writes and removes.
bool plain_name(const string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == string::npos
         && s.find('\0') == string::npos;
}

caf::error bad_name() {
  return make_error(errc::invalid_argument, "invalid namespace or container id");
}

/// Removes `path` unless it is a directory; a missing file is fine.
void unlink_quietly(const string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    spdlog::warn("cannot remove {}: {}", path, std::strerror(errno));
}

/// The container's lock file, flock'ed with `op` (LOCK_SH or LOCK_EX) if that is possible at
/// once. The logger holds it exclusively while it writes or rotates; a reader that gets it
/// shared sees no rotation between reading <id>.log.1 and <id>.log. Never waits: a logger stuck
/// on a slow disk must not stall this actor, so without the lock the work goes on unlocked.
logs::fd_result lock_log(const string& path, int op) {
  auto f = logs::open_regular(path + ".lock", O_RDONLY);
  if (f && ::flock(f.fd(), op | LOCK_NB) != 0)
    return logs::fd_result{};
  return f;
}

struct refusal {
  errc code;
  string text;
};

string logs_of(pointer self, const string& ns, const string& id) {
  auto& cfg = self->state.config;
  auto path = container_log_path(cfg.log_dir, ns, id);
  auto budget = cfg.read_budget;
  auto started = std::chrono::steady_clock::now();
  auto lock = lock_log(path, LOCK_SH);
  auto cur = logs::read_tail(path, cfg.max_read_bytes, budget);
  if (!cur.error.empty())
    throw refusal{cur.missing ? errc::not_found : errc::failed_precondition, cur.error};
  // keep_plain: lines an earlier contd's file:// tasks wrote are shown as they are.
  auto records = logs::parse_all(cur.bytes, !cur.from_start, true);
  // Fewer lines than asked and the whole current file read: the rotated file has older ones.
  size_t lines = 0;
  for (const auto& r : records)
    lines += r.partial ? 0 : 1;
  if (lines < cfg.lines && cur.from_start && !cur.timed_out
      && cur.bytes.size() < cfg.max_read_bytes) {
    auto left = budget
                - std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started);
    auto old = logs::read_tail(path + ".1", cfg.max_read_bytes - cur.bytes.size(),
                               std::max(left, std::chrono::milliseconds{1}));
    // A missing rotated file is normal; anything else at its place is refused like the log.
    if (!old.error.empty() && !old.missing)
      throw refusal{errc::failed_precondition, old.error};
    if (old.error.empty()) {
      auto older = logs::parse_all(old.bytes, !old.from_start, true);
      older.insert(older.end(), records.begin(), records.end());
      records = std::move(older);
    }
  }
  auto text = logs::tail_text(records, cfg.lines);
  if (cur.timed_out)
    text += "[contd] the log read was cut short after " + std::to_string(budget.count())
            + " ms (slow filesystem)\n";
  return text;
}

} // namespace

log_io_actor::behavior_type log_io(pointer self, log_io_config config) {
  self->state.config = std::move(config);
  return {
    [self](atom::log_prepare, const string& ns, const string& id) -> caf::result<string> {
      if (!plain_name(ns) || !plain_name(id))
        return bad_name();
      auto& cfg = self->state.config;
      auto dir = cfg.log_dir + "/" + ns;
      if (auto err = logs::ensure_dir(dir); !err.empty())
        return make_error(errc::internal, "cannot prepare the log of " + id + ": " + err);
      auto path = container_log_path(cfg.log_dir, ns, id);
      // The lock file first: the logger program treats a missing one as "container deleted".
      for (const auto& p : {path + ".lock", path}) {
        auto f = logs::open_regular(p, O_WRONLY | O_CREAT | O_APPEND);
        if (!f)
          return make_error(errc::internal, "cannot prepare the log of " + id + ": " + f.error());
      }
      return path;
    },
    [self](atom::logs, const string& ns, const string& id) -> caf::result<string> {
      if (!plain_name(ns) || !plain_name(id))
        return bad_name();
      try {
        return logs_of(self, ns, id);
      } catch (const refusal& r) {
        return make_error(r.code, "cannot read the log of " + id + ": " + r.text);
      }
    },
    [self](atom::log_remove, const string& ns, const string& id) -> caf::result<void> {
      if (!plain_name(ns) || !plain_name(id))
        return bad_name();
      auto path = container_log_path(self->state.config.log_dir, ns, id);
      // Under the lock when it is free, so no write or rotation is half done. The lock file
      // first: a logger still draining sees it gone (st_nlink 0) and stops writing.
      auto lock = lock_log(path, LOCK_EX);
      for (const auto& p : {path + ".lock", path, path + ".1"})
        unlink_quietly(p);
      // Forwarding offsets: <id>.log.fwd-<hash>.
      auto dir = self->state.config.log_dir + "/" + ns;
      auto prefix = id + ".log.fwd-";
      if (auto* d = ::opendir(dir.c_str())) {
        while (auto* e = ::readdir(d)) {
          string name = e->d_name;
          if (name.compare(0, prefix.size(), prefix) == 0)
            unlink_quietly(dir + "/" + name);
        }
        ::closedir(d);
      }
      // The namespace's directory goes with its last container.
      ::rmdir(dir.c_str());
      return caf::unit;
    },
    [self](atom::capture_new, const string& ns, uint64_t bytes) -> caf::result<string> {
      if (!plain_name(ns))
        return bad_name();
      auto dir = self->state.config.scratch_dir + "/" + ns;
      if (auto err = logs::ensure_dir(dir); !err.empty())
        return make_error(errc::internal, "cannot create the exec capture file: " + err);
      // An unguessable name, created exclusively: nothing can be waiting at it.
      auto path = dir + "/" + logs::random_hex() + ".out";
      auto f = logs::open_regular(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
      if (!f)
        return make_error(errc::internal, "cannot create the exec capture file: " + f.error());
      // Reserve the space the output may take, so a full disk is reported now instead of the
      // output being lost silently later. The file keeps its size 0 (the shim appends).
      if (bytes > 0 && ::fallocate(f.fd(), FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(bytes)) != 0
          && errno != EOPNOTSUPP) {
        auto err = errno;
        unlink_quietly(path);
        return make_error(err == ENOSPC ? errc::unavailable : errc::internal,
                          "cannot reserve " + std::to_string(bytes)
                            + " bytes for the exec output: " + std::strerror(err));
      }
      return path;
    },
    [self](atom::capture_read, const string& path, uint64_t max) -> caf::result<exec_result> {
      auto& cfg = self->state.config;
      if (path.compare(0, cfg.scratch_dir.size() + 1, cfg.scratch_dir + "/") != 0
          || path.find("/..") != string::npos)
        return make_error(errc::invalid_argument, "not an exec capture file: " + path);
      exec_result r;
      auto t = logs::read_tail(path, max + 1, cfg.read_budget);
      unlink_quietly(path);
      if (!t.error.empty())
        return make_error(errc::internal, "cannot read the exec output: " + t.error);
      r.truncated = t.bytes.size() > max || !t.from_start;
      if (t.bytes.size() > max)
        t.bytes.erase(0, t.bytes.size() - max);
      r.output = std::move(t.bytes);
      return r;
    },
  };
}

} // namespace contd
