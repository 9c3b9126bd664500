// The steps the tenant's jobs share (tenant_jobs.cpp, tenant_run.cpp, tenant_delete.cpp,
// tenant_reconcile.cpp): model bookkeeping, task start-up, labels, the restart policy applied to
// the model, and the teardown of what a failed or unfinished Run left. Internal to the tenant.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "actors/tenant_jobs.hpp"

namespace contd::jobs {

using std::string;

/// The longest ShutdownTimeout honoured.
inline constexpr auto max_grace = std::chrono::hours{1};

string quote(const string& s);

string where(tenant_pointer self, const string& id);

caf::timespan call_timeout(tenant_pointer self);

containerd_client_actor& client(tenant_pointer self);

/// containerd did not answer: refused, gone, or past a call deadline. Not a statement about the
/// container.
bool unreachable(const caf::error& err);

container_model* model_of(tenant_pointer self, const string& id);

/// Cancels a pending restart (its timer finds a newer generation).
void cancel_restart(container_model& m);

go_time go_time_of(int64_t unix_ns);

int64_t unix_ns_of(const go_time& t);

bool same_spec(const string& stored, const string& wanted);

std::chrono::nanoseconds grace_of(const string& spec_json, std::chrono::nanoseconds dflt);

/// The spec's runc shim group (annotation io.containerd.runc.v2.group); empty without one.
string shim_group_of(const string& spec_json);

/// The shim group for a new container of this tenant: the first "shim-<k>" (k = 0, 1, ...) with
/// fewer than config.shim_group_size members, counting containers of the model and Runs still
/// in flight. Empty when shim_group_size is 0 (a shim per container).
string choose_shim_group(const tenant_state& st);

/// The request behind a container record: contd's own carry it; others are rebuilt from their
/// spec.
container request_of(const container_record& rec);

bool is_managed(const container_record& rec);

string label_value(const container_record& rec, const char* key);

/// A model rebuilt from what containerd stores (after a restart of contd, or a gap).
container_model model_from_record(const container_record& rec);

/// Takes the task's facts into the observed state.
void observe(container_model& m, const std::optional<task_info>& t);

/// Stops forwarding the container's output and removes its log files.
void remove_log(tenant_pointer self, const string& id);

/// binary://<logger>?path=<log>&max=<cap>, or "" (output discarded) without a logger or log.
string logger_uri(const tenant_config& cfg, const string& log_path);

/// Removes a runc shim containerd leaked for `id` (killed during Tasks.Create: containerd then
/// lists no task, but a new Tasks.Create of the id fails), then calls `k`. The reaper checks
/// with containerd that there is no task; contd's own Create of `id` is never in flight here,
/// because every caller runs inside the container's FIFO.
void reap_leaked(tenant_pointer self, const string& id, std::function<void()> k);

/// Removes a bundle containerd left without a shim, as named in its "mkdir <bundle>: file
/// exists" error (the reaper checks its shape and that no shim and no task exist), then `k`.
void reap_bundle(tenant_pointer self, const string& id, const string& bundle,
                 std::function<void()> k);

/// Prepares the container's log, then creates and starts its task with contd's logger as
/// stdout and stderr. While it runs, exits of the container are held (m.starting) and applied
/// afterwards against the pid.
void launch_task(tenant_pointer self, const string& id, std::function<void(uint32_t)> ok,
                 std::function<void(caf::error)> fail);

/// Tasks.Delete of `id` inside its shim group's gate, like every Tasks.Create: with shared
/// shims, the Delete of a group's last task makes its shim exit, and a Create let into the group
/// meanwhile could reach a shim on its way out. Without a model (or a group): at once.
void gated_task_delete(tenant_pointer self, const string& id, std::function<void(exit_info&)> ok,
                       std::function<void(caf::error&)> fail);

/// Tasks.Create with `uri` as stdout and stderr, then Tasks.Start (launch_task's second half).
void create_task(tenant_pointer self, const string& id, const string& uri,
                 std::function<void(uint32_t)> ok, std::function<void(caf::error)> fail);

// --- sinks (tenant_sinks.cpp) ---

/// Hands the container's log sinks to the forwarders (once) and arms the periodic stats pass.
void start_sinks(tenant_pointer self, const string& id);

/// Stops forwarding the container's output; `purge` also removes the forwarding offsets.
void stop_forwarding(tenant_pointer self, const string& id, bool purge);

/// Marks the model running with `pid`, then applies an exit of that pid that arrived meanwhile.
void started(tenant_pointer self, const string& id, uint32_t pid);

/// Sets labels on the container; `k` gets the error (empty on success).
void set_labels(tenant_pointer self, const string& id, label_map labels,
                std::function<void(caf::error)> k);

/// The labels that carry a model's restart history.
label_map history_labels(const container_model& m);

/// Applies a decision of the restart policy to the model.
void apply(tenant_pointer self, const string& id, container_model& m, const supervise::decision& d);

/// An exit (observed by an event or by reconciliation) under the container's policy.
void decide(tenant_pointer self, const string& id, container_model& m, uint32_t code, go_time at);

/// Removes the task (SIGKILL first when it runs) and the container. While containerd is
/// unreachable it retries with backoff up to `bound`; `k` gets the outcome: empty, an
/// unreachable error (the reconciler finishes later), or a stuck error.
void tear_down(tenant_pointer self, const string& id, caf::timespan bound,
               std::function<void(caf::error)> k);

/// After a successful teardown the model goes; otherwise it stays, desired deleted, for the
/// reconciler.
void forget_or_keep(tenant_pointer self, const string& id, const caf::error& err);

} // namespace contd::jobs
