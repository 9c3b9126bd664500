// Validation of a Run request before anything is changed: the original checked almost
// nothing and left half-created containers behind on bad input. Each failure
// is one sentence naming the field and its value, e.g.
//   invalid Name "a b": must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$
// Reads the file system (stat only) but changes nothing. Time and memory are linear in the
// request size, which is bounded first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "messages/types.hpp"
#include "src/oci/node.hpp"

namespace contd::oci {

/// Bounds against hostile input. Generous for real workloads (zdb and qsfs use a handful of
/// each), small enough that one request cannot make contd or containerd allocate much.
struct validation_limits {
  size_t max_request_bytes = 1 << 20; // the sum of all strings in the request
  size_t max_env = 1024;
  size_t max_env_entry = 32 * 1024;
  size_t max_entrypoint = 64 * 1024;
  size_t max_path = 4096; // PATH_MAX
  size_t max_mounts = 64;
  size_t max_mount_options = 16;
  size_t max_sinks = 8; // Logs and Stats entries each
  size_t max_url = 2048;
  uint64_t min_memory = 4 * 1024 * 1024;
  int64_t max_shutdown_timeout = 3600LL * 1'000'000'000; // 1 h in ns
};

/// The first problem of the request (ns, c) on this node, or nothing when it may run.
std::optional<std::string> validate(const std::string& ns, const container& c,
                                    const node_facts& node, const validation_limits& limits = {});

// The building blocks, for other callers (e.g. the namespace of List, the id of Inspect).

/// containerd's identifier rule: non-empty, at most 76 characters, matching
/// ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$ (checked without a regex engine: linear, no stack).
std::optional<std::string> check_identifier(std::string_view field, std::string_view value);

/// RestartPolicy: Name one of "", always, on-failure, no; MaxRestarts at most 1000; Window
/// between 0 and 24 h.
std::optional<std::string> check_restart_policy(const restart_policy& p);

/// `redis://host[:port]/channel`: host a DNS name, IPv4 or [IPv6]; port 1..65535; a non-empty
/// channel without whitespace; no user info, query or fragment.
std::optional<std::string> check_redis_url(std::string_view field, std::string_view url);

/// An absolute, normalised path: starts with '/', no empty, "." or ".." component, no trailing
/// '/' (except "/" itself), no NUL.
bool is_normalised_absolute(std::string_view path);

/// `value` for an error message: double-quoted, control and invalid bytes escaped, long values
/// cut (a hostile value must not make the reply or the log line huge).
std::string quoted(std::string_view value);

/// True when `s` is well-formed UTF-8 (the same rules as Go's utf8.Valid).
bool is_valid_utf8(std::string_view s);

} // namespace contd::oci
