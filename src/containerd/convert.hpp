// Between containerd's protobuf messages and contd's vocabulary. Generated types stop here.
#pragma once

#include <optional>
#include <string>

#include <google/protobuf/timestamp.pb.h>

#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb.h"
#include "github.com/containerd/containerd/api/services/events/v1/events.pb.h"
#include "github.com/containerd/containerd/api/types/task/task.pb.h"
#include "messages/containerd_types.hpp"

namespace contd::containerd {

// The exact type URLs containerd and its Go tools expect (a protobuf Any whose URL
// is not "type.googleapis.com/..." is not resolved by name). The JSON ones carry JSON, and the
// event ones have no slash, so neither PackFrom nor UnpackTo applies.
inline constexpr const char* spec_type_url =
  "types.containerd.io/opencontainers/runtime-spec/1/Spec";
inline constexpr const char* process_type_url =
  "types.containerd.io/opencontainers/runtime-spec/1/Process";
inline constexpr const char* task_exit_type_url = "containerd.events.TaskExit";
inline constexpr const char* task_oom_type_url = "containerd.events.TaskOOM";
inline constexpr const char* task_start_type_url = "containerd.events.TaskStart";
inline constexpr const char* task_delete_type_url = "containerd.events.TaskDelete";
inline constexpr const char* runc_v2 = "io.containerd.runc.v2";

/// A protobuf timestamp as Go time; an absent one is Go's zero time, like the Go client sees it.
go_time to_go_time(const google::protobuf::Timestamp& ts, bool present = true);

/// containerd's protobuf task status; a value this build does not know is unknown.
task_status to_task_status(int status);

container_record to_record(const ::containerd::services::containers::v1::Container& c);

task_info to_task_info(const ::containerd::v1::types::Process& p);

/// The TaskExit or TaskOOM inside an envelope, found by comparing the type URL and parsed from
/// the Any's bytes; nullopt for any other payload (or bytes that do not parse).
std::optional<task_event> unpack_event(const ::containerd::services::events::v1::Envelope& env);

} // namespace contd::containerd
