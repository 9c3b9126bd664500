// A scheduled fake of the containerd adapter that behaves like containerd for what the module
// does: namespaces, container records, tasks with a status, waits that complete when the task
// stops (or time out on the simulated clock), Kill semantics (SIGTERM ignored by chosen tasks,
// SIGKILL refused by "unkillable" ones), Containers.Delete refused while a task exists, and
// injectable failures per operation. Every call is logged for ordering assertions.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/typed_response_promise.hpp>

#include "messages/messages.hpp"

namespace contd::test {

using fake_containerd_actor =
  containerd_client_actor::extend<caf::reacts_to<atom::timer, uint64_t>>;

struct fake_containerd_state {
  static inline const char* name = "mock.containerd";
  using key = std::pair<std::string, std::string>;

  std::set<std::string> namespaces;
  std::map<key, container_record> containers;
  std::map<key, task_info> tasks;
  std::vector<std::string> calls;
  /// "<op> <id>" -> the error that call answers (ops: ctr_create, tsk_create, tsk_start, ...).
  std::map<std::string, caf::error> failures;
  std::set<std::string> ignores_sigterm;
  std::set<std::string> unkillable;
  std::map<std::string, exec_result> exec_results; // by args[0]
  /// Tasks.Get of these ids answers one simulated second later.
  std::set<std::string> slow_get;
  std::map<uint64_t, std::pair<caf::typed_response_promise<task_info>, task_info>> delayed_gets;

  struct pending_wait {
    key k;
    caf::typed_response_promise<exit_info> rp;
  };
  std::map<uint64_t, pending_wait> waits;
  uint64_t next_wait = 0;
  uint32_t next_pid = 100;
  int64_t clock = 1700000000;
};

using fake_containerd_pointer = fake_containerd_actor::stateful_pointer<fake_containerd_state>;

inline std::string not_found_msg(const std::string& ns, const std::string& id) {
  return "container \"" + id + "\" in namespace \"" + ns + "\": not found";
}

inline void fake_stop_task(fake_containerd_pointer self, const fake_containerd_state::key& k,
                           uint32_t status) {
  auto& st = self->state;
  auto it = st.tasks.find(k);
  if (it == st.tasks.end() || it->second.status == "stopped")
    return;
  it->second.status = "stopped";
  it->second.exit_status = status;
  it->second.exited_at = go_time{++st.clock, 0};
  exit_info ex{status, it->second.exited_at};
  for (auto w = st.waits.begin(); w != st.waits.end();) {
    if (w->second.k == k) {
      w->second.rp.deliver(ex);
      w = st.waits.erase(w);
    } else {
      ++w;
    }
  }
}

inline fake_containerd_actor::behavior_type fake_containerd(fake_containerd_pointer self) {
  // Looks up an injected failure for "<op> <id>".
  auto failure = [self](const std::string& op, const std::string& id) -> caf::error {
    auto it = self->state.failures.find(op + " " + id);
    return it == self->state.failures.end() ? caf::error{} : it->second;
  };
  return {
    [](atom::version) -> caf::result<std::string> { return std::string{"fake 1.6"}; },
    [self](atom::ns_ensure, const std::string& ns, const label_map&) -> caf::result<void> {
      self->state.calls.push_back("ns_ensure " + ns);
      self->state.namespaces.insert(ns);
      return caf::unit;
    },
    [self](atom::ns_list) -> caf::result<std::vector<std::string>> {
      return std::vector<std::string>(self->state.namespaces.begin(),
                                      self->state.namespaces.end());
    },
    [self](atom::ns_delete, const std::string& ns) -> caf::result<void> {
      self->state.namespaces.erase(ns);
      return caf::unit;
    },
    [self, failure](atom::ctr_create, const std::string& ns,
                    container_record& rec) -> caf::result<container_record> {
      auto& st = self->state;
      st.calls.push_back("ctr_create " + rec.id);
      if (auto err = failure("ctr_create", rec.id))
        return err;
      fake_containerd_state::key k{ns, rec.id};
      if (st.containers.count(k))
        return make_error(errc::already_exists, "container \"" + rec.id + "\": already exists");
      st.namespaces.insert(ns);
      rec.created_at = go_time{++st.clock, 0};
      rec.runtime = "io.containerd.runc.v2";
      st.containers[k] = rec;
      return rec;
    },
    [self](atom::ctr_get, const std::string& ns,
           const std::string& id) -> caf::result<container_record> {
      auto& st = self->state;
      st.calls.push_back("ctr_get " + id);
      auto it = st.containers.find({ns, id});
      if (it == st.containers.end())
        return make_error(errc::not_found, not_found_msg(ns, id));
      return it->second;
    },
    [self](atom::ctr_list, const std::string& ns,
           const std::vector<std::string>&) -> caf::result<std::vector<container_record>> {
      std::vector<container_record> out;
      for (auto& [k, rec] : self->state.containers)
        if (k.first == ns)
          out.push_back(rec);
      return out;
    },
    [self](atom::ctr_labels, const std::string& ns, const std::string& id,
           const label_map& labels) -> caf::result<container_record> {
      auto& st = self->state;
      st.calls.push_back("ctr_labels " + id);
      auto it = st.containers.find({ns, id});
      if (it == st.containers.end())
        return make_error(errc::not_found, not_found_msg(ns, id));
      for (auto& [k, v] : labels)
        it->second.labels[k] = v;
      return it->second;
    },
    [self, failure](atom::ctr_delete, const std::string& ns,
                    const std::string& id) -> caf::result<void> {
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
      auto& st = self->state;
      st.calls.push_back("tsk_create " + id + " " + out);
      if (!st.containers.count({ns, id}))
        return make_error(errc::not_found, not_found_msg(ns, id));
      if (auto err = failure("tsk_create", id))
        return err;
      task_info t;
      t.id = id;
      t.pid = ++st.next_pid;
      t.status = "created";
      st.tasks[{ns, id}] = t;
      return t.pid;
    },
    [self, failure](atom::tsk_start, const std::string& ns,
                    const std::string& id) -> caf::result<uint32_t> {
      auto& st = self->state;
      st.calls.push_back("tsk_start " + id);
      if (auto err = failure("tsk_start", id))
        return err;
      auto it = st.tasks.find({ns, id});
      if (it == st.tasks.end())
        return make_error(errc::not_found, "task " + id + " not found");
      it->second.status = "running";
      return it->second.pid;
    },
    [self](atom::tsk_get, const std::string& ns,
           const std::string& id) -> caf::result<task_info> {
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
      std::vector<task_info> out;
      for (auto& [k, t] : self->state.tasks)
        if (k.first == ns)
          out.push_back(t);
      return out;
    },
    [self](atom::tsk_kill, const std::string& ns, const std::string& id, uint32_t sig,
           bool all) -> caf::result<void> {
      auto& st = self->state;
      st.calls.push_back("tsk_kill " + id + " " + std::to_string(sig) + (all ? " all" : ""));
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
      auto& st = self->state;
      st.calls.push_back("tsk_wait " + id);
      auto it = st.tasks.find({ns, id});
      if (it == st.tasks.end())
        return make_error(errc::not_found, "task " + id + " not found");
      if (it->second.status == "stopped")
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
      auto& st = self->state;
      st.calls.push_back("tsk_delete " + id);
      auto it = st.tasks.find({ns, id});
      if (it == st.tasks.end())
        return make_error(errc::not_found, "task " + id + " not found");
      if (it->second.status == "running")
        return make_error(errc::internal, "cannot delete a running process");
      exit_info ex{it->second.exit_status, it->second.exited_at};
      st.tasks.erase(it);
      return ex;
    },
    [self](atom::exec_run, const std::string&, const std::string& id, const std::string&,
           const std::string& process, caf::timespan, uint64_t) -> caf::result<exec_result> {
      auto& st = self->state;
      st.calls.push_back("exec_run " + id);
      auto p = nlohmann::json::parse(process, nullptr, false);
      if (p.is_discarded() || !p.contains("args") || p["args"].empty())
        return make_error(errc::invalid_argument, "bad process spec");
      auto prog = p["args"][0].get<std::string>();
      if (prog == "/bin/hang")
        return make_error(errc::timeout, "execution timed out");
      auto it = st.exec_results.find(prog);
      if (it != st.exec_results.end())
        return it->second;
      return exec_result{0, "", false};
    },
    [](atom::subscribe, const event_sink_actor&, const std::vector<std::string>&) {},
    [self](atom::timer, uint64_t wid) {
      auto& st = self->state;
      if (auto g = st.delayed_gets.find(wid); g != st.delayed_gets.end()) {
        g->second.first.deliver(g->second.second);
        st.delayed_gets.erase(g);
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
