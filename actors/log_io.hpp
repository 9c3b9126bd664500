// The log I/O actor: the only place contd touches container log files and exec capture files.
// Spawned detached, so a slow filesystem stalls this actor only, never a scheduler thread; each
// read is bounded in bytes and time. See log_io_actor in messages/interfaces.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "messages/messages.hpp"

namespace contd {

struct log_io_config {
  /// Container logs: <log_dir>/<ns>/<id>.log, rotated to <id>.log.1.
  std::string log_dir = "/var/cache/modules/contd/logs";
  /// Exec captures: <scratch_dir>/<ns>/<random>.out.
  std::string scratch_dir = "/var/cache/modules/contd/exec";
  /// Lines Logs returns, and the most bytes it reads from the end of the log files.
  size_t lines = 100;
  uint64_t max_read_bytes = 256 * 1024;
  /// A read that takes longer stops and returns what it has.
  std::chrono::milliseconds read_budget{2000};
};

struct log_io_state {
  static inline const char* name = "contd.log_io";
  log_io_config config;
};

log_io_actor::behavior_type log_io(log_io_actor::stateful_pointer<log_io_state> self,
                                   log_io_config config);

/// <log_dir>/<ns>/<id>.log
std::string container_log_path(const std::string& log_dir, const std::string& ns,
                               const std::string& id);

} // namespace contd
