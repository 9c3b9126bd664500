// A private containerd for integration tests and benchmarks: its own config, root, state and
// sockets under a temporary directory, the CRI plugin disabled, and a busybox rootfs built from
// busybox-static. It never talks to /run/containerd/containerd.sock or a system containerd.
//
// The destructor tears everything down even when a test failed: tasks are killed and deleted,
// containers and namespaces removed, containerd stopped by its PID (SIGTERM, then SIGKILL),
// leftover shims of this instance killed (with their containers, via `runc delete --force`),
// mounts under the directory detached, the directory removed. A fixture also sweeps what a
// crashed earlier test left behind: directories (and their shims, containerd) whose owner PID,
// recorded in <dir>/owner.pid, is no longer alive. Nothing here depends on Catch2: setup failures
// throw std::runtime_error, so the benchmarks can link it too.
//
// Note: the runc v2 shim puts its own socket under /run/containerd/s/<hash of our socket> and
// runc's state under /run/containerd/runc/<ns>; both are per-instance names the shim chooses,
// so a system containerd is never disturbed, but those paths are not under our directory.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace contd::test {

/// What a finished command printed (stdout and stderr merged) and its exit status; status is -1
/// when the command was killed at its deadline or could not be started.
struct command_outcome {
  int status = -1;
  std::string output;
};

/// Runs argv (no shell) and collects its output; kills it at the deadline so that a hung
/// containerd fails a test instead of blocking it. Never throws.
command_outcome run_command(const std::vector<std::string>& argv,
                            std::chrono::milliseconds deadline = std::chrono::seconds{30});

/// A fresh directory under $TMPDIR (or /tmp); throws on failure.
std::filesystem::path make_temp_dir(const std::string& prefix);

/// A random lower-case hex string, for namespace and container names that never collide.
std::string random_name(const std::string& prefix, size_t hex_digits = 8);

class containerd_instance {
public:
  /// Creates the directory, the config and the rootfs, starts containerd and waits until it
  /// answers (throws std::runtime_error when it does not within `ready_timeout`).
  explicit containerd_instance(std::chrono::milliseconds ready_timeout = std::chrono::seconds{20});
  ~containerd_instance();
  containerd_instance(const containerd_instance&) = delete;
  containerd_instance& operator=(const containerd_instance&) = delete;

  /// Starts containerd with the same directories and waits until it answers.
  void start();
  /// Stops containerd (SIGTERM, SIGKILL after 10 s). Shims and their tasks keep running, as with
  /// a real containerd restart.
  void stop();
  /// stop() then start(): the restart tests use it.
  void restart();

  /// kill -9 of containerd (no clean shutdown; shims and tasks keep running), reaped.
  void kill_hard();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  const std::filesystem::path& dir() const { return dir_; }
  /// The gRPC socket path, and the same as a grpc target (`unix:///…`).
  const std::string& socket() const { return socket_; }
  std::string address() const { return "unix://" + socket_; }
  /// A busybox rootfs (every applet linked in /bin) shared by all containers of this instance.
  const std::filesystem::path& rootfs() const { return rootfs_; }
  /// A directory for logs and scratch files of the tests, under dir().
  std::filesystem::path scratch() const { return dir_ / "scratch"; }
  /// containerd's own log (stdout and stderr).
  std::string log() const;

  /// `ctr --address <socket> args...` with a deadline.
  command_outcome ctr(const std::vector<std::string>& args,
                      std::chrono::milliseconds deadline = std::chrono::seconds{30}) const;

  /// Best effort: SIGKILL every task of `ns`, delete tasks and containers, remove the namespace.
  /// Never throws; tests call it in their own cleanup, the destructor for every namespace.
  void purge_namespace(const std::string& ns) const;

  /// The pids of the containerd-shim-runc-v2 processes serving this containerd.
  std::vector<pid_t> shim_pids() const;

  /// The OCI runtime spec (JSON) containerd's client would generate for `ctr run --rootfs`
  /// (its default Unix spec) for this rootfs, with PATH set and `args` as the process.
  std::string spec_json(const std::string& ns, const std::string& id,
                        const std::vector<std::string>& args) const;

  /// An OCI process object (for exec) running `args` with PATH set.
  static std::string process_json(const std::vector<std::string>& args);

private:
  void write_config();
  void prepare_rootfs();
  bool wait_ready(std::chrono::milliseconds timeout);
  void kill_leftover_shims() const;
  void sweep_stale();
  void unmount_all() const;

  std::filesystem::path dir_;
  std::filesystem::path rootfs_;
  std::string socket_;
  std::chrono::milliseconds ready_timeout_;
  pid_t pid_ = -1;
};

} // namespace contd::test
