// Container → OCI runtime spec, as a pure function: no I/O, no clock, no randomness. The result
// is what contd stores in containerd (Containers.Create spec), so it is also what Inspect reads
// back.
//
// The base is containerd 1.6's default Unix spec (what `ctr containers info` shows
// for a container made with the Go client's default options, minus ctr's additions), with the
// original contd's options applied in the original's order plus contd's deliberate
// improvements: hostname = Name (its first 64 characters), a default PATH, a pids limit, 256 MiB
// really, and the request itself stored as an annotation. Call validate() first; build_spec() only
// refuses what it cannot represent.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "messages/types.hpp"
#include "src/oci/node.hpp"
#include "messages/result.hpp"

namespace contd::oci {

/// The runtime-spec version containerd 1.6's client writes.
inline constexpr std::string_view oci_version = "1.0.2-dev";
/// Added to process.env when the caller's Env has no PATH (the image-config helpers' value).
inline constexpr std::string_view default_path_env =
  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The grace period of Delete in nanoseconds, as the original writes and reads it.
inline constexpr std::string_view annotation_shutdown_timeout = "shutdown_timeout";
/// The request after defaults (request_to_json), so Inspect can return exactly what was asked.
inline constexpr std::string_view annotation_request = "contd.request";
/// containerd's runc v2 shim serves every container whose spec carries the same value of this
/// annotation (in one containerd namespace: the namespace is part of the shim's socket name) from
/// one shim process.
inline constexpr std::string_view annotation_shim_group = "io.containerd.runc.v2.group";
/// Where coreX appears inside an interactive container, and how it is started.
inline constexpr std::string_view corex_target = "/corex";
std::vector<std::string> corex_args();

/// containerd's default Unix spec for (ns, id) without the /run tmpfs (the original removes it,
/// so /run comes from the rootfs): user 0, cwd "/", 14 capabilities, RLIMIT_NOFILE 1024,
/// noNewPrivileges, six mounts, deny-all devices, five new namespaces, masked and read-only paths,
/// cgroupsPath "/<ns>/<id>", root.path "rootfs". No args, env or hostname.
nlohmann::json base_spec(const std::string& ns, const std::string& id);

/// The request as it is stored: Memory, CPU and ShutdownTimeout defaults filled in (the fields the
/// original defaults), output-only fields (CreatedAt, State) cleared.
container apply_defaults(container c, const spec_defaults& defaults);

/// The OCI runtime spec for container `c` in namespace `ns`. Fails only when the entrypoint does
/// not split into at least one word (non-interactive) or a limit does not fit the spec's types.
/// A non-empty `shim_group` becomes the annotation io.containerd.runc.v2.group: containerd 1.6's
/// runc v2 shim serves every container of one namespace with the same group from one process.
/// Empty: the container gets a shim of its own.
result<nlohmann::json> build_spec(const std::string& ns, const container& c, const node_facts& node,
                                  const spec_defaults& defaults,
                                  const std::string& shim_group = {});

/// One user mount as an OCI mount: a bind is `rbind` unless the options say `bind`, read-write
/// unless they say `ro`; tmpfs keeps its options. Assumes a validated mount.
nlohmann::json oci_mount(const mount_info& m);

/// Every field of `c` as compact JSON with the Go field names (State only when has_state).
/// Invalid UTF-8 (which validate() rejects) is replaced by U+FFFD rather than throwing.
std::string request_to_json(const container& c);

/// The inverse of request_to_json. Missing keys keep their defaults; wrong types are errors.
result<container> request_from_json(std::string_view text);

/// The stored request of a spec built by build_spec (its `contd.request` annotation).
result<container> request_from_spec(const nlohmann::json& spec);

/// The OCI process for Exec in a container whose stored spec is `spec`: the container's user,
/// env, cwd, capabilities, rlimits and noNewPrivileges, with `args` and no terminal. So an exec
/// sees the same PATH and privileges as the container's own process (the original's exec got
/// neither env nor capabilities).
result<nlohmann::json> exec_process(const nlohmann::json& spec,
                                    const std::vector<std::string>& args);
/// The same from the spec as stored in containerd (JSON text).
result<nlohmann::json> exec_process_from_text(std::string_view spec_json,
                                              const std::vector<std::string>& args);

} // namespace contd::oci
