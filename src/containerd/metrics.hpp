// Tasks.Metrics payloads: the cgroup statistics inside containerd.types.Metric.data, and the
// stats message the Go original publishes from them.
#pragma once

#include <optional>
#include <string>

#include "messages/containerd_types.hpp"
#include "messages/result.hpp"

namespace contd::containerd {

// The type URLs of Metric.data as containerd 1.6 fills it: the runc v2 shim packs the cgroup
// library's statistics with typeurl.MarshalAny, whose fallback is the bare protobuf message name
// (no "type.googleapis.com/" prefix).
inline constexpr const char* cgroups_v1_metrics_type_url = "io.containerd.cgroups.v1.Metrics";
inline constexpr const char* cgroups_v2_metrics_type_url = "io.containerd.cgroups.v2.Metrics";

/// Decodes Metric.data (type URL and value bytes) into contd's figures. A type URL of the form
/// "<prefix>/<message name>" is accepted as well. Absent sections and fields read as 0.
/// v1: memory.usage.usage, memory.usage.limit, memory.cache, cpu.usage.total, pids.current.
/// v2: memory.usage, memory.usage_limit, memory.file, cpu.usage_usec * 1000, pids.current.
/// Fails with "unknown metrics type <url>" or "malformed <url> message".
/// unix_ns is left 0: it comes from Metric.timestamp, outside the payload.
result<task_metrics> decode_metrics(const std::string& type_url, const std::string& value);

} // namespace contd::containerd
