// A fake of the log I/O actor over an in-memory file system (fake_files.hpp), for actor tests.
// It answers like the real one (actors/log_io.cpp, tested on real files by log_io_test): names
// with '/' or ".." are refused; log_prepare creates <log_dir>/<ns>/<id>.log and its lock file;
// Logs returns the last lines, taking older ones from the rotated <id>.log.1 when the current
// file has fewer, and "not found" without a log; log_remove drops the log, the rotated log, the
// lock file and the forwarding offsets; exec capture files are created under <scratch_dir>/<ns>/,
// read back at most `max` bytes (the tail) and removed.
#pragma once

#include <memory>
#include <string>

#include "actors/log_io.hpp"
#include "messages/messages.hpp"
#include "src/logs/format.hpp"
#include "tests/fakes/fake_files.hpp"

namespace contd::test {

struct fake_log_io_state {
  static inline const char* name = "fake.log_io";
  log_io_config config;
  std::shared_ptr<fake_files> files;
  uint64_t next_capture = 0;
};

inline log_io_actor::behavior_type
fake_log_io(log_io_actor::stateful_pointer<fake_log_io_state> self, log_io_config config,
            std::shared_ptr<fake_files> files) {
  self->state.config = std::move(config);
  self->state.files = std::move(files);
  auto plain = [](const std::string& s) {
    return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos
           && s.find('\0') == std::string::npos;
  };
  auto bad_name = [] {
    return make_error(errc::invalid_argument, "invalid namespace or container id");
  };
  return {
    [=](atom::log_prepare, const std::string& ns,
        const std::string& id) -> caf::result<std::string> {
      if (!plain(ns) || !plain(id))
        return bad_name();
      auto path = container_log_path(self->state.config.log_dir, ns, id);
      self->state.files->touch(path + ".lock");
      self->state.files->touch(path);
      return path;
    },
    [=](atom::logs, const std::string& ns, const std::string& id) -> caf::result<std::string> {
      if (!plain(ns) || !plain(id))
        return bad_name();
      auto& fs = *self->state.files;
      auto path = container_log_path(self->state.config.log_dir, ns, id);
      if (!fs.exists(path))
        return make_error(errc::not_found,
                          "cannot read the log of " + id + ": " + path + ": not found");
      auto records = logs::parse_all(fs.content[path], false, true);
      size_t lines = 0;
      for (const auto& r : records)
        lines += r.partial ? 0 : 1;
      if (lines < self->state.config.lines && fs.exists(path + ".1")) {
        auto older = logs::parse_all(fs.content[path + ".1"], false, true);
        older.insert(older.end(), records.begin(), records.end());
        records = std::move(older);
      }
      return logs::tail_text(records, self->state.config.lines);
    },
    [=](atom::log_remove, const std::string& ns, const std::string& id) -> caf::result<void> {
      if (!plain(ns) || !plain(id))
        return bad_name();
      auto& fs = *self->state.files;
      auto path = container_log_path(self->state.config.log_dir, ns, id);
      for (const auto& p : {path + ".lock", path, path + ".1"})
        fs.remove(p);
      auto offsets = path + ".fwd-";
      for (auto it = fs.content.lower_bound(offsets);
           it != fs.content.end() && it->first.compare(0, offsets.size(), offsets) == 0;)
        it = fs.content.erase(it);
      return caf::unit;
    },
    [=](atom::capture_new, const std::string& ns, uint64_t) -> caf::result<std::string> {
      if (!plain(ns))
        return bad_name();
      auto path = self->state.config.scratch_dir + "/" + ns + "/"
                  + std::to_string(self->state.next_capture++) + ".out";
      self->state.files->touch(path);
      return path;
    },
    [=](atom::capture_read, const std::string& path, uint64_t max) -> caf::result<exec_result> {
      const auto& dir = self->state.config.scratch_dir;
      if (path.compare(0, dir.size() + 1, dir + "/") != 0 || path.find("/..") != std::string::npos)
        return make_error(errc::invalid_argument, "not an exec capture file: " + path);
      auto& fs = *self->state.files;
      if (!fs.exists(path))
        return make_error(errc::internal, "cannot read the exec output: " + path + ": not found");
      exec_result r;
      r.output = std::move(fs.content[path]);
      fs.remove(path);
      r.truncated = r.output.size() > max;
      if (r.truncated)
        r.output.erase(0, r.output.size() - max);
      return r;
    },
  };
}

} // namespace contd::test
