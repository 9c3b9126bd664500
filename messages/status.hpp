// The state of a task as containerd reports it, and of a container as contd reports it. Both are
// enums everywhere inside contd; they turn into the lower-case words callers see only where they
// leave it (the wire's State.Status, contctl, logs).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace contd {

/// containerd's task (process) status, in the order of its protobuf enum.
enum class task_status : uint8_t { unknown, created, running, stopped, paused, pausing };

/// A container's status: the task statuses, then what only contd knows.
enum class container_status : uint8_t {
  unknown,
  created,
  running,
  stopped,
  paused,
  pausing,
  restarting, // exited; a restart under its policy is pending (backoff)
  failed,     // the policy gave up, or a restart could not start it
  stuck,      // its task survived SIGKILL; the container was kept intact
  no_task,    // the container exists in containerd without a task
};

/// The container status that a task status shows.
constexpr container_status to_container_status(task_status s) {
  return static_cast<container_status>(s);
}

/// "unknown", "created", "running", "stopped", "paused", "pausing".
std::string to_string(task_status s);

/// The task words, then "restarting", "failed", "stuck", "no-task".
std::string to_string(container_status s);

/// The inverse of to_string(container_status); nullopt for any other text.
std::optional<container_status> parse_container_status(std::string_view text);

} // namespace contd
