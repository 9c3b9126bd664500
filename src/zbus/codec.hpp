// The zbus v1 wire codec (msgpack, as github.com/threefoldtech/zbus v1 writes it): requests,
// responses, and the values of the container module, with the Go decoder's leniency on input and
// Go's shapes on output.
//
// Everything here is pure: bytes in, values out. Failures are reported as text, never as a crash,
// whatever the input.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "messages/containerd_types.hpp"
#include "messages/result.hpp"
#include "messages/types.hpp"

namespace contd::zbus {

/// Raw msgpack bytes.
using bytes = std::string;

inline constexpr const char* module_name = "container";
inline constexpr const char* object_name = "container";
inline constexpr const char* object_version = "0.0.1";
inline constexpr const char* status_object_name = "zbus";
inline constexpr const char* status_object_version = "1.0";
/// Replies expire unread after this many seconds, as the Go server does.
inline constexpr int reply_ttl_seconds = 300;
/// Payloads above this size are refused before they are parsed.
inline constexpr size_t max_payload_size = 4 * 1024 * 1024;
/// Nesting deeper than this is refused before parsing (the parser is recursive).
inline constexpr size_t max_nesting = 32;

/// `<module>.<Name>@<Version>`
std::string queue_name(std::string_view module, std::string_view name, std::string_view version);
inline std::string object_queue() {
  return queue_name(module_name, object_name, object_version);
}
inline std::string status_queue() {
  return queue_name(module_name, status_object_name, status_object_version);
}
/// The pub/sub channel of container state transitions, named as zbus names streams:
/// `<module>.<Name>@<Version>.<Method>`. Each message is one encoded `container_event`.
inline std::string events_channel() {
  return object_queue() + ".Events";
}

struct object_id {
  std::string name;
  std::string version;
  friend bool operator==(const object_id& a, const object_id& b) {
    return a.name == b.name && a.version == b.version;
  }
};

/// A decoded request envelope. Each input is the raw msgpack document of one argument.
struct request {
  std::string id;
  std::vector<bytes> inputs;
  object_id object;
  std::string reply_to;
  std::string method;
};

/// Why a payload was not a request, and what could still be recovered from it.
struct decode_failure {
  std::string reason;
  std::string id;       // may be empty
  std::string reply_to; // empty when no reply is possible
};

/// Thrown by the value decoders (decode_string, decode_container, ...) when an argument has the
/// wrong type; the dispatcher catches it and answers the protocol error.
struct type_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A response envelope. `data` is the msgpack document of the non-error result (nullopt = nil),
/// `call_error` is Output.Error.Message, `protocol_error` the top-level Error.
struct response {
  std::string id;
  std::optional<bytes> data;
  std::optional<std::string> call_error;
  std::optional<std::string> protocol_error;
};

/// Checks that `in` is exactly one well-formed msgpack document whose nesting stays within
/// `max_depth` and whose declared lengths fit the buffer; otherwise says where it is not.
result<void> check_msgpack(std::string_view in, size_t max_depth = max_nesting);

/// Decodes a request envelope; on failure, the reason and what could be recovered for a reply.
result<request, decode_failure> decode_request(std::string_view in);
bytes encode_request(const request& req);

bytes encode_response(const response& resp);
/// Decodes a response envelope (for contctl and tests).
result<response> decode_response(std::string_view in);

// --- values ----------------------------------------------------------------------------------

bytes encode_string(std::string_view s);
bytes encode_nil();
/// An array of strings (`[]` when empty: the real module answers List with an empty list).
bytes encode_strings(const std::vector<std::string>& xs);
/// The Go `pkg.Container` map in declaration order, plus a `State` key when `c.has_state`.
bytes encode_container(const container& c);

/// Argument decoders with the Go decoder's leniency (§8.4); they throw `type_error`.
std::string decode_string(std::string_view in);
int64_t decode_int64(std::string_view in);
/// The value when `in` is a msgpack unsigned integer above INT64_MAX (which decode_int64
/// refuses), else nullopt.
std::optional<uint64_t> unsigned_above_int64(std::string_view in);
container decode_container(std::string_view in);
std::vector<std::string> decode_strings(std::string_view in);

/// Stats(ns, id): a msgpack map string -> unsigned with the keys timestamp (unix seconds),
/// memory_usage, memory_limit, memory_cache, cpu_usage (ns) and pids_current, in that order.
bytes encode_stats(const task_metrics& m);
/// The JSON a Stats sink receives (the Go original's message), compact, keys in this order:
/// {"timestamp": <unix seconds>, "memory_usage", "memory_limit", "memory_cache",
///  "cpu_usage" (ns), "pids_current"}.
std::string stats_json(const task_metrics& m);
/// Back (contctl): every key whose value is an unsigned integer; throws `type_error` when the
/// payload is not a map.
std::vector<std::pair<std::string, uint64_t>> decode_stats(std::string_view in);

/// Status object reply (`container.zbus@1.0`).
struct worker_status {
  std::string state; // "free" or "busy"
  go_time start_time;
  std::string action;
};
/// With `stats`, a third key Stats (contd's counters: Received, Replied, Undecodable, Dropped,
/// ProtocolErrors, Unanswerable, WarningsSuppressed, InFlight) that Go's status decoder skips.
bytes encode_status(const std::vector<object_id>& objects,
                    const std::vector<worker_status>& workers,
                    const ingress_stats* stats = nullptr);

/// A container state transition: a msgpack map with exactly the keys Namespace, ID, Kind,
/// ExitCode, Signal, OOMKilled, Restarts, At (time.Time) and Reason, in that order.
bytes encode_event(const container_event& ev);
/// Decodes a published event (untrusted bytes); throws `type_error` when the payload is not a
/// map, a key has the wrong type or Kind is missing. Unknown keys are skipped.
container_event decode_event(std::string_view in);

/// time.Time as msgpack ext -1 in the 4/8/12-byte forms (§8.3).
std::vector<uint8_t> encode_time_ext(const go_time& t);
go_time decode_time_ext(const std::vector<uint8_t>& payload);

} // namespace contd::zbus
