// Restart policies: what a supervisor does when a container's task exits. Pure functions over the
// durable restart history (restart count and the times of recent exits), so that a restarted
// contd decides exactly as the one before it did.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "messages/types.hpp"

namespace contd::supervise {

enum class policy_kind { always, on_failure, never };

/// A RestartPolicy with its defaults applied.
struct policy {
  policy_kind kind = policy_kind::always;
  uint64_t max_restarts = 3;
  std::chrono::nanoseconds window = std::chrono::seconds{60};
};

/// Applies the defaults: "" is always, a zero MaxRestarts is 3, a zero Window is 60 s (the Go
/// original restarts on every exit and gives up at the 4th exit within a minute).
policy effective(const restart_policy& p);

/// "always", "on-failure" or "no".
const char* to_string(policy_kind k);

/// What survives a restart of contd (stored as container labels).
struct history {
  uint64_t restarts = 0;      // restarts made over the container's life
  std::vector<int64_t> exits; // Unix ns of the exits inside the window, oldest first
};

struct decision {
  enum kind { restart, stay_stopped, give_up } what = stay_stopped;
  std::chrono::nanoseconds delay{0}; // before the restart
  std::string reason;                // for give_up and stay_stopped
};

/// The backoff before the restart that follows the n-th exit inside the window (n >= 1): 1 s,
/// 2 s, 4 s, ... capped at 60 s, scaled by a jitter factor between 0.8 and 1.2 (`jitter` in
/// [0, 1) picks it).
std::chrono::nanoseconds backoff(size_t n, double jitter);

/// Records an exit at `at` (Unix ns; also "now") in `h` and decides what follows it. Exits that
/// the policy does not restart (on-failure with code 0, or "no") are not recorded.
decision on_exit(const policy& p, history& h, int64_t at, uint32_t exit_code, bool oom,
                 double jitter);

/// Drops the exits that left the window as of `now`.
void prune(const policy& p, history& h, int64_t now);

/// Label encodings: the exit times as comma-separated decimal Unix ns (at most 32 kept).
std::string encode_exits(const std::vector<int64_t>& exits);
/// Ignores what does not parse (a label is data from containerd, not trusted to be well-formed).
std::vector<int64_t> decode_exits(std::string_view text);

} // namespace contd::supervise
