// Project atoms (at most 10 characters of [0-9A-Za-z_]; the text is the identity) and the type-ID
// block of everything that travels between actors.
#pragma once

#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/type_id.hpp>

#include "messages/containerd_types.hpp"
#include "messages/types.hpp"

CAF_BEGIN_TYPE_ID_BLOCK(contd, caf::first_custom_type_id)

CAF_ADD_TYPE_ID(contd, (contd::go_time))
CAF_ADD_TYPE_ID(contd, (contd::network_info))
CAF_ADD_TYPE_ID(contd, (contd::mount_info))
CAF_ADD_TYPE_ID(contd, (contd::logs_redis))
CAF_ADD_TYPE_ID(contd, (contd::log_sink))
CAF_ADD_TYPE_ID(contd, (contd::stats_sink))
CAF_ADD_TYPE_ID(contd, (contd::restart_policy))
CAF_ADD_TYPE_ID(contd, (contd::container_state))
CAF_ADD_TYPE_ID(contd, (contd::container))
CAF_ADD_TYPE_ID(contd, (std::vector<contd::container>))
CAF_ADD_TYPE_ID(contd, (contd::ingress_stats))
CAF_ADD_TYPE_ID(contd, (contd::container_record))
CAF_ADD_TYPE_ID(contd, (std::vector<contd::container_record>))
CAF_ADD_TYPE_ID(contd, (contd::task_info))
CAF_ADD_TYPE_ID(contd, (std::vector<contd::task_info>))
CAF_ADD_TYPE_ID(contd, (contd::exit_info))
CAF_ADD_TYPE_ID(contd, (contd::exec_result))
CAF_ADD_TYPE_ID(contd, (contd::task_metrics))
CAF_ADD_TYPE_ID(contd, (contd::task_event))
CAF_ADD_TYPE_ID(contd, (contd::container_event))

// zbus container module methods
CAF_ADD_ATOM(contd, contd::atom, run, "run")
CAF_ADD_ATOM(contd, contd::atom, inspect, "inspect")
CAF_ADD_ATOM(contd, contd::atom, exec, "exec")
CAF_ADD_ATOM(contd, contd::atom, logs, "logs")
CAF_ADD_ATOM(contd, contd::atom, list, "list")
CAF_ADD_ATOM(contd, contd::atom, list_ns, "list_ns")
CAF_ADD_ATOM(contd, contd::atom, sig_delete, "sig_delete")

// zbus plumbing
CAF_ADD_ATOM(contd, contd::atom, payload, "payload")
CAF_ADD_ATOM(contd, contd::atom, credit, "credit")
CAF_ADD_ATOM(contd, contd::atom, pop, "pop")
CAF_ADD_ATOM(contd, contd::atom, reply, "reply")
CAF_ADD_ATOM(contd, contd::atom, retry, "retry")
CAF_ADD_ATOM(contd, contd::atom, attach, "attach")
CAF_ADD_ATOM(contd, contd::atom, stats, "stats")
CAF_ADD_ATOM(contd, contd::atom, drain, "drain")

// containerd adapter (see interfaces.hpp, section "containerd adapter")
CAF_ADD_ATOM(contd, contd::atom, ns_ensure, "ns_ensure")
CAF_ADD_ATOM(contd, contd::atom, ns_list, "ns_list")
CAF_ADD_ATOM(contd, contd::atom, ns_get, "ns_get")
CAF_ADD_ATOM(contd, contd::atom, ns_delete, "ns_delete")
CAF_ADD_ATOM(contd, contd::atom, ctr_create, "ctr_create")
CAF_ADD_ATOM(contd, contd::atom, ctr_get, "ctr_get")
CAF_ADD_ATOM(contd, contd::atom, ctr_list, "ctr_list")
CAF_ADD_ATOM(contd, contd::atom, ctr_labels, "ctr_labels")
CAF_ADD_ATOM(contd, contd::atom, ctr_delete, "ctr_delete")
CAF_ADD_ATOM(contd, contd::atom, tsk_create, "tsk_create")
CAF_ADD_ATOM(contd, contd::atom, tsk_start, "tsk_start")
CAF_ADD_ATOM(contd, contd::atom, tsk_get, "tsk_get")
CAF_ADD_ATOM(contd, contd::atom, tsk_list, "tsk_list")
CAF_ADD_ATOM(contd, contd::atom, tsk_kill, "tsk_kill")
CAF_ADD_ATOM(contd, contd::atom, tsk_wait, "tsk_wait")
CAF_ADD_ATOM(contd, contd::atom, tsk_cancel, "tsk_cancel")
CAF_ADD_ATOM(contd, contd::atom, tsk_delete, "tsk_delete")
CAF_ADD_ATOM(contd, contd::atom, tsk_metrics, "tsk_metric") // an atom text has <= 10 chars
CAF_ADD_ATOM(contd, contd::atom, exec_run, "exec_run")
CAF_ADD_ATOM(contd, contd::atom, event, "event")
// containerd adapter, internal (completions from gRPC threads, the re-subscribe timer)
CAF_ADD_ATOM(contd, contd::atom, rpc_done, "rpc_done")
CAF_ADD_ATOM(contd, contd::atom, sub_event, "sub_event")
CAF_ADD_ATOM(contd, contd::atom, sub_ended, "sub_ended")
CAF_ADD_ATOM(contd, contd::atom, sub_retry, "sub_retry")
CAF_ADD_ATOM(contd, contd::atom, sub_probe, "sub_probe")
CAF_ADD_ATOM(contd, contd::atom, resync, "resync")

// spec builder, tenants
CAF_ADD_ATOM(contd, contd::atom, retire, "retire")
CAF_ADD_ATOM(contd, contd::atom, version, "version")
CAF_ADD_ATOM(contd, contd::atom, build, "build")
CAF_ADD_ATOM(contd, contd::atom, done, "done")
CAF_ADD_ATOM(contd, contd::atom, timer, "timer")
CAF_ADD_ATOM(contd, contd::atom, publish, "publish")

// leaked-shim reaper (actors/shim_reaper)
CAF_ADD_ATOM(contd, contd::atom, reap, "reap")
CAF_ADD_ATOM(contd, contd::atom, sweep, "sweep")

// logs and stats (actors/log_io, actors/log_forwarder, Stats)
CAF_ADD_ATOM(contd, contd::atom, log_prepare, "log_prep")
CAF_ADD_ATOM(contd, contd::atom, log_remove, "log_remove")
CAF_ADD_ATOM(contd, contd::atom, capture_new, "cap_new")
CAF_ADD_ATOM(contd, contd::atom, capture_read, "cap_read")
CAF_ADD_ATOM(contd, contd::atom, follow, "follow")
CAF_ADD_ATOM(contd, contd::atom, unfollow, "unfollow")
CAF_ADD_ATOM(contd, contd::atom, metrics, "metrics")

CAF_END_TYPE_ID_BLOCK(contd)

namespace contd::atom {

// CAF's own atoms that contd uses, re-exported so that all code writes atom::x.
using get = caf::get_atom;
constexpr auto get_v = get::value;
using delete_ = caf::delete_atom;
constexpr auto delete_v = delete_::value;
using ok = caf::ok_atom;
constexpr auto ok_v = ok::value;
using subscribe = caf::subscribe_atom;
constexpr auto subscribe_v = subscribe::value;
using update = caf::update_atom;
constexpr auto update_v = update::value;
using wait_for = caf::wait_for_atom;
constexpr auto wait_for_v = wait_for::value;

} // namespace contd::atom
