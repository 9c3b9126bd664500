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
  return !a.is_discarded() && !b.is_discarded() && a == b;
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
          c.mounts.push_back(
            mount_info{m.value("source", ""), m.value("destination", ""), "", {}});
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
    m.state.status = "no-task";
    m.state.pid = 0;
    return;
  }
  m.state.status = t->status;
  m.state.pid = t->pid;
  if (t->status == "stopped") {
    m.state.exit_code = t->exit_status;
    m.state.exited_at = t->exited_at;
    m.state.last_exit_code = t->exit_status;
    m.state.last_exited_at = t->exited_at;
  }
}

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
  self->request(st.reaper, call_timeout(self) + std::chrono::seconds{30}, atom::reap_v, st.ns,
                id)
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
  self->request(st.reaper, call_timeout(self) + std::chrono::seconds{30}, atom::reap_v, st.ns,
                id, bundle)
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

void create_task(tenant_pointer self, const string& id, const string& uri,
                 std::function<void(uint32_t)> ok, std::function<void(caf::error)> fail) {
  auto ns = self->state.ns;
  auto path = uri, err_path = uri; // the shim takes the scheme from stdout; binary:// serves both
  if (auto* m = model_of(self, id)) {
    m->starting = true;
    m->exit_during_run.reset();
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
  self->request(client(self), call_timeout(self), atom::tsk_create_v, ns, id, path, err_path)
    .then(start, [self, ns, id, path, err_path, start, fail, end](caf::error& err) {
      if (!leak_symptom(err)) {
        end();
        fail(err);
        return;
      }
      // Once: remove what containerd leaked (a shim, or a bundle without one), create again.
      auto retry = [self, ns, id, path, err_path, start, fail, end] {
        self->request(client(self), call_timeout(self), atom::tsk_create_v, ns, id, path, err_path)
          .then(start, [fail, end](caf::error& err) {
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
  m->state.status = "running";
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
  self->request(client(self), call_timeout(self), atom::ctr_labels_v, self->state.ns, id,
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
      m.state.status = "restarting";
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
      m.state.status = "failed";
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
      m.state.status = "stopped";
      m.state.reason = d.reason;
      return;
  }
}

/// An exit (observed by an event or by reconciliation) under the container's policy.
void decide(tenant_pointer self, const string& id, container_model& m, uint32_t code,
            go_time at) {
  auto when = at.is_zero() ? unix_now(self) : unix_ns_of(at);
  std::uniform_real_distribution<double> dist{0.0, 1.0};
  auto d = supervise::on_exit(m.policy, m.history, when, code, m.state.oom_killed,
                              dist(self->state.jitter));
  apply(self, id, m, d);
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
      m->state.status = "stopped";
      return; // the Delete's own doing
    case desired_state::stopped:
      m->state.status = "stopped";
      publish(self, id, "stopped");
      return;
    case desired_state::creating:
    case desired_state::running:
      break;
  }
  if (m->restart_pending)
    return;
  m->state.status = "stopped";
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
              c.state.status = t.status;
              c.state.pid = t.pid;
              if (t.status == "stopped") {
                c.state.exit_code = t.exit_status;
                c.state.exited_at = t.exited_at;
                c.state.last_exit_code = t.exit_status;
                c.state.last_exited_at = t.exited_at;
              }
              rp.deliver(std::move(c));
              done();
            },
            [c, rp, done](caf::error& err) mutable {
              c.state.status = err == errc::not_found ? "no-task" : "unknown";
              rp.deliver(std::move(c));
              done();
            });
      },
      [rp, done](caf::error& err) mutable {
        rp.deliver(err);
        done();
      });
}

void signal_delete(tenant_pointer self, string id, void_promise rp, done_fn done) {
  auto ns = self->state.ns;
  auto* m = model_of(self, id);
  auto before = m ? m->desired : desired_state::running;
  if (m) {
    // From here on an exit is the caller's stop, never restarted.
    m->desired = desired_state::stopped;
    m->state.stop_requested = true;
    cancel_restart(*m);
  }
  auto finish = [rp, done](caf::error err) mutable {
    if (!err || err == errc::not_found)
      rp.deliver(caf::unit);
    else
      rp.deliver(err);
    done();
  };
  // The mark is a label, so it survives a restart of contd.
  label_map labels{{label_stop_requested, "true"},
                   {label_desired, to_string(desired_state::stopped)}};
  set_labels(self, id, labels, [self, ns, id, before, finish](caf::error err) mutable {
    if (err) {
      if (auto* m = model_of(self, id); m && err != errc::not_found) {
        m->desired = before; // nothing changed
        m->state.stop_requested = false;
      }
      if (unreachable(err))
        err = make_error(errc::unavailable, where(self, id) + ": containerd unreachable ("
                                              + error_text(err) + "); nothing was changed");
      finish(err);
      return;
    }
    self->request(client(self), call_timeout(self), atom::tsk_kill_v, ns, id, uint32_t{15}, false)
      .then([finish]() mutable { finish(caf::error{}); },
            [self, id, finish](caf::error& err) mutable {
              if (unreachable(err))
                err = make_error(errc::unavailable,
                                 where(self, id) + ": containerd unreachable ("
                                   + error_text(err)
                                   + "); it is marked stopped but SIGTERM was not sent");
              finish(err);
            });
  });
}

void exec(tenant_pointer self, string id, caf::timespan timeout, std::vector<string> args,
          void_promise rp, done_fn done) {
  auto ns = self->state.ns;
  auto fail = [rp, done](caf::error err) mutable {
    rp.deliver(std::move(err));
    done();
  };
  auto not_running = [self, id](const string& status) {
    return make_error(errc::failed_precondition,
                      where(self, id) + " is not running (" + status + ")");
  };
  // The exit code decides; the output (stdout and stderr merged, its tail) explains a failure.
  auto answer = [rp, done](uint32_t code, const string& output, const string& lost) mutable {
    if (code == 0) {
      rp.deliver(caf::unit);
    } else {
      auto text = "non-zero exit code: " + std::to_string(code);
      if (!lost.empty())
        text += " (output lost: " + lost + ")";
      if (!output.empty())
        text += "\n" + (output.size() <= 4096 ? output : output.substr(output.size() - 4096));
      rp.deliver(make_error(errc::exec_failed, text));
    }
    done();
  };
  auto run_with = [self, ns, id, timeout, fail, answer](string proc, string capture) mutable {
    auto& st = self->state;
    // Unique across tenant incarnations: a process left by an earlier one must not collide.
    auto exec_id = "exec-" + st.exec_prefix + "-" + std::to_string(++st.exec_counter);
    self
      ->request(st.client, timeout + call_timeout(self), atom::exec_run_v, ns, id, exec_id, proc,
                timeout, capture)
      .then(
        [self, capture, answer](exec_result& r) mutable {
          auto& st = self->state;
          if (capture.empty()) {
            answer(r.exit_code, {}, {});
            return;
          }
          auto code = r.exit_code;
          self->request(st.io, st.config.io_timeout, atom::capture_read_v, capture,
                        st.config.exec_max_output)
            .then([code, answer](exec_result& out) mutable { answer(code, out.output, {}); },
                  [code, answer](caf::error& err) mutable {
                    answer(code, {}, error_text(err));
                  });
        },
        [self, capture, fail](caf::error& err) mutable {
          if (!capture.empty()) // the output is not needed: read and drop the file
            self->request(self->state.io, self->state.config.io_timeout, atom::capture_read_v,
                          capture, uint64_t{0})
              .then([](exec_result&) {}, [](caf::error&) {});
          if (err == errc::timeout)
            fail(make_error(errc::timeout, "execution timed out"));
          else
            fail(err);
        });
  };
  auto run_in = [self, ns, fail, run_with](string proc) mutable {
    auto& st = self->state;
    if (!st.io) {
      run_with(std::move(proc), string{});
      return;
    }
    // The capture file, with the output's space reserved: a full disk fails the Exec here
    // instead of losing its output silently.
    self->request(st.io, st.config.io_timeout, atom::capture_new_v, ns, st.config.exec_max_output)
      .then([run_with, proc](string& capture) mutable { run_with(proc, capture); },
            [fail](caf::error& err) mutable {
              fail(make_error(err == errc::unavailable ? errc::unavailable : errc::internal,
                              "Exec not started: " + error_text(err)));
            });
  };
  if (auto* m = model_of(self, id); m && self->state.synced) {
    if (m->state.status != "running") {
      fail(not_running(m->state.status));
      return;
    }
    auto process = oci::exec_process_from_text(m->spec_json, args);
    if (!process) {
      fail(make_error(errc::invalid_argument, process.error()));
      return;
    }
    run_in(process->dump());
    return;
  }
  self->request(client(self), call_timeout(self), atom::ctr_get_v, ns, id)
    .then(
      [self, ns, id, args, fail, not_running, run_in](container_record& rec) mutable {
        auto process = oci::exec_process_from_text(rec.spec_json, args);
        if (!process) {
          fail(make_error(errc::invalid_argument, process.error()));
          return;
        }
        self->request(client(self), call_timeout(self), atom::tsk_get_v, ns, id)
          .then(
            [proc = process->dump(), fail, not_running, run_in](task_info& t) mutable {
              if (t.status != "running") {
                fail(not_running(t.status));
                return;
              }
              run_in(proc);
            },
            [fail, not_running](caf::error& err) mutable {
              if (err == errc::not_found)
                fail(not_running("no task"));
              else
                fail(err);
            });
      },
      [fail](caf::error& err) mutable {
        // The original's text, which keeps "not found" for a missing container.
        fail(make_error(err == errc::not_found ? errc::not_found : errc::internal,
                        "couldn't load container: " + error_text(err)));
      });
}

} // namespace contd::jobs
