#include "src/containerd/convert.hpp"

#include "github.com/containerd/containerd/api/events/task.pb.h"

namespace contd::containerd {

go_time to_go_time(const google::protobuf::Timestamp& ts, bool present) {
  if (!present)
    return go_time{};
  return go_time{ts.seconds(), static_cast<uint32_t>(ts.nanos())};
}

task_status to_task_status(int status) {
  switch (status) {
  case ::containerd::v1::types::CREATED:
    return task_status::created;
  case ::containerd::v1::types::RUNNING:
    return task_status::running;
  case ::containerd::v1::types::STOPPED:
    return task_status::stopped;
  case ::containerd::v1::types::PAUSED:
    return task_status::paused;
  case ::containerd::v1::types::PAUSING:
    return task_status::pausing;
  default:
    return task_status::unknown;
  }
}

container_record to_record(const ::containerd::services::containers::v1::Container& c) {
  container_record r;
  r.id = c.id();
  r.labels.insert(c.labels().begin(), c.labels().end());
  r.spec_json = c.spec().value();
  r.runtime = c.runtime().name();
  r.created_at = to_go_time(c.created_at(), c.has_created_at());
  r.updated_at = to_go_time(c.updated_at(), c.has_updated_at());
  return r;
}

task_info to_task_info(const ::containerd::v1::types::Process& p) {
  task_info t;
  // Tasks.Get fills `id`, Tasks.List both; the container id is what callers key on.
  t.id = p.container_id().empty() ? p.id() : p.container_id();
  t.pid = p.pid();
  t.status = to_task_status(p.status());
  t.exit_status = p.exit_status();
  t.exited_at = to_go_time(p.exited_at(), p.has_exited_at());
  return t;
}

std::optional<task_event> unpack_event(const ::containerd::services::events::v1::Envelope& env) {
  const auto& any = env.event();
  task_event ev;
  ev.ns = env.namespace_();
  ev.topic = env.topic();
  if (any.type_url() == task_exit_type_url) {
    ::containerd::events::TaskExit exit;
    if (!exit.ParseFromString(any.value()))
      return std::nullopt;
    ev.container_id = exit.container_id();
    ev.exec_id = exit.id();
    ev.pid = exit.pid();
    ev.exit_status = exit.exit_status();
    ev.exited_at = to_go_time(exit.exited_at(), exit.has_exited_at());
    return ev;
  }
  if (any.type_url() == task_oom_type_url) {
    ::containerd::events::TaskOOM oom;
    if (!oom.ParseFromString(any.value()))
      return std::nullopt;
    ev.container_id = oom.container_id();
    return ev;
  }
  if (any.type_url() == task_start_type_url) {
    ::containerd::events::TaskStart start;
    if (!start.ParseFromString(any.value()))
      return std::nullopt;
    ev.container_id = start.container_id();
    ev.exec_id = start.container_id();
    ev.pid = start.pid();
    return ev;
  }
  if (any.type_url() == task_delete_type_url) {
    ::containerd::events::TaskDelete del;
    if (!del.ParseFromString(any.value()))
      return std::nullopt;
    ev.container_id = del.container_id();
    // An empty id is the init process (containerd omits it).
    ev.exec_id = del.id().empty() ? del.container_id() : del.id();
    ev.pid = del.pid();
    ev.exit_status = del.exit_status();
    ev.exited_at = to_go_time(del.exited_at(), del.has_exited_at());
    return ev;
  }
  return std::nullopt;
}

} // namespace contd::containerd
