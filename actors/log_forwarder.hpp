// A log forwarder: publishes the output of containers, line by line, from their local log files
// to one Redis endpoint, and the stats messages its tenant hands over. Spawned detached (its Redis
// calls block for at most io_timeout), one per endpoint per tenant.
//
// It reads the log files the logger program writes (src/logs/format.hpp) from a kept position:
// <log>.fwd-<hash> holds "<dev> <inode> <offset>" of the first byte not yet published, written
// after every published batch. So after a restart of contd it resumes where it stopped; a crash
// between a PUBLISH and the offset write sends that batch again (at most batch_bytes of lines are
// duplicated). While the endpoint is down nothing is read; output written meanwhile is published
// when it returns, unless rotation removed it first (the log then holds only the newest
// log_max_size bytes): such a gap is counted and logged.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include <caf/actor_clock.hpp>

#include "messages/messages.hpp"
#include "src/zbus/redis_link.hpp"

namespace contd {

struct log_forwarder_config {
  std::string host;
  int port = 6379;
  std::string name; // for log lines: "<ns> -> host:port"
  /// How often new output is looked for.
  std::chrono::milliseconds period{200};
  /// Connect and command timeout of the endpoint.
  std::chrono::milliseconds io_timeout{2000};
  /// Reconnection backoff: doubled from min up to max.
  std::chrono::milliseconds backoff_min{500};
  std::chrono::milliseconds backoff_max{30000};
  /// Bytes of log read per follow and pass.
  uint64_t batch_bytes = 256 * 1024;
  /// Stats messages kept while the endpoint is down (the oldest are dropped).
  size_t max_queued_stats = 64;
};

struct log_follow {
  std::string id, log, stream, channel, offsets;
  bool positioned = false;
  uint64_t dev = 0, ino = 0, offset = 0;
  std::string partial;       // P parts of a line not yet complete
  uint64_t partial_from = 0; // where they began (kept as the offset until the line is whole)
  bool warned = false;
};

struct log_forwarder_state {
  static inline const char* name = "contd.log_forwarder";
  log_forwarder_config config;
  std::unique_ptr<zbus::redis_connection> conn;
  std::map<std::string, log_follow> follows; // by id + stream + channel
  std::deque<std::pair<std::string, std::string>> stats;
  uint64_t published = 0, dropped_stats = 0, backlog = 0;
  std::chrono::milliseconds backoff{0};
  caf::actor_clock::time_point next_connect{};
  bool tick_pending = false;
};

log_forwarder_actor::behavior_type
log_forwarder(log_forwarder_actor::stateful_pointer<log_forwarder_state> self,
              log_forwarder_config config);

} // namespace contd
