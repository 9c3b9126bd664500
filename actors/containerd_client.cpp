#include "actors/containerd_client.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <unordered_map>

#include <caf/send.hpp>
#include <google/protobuf/empty.pb.h>
#include <spdlog/spdlog.h>

#include "src/containerd/channel.hpp"
#include "src/containerd/convert.hpp"
#include "src/containerd/errors.hpp"
#include "src/containerd/event_stream.hpp"
#include "src/containerd/metrics.hpp"

namespace contd {

namespace cd = containerd;
using std::string;

namespace containerd {

/// How a call ended, as it travels from the gRPC thread to the actor.
struct rpc_status {
  int32_t code = 0;
  string message;
  string method;
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
  std::shared_ptr<void> keep; // the call<…> object
  grpc::ClientContext* ctx = nullptr; // to cancel it
  string method;
  std::function<void(rpc_status&)> done; // runs in the actor, with the response filled in
  string wait_key; // "<ns>\n<id>" for Tasks.Wait (tsk_cancel finds them by it), else empty
};

struct subscription {
  event_sink_actor sink;
  std::vector<string> filters;
  std::shared_ptr<event_stream> stream;
  caf::timespan backoff{0};
  std::chrono::steady_clock::time_point opened;
  uint64_t generation = 0; // of the stream now open; a probe of an older one is stale
};

struct client_core {
  explicit client_core(const string& socket) : rpc(make_channel(socket)) {
  }

  ~client_core() {
    // Whatever is still in flight completes promptly (CANCELLED); its completion message goes
    // nowhere. The channel must outlive those completions (see inflight), so wait for them: a
    // brief, bounded block at shutdown only.
    for (auto& [id, p] : pending)
      p.ctx->TryCancel();
    for (auto& [id, s] : subs)
      if (s.stream)
        s.stream->cancel();
    pending.clear();
    subs.clear();
    if (!calls->wait_idle(std::chrono::seconds{5}))
      spdlog::error("containerd adapter: {} gRPC operations still in flight at shutdown",
                    calls->count());
  }

  std::shared_ptr<inflight> calls = std::make_shared<inflight>();
  stubs rpc;
  uint64_t next_call = 0;
  std::unordered_map<uint64_t, pending_call> pending;
  uint64_t next_sub = 0;
  std::map<uint64_t, subscription> subs;
};

} // namespace containerd

containerd_client_state::containerd_client_state() = default;
containerd_client_state::~containerd_client_state() = default;

namespace {

using pointer = containerd_client_pointer;
using cd::rpc_code;
using cd::rpc_status;
namespace containers_v1 = cd::containers_v1;
namespace namespaces_v1 = cd::namespaces_v1;
namespace tasks_v1 = cd::tasks_v1;
namespace version_v1 = cd::version_v1;

// CAF 0.17 cannot deliver an empty reply through typed_response_promise<void>.
using void_promise = caf::response_promise;

// Starts `method` on its stub with grpc++'s callback API. The method is named twice (service
// member, RPC) because the stubs overload every RPC; a lambda picks the callback overload.
#define CONTD_RPC(service, rpc_name)                                                           \
  [](cd::stubs & s, auto* ctx, auto* req, auto* resp,                                          \
     std::function<void(grpc::Status)> cb) {                                                   \
    s.service->async()->rpc_name(ctx, req, resp, std::move(cb));                               \
  }

template <class Req, class Resp>
std::shared_ptr<cd::call<Req, Resp>> make_call() {
  return std::make_shared<cd::call<Req, Resp>>();
}

/// Starts one unary call with a deadline and parks its continuation until the completion
/// message arrives. `done(call&, rpc_status&)` runs inside the actor.
template <class Call, class Start, class Done>
void launch(pointer self, const char* method, const string& ns, caf::timespan timeout,
            std::shared_ptr<Call> c, Start start, Done done, string wait_key = {}) {
  auto& core = *self->state.core;
  c->token = cd::inflight::enter(core.calls);
  cd::prepare(c->ctx, ns, timeout);
  auto id = ++core.next_call;
  core.pending.emplace(id, cd::pending_call{c, &c->ctx, method,
                                            [c, done = std::move(done)](rpc_status& s) mutable {
                                              done(*c, s);
                                            },
                                            std::move(wait_key)});
  auto hdl = caf::actor_cast<containerd_client_impl_actor>(self);
  // Runs on a gRPC thread: only post the outcome. Holding `c` keeps context, request and
  // response valid for as long as gRPC may touch them.
  start(core.rpc, &c->ctx, &c->req, &c->resp, [c, hdl, id](grpc::Status s) {
    caf::anon_send(hdl, atom::rpc_done_v, id, static_cast<int32_t>(s.error_code()),
                   s.error_message());
  });
}

caf::timespan call_timeout(pointer self) {
  return self->state.config.call_timeout;
}

string quote(const string& s) {
  return "\"" + s + "\"";
}

string wait_key(const string& ns, const string& id) {
  return ns + "\n" + id;
}

// --- exec ------------------------------------------------------------------------------------

struct exec_job {
  string ns;
  string id;
  string exec_id;
  caf::timespan timeout{0};
  caf::typed_response_promise<exec_result> rp;
  uint32_t exit_code = 0;
  caf::error failure; // set when the answer is an error; DeleteProcess still runs first
};

using exec_ptr = std::shared_ptr<exec_job>;

void exec_finish(pointer self, exec_ptr job);

void exec_delete(pointer self, exec_ptr job) {
  auto c = make_call<tasks_v1::DeleteProcessRequest, tasks_v1::DeleteResponse>();
  c->req.set_container_id(job->id);
  c->req.set_exec_id(job->exec_id);
  launch(self, "Tasks.DeleteProcess", job->ns, call_timeout(self), c,
         CONTD_RPC(tasks, DeleteProcess), [self, job](auto&, rpc_status& s) {
           if (!s.ok() && !s.is(rpc_code::not_found))
             spdlog::warn("containerd: DeleteProcess of exec {} in {}/{} failed: {}",
                          job->exec_id, job->ns, job->id, s.message);
           exec_finish(self, job);
         });
}

void exec_finish(pointer self, exec_ptr job) {
  (void) self;
  if (job->failure) {
    job->rp.deliver(std::move(job->failure));
    return;
  }
  // The output is in the capture file; its owner reads it (the shim has closed it: DeleteProcess
  // returns after the process's I/O is done).
  job->rp.deliver(exec_result{job->exit_code, {}, false});
}

void exec_kill_and_reap(pointer self, exec_ptr job) {
  auto kill = make_call<tasks_v1::KillRequest, google::protobuf::Empty>();
  kill->req.set_container_id(job->id);
  kill->req.set_exec_id(job->exec_id);
  kill->req.set_signal(9);
  kill->req.set_all(true);
  launch(self, "Tasks.Kill", job->ns, call_timeout(self), kill, CONTD_RPC(tasks, Kill),
         [self, job](auto&, rpc_status&) {
           // Whether the kill landed or the process had just finished: wait briefly for it to be
           // reaped, because DeleteProcess refuses a running process.
           auto wait = make_call<tasks_v1::WaitRequest, tasks_v1::WaitResponse>();
           wait->req.set_container_id(job->id);
           wait->req.set_exec_id(job->exec_id);
           launch(self, "Tasks.Wait", job->ns, self->state.config.exec_kill_wait, wait,
                  CONTD_RPC(tasks, Wait),
                  [self, job](auto&, rpc_status&) { exec_delete(self, job); });
         });
}

void exec_wait(pointer self, exec_ptr job) {
  auto c = make_call<tasks_v1::WaitRequest, tasks_v1::WaitResponse>();
  c->req.set_container_id(job->id);
  c->req.set_exec_id(job->exec_id);
  launch(self, "Tasks.Wait", job->ns, job->timeout, c, CONTD_RPC(tasks, Wait),
         [self, job](auto& c, rpc_status& s) {
           if (s.ok()) {
             job->exit_code = c.resp.exit_status();
             exec_delete(self, job);
           } else if (s.is(rpc_code::deadline_exceeded)) {
             job->failure = make_error(errc::timeout, "execution timed out");
             exec_kill_and_reap(self, job);
           } else {
             job->failure = s.error();
             exec_kill_and_reap(self, job);
           }
         });
}

void exec_start(pointer self, exec_ptr job) {
  auto c = make_call<tasks_v1::StartRequest, tasks_v1::StartResponse>();
  c->req.set_container_id(job->id);
  c->req.set_exec_id(job->exec_id);
  launch(self, "Tasks.Start", job->ns, call_timeout(self), c, CONTD_RPC(tasks, Start),
         [self, job](auto&, rpc_status& s) {
           if (s.ok()) {
             exec_wait(self, job);
           } else {
             job->failure = s.error();
             exec_delete(self, job); // the process was added: never leave it behind
           }
         });
}

// --- events ----------------------------------------------------------------------------------

/// Tells the sink that stream `generation` of subscription `sub_id` is open, once containerd
/// answers a call made after the stream was started: the call travels on the same connection,
/// so containerd has the subscription by then (an event in the instant between is caught by the
/// reconciliation the sink starts on this message). Retried while the stream lives.
void probe_stream(pointer self, uint64_t sub_id, uint64_t generation) {
  auto c = make_call<google::protobuf::Empty, version_v1::VersionResponse>();
  launch(self, "Version.Version", "", call_timeout(self), c, CONTD_RPC(version, Version),
         [self, sub_id, generation](auto&, rpc_status& s) {
           auto& subs = self->state.core->subs;
           auto i = subs.find(sub_id);
           if (i == subs.end() || i->second.generation != generation || !i->second.stream)
             return; // cancelled, or a newer stream has its own probe
           if (!s.ok()) {
             self->delayed_send(self, self->state.config.resubscribe_min, atom::sub_probe_v,
                                sub_id, generation);
             return;
           }
           self->send(i->second.sink, atom::resync_v);
         });
}

void open_stream(pointer self, uint64_t sub_id) {
  auto& core = *self->state.core;
  auto i = core.subs.find(sub_id);
  if (i == core.subs.end())
    return;
  auto hdl = caf::actor_cast<containerd_client_impl_actor>(self);
  i->second.opened = std::chrono::steady_clock::now();
  auto generation = ++i->second.generation;
  // Both callbacks run on gRPC threads: post, never touch the state.
  i->second.stream = cd::event_stream::open(
    *core.rpc.events, cd::inflight::enter(core.calls), i->second.filters,
    [hdl, sub_id](task_event ev) { caf::anon_send(hdl, atom::sub_event_v, sub_id, std::move(ev)); },
    [hdl, sub_id](int32_t code, string msg) {
      caf::anon_send(hdl, atom::sub_ended_v, sub_id, code, std::move(msg));
    });
  probe_stream(self, sub_id, generation);
}

void drop_subscriptions_of(pointer self, const caf::actor_addr& sink) {
  auto& subs = self->state.core->subs;
  for (auto i = subs.begin(); i != subs.end();) {
    if (i->second.sink.address() == sink) {
      if (i->second.stream)
        i->second.stream->cancel();
      i = subs.erase(i);
    } else {
      ++i;
    }
  }
}

} // namespace

containerd_client_impl_actor::behavior_type containerd_client(containerd_client_pointer self,
                                                              containerd_client_config config) {
  self->state.config = std::move(config);
  self->state.core = std::make_unique<cd::client_core>(self->state.config.socket);
  self->set_down_handler([self](const caf::down_msg& msg) {
    drop_subscriptions_of(self, msg.source); // a sink that is gone needs no stream
  });
  return {
    // --- version and namespaces ---
    [self](atom::version) -> caf::result<string> {
      auto rp = self->make_response_promise<string>();
      auto c = make_call<google::protobuf::Empty, version_v1::VersionResponse>();
      launch(self, "Version.Version", "", call_timeout(self), c, CONTD_RPC(version, Version),
             [rp](auto& c, rpc_status& s) mutable {
               if (s.ok())
                 rp.deliver(c.resp.version());
               else
                 rp.deliver(s.error());
             });
      return rp;
    },
    [self](atom::ns_ensure, const string& ns, const label_map& labels) -> caf::result<void> {
      void_promise rp = self->make_response_promise();
      auto c = make_call<namespaces_v1::CreateNamespaceRequest,
                         namespaces_v1::CreateNamespaceResponse>();
      c->req.mutable_namespace_()->set_name(ns);
      c->req.mutable_namespace_()->mutable_labels()->insert(labels.begin(), labels.end());
      // The header too: without it containerd creates the namespace and then fails to publish
      // the event (reference/containerd.md §1).
      launch(self, "Namespaces.Create", ns, call_timeout(self), c,
             CONTD_RPC(namespaces, Create), [rp](auto&, rpc_status& s) mutable {
               if (s.ok() || s.is(rpc_code::already_exists))
                 rp.deliver(caf::unit);
               else
                 rp.deliver(s.error());
             });
      return rp;
    },
    [self](atom::ns_list) -> caf::result<std::vector<string>> {
      auto rp = self->make_response_promise<std::vector<string>>();
      auto c = make_call<namespaces_v1::ListNamespacesRequest,
                         namespaces_v1::ListNamespacesResponse>();
      launch(self, "Namespaces.List", "", call_timeout(self), c, CONTD_RPC(namespaces, List),
             [rp](auto& c, rpc_status& s) mutable {
               if (!s.ok()) {
                 rp.deliver(s.error());
                 return;
               }
               std::vector<string> names;
               for (const auto& n : c.resp.namespaces())
                 names.push_back(n.name());
               rp.deliver(std::move(names));
             });
      return rp;
    },
    [self](atom::ns_get, const string& ns) -> caf::result<label_map> {
      auto rp = self->make_response_promise<label_map>();
      auto c = make_call<namespaces_v1::GetNamespaceRequest, namespaces_v1::GetNamespaceResponse>();
      c->req.set_name(ns);
      launch(self, "Namespaces.Get", ns, call_timeout(self), c, CONTD_RPC(namespaces, Get),
             [rp](auto& c, rpc_status& s) mutable {
               if (!s.ok()) {
                 rp.deliver(s.error());
                 return;
               }
               label_map labels(c.resp.namespace_().labels().begin(),
                                c.resp.namespace_().labels().end());
               rp.deliver(std::move(labels));
             });
      return rp;
    },
    [self](atom::ns_delete, const string& ns) -> caf::result<void> {
      void_promise rp = self->make_response_promise();
      auto c = make_call<namespaces_v1::DeleteNamespaceRequest, google::protobuf::Empty>();
      c->req.set_name(ns);
      launch(self, "Namespaces.Delete", ns, call_timeout(self), c,
             CONTD_RPC(namespaces, Delete), [rp](auto&, rpc_status& s) mutable {
               if (s.ok())
                 rp.deliver(caf::unit);
               else
                 rp.deliver(s.error());
             });
      return rp;
    },
    // --- containers ---
    [self](atom::ctr_create, const string& ns,
           const container_record& rec) -> caf::result<container_record> {
      auto rp = self->make_response_promise<container_record>();
      auto c = make_call<containers_v1::CreateContainerRequest,
                         containers_v1::CreateContainerResponse>();
      auto* ctr = c->req.mutable_container();
      ctr->set_id(rec.id);
      ctr->mutable_labels()->insert(rec.labels.begin(), rec.labels.end());
      ctr->mutable_runtime()->set_name(cd::runc_v2);
      // Set by hand: the URL has no "type.googleapis.com/" prefix and the value is JSON.
      ctr->mutable_spec()->set_type_url(cd::spec_type_url);
      ctr->mutable_spec()->set_value(rec.spec_json);
      launch(self, "Containers.Create", ns, call_timeout(self), c,
             CONTD_RPC(containers, Create), [rp](auto& c, rpc_status& s) mutable {
               if (s.ok())
                 rp.deliver(cd::to_record(c.resp.container()));
               else
                 rp.deliver(s.error());
             });
      return rp;
    },
    [self](atom::ctr_get, const string& ns, const string& id) -> caf::result<container_record> {
      auto rp = self->make_response_promise<container_record>();
      auto c = make_call<containers_v1::GetContainerRequest,
                         containers_v1::GetContainerResponse>();
      c->req.set_id(id);
      launch(self, "Containers.Get", ns, call_timeout(self), c, CONTD_RPC(containers, Get),
             [rp](auto& c, rpc_status& s) mutable {
               if (s.ok())
                 rp.deliver(cd::to_record(c.resp.container()));
               else
                 rp.deliver(s.error());
             });
      return rp;
    },
    [self](atom::ctr_list, const string& ns,
           const std::vector<string>& filters) -> caf::result<std::vector<container_record>> {
      auto rp = self->make_response_promise<std::vector<container_record>>();
      auto c = make_call<containers_v1::ListContainersRequest,
                         containers_v1::ListContainersResponse>();
      for (const auto& f : filters)
        c->req.add_filters(f);
      launch(self, "Containers.List", ns, call_timeout(self), c, CONTD_RPC(containers, List),
             [rp](auto& c, rpc_status& s) mutable {
               if (!s.ok()) {
                 rp.deliver(s.error());
                 return;
               }
               std::vector<container_record> out;
               for (const auto& ctr : c.resp.containers())
                 out.push_back(cd::to_record(ctr));
               rp.deliver(std::move(out));
             });
      return rp;
    },
    [self](atom::ctr_labels, const string& ns, const string& id,
           const label_map& labels) -> caf::result<container_record> {
      auto rp = self->make_response_promise<container_record>();
      if (labels.empty()) {
        // An Update with an empty mask would rewrite every mutable field: read instead.
        auto c = make_call<containers_v1::GetContainerRequest,
                           containers_v1::GetContainerResponse>();
        c->req.set_id(id);
        launch(self, "Containers.Get", ns, call_timeout(self), c, CONTD_RPC(containers, Get),
               [rp](auto& c, rpc_status& s) mutable {
                 if (s.ok())
                   rp.deliver(cd::to_record(c.resp.container()));
                 else
                   rp.deliver(s.error());
               });
        return rp;
      }
      auto c = make_call<containers_v1::UpdateContainerRequest,
                         containers_v1::UpdateContainerResponse>();
      c->req.mutable_container()->set_id(id);
      c->req.mutable_container()->mutable_labels()->insert(labels.begin(), labels.end());
      // "labels.<key>" per key: containerd then sets exactly these and keeps the others.
      for (const auto& [key, value] : labels)
        c->req.mutable_update_mask()->add_paths("labels." + key);
      launch(self, "Containers.Update", ns, call_timeout(self), c,
             CONTD_RPC(containers, Update), [rp](auto& c, rpc_status& s) mutable {
               if (s.ok())
                 rp.deliver(cd::to_record(c.resp.container()));
               else
                 rp.deliver(s.error());
             });
      return rp;
    },
    [self](atom::ctr_delete, const string& ns, const string& id) -> caf::result<void> {
      void_promise rp = self->make_response_promise();
      // containerd deletes a container whose task still runs and orphans the task
      // (reference/containerd.md §9.1): look for a task first, as the Go client does.
      auto get = make_call<tasks_v1::GetRequest, tasks_v1::GetResponse>();
      get->req.set_container_id(id);
      launch(self, "Tasks.Get", ns, call_timeout(self), get, CONTD_RPC(tasks, Get),
             [self, rp, ns, id](auto& get, rpc_status& s) mutable {
               if (s.ok()) {
                 rp.deliver(make_error(errc::failed_precondition,
                                       "cannot delete container " + quote(id) + " in namespace "
                                         + quote(ns) + ": it still has a task ("
                                         + cd::status_name(get.resp.process().status())
                                         + "); delete the task first"));
                 return;
               }
               // NOT_FOUND is "no task" (or no container: Containers.Delete then says so with
               // containerd's own words); anything else we cannot decide on.
               if (!s.is(rpc_code::not_found)) {
                 rp.deliver(s.error());
                 return;
               }
               auto del = make_call<containers_v1::DeleteContainerRequest,
                                    google::protobuf::Empty>();
               del->req.set_id(id);
               launch(self, "Containers.Delete", ns, call_timeout(self), del,
                      CONTD_RPC(containers, Delete), [rp](auto&, rpc_status& s) mutable {
                        if (s.ok())
                          rp.deliver(caf::unit);
                        else
                          rp.deliver(s.error());
                      });
             });
      return rp;
    },
    // --- tasks ---
    [self](atom::tsk_create, const string& ns, const string& id, const string& out,
           const string& err) -> caf::result<uint32_t> {
      auto rp = self->make_response_promise<uint32_t>();
      auto c = make_call<tasks_v1::CreateTaskRequest, tasks_v1::CreateTaskResponse>();
      c->req.set_container_id(id);
      c->req.set_stdout(out);
      c->req.set_stderr(err);
      c->req.set_terminal(false);
      launch(self, "Tasks.Create", ns, call_timeout(self), c, CONTD_RPC(tasks, Create),
             [rp](auto& c, rpc_status& s) mutable {
               if (s.ok())
                 rp.deliver(c.resp.pid());
               else
                 rp.deliver(s.error());
             });
      return rp;
    },
    [self](atom::tsk_start, const string& ns, const string& id) -> caf::result<uint32_t> {
      auto rp = self->make_response_promise<uint32_t>();
      auto c = make_call<tasks_v1::StartRequest, tasks_v1::StartResponse>();
      c->req.set_container_id(id);
      launch(self, "Tasks.Start", ns, call_timeout(self), c, CONTD_RPC(tasks, Start),
             [rp](auto& c, rpc_status& s) mutable {
               if (s.ok())
                 rp.deliver(c.resp.pid());
               else
                 rp.deliver(s.error());
             });
      return rp;
    },
    [self](atom::tsk_get, const string& ns, const string& id) -> caf::result<task_info> {
      auto rp = self->make_response_promise<task_info>();
      auto c = make_call<tasks_v1::GetRequest, tasks_v1::GetResponse>();
      c->req.set_container_id(id);
      launch(self, "Tasks.Get", ns, call_timeout(self), c, CONTD_RPC(tasks, Get),
             [rp, id](auto& c, rpc_status& s) mutable {
               if (!s.ok()) {
                 rp.deliver(s.error());
                 return;
               }
               auto info = cd::to_task_info(c.resp.process());
               if (info.id.empty())
                 info.id = id;
               rp.deliver(std::move(info));
             });
      return rp;
    },
    [self](atom::tsk_list, const string& ns) -> caf::result<std::vector<task_info>> {
      auto rp = self->make_response_promise<std::vector<task_info>>();
      auto c = make_call<tasks_v1::ListTasksRequest, tasks_v1::ListTasksResponse>();
      launch(self, "Tasks.List", ns, call_timeout(self), c, CONTD_RPC(tasks, List),
             [rp](auto& c, rpc_status& s) mutable {
               if (!s.ok()) {
                 rp.deliver(s.error());
                 return;
               }
               std::vector<task_info> out;
               for (const auto& p : c.resp.tasks())
                 out.push_back(cd::to_task_info(p));
               rp.deliver(std::move(out));
             });
      return rp;
    },
    [self](atom::tsk_kill, const string& ns, const string& id, uint32_t signal,
           bool all) -> caf::result<void> {
      void_promise rp = self->make_response_promise();
      auto c = make_call<tasks_v1::KillRequest, google::protobuf::Empty>();
      c->req.set_container_id(id);
      c->req.set_signal(signal);
      c->req.set_all(all);
      launch(self, "Tasks.Kill", ns, call_timeout(self), c, CONTD_RPC(tasks, Kill),
             [rp](auto&, rpc_status& s) mutable {
               // Signalling a process that has just exited is what the caller wanted anyway.
               if (s.ok()
                   || (s.is(rpc_code::not_found)
                       && s.message.find("process already finished") != string::npos))
                 rp.deliver(caf::unit);
               else
                 rp.deliver(s.error());
             });
      return rp;
    },
    [self](atom::tsk_wait, const string& ns, const string& id,
           caf::timespan timeout) -> caf::result<exit_info> {
      auto rp = self->make_response_promise<exit_info>();
      auto c = make_call<tasks_v1::WaitRequest, tasks_v1::WaitResponse>();
      c->req.set_container_id(id);
      // The deadline ends only our wait: the task keeps running (reference/containerd.md §4.3).
      launch(
        self, "Tasks.Wait", ns, timeout, c, CONTD_RPC(tasks, Wait),
        [rp, ns, id](auto& c, rpc_status& s) mutable {
          if (s.ok())
            rp.deliver(exit_info{c.resp.exit_status(),
                                 cd::to_go_time(c.resp.exited_at(), c.resp.has_exited_at())});
          else if (s.is(rpc_code::deadline_exceeded))
            rp.deliver(make_error(errc::timeout, "timed out waiting for task " + quote(id)
                                                   + " in namespace " + quote(ns)));
          else if (s.is(rpc_code::cancelled))
            rp.deliver(make_error(errc::timeout, "wait cancelled"));
          else
            rp.deliver(s.error());
        },
        wait_key(ns, id));
      return rp;
    },
    [self](atom::tsk_cancel, const string& ns, const string& id) {
      auto key = wait_key(ns, id);
      for (auto& [call_id, p] : self->state.core->pending)
        if (p.wait_key == key)
          p.ctx->TryCancel(); // completes with CANCELLED through the usual path
    },
    [self](atom::tsk_delete, const string& ns, const string& id) -> caf::result<exit_info> {
      auto rp = self->make_response_promise<exit_info>();
      auto c = make_call<tasks_v1::DeleteTaskRequest, tasks_v1::DeleteResponse>();
      c->req.set_container_id(id);
      launch(self, "Tasks.Delete", ns, call_timeout(self), c, CONTD_RPC(tasks, Delete),
             [rp](auto& c, rpc_status& s) mutable {
               if (s.ok())
                 rp.deliver(exit_info{c.resp.exit_status(),
                                      cd::to_go_time(c.resp.exited_at(),
                                                     c.resp.has_exited_at())});
               else
                 rp.deliver(s.error());
             });
      return rp;
    },
    [self](atom::tsk_metrics, const string& ns, const string& id) -> caf::result<task_metrics> {
      auto rp = self->make_response_promise<task_metrics>();
      auto c = make_call<tasks_v1::MetricsRequest, tasks_v1::MetricsResponse>();
      c->req.add_filters("id==" + id);
      launch(self, "Tasks.Metrics", ns, call_timeout(self), c, CONTD_RPC(tasks, Metrics),
             [rp, ns, id](auto& c, rpc_status& s) mutable {
               if (!s.ok()) {
                 rp.deliver(s.error());
                 return;
               }
               // containerd answers an empty list when the container has no task, and leaves
               // out a task whose statistics it cannot read (e.g. its cgroup is gone).
               for (const auto& m : c.resp.metrics()) {
                 if (m.id() != id)
                   continue;
                 string error;
                 auto out = cd::decode_metrics(m.data().type_url(), m.data().value(), error);
                 if (!out) {
                   rp.deliver(make_error(errc::internal, error));
                   return;
                 }
                 if (m.has_timestamp())
                   out->unix_ns = m.timestamp().seconds() * 1'000'000'000
                                  + m.timestamp().nanos();
                 rp.deliver(std::move(*out));
                 return;
               }
               rp.deliver(make_error(errc::not_found, "no metrics for container " + quote(id)
                                                        + " in namespace " + quote(ns)
                                                        + ": not found"));
             });
      return rp;
    },
    [self](atom::exec_run, const string& ns, const string& id, const string& exec_id,
           const string& process_json, caf::timespan timeout,
           const string& capture) -> caf::result<exec_result> {
      auto job = std::make_shared<exec_job>();
      job->ns = ns;
      job->id = id;
      job->exec_id = exec_id;
      job->timeout = timeout;
      job->rp = self->make_response_promise<exec_result>();
      auto c = make_call<tasks_v1::ExecProcessRequest, google::protobuf::Empty>();
      c->req.set_container_id(id);
      c->req.set_exec_id(exec_id);
      c->req.mutable_spec()->set_type_url(cd::process_type_url);
      c->req.mutable_spec()->set_value(process_json);
      // One capture file, named twice. With file:// (or the same path twice) the 1.6 shim shares
      // one writer between its stdout and stderr copiers and now and then drops the stderr of a
      // process that exits right after writing it ("error copying stderr", ~1 exec in 20 here).
      // Two spellings of one existing regular file give each stream its own O_APPEND fd: the
      // streams stay merged in order and nothing is lost. An empty capture means no output.
      if (!capture.empty()) {
        std::filesystem::path out{capture};
        c->req.set_stdout(capture);
        c->req.set_stderr((out.parent_path() / "." / out.filename()).string());
      }
      c->req.set_terminal(false);
      auto rp = job->rp;
      launch(self, "Tasks.Exec", ns, call_timeout(self), c, CONTD_RPC(tasks, Exec),
             [self, job](auto&, rpc_status& s) {
               if (s.ok()) {
                 exec_start(self, job);
                 return;
               }
               job->failure = s.error();
               exec_finish(self, job); // nothing to delete: the process was never added
             });
      return rp;
    },
    // --- events ---
    [self](atom::subscribe, const event_sink_actor& sink, std::vector<string>& filters) {
      auto& core = *self->state.core;
      if (filters.empty())
        filters = {R"(topic=="/tasks/exit")", R"(topic=="/tasks/oom")"};
      auto sub_id = ++core.next_sub;
      core.subs.emplace(sub_id, cd::subscription{sink, std::move(filters), nullptr,
                                                 self->state.config.resubscribe_min, {}, 0});
      self->monitor(sink);
      open_stream(self, sub_id);
    },
    // --- internal ---
    [self](atom::rpc_done, uint64_t call_id, int32_t code, string& message) {
      auto& pending = self->state.core->pending;
      auto i = pending.find(call_id);
      if (i == pending.end())
        return;
      auto p = std::move(i->second);
      pending.erase(i);
      rpc_status s{code, std::move(message), std::move(p.method)};
      p.done(s);
    },
    [self](atom::sub_event, uint64_t sub_id, task_event& ev) {
      auto& subs = self->state.core->subs;
      auto i = subs.find(sub_id);
      if (i == subs.end())
        return; // cancelled meanwhile
      i->second.backoff = self->state.config.resubscribe_min; // the stream works
      self->send(i->second.sink, atom::event_v, std::move(ev));
    },
    [self](atom::sub_ended, uint64_t sub_id, int32_t code, const string& message) {
      auto& cfg = self->state.config;
      auto& subs = self->state.core->subs;
      auto i = subs.find(sub_id);
      if (i == subs.end())
        return; // we cancelled it ourselves
      auto& sub = i->second;
      sub.stream.reset();
      // A stream that lived a while was healthy: start the backoff over.
      if (std::chrono::steady_clock::now() - sub.opened > std::chrono::seconds{5})
        sub.backoff = cfg.resubscribe_min;
      spdlog::info("containerd: event stream ended (gRPC code {}: {}); re-subscribing in {} ms",
                   code, message,
                   std::chrono::duration_cast<std::chrono::milliseconds>(sub.backoff).count());
      // A timer, not a sleep: the actor keeps serving while containerd comes back.
      self->delayed_send(self, sub.backoff, atom::sub_retry_v, sub_id);
      sub.backoff = std::min(sub.backoff * 2, cfg.resubscribe_max);
    },
    [self](atom::sub_retry, uint64_t sub_id) { open_stream(self, sub_id); },
    [self](atom::sub_probe, uint64_t sub_id, uint64_t generation) {
      probe_stream(self, sub_id, generation);
    },
  };
}

#undef CONTD_RPC

} // namespace contd
