// Finding and removing runc v2 shims that containerd 1.6 leaked.
//
// When containerd is killed while Tasks.Create runs (between "shim start" and the end of the
// shim's Create), the shim survives with PPID 1. The restarted containerd reconnects it but lists
// no task (the shim's State answers NotFound), and a new Tasks.Create for that id fails with
// `task <id>: already exists` or `mkdir <bundle>: file exists`. No containerd API removes it.
// This library does, from /proc and the file system only:
// no gRPC, no CAF, so the reconciler's detached actor (actors/shim_reaper) can block in it.
//
// Safety. A shim whose bundle exists is a leak *candidate* (classify() says leaked) only if all
// of these hold:
//  - its argv is exactly `<dir>/containerd-shim-runc-v2 -namespace <ns> -id <id> -address
//    <containerd socket>` (+ `-debug`), ns and id valid containerd identifiers;
//  - it started (stat field 22) strictly before the containerd process that listens on the
//    socket now: a shim the running containerd is creating is never touched. When that
//    containerd cannot be found (down, restarting), nothing is a candidate;
//  - it has no child other than `runc init`, and runc's state of the container, if any, still
//    has its init as a `runc init` process: a task that was started (running or exited) has a
//    shim that knows it, so it is never a leak.
//  - no other bundle of its namespace names (in its `address` file) a socket the shim listens
//    on: a shim shared through the io.containerd.runc.v2.group annotation serves those
//    containers too. Its argv names only the group's first container, so find_shims finds it
//    for that id alone, and reap() removes the socket named after the group.
// What files cannot tell: a task created but not started before a containerd restart looks like
// the deepest leak (L4). The caller must confirm that containerd reports no task for the id
// (Tasks.Get → NotFound) and that no Create of its own is in flight; actors/shim_reaper does the
// former when it is given the containerd adapter.
//
// Abandoned shims. A live shim whose bundle containerd has deleted (its cwd reads "(deleted)") was
// let go of: containerd deletes a bundle only after the shim's Shutdown, or in the cleanup of a
// failed Tasks.Create, and a restarted containerd finds shims only through bundles. When the
// client that called Tasks.Create goes away (contd killed), containerd's cleanup sends Delete and
// Shutdown while the shim may still be working on the Create (the shim serves requests
// concurrently); under load this was seen to leave the first shim of a shared group alive, with
// the Create's logger as its child, no task in containerd and nothing that would ever ask it to
// exit. Such a shim is a leak whatever its age and children, unless (classify) a bundle of its
// namespace still reaches it: one whose `address` names a socket it listens on (the other
// members of a shared shim), one without an `address` yet (a shim start in flight), or a new
// bundle of its own id. The runc state rule above still applies.
//
// Every path is built from validated ns/id only; the bundle must be
// `<state>/io.containerd.runtime.v2.task/<ns>/<id>`, the work dir `<root>/io.containerd.runtime.v2.
// task/<ns>/<id>`; nothing is removed across a mount point; symlinks are never followed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "messages/result.hpp"

namespace contd::containerd {

/// One shim process of a container, as seen in /proc.
struct shim_process {
  pid_t pid = -1;
  /// /proc/<pid>/stat field 22: clock ticks since boot.
  uint64_t start_ticks = 0;
  /// readlink /proc/<pid>/cwd, without a " (deleted)" suffix (see bundle_deleted).
  std::string bundle;
  bool bundle_deleted = false;
  std::string ns;
  std::string id;
  /// The -address argument (containerd's gRPC socket as containerd passed it).
  std::string address;
};

/// The containerd process serving a socket.
struct containerd_process {
  pid_t pid = -1;
  uint64_t start_ticks = 0;
};

struct reap_options {
  /// containerd's gRPC socket (a path or unix:// target), as the shims' -address names it.
  std::string containerd_socket;
  /// The runc root of the runc v2 shim (its default; a bundle's options.json Root overrides it).
  std::string runc_root = "/run/containerd/runc";
  /// Where containerd 1.6 puts shim sockets (hard-coded there).
  std::string socket_dir = "/run/containerd/s";
  /// Where cgroup file systems are mounted (v1 controllers, hybrid `unified`, or pure v2).
  std::string cgroup_root = "/sys/fs/cgroup";
  /// The runc binary.
  std::string runc = "runc";
  /// How long a shim gets after SIGTERM, and after SIGKILL.
  std::chrono::milliseconds term_wait{3000};
  std::chrono::milliseconds kill_wait{2000};
  /// Deadline of `runc delete -f`.
  std::chrono::milliseconds runc_timeout{10000};
};

/// What reap() did, step by step, or why it stopped. ok == false: error says why; steps before
/// the failing one may have happened (listed in actions).
struct reap_result {
  bool ok = false;
  std::vector<std::string> actions;
  std::string error;
};

/// The verdict on one shim.
struct leak_verdict {
  bool leaked = false;
  std::string reason; // why (not) leaked, one sentence
};

/// containerd's identifier rule (namespaces and container ids): `^[A-Za-z0-9]+(?:[._-]
/// (?:[A-Za-z0-9]+))*$`, at most 76 characters. Returns the problem, or nothing when valid.
std::optional<std::string> identifier_problem(const std::string& what, const std::string& value);

/// The socket path of a `unix://` target or a plain path, lexically normalised.
std::string socket_path(const std::string& socket_or_target);

/// Every shim process of container ns/id of the containerd at `containerd_socket` (exact argv
/// match). Invalid ns or id: none. Never throws.
std::vector<shim_process> find_shims(const std::string& containerd_socket, const std::string& ns,
                                     const std::string& id);

/// The process that listens on `containerd_socket` and whose executable is containerd; fails when
/// there is none or more than one.
result<containerd_process> find_containerd(const std::string& containerd_socket);

/// The safety criterion (see the top of this file) against a given containerd process.
leak_verdict classify(const shim_process& shim, const containerd_process& ctrd,
                      const reap_options& opts);

/// The shim socket containerd 1.6 assigns: `<socket_dir>/<hex sha256 of "<address>/<ns>/<id>">`
/// (runtime/v2/shim/util_unix.go SocketAddress, address cleaned like Go's filepath.Join).
std::string shim_socket_path(const std::string& address, const std::string& ns,
                             const std::string& id, const std::string& socket_dir);

/// Removes one leaked shim and what it left: re-checks the shim's identity (pid, start time,
/// argv) and classify() against the containerd serving opts.containerd_socket, then SIGTERM
/// (SIGKILL after term_wait), `runc delete -f` when runc has state, the runc dir, the container's
/// cgroups when empty, the rootfs mount, bundle and work dir, the shim socket. Never throws.
reap_result reap(const shim_process& shim, const reap_options& opts);

/// Every shim of namespace `ns` of the containerd at `containerd_socket`, whatever its id.
std::vector<shim_process> find_namespace_shims(const std::string& containerd_socket,
                                               const std::string& ns);

/// find_shims + classify + reap for one container: how many shims were removed; shims that are
/// not leaks are left alone (listed in `skipped`). error is set when containerd cannot be found,
/// ns/id are invalid, or a reap failed.
struct reap_summary {
  uint32_t removed = 0;
  std::vector<std::string> skipped;
  std::vector<std::string> actions;
  std::string error;
  bool invalid_argument = false;
  /// The containerd serving the socket could not be told (down, restarting, or not visible in
  /// this /proc): nothing was looked at.
  bool containerd_unknown = false;
};
reap_summary reap_leaked(const std::string& ns, const std::string& id, const reap_options& opts);

/// The shims of `ns` that containerd let go of (their bundle is deleted) and that no bundle of
/// the namespace reaches any more, removed (see "Abandoned shims" at the top). Shims whose bundle
/// exists are left to reap_leaked. Needs no confirmation from containerd and no knowledge of
/// the caller's Creates: a Create in flight has a bundle, which keeps its shim.
reap_summary reap_abandoned(const std::string& ns, const reap_options& opts);

/// A bundle directory containerd left without any shim (its shim died during an interrupted
/// Tasks.Create): every later Tasks.Create of the id fails with "mkdir <bundle>: file exists".
/// `bundle` is the path containerd named; it must be <state>/io.containerd.runtime.v2.task/<ns>/
/// <id>, and no shim of (ns, id) may exist. Unmounts its rootfs, removes it and its work dir.
/// The caller must have confirmed that containerd has no task for id.
reap_summary reap_orphan_bundle(const std::string& ns, const std::string& id,
                                const std::string& bundle, const reap_options& opts);

} // namespace contd::containerd
