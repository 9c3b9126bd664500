// The containerd adapter's private core, shared by its three translation units
// (containerd_client.cpp: the unary operations; containerd_exec.cpp: Exec; containerd_events.cpp:
// event subscriptions). Includes grpc++ and the generated stubs: never include it from another
// header.
//
// Every call goes the same way: the actor fills a request, `launch` starts it with a deadline on
// grpc++'s callback API and parks its continuation under a call id; the completion runs on a
// gRPC thread and only posts (call id, status) back to the actor, which then runs the
// continuation. No scheduler thread ever waits for containerd.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/send.hpp>
#include <google/protobuf/empty.pb.h>
#include <spdlog/spdlog.h>

#include "actors/containerd_client.hpp"
#include "src/containerd/channel.hpp"
#include "src/containerd/errors.hpp"
#include "src/containerd/event_stream.hpp"

namespace contd::containerd {

/// How a call ended, as it travels from the gRPC thread to the actor.
struct rpc_status {
  int32_t code = 0;
  std::string message;
  std::string method;
  bool ok() const { return code == 0; }
  bool is(rpc_code c) const { return code == static_cast<int32_t>(c); }
  caf::error error() const { return to_error(code, message, method); }
};

/// Context, request and response of one unary call. Shared by the actor (which reads the response
/// after the completion message) and the gRPC callback (which keeps it alive until gRPC is done
/// with it, even when the actor has gone meanwhile).
template <class Req, class Resp>
struct call {
  inflight::token token; // first: released after gRPC has let go of the context
  grpc::ClientContext ctx;
  Req req;
  Resp resp;
};

struct pending_call {
  std::shared_ptr<void> keep;         // the call<…> object
  grpc::ClientContext* ctx = nullptr; // to cancel it
  std::string method;
  std::function<void(rpc_status&)> done; // runs in the actor, with the response filled in
  std::string wait_key; // "<ns>\n<id>" for Tasks.Wait (tsk_cancel finds them by it), else empty
};

struct subscription {
  event_sink_actor sink;
  std::vector<std::string> filters;
  std::shared_ptr<event_stream> stream;
  caf::timespan backoff{0};
  std::chrono::steady_clock::time_point opened;
  uint64_t generation = 0; // of the stream now open; a probe of an older one is stale
};

struct client_core {
  explicit client_core(const std::string& socket);
  ~client_core(); // cancels what is in flight and waits (bounded) for gRPC to let go

  std::shared_ptr<inflight> calls = std::make_shared<inflight>();
  stubs rpc;
  uint64_t next_call = 0;
  std::unordered_map<uint64_t, pending_call> pending;
  uint64_t next_sub = 0;
  std::map<uint64_t, subscription> subs;
};

// --- the RPCs the adapter makes ----------------------------------------------------------------
//
// One descriptor per RPC: its request and response types, its name in errors and logs, and how to
// start it. The stubs overload every RPC (callback, reactor), so the start function names the
// callback overload explicitly.

#define CONTD_DEFINE_RPC(tag, stub, Service, rpc_name, Req, Resp)                                  \
  struct tag {                                                                                     \
    using request = Req;                                                                           \
    using response = Resp;                                                                         \
    static constexpr const char* method = #Service "." #rpc_name;                                  \
    static void start(stubs& s, grpc::ClientContext* ctx, const request* req, response* resp,      \
                      std::function<void(grpc::Status)> cb) {                                      \
      s.stub->async()->rpc_name(ctx, req, resp, std::move(cb));                                    \
    }                                                                                              \
  }

namespace rpcs {
using google::protobuf::Empty;
namespace c1 = containers_v1;
namespace n1 = namespaces_v1;
namespace t1 = tasks_v1;
namespace v1 = version_v1;
CONTD_DEFINE_RPC(version, version, Version, Version, Empty, v1::VersionResponse);
CONTD_DEFINE_RPC(ns_create, namespaces, Namespaces, Create, n1::CreateNamespaceRequest,
                 n1::CreateNamespaceResponse);
CONTD_DEFINE_RPC(ns_list, namespaces, Namespaces, List, n1::ListNamespacesRequest,
                 n1::ListNamespacesResponse);
CONTD_DEFINE_RPC(ns_get, namespaces, Namespaces, Get, n1::GetNamespaceRequest,
                 n1::GetNamespaceResponse);
CONTD_DEFINE_RPC(ns_delete, namespaces, Namespaces, Delete, n1::DeleteNamespaceRequest, Empty);
CONTD_DEFINE_RPC(ctr_create, containers, Containers, Create, c1::CreateContainerRequest,
                 c1::CreateContainerResponse);
CONTD_DEFINE_RPC(ctr_get, containers, Containers, Get, c1::GetContainerRequest,
                 c1::GetContainerResponse);
CONTD_DEFINE_RPC(ctr_list, containers, Containers, List, c1::ListContainersRequest,
                 c1::ListContainersResponse);
CONTD_DEFINE_RPC(ctr_update, containers, Containers, Update, c1::UpdateContainerRequest,
                 c1::UpdateContainerResponse);
CONTD_DEFINE_RPC(ctr_delete, containers, Containers, Delete, c1::DeleteContainerRequest, Empty);
CONTD_DEFINE_RPC(tsk_create, tasks, Tasks, Create, t1::CreateTaskRequest, t1::CreateTaskResponse);
CONTD_DEFINE_RPC(tsk_start, tasks, Tasks, Start, t1::StartRequest, t1::StartResponse);
CONTD_DEFINE_RPC(tsk_get, tasks, Tasks, Get, t1::GetRequest, t1::GetResponse);
CONTD_DEFINE_RPC(tsk_list, tasks, Tasks, List, t1::ListTasksRequest, t1::ListTasksResponse);
CONTD_DEFINE_RPC(tsk_kill, tasks, Tasks, Kill, t1::KillRequest, Empty);
CONTD_DEFINE_RPC(tsk_wait, tasks, Tasks, Wait, t1::WaitRequest, t1::WaitResponse);
CONTD_DEFINE_RPC(tsk_delete, tasks, Tasks, Delete, t1::DeleteTaskRequest, t1::DeleteResponse);
CONTD_DEFINE_RPC(tsk_metrics, tasks, Tasks, Metrics, t1::MetricsRequest, t1::MetricsResponse);
CONTD_DEFINE_RPC(tsk_exec, tasks, Tasks, Exec, t1::ExecProcessRequest, Empty);
CONTD_DEFINE_RPC(tsk_delete_process, tasks, Tasks, DeleteProcess, t1::DeleteProcessRequest,
                 t1::DeleteResponse);
} // namespace rpcs

#undef CONTD_DEFINE_RPC

} // namespace contd::containerd

namespace contd::adapter {

using pointer = containerd_client_pointer;
using containerd::rpc_code;
using containerd::rpc_status;

/// Options of one call: the deadline (the adapter's call timeout when zero) and, for Tasks.Wait,
/// the key tsk_cancel finds it by.
struct call_options {
  caf::timespan timeout{0};
  std::string wait_key;
};

/// Starts `Rpc` with request `req` in namespace `ns` ("" for none) and runs
/// `done(response&, rpc_status&)` inside the actor when it completes (the response is valid only
/// when the status is OK).
template <class Rpc, class Done>
void launch(pointer self, const std::string& ns, typename Rpc::request req, Done done,
            call_options opts = {}) {
  auto& core = *self->state.core;
  using call_t = containerd::call<typename Rpc::request, typename Rpc::response>;
  auto c = std::make_shared<call_t>();
  c->req = std::move(req);
  c->token = containerd::inflight::enter(core.calls);
  auto timeout = opts.timeout.count() > 0 ? opts.timeout : self->state.config.call_timeout;
  containerd::prepare(c->ctx, ns, timeout);
  auto id = ++core.next_call;
  core.pending.emplace(id, containerd::pending_call{c, &c->ctx, Rpc::method,
                                                    [c, done = std::move(done)](
                                                      rpc_status& s) mutable { done(c->resp, s); },
                                                    std::move(opts.wait_key)});
  auto hdl = caf::actor_cast<containerd_client_impl_actor>(self);
  // Runs on a gRPC thread: only post the outcome. Holding `c` keeps context, request and
  // response valid for as long as gRPC may touch them.
  Rpc::start(core.rpc, &c->ctx, &c->req, &c->resp, [c, hdl, id](grpc::Status s) {
    caf::anon_send(hdl, atom::rpc_done_v, id, static_cast<int32_t>(s.error_code()),
                   s.error_message());
  });
}

/// A failed call answers containerd's status as the caller's error.
struct status_error {
  caf::error operator()(const rpc_status& s) const { return s.error(); }
};

/// A successful call with nothing to return.
struct no_value {
  template <class Resp>
  caf::unit_t operator()(const Resp&) const {
    return caf::unit;
  }
};

/// The shape of most operations: one call whose outcome becomes the reply. `on_ok(response&)`
/// maps an OK response to the reply (a value or a caf::expected of it); `on_fail(status)` maps
/// any other status (an error by default; some operations accept a status as success). T is the
/// reply type; `void` replies with an empty message.
template <class T, class Rpc, class OnOk = no_value, class OnFail = status_error>
caf::result<T> ask(pointer self, const std::string& ns, typename Rpc::request req, OnOk on_ok = {},
                   OnFail on_fail = {}, call_options opts = {}) {
  using value = std::conditional_t<std::is_void_v<T>, caf::unit_t, T>;
  // CAF 0.17 cannot deliver an empty reply through typed_response_promise<void>.
  using promise =
    std::conditional_t<std::is_void_v<T>, caf::response_promise, caf::typed_response_promise<T>>;
  promise rp;
  if constexpr (std::is_void_v<T>)
    rp = self->make_response_promise();
  else
    rp = self->template make_response_promise<T>();
  launch<Rpc>(
    self, ns, std::move(req),
    [rp, on_ok = std::move(on_ok), on_fail = std::move(on_fail)](typename Rpc::response& resp,
                                                                 rpc_status& s) mutable {
      auto out = [&]() -> caf::expected<value> {
        if (s.ok())
          return on_ok(resp);
        return on_fail(s);
      }();
      if (!out)
        rp.deliver(std::move(out.error()));
      else if constexpr (std::is_void_v<T>)
        rp.deliver(caf::unit); // CAF's expected<unit_t> holds no value
      else
        rp.deliver(std::move(*out));
    },
    std::move(opts));
  return rp;
}

inline std::string quote(const std::string& s) {
  return "\"" + s + "\"";
}

// --- the parts in their own files ----------------------------------------------------------------

/// Exec (containerd_exec.cpp): Tasks.Exec, Start, Wait with the caller's timeout (SIGKILL and a
/// bounded reap when it passes), DeleteProcess in every outcome.
caf::result<exec_result> exec_run(pointer self, const std::string& ns, const std::string& id,
                                  const std::string& exec_id, const std::string& process_json,
                                  caf::timespan timeout, const std::string& capture);

/// Event subscriptions (containerd_events.cpp).
void subscribe(pointer self, const event_sink_actor& sink, std::vector<std::string> filters);
void drop_subscriptions_of(pointer self, const caf::actor_addr& sink);
void on_sub_event(pointer self, uint64_t sub_id, task_event& ev);
void on_sub_ended(pointer self, uint64_t sub_id, int32_t code, const std::string& message);
void open_stream(pointer self, uint64_t sub_id);
void probe_stream(pointer self, uint64_t sub_id, uint64_t generation);

} // namespace contd::adapter
