// Every typed actor interface of contd, one comment per handler. Messages an actor sends to itself
// (timers, completions from foreign threads) are part of its interface, grouped last as "internal".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/timespan.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "messages/atoms.hpp"
#include "messages/containerd_types.hpp"
#include "messages/error.hpp"
#include "messages/types.hpp"

namespace contd {

// --- the container module (what zbus calls) --------------------------------------------------

/// The eight zbus methods of `container@0.0.1`, with arguments already decoded and type-checked.
/// Errors are contd errors whose text is what the Go caller receives.
using container_module_actor = caf::typed_actor<
  // Run(ns, Container) -> ContainerID
  caf::replies_to<atom::run, std::string, container>::with<std::string>,
  // Inspect(ns, id) -> Container (with the live State)
  caf::replies_to<atom::inspect, std::string, std::string>::with<container>,
  // Delete(ns, id): stop gracefully, then remove task, container and log
  caf::replies_to<atom::delete_, std::string, std::string>::with<void>,
  // SignalDelete(ns, id): mark stop-requested and send SIGTERM, without waiting
  caf::replies_to<atom::sig_delete, std::string, std::string>::with<void>,
  // Exec(ns, id, timeout, args...)
  caf::replies_to<atom::exec, std::string, std::string, caf::timespan,
                  std::vector<std::string>>::with<void>,
  // Logs(ns, id) -> the last 100 lines
  caf::replies_to<atom::logs, std::string, std::string>::with<std::string>,
  // List(ns) -> ids; ns == "" lists every namespace
  caf::replies_to<atom::list, std::string>::with<std::vector<std::string>>,
  // ListNS() -> namespaces
  caf::replies_to<atom::list_ns>::with<std::vector<std::string>>,
  // Stats(ns, id) -> the resource figures the stats sinks receive (contd's addition)
  caf::replies_to<atom::metrics, std::string, std::string>::with<task_metrics>>;

// --- zbus front door ---------------------------------------------------------------------------

/// Detached: owns the blocking BLPOP connection. Pops only while it holds credit.
using zbus_listener_actor = caf::typed_actor<
  // grant n more requests of the object queue (the status queue needs no credit)
  caf::reacts_to<atom::credit, uint32_t>,
  // internal: do one bounded BLPOP (or one reconnect attempt), then schedule the next
  caf::reacts_to<atom::pop>>;

/// Detached: owns the connection replies go out on.
using zbus_replier_actor = caf::typed_actor<
  // RPUSH <key> <bytes>, EXPIRE <key> 300 — queued and retried until Redis takes it
  caf::reacts_to<atom::reply, std::string, std::string>,
  // try to push everything queued; answers how many replies are still held (Redis down)
  caf::replies_to<atom::drain>::with<uint64_t>,
  // internal: retry the queued replies after an outage
  caf::reacts_to<atom::retry>>;

/// Decodes requests, answers protocol errors and the status object, dispatches to the module.
using zbus_ingress_actor = caf::typed_actor<
  // a listener announces itself; the ingress grants it the in-flight budget as credit
  caf::reacts_to<atom::attach, zbus_listener_actor>,
  // one payload popped from <queue>
  caf::reacts_to<atom::payload, std::string, std::string>,
  // counters
  caf::replies_to<atom::stats>::with<ingress_stats>,
  // answers once no call of the object queue is in flight, or when the timespan has passed,
  // with the number of calls still in flight then (0 unless the time ran out); a zero timespan
  // answers at once and makes every drain, waiting or later, answer at once too
  caf::replies_to<atom::drain, caf::timespan>::with<uint64_t>,
  // internal: the time of waiting drain n has passed
  caf::reacts_to<atom::timer, uint64_t>>;

// --- containerd adapter --------------------------------------------------------------------
// The only actor that speaks gRPC. Every handler starts an asynchronous call with a deadline (the
// adapter's default call timeout unless the handler takes its own) and answers with a contd error
// whose text is containerd's message (e.g. `container "<id>" in namespace "<ns>": not found`).
// `ns` is the containerd namespace (sent as the containerd-namespace header).

/// Receives the events of a subscription.
using event_sink_actor = caf::typed_actor<
  // one /tasks/exit, /tasks/oom, /tasks/start or /tasks/delete event
  caf::reacts_to<atom::event, task_event>,
  // the stream is (again) open: events may have been missed since the last one; reconcile
  caf::reacts_to<atom::resync>>;

/// Receives every state transition of a managed container (published on the zbus event stream).
using event_publisher_actor = caf::typed_actor<caf::reacts_to<atom::publish, container_event>>;

using containerd_client_actor = caf::typed_actor<
  // containerd's version string (Version.Version)
  caf::replies_to<atom::version>::with<std::string>,
  // Namespaces.Create with labels; an existing namespace is success
  caf::replies_to<atom::ns_ensure, std::string, label_map>::with<void>,
  // Namespaces.List -> names
  caf::replies_to<atom::ns_list>::with<std::vector<std::string>>,
  // Namespaces.Get -> its labels; not_found when there is no such namespace
  caf::replies_to<atom::ns_get, std::string>::with<label_map>,
  // Namespaces.Delete (failed_precondition while it still holds objects)
  caf::replies_to<atom::ns_delete, std::string>::with<void>,
  // Containers.Create(ns, {id, labels, spec_json}) with runtime io.containerd.runc.v2 and the
  // spec as an Any of type URL types.containerd.io/opencontainers/runtime-spec/1/Spec
  caf::replies_to<atom::ctr_create, std::string, container_record>::with<container_record>,
  // Containers.Get(ns, id)
  caf::replies_to<atom::ctr_get, std::string, std::string>::with<container_record>,
  // Containers.List(ns, filters): filters are OR-ed, comma-separated clauses AND-ed
  caf::replies_to<atom::ctr_list, std::string,
                  std::vector<std::string>>::with<std::vector<container_record>>,
  // Containers.Update(ns, id): set (overwrite) these labels, keep the others
  caf::replies_to<atom::ctr_labels, std::string, std::string, label_map>::with<container_record>,
  // Containers.Delete(ns, id); refused with failed_precondition while the container has a task
  caf::replies_to<atom::ctr_delete, std::string, std::string>::with<void>,
  // Tasks.Create(ns, id, stdout URI, stderr URI) -> pid; rootfs empty, no terminal
  caf::replies_to<atom::tsk_create, std::string, std::string, std::string,
                  std::string>::with<uint32_t>,
  // Tasks.Start(ns, id) -> pid
  caf::replies_to<atom::tsk_start, std::string, std::string>::with<uint32_t>,
  // Tasks.Get(ns, id); not_found when the container has no task
  caf::replies_to<atom::tsk_get, std::string, std::string>::with<task_info>,
  // Tasks.List(ns)
  caf::replies_to<atom::tsk_list, std::string>::with<std::vector<task_info>>,
  // Tasks.Kill(ns, id, signal, all); an already finished process is success
  caf::replies_to<atom::tsk_kill, std::string, std::string, uint32_t, bool>::with<void>,
  // Tasks.Wait(ns, id, timeout): errc::timeout when the timeout passes (the task keeps running);
  // a wait is cancelled (errc::timeout "wait cancelled") by tsk_cancel for the same (ns, id)
  caf::replies_to<atom::tsk_wait, std::string, std::string, caf::timespan>::with<exit_info>,
  // cancel every pending wait on (ns, id)
  caf::reacts_to<atom::tsk_cancel, std::string, std::string>,
  // Tasks.Delete(ns, id)
  caf::replies_to<atom::tsk_delete, std::string, std::string>::with<exit_info>,
  // Tasks.Metrics(ns, id): not_found when the container has no task
  caf::replies_to<atom::tsk_metrics, std::string, std::string>::with<task_metrics>,
  // Exec(ns, id, exec_id, OCI process JSON, timeout, capture file): Tasks.Exec + Start + Wait;
  // past the timeout: SIGKILL, errc::timeout "execution timed out"; DeleteProcess always. The
  // process's stdout and stderr go to the existing regular file `capture` ("" = /dev/null); the
  // result carries the exit code only (the caller reads the file)
  caf::replies_to<atom::exec_run, std::string, std::string, std::string, std::string, caf::timespan,
                  std::string>::with<exec_result>,
  // Events.Subscribe(filters) delivering /tasks/exit and /tasks/oom to the sink; re-subscribes
  // after containerd restarts
  caf::reacts_to<atom::subscribe, event_sink_actor, std::vector<std::string>>>;

/// The adapter's own handle type: the public interface plus what it sends itself. Callers and
/// fakes see only containerd_client_actor.
using containerd_client_impl_actor = containerd_client_actor::extend<
  // internal: unary call n finished on a gRPC thread with (gRPC status code, message)
  caf::reacts_to<atom::rpc_done, uint64_t, int32_t, std::string>,
  // internal: subscription n received an event
  caf::reacts_to<atom::sub_event, uint64_t, task_event>,
  // internal: the stream of subscription n ended with (gRPC status code, message)
  caf::reacts_to<atom::sub_ended, uint64_t, int32_t, std::string>,
  // internal: timer: re-open the stream of subscription n
  caf::reacts_to<atom::sub_retry, uint64_t>,
  // internal: timer: check again that stream generation g of subscription n is open
  caf::reacts_to<atom::sub_probe, uint64_t, uint64_t>>;

// --- spec builder --------------------------------------------------------------------------

/// Validates a container request and builds its OCI runtime spec (pure; see src/oci).
using spec_builder_actor = caf::typed_actor<
  // (ns, request, shim group) -> the OCI runtime spec JSON; errc::invalid_argument naming field
  // and value. A non-empty shim group is the runc shim's group annotation (oci::build_spec).
  caf::replies_to<atom::build, std::string, container, std::string>::with<std::string>>;

// --- leaked-shim reaper ----------------------------------------------------------------------

/// Detached: removes runc v2 shims that containerd leaked when it was killed during
/// Tasks.Create (see src/containerd/shim_reaper.hpp for the safety criterion).
using shim_reaper_actor = caf::typed_actor<
  // (ns, id) -> how many leaked shims of that container were removed (0: none, or containerd
  // reports a task for id); errc::invalid_argument for a bad ns/id, errc::internal otherwise
  caf::replies_to<atom::reap, std::string, std::string>::with<uint32_t>,
  // (ns, id, bundle path containerd named) -> 1 when a bundle without any shim was removed
  caf::replies_to<atom::reap, std::string, std::string, std::string>::with<uint32_t>,
  // (ns) -> how many shims containerd let go of and empty cgroup directories runc left for the
  // namespace (/<ns> under each cgroup hierarchy) were removed; call it once the namespace holds
  // no container
  caf::replies_to<atom::reap, std::string>::with<uint32_t>,
  // (ns) -> how many shims of the namespace that containerd let go of (their bundle deleted) and
  // that no bundle reaches were removed; safe while Creates are in flight
  caf::replies_to<atom::sweep, std::string>::with<uint32_t>>;

// --- container logs -------------------------------------------------------------------------

/// Detached: every file access of container logs and exec captures. Files under contd's root
/// may be reachable from inside a container (a caller can bind-mount any host path), so each is
/// opened without following links and without blocking, and must be a regular file.
using log_io_actor = caf::typed_actor<
  // (ns, id): create <log_dir>/<ns>/, the lock file <id>.log.lock the logger program needs, and
  // an empty <id>.log if missing -> the log path
  caf::replies_to<atom::log_prepare, std::string, std::string>::with<std::string>,
  // (ns, id) -> the last lines of the container's output, stdout and stderr merged
  caf::replies_to<atom::logs, std::string, std::string>::with<std::string>,
  // (ns, id): remove the log, its rotated file, its lock file and forwarding offsets
  caf::replies_to<atom::log_remove, std::string, std::string>::with<void>,
  // (ns, bytes) -> a new capture file for one exec: unguessable name, created exclusively,
  // `bytes` of disk space reserved (errc::unavailable when the disk cannot hold them)
  caf::replies_to<atom::capture_new, std::string, uint64_t>::with<std::string>,
  // (path, max bytes) -> the output (its tail when longer); the file is removed
  caf::replies_to<atom::capture_read, std::string, uint64_t>::with<exec_result>>;

/// Detached, one per Redis endpoint (host:port) of one tenant: publishes container output from
/// the local logs and stats messages. A slow or dead endpoint stalls only this actor.
using log_forwarder_actor = caf::typed_actor<
  // (id, log path, stream "stdout"/"stderr", channel, offset file): publish every line of that
  // stream, from the position kept in the offset file (or the start of the oldest log file)
  caf::reacts_to<atom::follow, std::string, std::string, std::string, std::string, std::string>,
  // (id, purge): stop every follow of the container; purge removes its offset files
  caf::reacts_to<atom::unfollow, std::string, bool>,
  // (channel, payload): PUBLISH once (queued, bounded, while the endpoint is down)
  caf::reacts_to<atom::publish, std::string, std::string>,
  // (the published lines, lines not yet published, stats messages dropped, connected)
  caf::replies_to<atom::stats>::with<uint64_t, uint64_t, uint64_t, bool>,
  // internal: read and publish what is new; reconnect when due
  caf::reacts_to<atom::timer>>;

// --- the container module's inside ----------------------------------------------------------

/// One tenant per containerd namespace: the supervisor of its managed containers. Serialises
/// operations per container, runs different containers concurrently. Same calls as the module
/// (ns is always the tenant's own).
using tenant_actor =
  caf::typed_actor<caf::replies_to<atom::run, std::string, container>::with<std::string>,
                   caf::replies_to<atom::inspect, std::string, std::string>::with<container>,
                   caf::replies_to<atom::delete_, std::string, std::string>::with<void>,
                   caf::replies_to<atom::sig_delete, std::string, std::string>::with<void>,
                   caf::replies_to<atom::exec, std::string, std::string, caf::timespan,
                                   std::vector<std::string>>::with<void>,
                   caf::replies_to<atom::logs, std::string, std::string>::with<std::string>,
                   caf::replies_to<atom::list, std::string>::with<std::vector<std::string>>,
                   // an event of one of this tenant's containers
                   caf::reacts_to<atom::event, task_event>,
                   // the event stream had a gap (or contd just started): reconcile the namespace
                   caf::reacts_to<atom::resync>,
                   // (the model answers: reconciled since the last gap, containers supervised)
                   caf::replies_to<atom::stats>::with<bool, uint64_t>,
                   // who removes shims containerd leaked (none: they are left alone)
                   caf::reacts_to<atom::attach, shim_reaper_actor>,
                   // who reads and writes log files (none: output is discarded)
                   caf::reacts_to<atom::attach, log_io_actor>,
                   caf::replies_to<atom::metrics, std::string, std::string>::with<task_metrics>,
                   // the module retires this tenant: finish the queued work, then quit
                   caf::reacts_to<atom::done>,
                   // internal: the idle timer of generation n fired
                   caf::reacts_to<atom::timer, uint64_t>,
                   // internal: timer n (a restart backoff, a rollback retry, the periodic
                   // reconcile) is due
                   caf::reacts_to<atom::retry, uint64_t>>;

/// The module actor: the public interface plus what tenants and the event stream send it.
using module_actor = container_module_actor::extend<
  // a tenant has been idle: retire it unless work arrived meanwhile
  caf::reacts_to<atom::retire, std::string, tenant_actor>,
  // containerd events, routed to the owning tenant
  caf::reacts_to<atom::event, task_event>,
  // the event stream is open again: reconcile every namespace
  caf::reacts_to<atom::resync>,
  // a tenant reports a state transition: forwarded to the attached publisher
  caf::reacts_to<atom::publish, container_event>,
  // where transitions go (zbus publishes them on Redis); the module runs without one
  caf::reacts_to<atom::attach, event_publisher_actor>,
  // (tenants, tenants reconciled since their last gap, containers supervised)
  caf::replies_to<atom::stats>::with<uint64_t, uint64_t, uint64_t>,
  // who removes shims containerd leaked; handed to every tenant
  caf::reacts_to<atom::attach, shim_reaper_actor>,
  // who reads and writes log files; handed to every tenant
  caf::reacts_to<atom::attach, log_io_actor>>;

// --- zbus event stream ----------------------------------------------------------------------

/// Detached: owns the connection container events are PUBLISHed on. The public side is
/// event_publisher_actor (what the module sees); the rest serves contd's main and tests.
using zbus_publisher_actor = event_publisher_actor::extend<
  // try to publish everything queued; answers how many events are still held (Redis down)
  caf::replies_to<atom::drain>::with<uint64_t>,
  // counters: (events published, events dropped because the queue was full, events held now)
  caf::replies_to<atom::stats>::with<uint64_t, uint64_t, uint64_t>,
  // internal: retry the queued events after an outage
  caf::reacts_to<atom::retry>>;

} // namespace contd
