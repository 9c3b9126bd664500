#include "actors/containerd_client.hpp"

#include "actors/containerd_client_core.hpp"
#include "src/containerd/convert.hpp"
#include "src/containerd/metrics.hpp"

namespace contd {

namespace containerd {

client_core::client_core(const std::string& socket) : rpc(make_channel(socket)) {}

client_core::~client_core() {
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

} // namespace containerd

containerd_client_state::containerd_client_state() = default;
containerd_client_state::~containerd_client_state() = default;

namespace {

using namespace adapter;
using std::string;
namespace cd = containerd;
namespace rpcs = containerd::rpcs;

string wait_key(const string& ns, const string& id) {
  return ns + "\n" + id;
}

template <class Response>
container_record to_record(const Response& resp) {
  return cd::to_record(resp.container());
}

template <class Request>
Request with_container_id(const string& id) {
  Request req;
  req.set_container_id(id);
  return req;
}

template <class Response>
exit_info to_exit(const Response& resp) {
  return exit_info{resp.exit_status(), cd::to_go_time(resp.exited_at(), resp.has_exited_at())};
}

/// Tasks.Metrics answers a list; `id`'s entry decoded, or why there is none.
caf::expected<task_metrics> metrics_of(const rpcs::tsk_metrics::response& resp, const string& ns,
                                       const string& id) {
  // containerd answers an empty list when the container has no task, and leaves out a task whose
  // statistics it cannot read (e.g. its cgroup is gone).
  for (const auto& m : resp.metrics()) {
    if (m.id() != id)
      continue;
    auto out = cd::decode_metrics(m.data().type_url(), m.data().value());
    if (!out)
      return make_error(errc::internal, out.error());
    if (m.has_timestamp())
      out->unix_ns = m.timestamp().seconds() * 1'000'000'000 + m.timestamp().nanos();
    return *out;
  }
  return make_error(errc::not_found, "no metrics for container " + quote(id) + " in namespace "
                                       + quote(ns) + ": not found");
}

/// Containers.Delete, unless the container still has a task: containerd deletes a container
/// whose task runs and orphans the task, so look for one first, as the Go client does.
caf::result<void> delete_container(pointer self, const string& ns, const string& id) {
  caf::response_promise rp = self->make_response_promise();
  launch<rpcs::tsk_get>(
    self, ns, with_container_id<rpcs::tsk_get::request>(id),
    [self, rp, ns, id](auto& get, rpc_status& s) mutable {
      if (s.ok()) {
        rp.deliver(make_error(errc::failed_precondition,
                              "cannot delete container " + quote(id) + " in namespace " + quote(ns)
                                + ": it still has a task ("
                                + to_string(cd::to_task_status(get.process().status()))
                                + "); delete the task first"));
        return;
      }
      // NOT_FOUND is "no task" (or no container: Containers.Delete then says so with
      // containerd's own words); anything else we cannot decide on.
      if (!s.is(rpc_code::not_found)) {
        rp.deliver(s.error());
        return;
      }
      rpcs::ctr_delete::request del;
      del.set_id(id);
      launch<rpcs::ctr_delete>(self, ns, std::move(del), [rp](auto&, rpc_status& s) mutable {
        if (s.ok())
          rp.deliver(caf::unit);
        else
          rp.deliver(s.error());
      });
    });
  return rp;
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
    [self](atom::version) {
      return ask<string, rpcs::version>(self, "", {}, [](auto& r) { return r.version(); });
    },
    [self](atom::ns_ensure, const string& ns, const label_map& labels) {
      rpcs::ns_create::request req;
      req.mutable_namespace_()->set_name(ns);
      req.mutable_namespace_()->mutable_labels()->insert(labels.begin(), labels.end());
      // The namespace header is set too (ask sets it from `ns`): without it containerd creates
      // the namespace and then fails to publish its creation event, and the call fails.
      return ask<void, rpcs::ns_create>(self, ns, std::move(req), no_value{},
                                        [](const rpc_status& s) -> caf::expected<caf::unit_t> {
                                          if (s.is(rpc_code::already_exists))
                                            return caf::unit;
                                          return s.error();
                                        });
    },
    [self](atom::ns_list) {
      return ask<std::vector<string>, rpcs::ns_list>(self, "", {}, [](auto& r) {
        std::vector<string> names;
        for (const auto& n : r.namespaces())
          names.push_back(n.name());
        return names;
      });
    },
    [self](atom::ns_get, const string& ns) {
      rpcs::ns_get::request req;
      req.set_name(ns);
      return ask<label_map, rpcs::ns_get>(self, ns, std::move(req), [](auto& r) {
        return label_map(r.namespace_().labels().begin(), r.namespace_().labels().end());
      });
    },
    [self](atom::ns_delete, const string& ns) {
      rpcs::ns_delete::request req;
      req.set_name(ns);
      return ask<void, rpcs::ns_delete>(self, ns, std::move(req));
    },
    // --- containers ---
    [self](atom::ctr_create, const string& ns, const container_record& rec) {
      rpcs::ctr_create::request req;
      auto* ctr = req.mutable_container();
      ctr->set_id(rec.id);
      ctr->mutable_labels()->insert(rec.labels.begin(), rec.labels.end());
      ctr->mutable_runtime()->set_name(cd::runc_v2);
      // Set by hand: the URL has no "type.googleapis.com/" prefix and the value is JSON.
      ctr->mutable_spec()->set_type_url(cd::spec_type_url);
      ctr->mutable_spec()->set_value(rec.spec_json);
      return ask<container_record, rpcs::ctr_create>(self, ns, std::move(req),
                                                     [](auto& r) { return to_record(r); });
    },
    [self](atom::ctr_get, const string& ns, const string& id) {
      rpcs::ctr_get::request req;
      req.set_id(id);
      return ask<container_record, rpcs::ctr_get>(self, ns, std::move(req),
                                                  [](auto& r) { return to_record(r); });
    },
    [self](atom::ctr_list, const string& ns, const std::vector<string>& filters) {
      rpcs::ctr_list::request req;
      for (const auto& f : filters)
        req.add_filters(f);
      return ask<std::vector<container_record>, rpcs::ctr_list>(
        self, ns, std::move(req), [](auto& r) {
          std::vector<container_record> out;
          for (const auto& ctr : r.containers())
            out.push_back(cd::to_record(ctr));
          return out;
        });
    },
    [self](atom::ctr_labels, const string& ns, const string& id,
           const label_map& labels) -> caf::result<container_record> {
      if (labels.empty()) {
        // An Update with an empty mask would rewrite every mutable field: read instead.
        rpcs::ctr_get::request req;
        req.set_id(id);
        return ask<container_record, rpcs::ctr_get>(self, ns, std::move(req),
                                                    [](auto& r) { return to_record(r); });
      }
      rpcs::ctr_update::request req;
      req.mutable_container()->set_id(id);
      req.mutable_container()->mutable_labels()->insert(labels.begin(), labels.end());
      // "labels.<key>" per key: containerd then sets exactly these and keeps the others.
      for (const auto& [key, value] : labels)
        req.mutable_update_mask()->add_paths("labels." + key);
      return ask<container_record, rpcs::ctr_update>(self, ns, std::move(req),
                                                     [](auto& r) { return to_record(r); });
    },
    [self](atom::ctr_delete, const string& ns, const string& id) {
      return delete_container(self, ns, id);
    },
    // --- tasks ---
    [self](atom::tsk_create, const string& ns, const string& id, const string& out,
           const string& err) {
      auto req = with_container_id<rpcs::tsk_create::request>(id);
      req.set_stdout(out);
      req.set_stderr(err);
      req.set_terminal(false);
      return ask<uint32_t, rpcs::tsk_create>(self, ns, std::move(req),
                                             [](auto& r) { return r.pid(); });
    },
    [self](atom::tsk_start, const string& ns, const string& id) {
      return ask<uint32_t, rpcs::tsk_start>(
        self, ns, with_container_id<rpcs::tsk_start::request>(id), [](auto& r) { return r.pid(); });
    },
    [self](atom::tsk_get, const string& ns, const string& id) {
      return ask<task_info, rpcs::tsk_get>(self, ns, with_container_id<rpcs::tsk_get::request>(id),
                                           [id](auto& r) {
                                             auto info = cd::to_task_info(r.process());
                                             if (info.id.empty())
                                               info.id = id;
                                             return info;
                                           });
    },
    [self](atom::tsk_list, const string& ns) {
      return ask<std::vector<task_info>, rpcs::tsk_list>(self, ns, {}, [](auto& r) {
        std::vector<task_info> out;
        for (const auto& p : r.tasks())
          out.push_back(cd::to_task_info(p));
        return out;
      });
    },
    [self](atom::tsk_kill, const string& ns, const string& id, uint32_t signal, bool all) {
      auto req = with_container_id<rpcs::tsk_kill::request>(id);
      req.set_signal(signal);
      req.set_all(all);
      return ask<void, rpcs::tsk_kill>(self, ns, std::move(req), no_value{},
                                       [](const rpc_status& s) -> caf::expected<caf::unit_t> {
                                         // Signalling a process that has just exited is what the
                                         // caller wanted anyway.
                                         if (s.is(rpc_code::not_found)
                                             && s.message.find("process already finished")
                                                  != string::npos)
                                           return caf::unit;
                                         return s.error();
                                       });
    },
    [self](atom::tsk_wait, const string& ns, const string& id, caf::timespan timeout) {
      // The deadline ends only our wait: the task keeps running.
      return ask<exit_info, rpcs::tsk_wait>(
        self, ns, with_container_id<rpcs::tsk_wait::request>(id),
        [](auto& r) { return to_exit(r); },
        [ns, id](const rpc_status& s) -> caf::error {
          if (s.is(rpc_code::deadline_exceeded))
            return make_error(errc::timeout, "timed out waiting for task " + quote(id)
                                               + " in namespace " + quote(ns));
          if (s.is(rpc_code::cancelled))
            return make_error(errc::timeout, "wait cancelled");
          return s.error();
        },
        {timeout, wait_key(ns, id)});
    },
    [self](atom::tsk_cancel, const string& ns, const string& id) {
      auto key = wait_key(ns, id);
      for (auto& [call_id, p] : self->state.core->pending)
        if (p.wait_key == key)
          p.ctx->TryCancel(); // completes with CANCELLED through the usual path
    },
    [self](atom::tsk_delete, const string& ns, const string& id) {
      return ask<exit_info, rpcs::tsk_delete>(self, ns,
                                              with_container_id<rpcs::tsk_delete::request>(id),
                                              [](auto& r) { return to_exit(r); });
    },
    [self](atom::tsk_metrics, const string& ns, const string& id) {
      rpcs::tsk_metrics::request req;
      req.add_filters("id==" + id);
      return ask<task_metrics, rpcs::tsk_metrics>(
        self, ns, std::move(req), [ns, id](auto& r) { return metrics_of(r, ns, id); });
    },
    [self](atom::exec_run, const string& ns, const string& id, const string& exec_id,
           const string& process_json, caf::timespan timeout, const string& capture) {
      return exec_run(self, ns, id, exec_id, process_json, timeout, capture);
    },
    // --- events ---
    [self](atom::subscribe, const event_sink_actor& sink, std::vector<string>& filters) {
      subscribe(self, sink, std::move(filters));
    },
    // --- internal ---
    [self](atom::rpc_done, uint64_t call_id, int32_t code, string& message) {
      auto& pending = self->state.core->pending;
      auto i = pending.find(call_id);
      if (i == pending.end())
        return;
      auto p = std::move(i->second);
      pending.erase(i);
      rpc_status s{cd::effective_code(code, message), std::move(message), std::move(p.method)};
      p.done(s);
    },
    [self](atom::sub_event, uint64_t sub_id, task_event& ev) { on_sub_event(self, sub_id, ev); },
    [self](atom::sub_ended, uint64_t sub_id, int32_t code, const string& message) {
      on_sub_ended(self, sub_id, code, message);
    },
    [self](atom::sub_retry, uint64_t sub_id) { open_stream(self, sub_id); },
    [self](atom::sub_probe, uint64_t sub_id, uint64_t generation) {
      probe_stream(self, sub_id, generation);
    },
  };
}

} // namespace contd
