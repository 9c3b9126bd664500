// The steps the jobs share (declared in tenant_steps.hpp): leaked-shim and orphan-bundle
// cleanup, task start-up through the logger, labels, and the restart policy applied to the model.
#include "actors/tenant_jobs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include <algorithm>
#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/tenant_steps.hpp"
#include "src/oci/lexer.hpp"
#include "src/oci/spec.hpp"

namespace contd::jobs {

using namespace std::chrono_literals;

void remove_log(tenant_pointer self, const string& id) {
  auto& st = self->state;
  stop_forwarding(self, id, true);
  if (!st.io)
    return;
  self->request(st.io, st.config.io_timeout, atom::log_remove_v, st.ns, id)
    .then([] {},
          [self, id](caf::error& err) {
            spdlog::warn("tenant {}: the log of {} was not removed: {}", self->state.ns, id,
                         error_text(err));
          });
}

/// Removes a runc shim containerd leaked for `id` (killed during Tasks.Create: containerd then
/// lists no task, but a new Tasks.Create of the id fails), then calls `k`. The reaper checks
/// with containerd that there is no task; contd's own Create of `id` is never in flight here,
/// because every caller runs inside the container's FIFO.
void reap_leaked(tenant_pointer self, const string& id, std::function<void()> k) {
  auto& st = self->state;
  if (!st.reaper) {
    k();
    return;
  }
  self->request(st.reaper, call_timeout(self) + std::chrono::seconds{30}, atom::reap_v, st.ns, id)
    .then(
      [self, id, k](uint32_t removed) {
        if (removed > 0)
          spdlog::info("tenant {}: removed {} shim(s) containerd leaked for {}", self->state.ns,
                       removed, id);
        k();
      },
      [self, id, k](caf::error& err) {
        spdlog::warn("tenant {}: leaked shims of {} not removed: {}", self->state.ns, id,
                     error_text(err));
        k();
      });
}

/// The bundle containerd names in "failed to start shim: mkdir <bundle>: file exists" (a bundle
/// left without a shim), or "".
static string orphan_bundle_in(const caf::error& err) {
  auto text = error_text(err);
  const string open = "mkdir ", close = ": file exists";
  auto b = text.find(open);
  auto e = text.rfind(close);
  if (b == string::npos || e == string::npos || e <= b + open.size())
    return {};
  return text.substr(b + open.size(), e - b - open.size());
}

/// Removes such a bundle (the reaper checks its shape and that no shim and no task exist).
void reap_bundle(tenant_pointer self, const string& id, const string& bundle,
                 std::function<void()> k) {
  auto& st = self->state;
  if (!st.reaper || bundle.empty()) {
    k();
    return;
  }
  self
    ->request(st.reaper, call_timeout(self) + std::chrono::seconds{30}, atom::reap_v, st.ns, id,
              bundle)
    .then(
      [self, id, k](uint32_t removed) {
        if (removed > 0)
          spdlog::info("tenant {}: removed the bundle containerd left without a shim for {}",
                       self->state.ns, id);
        k();
      },
      [self, id, k](caf::error& err) {
        spdlog::warn("tenant {}: leftover bundle of {} not removed: {}", self->state.ns, id,
                     error_text(err));
        k();
      });
}

/// A Tasks.Create refused because of what a leaked shim left behind.
static bool leak_symptom(const caf::error& err) {
  auto text = error_text(err);
  return err == errc::already_exists || text.find("already exists") != string::npos
         || text.find("file exists") != string::npos;
}

/// Percent-encoding of a URI query value (RFC 3986 unreserved characters stay).
static string query_escape(const string& v) {
  static const char* hex = "0123456789ABCDEF";
  string out;
  for (unsigned char ch : v) {
    if (std::isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == '/') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}

string logger_uri(const tenant_config& cfg, const string& log_path) {
  if (log_path.empty() || cfg.logger_path.empty())
    return {};
  // The shim runs the program with the query as argument pairs (in any order): path P max N.
  return "binary://" + cfg.logger_path + "?path=" + query_escape(log_path)
         + "&max=" + std::to_string(cfg.log_max_size);
}

/// Creates and starts the container's task, its stdout and stderr going to contd's logger
/// program (which the shim starts and keeps: the capture outlives contd). While it runs, exits
/// of the container are held (m.starting) and applied afterwards against the pid.
void launch_task(tenant_pointer self, const string& id, std::function<void(uint32_t)> ok,
                 std::function<void(caf::error)> fail) {
  auto& st = self->state;
  if (!st.io || st.config.logger_path.empty()) {
    create_task(self, id, string{}, std::move(ok), std::move(fail));
    return;
  }
  self->request(st.io, st.config.io_timeout, atom::log_prepare_v, st.ns, id)
    .then(
      [self, id, ok, fail](string& path) {
        create_task(self, id, logger_uri(self->state.config, path), ok, fail);
      },
      [fail](caf::error& err) { fail(err); });
}

namespace {

// containerd 1.6's runc v2 shim holds its one lock for the whole of a Tasks.Create (runc
// create), and every other call it serves (Start, Kill, Delete, and the Connect containerd makes
// for each of its tasks when it restarts, within 5 s) takes that lock too. So a tenant sends a
// shim group one Tasks.Create at a time and queues the others here: a queue inside a shared shim
// would hold up its running neighbours, and a restarting containerd whose Connect times out
// cleans that task up as if its shim had died. Tasks.Delete passes the same gate: the Delete of
// a group's last task makes the shim exit, which must not overlap a Create joining it.
void enter_shim_gate(tenant_pointer self, const string& group, std::function<void()> create) {
  if (group.empty()) {
    create();
    return;
  }
  auto [it, first] = self->state.shim_gates.try_emplace(group);
  if (first)
    create();
  else
    it->second.push_back(std::move(create));
}

void leave_shim_gate(tenant_pointer self, const string& group) {
  auto it = self->state.shim_gates.find(group);
  if (group.empty() || it == self->state.shim_gates.end())
    return;
  if (it->second.empty()) {
    self->state.shim_gates.erase(it);
    return;
  }
  auto next = std::move(it->second.front());
  it->second.pop_front();
  next();
}

} // namespace

void gated_task_delete(tenant_pointer self, const string& id, std::function<void(exit_info&)> ok,
                       std::function<void(caf::error&)> fail) {
  string group;
  if (auto* m = model_of(self, id))
    group = m->shim_group;
  enter_shim_gate(self, group, [self, id, group, ok, fail] {
    self->request(client(self), call_timeout(self), atom::tsk_delete_v, self->state.ns, id)
      .then(
        [self, group, ok](exit_info& x) {
          leave_shim_gate(self, group);
          ok(x);
        },
        [self, group, fail](caf::error& err) {
          leave_shim_gate(self, group);
          fail(err);
        });
  });
}

void create_task(tenant_pointer self, const string& id, const string& uri,
                 std::function<void(uint32_t)> ok, std::function<void(caf::error)> fail) {
  auto ns = self->state.ns;
  string group;
  if (auto* m = model_of(self, id)) {
    m->starting = true;
    m->exit_during_run.reset();
    group = m->shim_group;
  }
  auto end = [self, id] {
    if (auto* m = model_of(self, id))
      m->starting = false;
  };
  auto start = [self, ns, id, ok, fail, end](uint32_t) {
    self->request(client(self), call_timeout(self), atom::tsk_start_v, ns, id)
      .then(
        [ok, end](uint32_t pid) {
          end();
          ok(pid);
        },
        [fail, end](caf::error& err) {
          end();
          fail(err);
        });
  };
  // Tasks.Create inside the group's gate; the gate opens for the next one at its answer.
  // stdout and stderr get the same URI: the shim takes the scheme from stdout, and binary://
  // serves both streams.
  auto create = [self, ns, id, uri, group](std::function<void(uint32_t)> created,
                                           std::function<void(caf::error)> refused) {
    enter_shim_gate(self, group, [=] {
      self->request(client(self), call_timeout(self), atom::tsk_create_v, ns, id, uri, uri)
        .then(
          [self, group, created](uint32_t pid) {
            leave_shim_gate(self, group);
            created(pid);
          },
          [self, group, refused](caf::error& err) {
            leave_shim_gate(self, group);
            refused(err);
          });
    });
  };
  create(start, [self, id, start, fail, end, create](caf::error err) {
    if (!leak_symptom(err)) {
      end();
      fail(err);
      return;
    }
    // Once: remove what containerd leaked (a shim, or a bundle without one), create again.
    auto retry = [start, fail, end, create] {
      create(start, [fail, end](caf::error err) {
        end();
        fail(err);
      });
    };
    reap_leaked(self, id, [self, id, bundle = orphan_bundle_in(err), retry] {
      reap_bundle(self, id, bundle, retry); // the shim's removal may have taken it already
    });
  });
}

/// Marks the model running with `pid`, then applies an exit of that pid that arrived meanwhile.
void started(tenant_pointer self, const string& id, uint32_t pid) {
  auto* m = model_of(self, id);
  if (!m)
    return;
  m->state.status = container_status::running;
  m->state.pid = pid;
  m->state.exit_code = 0;
  m->state.exited_at = go_time{};
  m->state.reason.clear();
  if (auto ev = std::move(m->exit_during_run)) {
    m->exit_during_run.reset();
    if (ev->pid == pid || ev->pid == 0)
      on_exit(self, *ev);
  }
}

/// Sets labels on the container; `k` gets the error (empty on success).
void set_labels(tenant_pointer self, const string& id, label_map labels,
                std::function<void(caf::error)> k) {
  self
    ->request(client(self), call_timeout(self), atom::ctr_labels_v, self->state.ns, id,
              std::move(labels))
    .then([k](container_record&) { k(caf::error{}); }, [k](caf::error& err) { k(err); });
}

/// The labels that carry a model's restart history.
label_map history_labels(const container_model& m) {
  return {{label_restarts, std::to_string(m.history.restarts)},
          {label_exits, supervise::encode_exits(m.history.exits)}};
}

/// Applies a decision of the restart policy to the model.
void apply(tenant_pointer self, const string& id, container_model& m,
           const supervise::decision& d) {
  switch (d.what) {
  case supervise::decision::restart: {
    cancel_restart(m);
    m.restart_pending = true;
    m.state.status = container_status::restarting;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d.delay).count();
    m.state.reason = "restarting in " + std::to_string(ms) + " ms";
    auto generation = m.restart_generation;
    publish(self, id, "restarting", m.state.reason);
    after(self, d.delay, [self, id, generation] {
      auto* m = model_of(self, id);
      if (!m || m->restart_generation != generation || m->desired != desired_state::running)
        return;
      enqueue(self, id, [self, id](done_fn done) { restart(self, id, std::move(done)); });
    });
    return;
  }
  case supervise::decision::give_up: {
    m.state.status = container_status::failed;
    m.state.reason = d.reason;
    publish(self, id, "failed", d.reason);
    spdlog::warn("tenant {}: {}: {}", self->state.ns, id, d.reason);
    // Durable, so that a restarted contd does not start over.
    auto labels = history_labels(m);
    labels[label_failed] = d.reason;
    enqueue(self, id, [self, id, labels](done_fn done) {
      set_labels(self, id, labels, [self, id, done](caf::error err) {
        if (err && err != errc::not_found)
          spdlog::warn("tenant {}: cannot record that {} failed: {}", self->state.ns, id,
                       error_text(err));
        done();
      });
    });
    return;
  }
  case supervise::decision::stay_stopped:
    m.state.status = container_status::stopped;
    m.state.reason = d.reason;
    return;
  }
}

/// An exit (observed by an event or by reconciliation) under the container's policy.
void decide(tenant_pointer self, const string& id, container_model& m, uint32_t code, go_time at) {
  auto when = at.is_zero() ? unix_now(self) : unix_ns_of(at);
  std::uniform_real_distribution<double> dist{0.0, 1.0};
  auto d = supervise::on_exit(m.policy, m.history, when, code, m.state.oom_killed,
                              dist(self->state.jitter));
  apply(self, id, m, d);
}

} // namespace contd::jobs
