// A scheduled fake of the containerd adapter that behaves like containerd for what the module
// does: namespaces, container records, tasks with a status, waits that complete when the task
// stops (or time out on the simulated clock), Kill semantics (SIGTERM ignored by chosen tasks,
// SIGKILL refused by "unkillable" ones), Containers.Delete refused while a task exists, and
// injectable failures per operation. Like containerd it publishes /tasks/start, /tasks/exit and
// /tasks/delete to subscribers (and announces each subscription with a resync, as the adapter
// does once its stream is open). Every call is logged for ordering assertions.
//
// Test control: `atom::event` sent to the fake applies an event as if it happened inside
// containerd — a /tasks/exit stops the task with that exit status (the process crashed), a
// /tasks/oom is published as is. `down` set to true makes every call fail as containerd does
// when its socket is gone.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/typed_response_promise.hpp>

#include "messages/messages.hpp"
#include "tests/fakes/fake_files.hpp"

namespace contd::test {

using fake_containerd_actor =
  containerd_client_actor::extend<caf::reacts_to<atom::timer, uint64_t>,
                                  caf::reacts_to<atom::event, task_event>>;

struct fake_containerd_state {
  static inline const char* name = "mock.containerd";
  using key = std::pair<std::string, std::string>;

  std::set<std::string> namespaces;
  std::map<std::string, label_map> ns_labels; // set at creation, as containerd does
  std::map<key, container_record> containers;
  std::map<key, task_info> tasks;
  std::vector<std::string> calls;
  /// "<op> <id>" -> the error that call answers (ops: ctr_create, tsk_create, tsk_start, ...).
  std::map<std::string, caf::error> failures;
  std::set<std::string> ignores_sigterm;
  std::set<std::string> unkillable;
  std::map<std::string, exec_result> exec_results; // by args[0]
  /// Where the fake shim appends an exec's output (shared with the fake log I/O actor).
  std::shared_ptr<fake_files> files;
  /// Tasks.Metrics of a running task, by container id; others get default_metrics. A unix_ns of
  /// 0 is replaced by the fake's clock.
  std::map<std::string, task_metrics> metrics;
  task_metrics default_metrics{0, 1048576, 268435456, 102400, 12345000, 1, false};
  /// Tasks.Get of these ids answers one simulated second later.
  std::set<std::string> slow_get;
  std::map<uint64_t, std::pair<caf::typed_response_promise<task_info>, task_info>> delayed_gets;
  /// Tasks.Create of these ids answers after 1 s (a shim running runc create).
  std::set<std::string> slow_create;
  std::map<uint64_t, std::pair<caf::typed_response_promise<uint32_t>, uint32_t>> delayed_creates;

  struct pending_wait {
    key k;
    caf::typed_response_promise<exit_info> rp;
  };
  std::map<uint64_t, pending_wait> waits;
  uint64_t next_wait = 0;
  uint32_t next_pid = 100;
  /// containerd's wall clock: this Unix time at spawn, then the simulated clock of the test
  /// (the fixture gives tenants the same origin). Each reading is 1 µs later than the one
  /// before, so that timestamps are distinct.
  int64_t unix_origin_ns = int64_t{1800000000} * 1'000'000'000;
  caf::actor_clock::time_point origin;
  int64_t last_ns = 0;
  std::vector<event_sink_actor> sinks;
  /// containerd is gone: every call answers unavailable, nothing changes.
  bool down = false;
  /// "<op> <id>": containerd goes down when that call arrives (it fails, and so does every
  /// call after it until the test sets `down` back to false).
  std::set<std::string> down_at;
};

using fake_containerd_pointer = fake_containerd_actor::stateful_pointer<fake_containerd_state>;

inline std::string not_found_msg(const std::string& ns, const std::string& id) {
  return "container \"" + id + "\" in namespace \"" + ns + "\": not found";
}

inline go_time fake_now(fake_containerd_pointer self) {
  auto& st = self->state;
  auto ns =
    st.unix_origin_ns
    + std::chrono::duration_cast<std::chrono::nanoseconds>(self->clock().now() - st.origin).count();
  ns = std::max(ns, st.last_ns + 1000);
  st.last_ns = ns;
  return go_time{ns / 1'000'000'000, static_cast<uint32_t>(ns % 1'000'000'000)};
}

inline void fake_publish(fake_containerd_pointer self, task_event ev) {
  for (auto& s : self->state.sinks)
    self->send(s, atom::event_v, ev);
}

inline caf::error fake_unavailable(const std::string& method) {
  return make_error(errc::unavailable,
                    "containerd " + method + ": connection refused (gRPC code 14)");
}

/// containerd dies: calls in flight (waits) fail as their connection breaks.
inline void fake_go_down(fake_containerd_pointer self) {
  auto& st = self->state;
  st.down = true;
  for (auto& [id, w] : st.waits)
    w.rp.deliver(fake_unavailable("tsk_wait"));
  st.waits.clear();
}

inline void fake_stop_task(fake_containerd_pointer self, const fake_containerd_state::key& k,
                           uint32_t status) {
  auto& st = self->state;
  auto it = st.tasks.find(k);
  if (it == st.tasks.end() || it->second.status == task_status::stopped)
    return;
  it->second.status = task_status::stopped;
  it->second.exit_status = status;
  it->second.exited_at = fake_now(self);
  exit_info ex{status, it->second.exited_at};
  fake_publish(self, task_event{k.first, "/tasks/exit", k.second, k.second, it->second.pid, status,
                                it->second.exited_at});
  for (auto w = st.waits.begin(); w != st.waits.end();) {
    if (w->second.k == k) {
      w->second.rp.deliver(ex);
      w = st.waits.erase(w);
    } else {
      ++w;
    }
  }
}

inline fake_containerd_actor::behavior_type fake_containerd(fake_containerd_pointer self,
                                                            std::shared_ptr<fake_files> files) {
  self->state.files = std::move(files);
  self->state.origin = self->clock().now();
  // Looks up an injected failure for "<op> <id>".
  auto failure = [self](const std::string& op, const std::string& id) -> caf::error {
    if (self->state.down_at.erase(op + " " + id) > 0) {
      fake_go_down(self); // containerd dies as this call arrives
      return fake_unavailable(op);
    }
    auto it = self->state.failures.find(op + " " + id);
    return it == self->state.failures.end() ? caf::error{} : it->second;
  };
  return {
    [](atom::version) -> caf::result<std::string> { return std::string{"fake 1.6"}; },
    [self](atom::ns_ensure, const std::string& ns, const label_map& labels) -> caf::result<void> {
      if (self->state.down)
        return fake_unavailable("ns_ensure");
      self->state.calls.push_back("ns_ensure " + ns);
      // Like containerd: the labels of Create only; an existing namespace keeps its own.
      if (self->state.namespaces.insert(ns).second)
        self->state.ns_labels[ns] = labels;
      return caf::unit;
    },
    [self](atom::ns_list) -> caf::result<std::vector<std::string>> {
      if (self->state.down)
        return fake_unavailable("ns_list");
      return std::vector<std::string>(self->state.namespaces.begin(), self->state.namespaces.end());
    },
    [self](atom::ns_get, const std::string& ns) -> caf::result<label_map> {
      if (self->state.down)
        return fake_unavailable("ns_get");
      if (!self->state.namespaces.count(ns))
        return make_error(errc::not_found, "namespace " + ns + ": not found");
      return self->state.ns_labels[ns];
    },
    [self](atom::ns_delete, const std::string& ns) -> caf::result<void> {
      auto& st = self->state;
      if (st.down)
        return fake_unavailable("ns_delete");
      st.calls.push_back("ns_delete " + ns);
      for (auto& [k, c] : st.containers)
        if (k.first == ns)
          return make_error(errc::failed_precondition,
                            "namespace " + ns + " must be empty, but it still has containers");
      st.namespaces.erase(ns);
      st.ns_labels.erase(ns);
      return caf::unit;
    },
    [self, failure](atom::ctr_create, const std::string& ns,
                    container_record& rec) -> caf::result<container_record> {
      if (self->state.down)
        return fake_unavailable("ctr_create");
      auto& st = self->state;
      st.calls.push_back("ctr_create " + rec.id);
      if (auto err = failure("ctr_create", rec.id))
        return err;
      fake_containerd_state::key k{ns, rec.id};
      if (st.containers.count(k))
        return make_error(errc::already_exists, "container \"" + rec.id + "\": already exists");
      st.namespaces.insert(ns);
      rec.created_at = fake_now(self);
      rec.runtime = "io.containerd.runc.v2";
      st.containers[k] = rec;
      return rec;
    },
    [self](atom::ctr_get, const std::string& ns,
           const std::string& id) -> caf::result<container_record> {
      if (self->state.down)
        return fake_unavailable("ctr_get");
      auto& st = self->state;
      st.calls.push_back("ctr_get " + id);
      auto it = st.containers.find({ns, id});
      if (it == st.containers.end())
        return make_error(errc::not_found, not_found_msg(ns, id));
      return it->second;
    },
    [self](atom::ctr_list, const std::string& ns,
           const std::vector<std::string>&) -> caf::result<std::vector<container_record>> {
      if (self->state.down)
        return fake_unavailable("ctr_list");
      std::vector<container_record> out;
      for (auto& [k, rec] : self->state.containers)
        if (k.first == ns)
          out.push_back(rec);
      return out;
    },
    [self, failure](atom::ctr_labels, const std::string& ns, const std::string& id,
                    const label_map& labels) -> caf::result<container_record> {
      if (self->state.down)
        return fake_unavailable("ctr_labels");
      auto& st = self->state;
      st.calls.push_back("ctr_labels " + id);
      if (auto err = failure("ctr_labels", id))
        return err;
      auto it = st.containers.find({ns, id});
      if (it == st.containers.end())
        return make_error(errc::not_found, not_found_msg(ns, id));
      for (auto& [k, v] : labels)
        it->second.labels[k] = v;
      return it->second;
    },
    [self, failure](atom::ctr_delete, const std::string& ns,
                    const std::string& id) -> caf::result<void> {
      if (self->state.down)
        return fake_unavailable("ctr_delete");
      auto& st = self->state;
      st.calls.push_back("ctr_delete " + id);
      if (auto err = failure("ctr_delete", id))
        return err;
      if (st.tasks.count({ns, id}))
        return make_error(errc::failed_precondition,
                          "cannot delete container " + id + " while it has a task");
      if (st.containers.erase({ns, id}) == 0)
        return make_error(errc::not_found, not_found_msg(ns, id));
      return caf::unit;
    },
    [self, failure](atom::tsk_create, const std::string& ns, const std::string& id,
                    const std::string& out, const std::string&) -> caf::result<uint32_t> {
      if (self->state.down)
        return fake_unavailable("tsk_create");
      auto& st = self->state;
      st.calls.push_back("tsk_create " + id + " " + out);
      if (!st.containers.count({ns, id}))
        return make_error(errc::not_found, not_found_msg(ns, id));
      if (auto err = failure("tsk_create", id))
        return err;
      task_info t;
      t.id = id;
      t.pid = ++st.next_pid;
      t.status = task_status::created;
      st.tasks[{ns, id}] = t;
      if (st.slow_create.count(id)) {
        auto rp = self->make_response_promise<uint32_t>();
        auto key = (uint64_t{1} << 41) + st.next_wait++;
        st.delayed_creates.emplace(key, std::make_pair(rp, t.pid));
        self->delayed_send(self, std::chrono::seconds{1}, atom::timer_v, key);
        return rp;
      }
      return t.pid;
    },
    [self, failure](atom::tsk_start, const std::string& ns,
                    const std::string& id) -> caf::result<uint32_t> {
      if (self->state.down)
        return fake_unavailable("tsk_start");
      auto& st = self->state;
      st.calls.push_back("tsk_start " + id);
      if (auto err = failure("tsk_start", id))
        return err;
      auto it = st.tasks.find({ns, id});
      if (it == st.tasks.end())
        return make_error(errc::not_found, "task " + id + " not found");
      it->second.status = task_status::running;
      fake_publish(self, task_event{ns, "/tasks/start", id, id, it->second.pid, 0, go_time{}});
      return it->second.pid;
    },
    [self](atom::tsk_get, const std::string& ns, const std::string& id) -> caf::result<task_info> {
      if (self->state.down)
        return fake_unavailable("tsk_get");
      auto& st = self->state;
      st.calls.push_back("tsk_get " + id);
      auto it = st.tasks.find({ns, id});
      if (it == st.tasks.end())
        return make_error(errc::not_found, "task " + id + " not found");
      if (st.slow_get.count(id)) {
        auto rp = self->make_response_promise<task_info>();
        auto key = (uint64_t{1} << 40) + st.next_wait++;
        st.delayed_gets.emplace(key, std::make_pair(rp, it->second));
        self->delayed_send(self, std::chrono::seconds{1}, atom::timer_v, key);
        return rp;
      }
      return it->second;
    },
    [self](atom::tsk_list, const std::string& ns) -> caf::result<std::vector<task_info>> {
      if (self->state.down)
        return fake_unavailable("tsk_list");
      std::vector<task_info> out;
      for (auto& [k, t] : self->state.tasks)
        if (k.first == ns)
          out.push_back(t);
      return out;
    },
    [self, failure](atom::tsk_kill, const std::string& ns, const std::string& id, uint32_t sig,
                    bool all) -> caf::result<void> {
      if (self->state.down)
        return fake_unavailable("tsk_kill");
      auto& st = self->state;
      st.calls.push_back("tsk_kill " + id + " " + std::to_string(sig) + (all ? " all" : ""));
      if (auto err = failure("tsk_kill", id))
        return err;
      auto it = st.tasks.find({ns, id});
      if (it == st.tasks.end())
        return make_error(errc::not_found, "task " + id + " not found");
      if (sig == 15 && !st.ignores_sigterm.count(id))
        fake_stop_task(self, {ns, id}, 143);
      if (sig == 9 && !st.unkillable.count(id))
        fake_stop_task(self, {ns, id}, 137);
      return caf::unit;
    },
    [self](atom::tsk_wait, const std::string& ns, const std::string& id,
           caf::timespan timeout) -> caf::result<exit_info> {
      if (self->state.down)
        return fake_unavailable("tsk_wait");
      auto& st = self->state;
      st.calls.push_back("tsk_wait " + id);
      auto it = st.tasks.find({ns, id});
      if (it == st.tasks.end())
        return make_error(errc::not_found, "task " + id + " not found");
      if (it->second.status == task_status::stopped)
        return exit_info{it->second.exit_status, it->second.exited_at};
      auto rp = self->make_response_promise<exit_info>();
      auto wid = st.next_wait++;
      st.waits.emplace(wid, fake_containerd_state::pending_wait{{ns, id}, rp});
      self->delayed_send(self, timeout, atom::timer_v, wid);
      return rp;
    },
    [self](atom::tsk_cancel, const std::string& ns, const std::string& id) {
      auto& st = self->state;
      for (auto w = st.waits.begin(); w != st.waits.end();) {
        if (w->second.k == fake_containerd_state::key{ns, id}) {
          w->second.rp.deliver(make_error(errc::timeout, "wait cancelled"));
          w = st.waits.erase(w);
        } else {
          ++w;
        }
      }
    },
    [self](atom::tsk_delete, const std::string& ns,
           const std::string& id) -> caf::result<exit_info> {
      if (self->state.down)
        return fake_unavailable("tsk_delete");
      auto& st = self->state;
      st.calls.push_back("tsk_delete " + id);
      auto it = st.tasks.find({ns, id});
      if (it == st.tasks.end())
        return make_error(errc::not_found, "task " + id + " not found");
      if (it->second.status == task_status::running)
        return make_error(errc::internal, "cannot delete a running process");
      exit_info ex{it->second.exit_status, it->second.exited_at};
      auto pid = it->second.pid;
      st.tasks.erase(it);
      fake_publish(self,
                   task_event{ns, "/tasks/delete", id, id, pid, ex.exit_status, ex.exited_at});
      return ex;
    },
    [self, failure](atom::tsk_metrics, const std::string& ns,
                    const std::string& id) -> caf::result<task_metrics> {
      if (self->state.down)
        return fake_unavailable("tsk_metrics");
      auto& st = self->state;
      st.calls.push_back("tsk_metrics " + id);
      if (auto err = failure("tsk_metrics", id))
        return err;
      auto it = st.tasks.find({ns, id});
      if (it == st.tasks.end() || it->second.status != task_status::running)
        return make_error(errc::not_found, "no metrics for container \"" + id + "\" in namespace \""
                                             + ns + "\": not found");
      auto m = st.metrics.find(id);
      auto out = m == st.metrics.end() ? st.default_metrics : m->second;
      if (out.unix_ns == 0) {
        auto now = fake_now(self);
        out.unix_ns = now.sec * 1'000'000'000 + now.nsec;
      }
      return out;
    },
    [self](atom::exec_run, const std::string&, const std::string& id, const std::string&,
           const std::string& process, caf::timespan,
           const std::string& capture) -> caf::result<exec_result> {
      auto& st = self->state;
      st.calls.push_back("exec_run " + id);
      auto p = nlohmann::json::parse(process, nullptr, false);
      if (p.is_discarded() || !p.contains("args") || p["args"].empty())
        return make_error(errc::invalid_argument, "bad process spec");
      auto prog = p["args"][0].get<std::string>();
      if (prog == "/bin/hang")
        return make_error(errc::timeout, "execution timed out");
      exec_result r{0, "", false};
      if (auto it = st.exec_results.find(prog); it != st.exec_results.end())
        r = it->second;
      // Like the shim: the output is appended to the existing capture file, the answer carries
      // the exit code only. A missing capture file fails the exec (the shim cannot open it).
      if (!capture.empty()) {
        if (!st.files->exists(capture))
          return make_error(errc::internal, "open " + capture + ": no such file or directory");
        st.files->append(capture, r.output);
      }
      r.output.clear();
      return r;
    },
    [self](atom::subscribe, const event_sink_actor& sink, const std::vector<std::string>&) {
      self->state.sinks.push_back(sink);
      self->send(sink, atom::resync_v);
    },
    [self](atom::event, const task_event& ev) {
      if (ev.topic == "/tasks/exit")
        fake_stop_task(self, {ev.ns, ev.container_id}, ev.exit_status);
      else
        fake_publish(self, ev);
    },
    [self](atom::timer, uint64_t wid) {
      auto& st = self->state;
      if (auto g = st.delayed_gets.find(wid); g != st.delayed_gets.end()) {
        g->second.first.deliver(g->second.second);
        st.delayed_gets.erase(g);
        return;
      }
      if (auto c = st.delayed_creates.find(wid); c != st.delayed_creates.end()) {
        c->second.first.deliver(c->second.second);
        st.delayed_creates.erase(c);
        return;
      }
      auto it = st.waits.find(wid);
      if (it == st.waits.end())
        return;
      it->second.rp.deliver(make_error(errc::timeout, "context deadline exceeded"));
      st.waits.erase(it);
    },
  };
}

/// A spec builder that validates only what the tests need and stores the request as the real one
/// does (annotations contd.request and shutdown_timeout), without touching the filesystem.
struct fake_builder_state {
  static inline const char* name = "mock.spec_builder";
};

} // namespace contd::test
