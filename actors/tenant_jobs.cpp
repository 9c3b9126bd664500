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

string quote(const string& s) {
  return "\"" + s + "\"";
}

string where(tenant_pointer self, const string& id) {
  return "container " + quote(id) + " in namespace " + quote(self->state.ns);
}

caf::timespan call_timeout(tenant_pointer self) {
  return self->state.config.call_timeout;
}

containerd_client_actor& client(tenant_pointer self) {
  return self->state.client;
}

/// containerd did not answer: refused, gone, or past a call deadline. Not a statement about the
/// container.
bool unreachable(const caf::error& err) {
  return err == errc::unavailable || err == errc::timeout;
}

container_model* model_of(tenant_pointer self, const string& id) {
  auto& models = self->state.models;
  auto it = models.find(id);
  return it == models.end() ? nullptr : &it->second;
}

/// Cancels a pending restart (its timer finds a newer generation).
void cancel_restart(container_model& m) {
  m.restart_generation++;
  m.restart_pending = false;
}

go_time go_time_of(int64_t unix_ns) {
  auto sec = unix_ns / 1'000'000'000;
  auto nsec = unix_ns % 1'000'000'000;
  if (nsec < 0) {
    nsec += 1'000'000'000;
    sec -= 1;
  }
  return go_time{sec, static_cast<uint32_t>(nsec)};
}

int64_t unix_ns_of(const go_time& t) {
  return t.sec * 1'000'000'000 + t.nsec;
}

bool same_spec(const string& stored, const string& wanted) {
  auto a = nlohmann::json::parse(stored, nullptr, false);
  auto b = nlohmann::json::parse(wanted, nullptr, false);
  if (a.is_discarded() || b.is_discarded())
    return false;
  // Which shim serves the container is contd's choice (--shim-per-container), not the caller's
  // request: a container created under the other setting is still the same container.
  for (auto* spec : {&a, &b})
    if (auto it = spec->find("annotations"); it != spec->end() && it->is_object())
      it->erase(string{oci::annotation_shim_group});
  return a == b;
}

std::chrono::nanoseconds grace_of(const string& spec_json, std::chrono::nanoseconds dflt) {
  auto spec = nlohmann::json::parse(spec_json, nullptr, false);
  if (spec.is_discarded() || !spec.contains("annotations"))
    return dflt;
  auto& ann = spec["annotations"];
  auto key = string{oci::annotation_shutdown_timeout};
  if (!ann.contains(key) || !ann[key].is_string())
    return dflt;
  const auto& text = ann[key].get_ref<const string&>();
  char* end = nullptr;
  auto ns = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || ns <= 0)
    return dflt;
  return std::min(std::chrono::nanoseconds{ns},
                  std::chrono::duration_cast<std::chrono::nanoseconds>(max_grace));
}

string shim_group_of(const string& spec_json) {
  auto spec = nlohmann::json::parse(spec_json, nullptr, false);
  if (spec.is_discarded() || !spec.is_object())
    return {};
  auto ann = spec.find("annotations");
  if (ann == spec.end() || !ann->is_object())
    return {};
  auto it = ann->find(string{oci::annotation_shim_group});
  return it != ann->end() && it->is_string() ? it->get<string>() : string{};
}

string choose_shim_group(const tenant_state& st) {
  if (st.config.shim_group_size == 0)
    return {};
  std::map<string, size_t> members = st.shim_reserved;
  for (const auto& [id, m] : st.models)
    if (!m.shim_group.empty())
      ++members[m.shim_group];
  for (size_t k = 0;; ++k) {
    auto group = "shim-" + std::to_string(k);
    if (members[group] < st.config.shim_group_size)
      return group;
  }
}

/// What the original's Inspect reads from a spec, for containers contd did not create.
static container container_from_foreign_spec(const nlohmann::json& spec) {
  container c;
  try {
    if (spec.contains("root") && spec["root"].contains("path"))
      c.root_fs = spec["root"]["path"].get<string>();
    if (spec.contains("process")) {
      const auto& p = spec["process"];
      if (p.contains("env"))
        c.env = p["env"].get<std::vector<string>>();
      if (p.contains("cwd"))
        c.working_dir = p["cwd"].get<string>();
      if (p.contains("args"))
        c.entrypoint = oci::join_entrypoint(p["args"].get<std::vector<string>>());
    }
    if (spec.contains("linux") && spec["linux"].contains("namespaces"))
      for (const auto& n : spec["linux"]["namespaces"])
        if (n.value("type", "") == "network" && n.contains("path")) {
          auto path = n["path"].get<string>();
          c.network.ns = path.substr(path.rfind('/') + 1);
        }
    if (spec.contains("mounts"))
      for (const auto& m : spec["mounts"])
        if (m.value("type", "") == "bind")
          c.mounts.push_back(mount_info{m.value("source", ""), m.value("destination", ""), "", {}});
  } catch (const nlohmann::json::exception&) {
    // A spec we cannot read: report what we have.
  }
  return c;
}

/// The request behind a container record: contd's own carry it; others are rebuilt from their
/// spec.
container request_of(const container_record& rec) {
  container c;
  auto spec = nlohmann::json::parse(rec.spec_json, nullptr, false);
  if (!spec.is_discarded()) {
    if (auto r = oci::request_from_spec(spec))
      c = *r;
    else
      c = container_from_foreign_spec(spec);
  }
  c.name = rec.id;
  c.created_at = rec.created_at;
  c.has_state = false;
  c.state = container_state{};
  return c;
}

bool is_managed(const container_record& rec) {
  auto it = rec.labels.find(label_managed);
  return it != rec.labels.end() && it->second == "true";
}

string label_value(const container_record& rec, const char* key) {
  auto it = rec.labels.find(key);
  return it == rec.labels.end() ? string{} : it->second;
}

/// A model rebuilt from what containerd stores (after a restart of contd, or a gap).
container_model model_from_record(const container_record& rec) {
  container_model m;
  m.request = request_of(rec);
  m.spec_json = rec.spec_json;
  m.shim_group = shim_group_of(rec.spec_json);
  m.desired = desired_from_labels(rec.labels);
  m.policy = supervise::effective(m.request.restart);
  char* end = nullptr;
  auto restarts = label_value(rec, label_restarts);
  m.history.restarts = restarts.empty() ? 0 : std::strtoull(restarts.c_str(), &end, 10);
  m.history.exits = supervise::decode_exits(label_value(rec, label_exits));
  m.state.restarts = m.history.restarts;
  m.state.oom_killed = label_value(rec, label_oom_killed) == "true";
  m.state.stop_requested = label_value(rec, label_stop_requested) == "true";
  m.state.reason = label_value(rec, label_failed);
  return m;
}

/// Takes the task's facts into the observed state.
void observe(container_model& m, const std::optional<task_info>& t) {
  if (!t) {
    m.state.status = container_status::no_task;
    m.state.pid = 0;
    return;
  }
  m.state.status = to_container_status(t->status);
  m.state.pid = t->pid;
  if (t->status == task_status::stopped) {
    m.state.exit_code = t->exit_status;
    m.state.exited_at = t->exited_at;
    m.state.last_exit_code = t->exit_status;
    m.state.last_exited_at = t->exited_at;
  }
}

// --- helpers -----------------------------------------------------------------------------------

void enqueue(tenant_pointer self, const string& id, std::function<void(done_fn)> op, bool read) {
  self->state.idle_generation++; // cancels a pending idle tick
  self->state.fifo.push(id, std::move(op), read);
}

void after(tenant_pointer self, caf::timespan delay, std::function<void()> fn) {
  auto& st = self->state;
  auto key = ++st.next_timer;
  st.timers.emplace(key, std::move(fn));
  self->delayed_send(self, delay, atom::retry_v, key);
}

int64_t unix_now(tenant_pointer self) {
  auto& st = self->state;
  return st.unix_origin_ns
         + std::chrono::duration_cast<std::chrono::nanoseconds>(self->clock().now()
                                                                - st.clock_origin)
             .count();
}

void publish(tenant_pointer self, const string& id, const string& kind, const string& reason) {
  container_event ev;
  ev.ns = self->state.ns;
  ev.id = id;
  ev.kind = kind;
  ev.reason = reason;
  ev.at = go_time_of(unix_now(self));
  if (auto* m = model_of(self, id)) {
    ev.exit_code = m->state.exit_code;
    ev.signal = ev.exit_code > 128 && ev.exit_code < 128 + 65 ? ev.exit_code - 128 : 0;
    ev.oom_killed = m->state.oom_killed;
    ev.restarts = m->state.restarts;
    if (kind == "exited" || kind == "restarting" || kind == "failed")
      ev.at = m->state.last_exited_at.is_zero() ? ev.at : m->state.last_exited_at;
  }
  self->send(self->state.module, atom::publish_v, std::move(ev));
}

void on_exit(tenant_pointer self, const task_event& ev) {
  auto id = ev.container_id;
  auto* m = model_of(self, id);
  if (!m)
    return;
  if (!ev.exec_id.empty() && ev.exec_id != id)
    return; // an exec's exit never counts
  if (ev.pid != 0 && m->state.pid != 0 && ev.pid != m->state.pid)
    return; // a task before the current one (its exit was handled, or it was contd's own)
  if (m->desired == desired_state::creating || m->starting) {
    // A Run or a restart is starting this container: its end applies the exit against the pid
    // it started (an exit of an older task is dropped there).
    m->exit_during_run = ev;
    return;
  }
  m->state.exit_code = ev.exit_status;
  m->state.exited_at = ev.exited_at;
  m->state.last_exit_code = ev.exit_status;
  m->state.last_exited_at = ev.exited_at;
  m->state.pid = 0;
  switch (m->desired) {
  case desired_state::deleted:
    m->state.status = container_status::stopped;
    return; // the Delete's own doing
  case desired_state::stopped:
    m->state.status = container_status::stopped;
    publish(self, id, "stopped");
    return;
  case desired_state::creating:
  case desired_state::running:
    break;
  }
  if (m->restart_pending)
    return;
  m->state.status = container_status::stopped;
  publish(self, id, "exited");
  decide(self, id, *m, ev.exit_status, ev.exited_at);
}

void maybe_idle(tenant_pointer self) {
  auto& st = self->state;
  if (!st.fifo.idle() || st.side_calls > 0 || st.reconciling || !st.models.empty())
    return;
  if (st.retiring) {
    self->quit();
    return;
  }
  st.idle_since = self->clock().now();
  // One idle timer at a time (a timer per operation would pile up under load); the tick
  // re-arms itself for the rest of the period when work came and went meanwhile.
  if (!st.tick_pending) {
    st.tick_pending = true;
    self->delayed_send(self, st.config.idle_timeout, atom::timer_v, st.idle_generation);
  }
}

// --- jobs --------------------------------------------------------------------------------------

void inspect(tenant_pointer self, string id, caf::typed_response_promise<container> rp,
             done_fn done) {
  auto& st = self->state;
  if (auto* m = model_of(self, id); m && st.synced && m->desired != desired_state::creating) {
    // The model: no containerd call.
    auto c = m->request;
    c.name = id;
    c.has_state = true;
    c.state = m->state;
    c.state.stop_requested = m->desired == desired_state::stopped || m->state.stop_requested;
    rp.deliver(std::move(c));
    done();
    return;
  }
  // A container contd does not supervise (or the model is being reconciled): containerd.
  auto ns = st.ns;
  self->request(client(self), call_timeout(self), atom::ctr_get_v, ns, id)
    .then(
      [self, ns, id, rp, done](container_record& rec) mutable {
        auto c = request_of(rec);
        c.has_state = true;
        c.state = container_state{};
        c.state.stop_requested = label_value(rec, label_stop_requested) == "true";
        c.state.oom_killed = label_value(rec, label_oom_killed) == "true";
        c.state.reason = label_value(rec, label_failed);
        auto restarts = label_value(rec, label_restarts);
        c.state.restarts = restarts.empty() ? 0 : std::strtoull(restarts.c_str(), nullptr, 10);
        self->request(client(self), call_timeout(self), atom::tsk_get_v, ns, id)
          .then(
            [c, rp, done](task_info& t) mutable {
              c.state.status = to_container_status(t.status);
              c.state.pid = t.pid;
              if (t.status == task_status::stopped) {
                c.state.exit_code = t.exit_status;
                c.state.exited_at = t.exited_at;
                c.state.last_exit_code = t.exit_status;
                c.state.last_exited_at = t.exited_at;
              }
              rp.deliver(std::move(c));
              done();
            },
            [c, rp, done](caf::error& err) mutable {
              c.state.status =
                err == errc::not_found ? container_status::no_task : container_status::unknown;
              rp.deliver(std::move(c));
              done();
            });
      },
      [rp, done](caf::error& err) mutable {
        rp.deliver(err);
        done();
      });
}

} // namespace contd::jobs
