// What the containerd adapter exchanges with the rest of contd. Generated protobuf types never
// leave the adapter: it converts at the edge.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/status.hpp"
#include "messages/types.hpp"

namespace contd {

using label_map = std::map<std::string, std::string>;

/// A containerd container record (Containers.Get/List/Create).
struct container_record {
  std::string id;
  label_map labels;
  std::string spec_json; // the OCI runtime spec (Any value with the runtime-spec type URL)
  std::string runtime;   // "io.containerd.runc.v2"
  go_time created_at;
  go_time updated_at;
  friend bool operator==(const container_record& a, const container_record& b) {
    return a.id == b.id && a.labels == b.labels && a.spec_json == b.spec_json
           && a.runtime == b.runtime && a.created_at == b.created_at
           && a.updated_at == b.updated_at;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, container_record& x) {
  return f(caf::meta::type_name("contd.container_record"), x.id, x.labels, x.spec_json, x.runtime,
           x.created_at, x.updated_at);
}

/// A task (or exec process) as Tasks.Get/List report it.
struct task_info {
  std::string id; // container id (exec id for exec processes)
  uint32_t pid = 0;
  task_status status = task_status::unknown;
  uint32_t exit_status = 0;
  go_time exited_at;
  friend bool operator==(const task_info& a, const task_info& b) {
    return a.id == b.id && a.pid == b.pid && a.status == b.status && a.exit_status == b.exit_status
           && a.exited_at == b.exited_at;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_info& x) {
  return f(caf::meta::type_name("contd.task_info"), x.id, x.pid, x.status, x.exit_status,
           x.exited_at);
}

/// The end of a process (Tasks.Wait, Tasks.Delete).
struct exit_info {
  uint32_t exit_status = 0;
  go_time exited_at;
  friend bool operator==(const exit_info& a, const exit_info& b) {
    return a.exit_status == b.exit_status && a.exited_at == b.exited_at;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exit_info& x) {
  return f(caf::meta::type_name("contd.exit_info"), x.exit_status, x.exited_at);
}

/// What an exec'd process did: its exit code and its output (stdout and stderr merged), bounded.
struct exec_result {
  uint32_t exit_code = 0;
  std::string output;
  bool truncated = false;
  friend bool operator==(const exec_result& a, const exec_result& b) {
    return a.exit_code == b.exit_code && a.output == b.output && a.truncated == b.truncated;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exec_result& x) {
  return f(caf::meta::type_name("contd.exec_result"), x.exit_code, x.output, x.truncated);
}

/// Resource usage of a task (Tasks.Metrics), cgroup v1 or v2, in the units the Go original
/// publishes.
struct task_metrics {
  int64_t unix_ns = 0; // Metric.timestamp
  uint64_t memory_usage = 0, memory_limit = 0, memory_cache = 0, cpu_usage_ns = 0, pids_current = 0;
  bool cgroup_v2 = false;
  friend bool operator==(const task_metrics& a, const task_metrics& b) {
    return a.unix_ns == b.unix_ns && a.memory_usage == b.memory_usage
           && a.memory_limit == b.memory_limit && a.memory_cache == b.memory_cache
           && a.cpu_usage_ns == b.cpu_usage_ns && a.pids_current == b.pids_current
           && a.cgroup_v2 == b.cgroup_v2;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_metrics& x) {
  return f(caf::meta::type_name("contd.task_metrics"), x.unix_ns, x.memory_usage, x.memory_limit,
           x.memory_cache, x.cpu_usage_ns, x.pids_current, x.cgroup_v2);
}

/// A containerd event that contd acts on (/tasks/exit, /tasks/oom).
struct task_event {
  std::string ns;
  std::string topic; // "/tasks/exit" or "/tasks/oom"
  std::string container_id;
  std::string exec_id; // equals container_id for the init process
  uint32_t pid = 0;
  uint32_t exit_status = 0;
  go_time exited_at;
  friend bool operator==(const task_event& a, const task_event& b) {
    return a.ns == b.ns && a.topic == b.topic && a.container_id == b.container_id
           && a.exec_id == b.exec_id && a.pid == b.pid && a.exit_status == b.exit_status
           && a.exited_at == b.exited_at;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_event& x) {
  return f(caf::meta::type_name("contd.task_event"), x.ns, x.topic, x.container_id, x.exec_id,
           x.pid, x.exit_status, x.exited_at);
}

} // namespace contd
