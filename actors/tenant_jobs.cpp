#include "actors/tenant_jobs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "src/oci/lexer.hpp"
#include "src/oci/spec.hpp"

namespace contd::jobs {

namespace {

using std::string;
using namespace std::chrono_literals;

constexpr auto max_grace = std::chrono::hours{1};

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
container container_from_foreign_spec(const nlohmann::json& spec) {
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

/// Creates <log_dir>/<ns>/ and the log file if missing (never truncates: logs are appended
/// across restarts of the task).
std::optional<string> create_log(const string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path{path}.parent_path(), ec);
  if (ec)
    return "cannot create the log directory of " + path + ": " + ec.message();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0)
    return "cannot create the log file " + path + ": " + std::strerror(errno);
  ::close(fd);
  return std::nullopt;
}

void remove_log(tenant_pointer self, const string& id) {
  std::error_code ec;
  std::filesystem::remove(log_path(self->state.config, self->state.ns, id), ec);
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
string orphan_bundle_in(const caf::error& err) {
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
bool leak_symptom(const caf::error& err) {
  auto text = error_text(err);
  return err == errc::already_exists || text.find("already exists") != string::npos
         || text.find("file exists") != string::npos;
}

/// Creates and starts the container's task with its log file as stdout and stderr. While it
/// runs, exits of the container are held (m.starting) and applied afterwards against the pid.
void launch_task(tenant_pointer self, const string& id, std::function<void(uint32_t)> ok,
                 std::function<void(caf::error)> fail) {
  auto& st = self->state;
  auto ns = st.ns;
  auto path = log_path(st.config, ns, id);
  if (auto err = create_log(path)) {
    fail(make_error(errc::internal, *err));
    return;
  }
  // The shim appends to an existing regular file given by path. Two spellings of one file give
  // stdout and stderr a writer each: containerd 1.6's shim drops stderr now and then when both
  // streams share one (file:// does that).
  auto err_path = st.config.log_dir + "/" + ns + "/./" + id + ".log";
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

// --- rollback: undo what a failed Run created ------------------------------------------------

/// Removes the task (SIGKILL first when it runs) and the container. While containerd is
/// unreachable it retries with backoff up to `bound`; `k` gets the outcome: empty, an
/// unreachable error (the reconciler finishes later), or a stuck error.
struct teardown : std::enable_shared_from_this<teardown> {
  tenant_pointer self;
  string id;
  caf::actor_clock::time_point deadline;
  caf::timespan delay = 250ms;
  std::function<void(caf::error)> k;

  void start() { delete_task(); }

  void retry_or_give_up(const caf::error& err) {
    if (self->clock().now() + delay > deadline) {
      k(err);
      return;
    }
    auto j = shared_from_this();
    after(self, delay, [j] { j->delete_task(); });
    delay = std::min<caf::timespan>(delay * 2, 2s);
  }

  void delete_task() {
    auto j = shared_from_this();
    self->request(client(self), call_timeout(self), atom::tsk_delete_v, self->state.ns, id)
      .then([j](exit_info&) { j->delete_container(); },
            [j](caf::error& err) {
              if (err == errc::not_found)
                reap_leaked(j->self, j->id, [j] { j->delete_container(); });
              else if (unreachable(err))
                j->retry_or_give_up(err);
              else
                j->kill_task(); // it runs
            });
  }

  void kill_task() {
    auto j = shared_from_this();
    auto& st = self->state;
    self->request(client(self), call_timeout(self), atom::tsk_kill_v, st.ns, id, uint32_t{9}, true)
      .then([] {}, [](caf::error&) {});
    self
      ->request(client(self), st.config.kill_bound + call_timeout(self), atom::tsk_wait_v, st.ns,
                id, caf::timespan{st.config.kill_bound})
      .then([j](exit_info&) { j->delete_task(); },
            [j](caf::error& err) {
              if (err == errc::not_found) {
                j->delete_task();
                return;
              }
              j->classify_wait_failure(err);
            });
  }

  /// A wait after SIGKILL that did not end: containerd gone, or a task that will not die.
  void classify_wait_failure(caf::error err) {
    auto j = shared_from_this();
    self->request(client(self), call_timeout(self), atom::tsk_get_v, self->state.ns, id)
      .then(
        [j](task_info& t) {
          if (t.status == "stopped") {
            j->delete_task();
            return;
          }
          j->k(make_error(errc::stuck, where(j->self, j->id) + " is still running after SIGKILL; it was kept intact"));
        },
        [j, err](caf::error& probe) {
          if (probe == errc::not_found)
            j->delete_task();
          else if (unreachable(probe))
            j->retry_or_give_up(probe);
          else
            j->k(err);
        });
  }

  void delete_container() {
    auto j = shared_from_this();
    self->request(client(self), call_timeout(self), atom::ctr_delete_v, self->state.ns, id)
      .then(
        [j] {
          remove_log(j->self, j->id);
          j->k(caf::error{});
        },
        [j](caf::error& err) {
          if (err == errc::not_found) {
            remove_log(j->self, j->id);
            j->k(caf::error{});
          } else if (unreachable(err)) {
            j->retry_or_give_up(err);
          } else {
            j->k(err);
          }
        });
  }
};

void tear_down(tenant_pointer self, const string& id, caf::timespan bound,
               std::function<void(caf::error)> k) {
  auto j = std::make_shared<teardown>();
  j->self = self;
  j->id = id;
  j->deadline = self->clock().now() + bound;
  j->k = std::move(k);
  j->start();
}

/// After a successful teardown the model goes; otherwise it stays, desired deleted, for the
/// reconciler.
void forget_or_keep(tenant_pointer self, const string& id, const caf::error& err) {
  if (!err) {
    self->state.models.erase(id);
    return;
  }
  spdlog::warn("tenant {}: {} is left for the reconciler: {}", self->state.ns, id,
               error_text(err));
  if (auto* m = model_of(self, id)) {
    m->desired = desired_state::deleted;
    cancel_restart(*m);
    if (err == errc::stuck) {
      m->state.status = "stuck";
      m->state.reason = error_text(err);
    }
  }
}

// --- Run ---------------------------------------------------------------------------------------

struct run_job : std::enable_shared_from_this<run_job> {
  tenant_pointer self;
  container req;
  string id;
  string spec;
  caf::typed_response_promise<string> rp;
  done_fn done;

  string ns() const { return self->state.ns; }

  void finish(caf::error err) {
    if (err)
      rp.deliver(std::move(err));
    else
      rp.deliver(id);
    done();
  }

  // Step 1: validate and build the spec (no side effect before it).
  void build() {
    auto j = shared_from_this();
    self->request(self->state.builder, call_timeout(self), atom::build_v, ns(), req)
      .then(
        [j](string& s) {
          j->spec = std::move(s);
          j->check_existing();
        },
        [j](caf::error& err) { j->finish(err); });
  }

  // Step 2: an existing container: the same request again makes it run (a retrying caller), a
  // different one is a conflict.
  void check_existing() {
    if (auto* m = model_of(self, id)) {
      if (!same_spec(m->spec_json, spec)) {
        finish(make_error(errc::already_exists, "container " + quote(id) + ": already exists"));
        return;
      }
      ensure_running();
      return;
    }
    auto j = shared_from_this();
    self->request(client(self), call_timeout(self), atom::ctr_get_v, ns(), id)
      .then(
        [j](container_record& rec) {
          if (!is_managed(rec) || !same_spec(rec.spec_json, j->spec)) {
            j->finish(
              make_error(errc::already_exists, "container " + quote(j->id) + ": already exists"));
            return;
          }
          j->self->state.models[j->id] = model_from_record(rec);
          j->ensure_running();
        },
        [j](caf::error& err) {
          if (err == errc::not_found)
            j->create_namespace();
          else
            j->finish(err);
        });
  }

  // The retry path: whatever state the container is in, it ends running or the caller hears
  // why not. Never success with nothing running.
  void ensure_running() {
    auto* m = model_of(self, id);
    if (m->desired == desired_state::running && m->state.status == "running"
        && self->state.synced) {
      finish(caf::error{});
      return;
    }
    auto j = shared_from_this();
    self->request(client(self), call_timeout(self), atom::tsk_get_v, ns(), id)
      .then(
        [j](task_info& t) {
          auto* m = model_of(j->self, j->id);
          if (t.status == "running" && m && m->desired == desired_state::running) {
            observe(*m, t);
            j->finish(caf::error{});
            return;
          }
          j->restart_now();
        },
        [j](caf::error& err) {
          if (err == errc::not_found)
            j->restart_now();
          else
            j->finish(err);
        });
  }

  void restart_now() {
    auto* m = model_of(self, id);
    if (!m) {
      finish(make_error(errc::internal, where(self, id) + " vanished during Run"));
      return;
    }
    cancel_restart(*m);
    m->desired = desired_state::running;
    m->history.exits.clear(); // the caller asked again: a fresh window
    m->state.stop_requested = false;
    m->state.reason.clear();
    auto labels = history_labels(*m);
    labels[label_desired] = to_string(desired_state::running);
    labels[label_stop_requested] = "";
    labels[label_failed] = "";
    auto j = shared_from_this();
    set_labels(self, id, labels, [j](caf::error err) {
      if (err) {
        j->finish(err);
        return;
      }
      j->self->request(client(j->self), call_timeout(j->self), atom::tsk_delete_v, j->ns(), j->id)
        .then([j](exit_info&) { j->start_again(); },
              [j](caf::error& err) {
                if (err == errc::not_found)
                  j->start_again();
                else
                  j->finish(err); // e.g. it runs although desired was not running: stop it first
              });
    });
  }

  void start_again() {
    auto j = shared_from_this();
    launch_task(
      self, id,
      [j](uint32_t pid) {
        publish(j->self, j->id, "started");
        j->finish(caf::error{});
        started(j->self, j->id, pid);
      },
      [j](caf::error err) {
        if (auto* m = model_of(j->self, j->id))
          observe(*m, std::nullopt);
        j->finish(err);
      });
  }

  // Step 3: the namespace, labelled as contd's.
  void create_namespace() {
    auto j = shared_from_this();
    label_map ns_labels{{label_managed, "true"}};
    self->request(client(self), call_timeout(self), atom::ns_ensure_v, ns(), ns_labels)
      .then([j] { j->create_container(); }, [j](caf::error& err) { j->finish(err); });
  }

  // Step 4: the container record, desired "creating" until the caller is answered.
  void create_container() {
    auto j = shared_from_this();
    container_record rec;
    rec.id = id;
    rec.labels = {{label_managed, "true"},
                  {label_desired, to_string(desired_state::creating)},
                  {label_restarts, "0"}};
    rec.spec_json = spec;
    self->request(client(self), call_timeout(self), atom::ctr_create_v, ns(), rec)
      .then(
        [j](container_record& created) {
          auto m = model_from_record(created);
          m.state.status = "created";
          j->self->state.models[j->id] = std::move(m);
          j->start_task();
        },
        [j](caf::error& err) { j->finish(err); });
  }

  // Step 5: the task.
  void start_task() {
    auto j = shared_from_this();
    launch_task(
      self, id, [j](uint32_t pid) { j->mark_running(pid); },
      [j](caf::error err) { j->roll_back(std::move(err)); });
  }

  // Step 6: desired "running", then the answer.
  void mark_running(uint32_t pid) {
    auto j = shared_from_this();
    auto* m = model_of(self, id);
    if (m) {
      m->state.status = "running";
      m->state.pid = pid;
    }
    set_labels(self, id, {{label_desired, to_string(desired_state::running)}},
               [j, pid](caf::error err) {
                 if (err) {
                   j->roll_back(err);
                   return;
                 }
                 auto* m = model_of(j->self, j->id);
                 if (!m) {
                   j->finish(make_error(errc::internal, where(j->self, j->id) + " vanished"));
                   return;
                 }
                 m->desired = desired_state::running;
                 publish(j->self, j->id, "started");
                 j->finish(caf::error{});
                 started(j->self, j->id, pid); // applies an exit that came meanwhile
               });
  }

  // A failure after the container was created: remove everything, then answer. The caller is
  // answered once the rollback is over, so a retry finds nothing in its way.
  void roll_back(caf::error err) {
    spdlog::warn("tenant {}: Run {} failed, rolling back: {}", ns(), id, error_text(err));
    if (auto* m = model_of(self, id)) {
      m->desired = desired_state::deleted;
      m->exit_during_run.reset();
      cancel_restart(*m);
    }
    auto j = shared_from_this();
    tear_down(self, id, self->state.config.rollback_bound, [j, err](caf::error left) {
      forget_or_keep(j->self, j->id, left);
      if (!left) {
        j->finish(err);
        return;
      }
      auto text = error_text(err);
      if (left == errc::stuck)
        text += "; rollback: " + error_text(left);
      else
        text += "; rollback: containerd unreachable (" + error_text(left)
                + "), contd removes the container once containerd is back";
      spdlog::error("tenant {}: Run {}: {}", j->ns(), j->id, text);
      j->finish(make_error(static_cast<errc>(err.code()), text));
    });
  }
};

// --- Delete ------------------------------------------------------------------------------------

struct delete_job : std::enable_shared_from_this<delete_job> {
  tenant_pointer self;
  string id;
  std::optional<void_promise> rp;
  done_fn done;
  string spec_json;
  bool managed = false;
  desired_state before = desired_state::running;

  string ns() const { return self->state.ns; }

  void finish(caf::error err) {
    if (rp) {
      if (err)
        rp->deliver(std::move(err));
      else
        rp->deliver(caf::unit);
    } else if (err) {
      spdlog::warn("tenant {}: removing {}: {}", ns(), id, error_text(err));
    }
    done();
  }

  caf::error unreachable_error(const caf::error& err, bool marked) {
    auto text = where(self, id) + ": containerd unreachable (" + error_text(err) + ")";
    if (marked)
      text += "; it is marked for deletion and contd finishes the delete once containerd is back";
    else
      text += "; nothing was changed";
    return make_error(errc::unavailable, text);
  }

  // Step 1: what is deleted. The model knows contd's containers; others are asked for.
  void start() {
    if (auto* m = model_of(self, id)) {
      before = m->desired;
      // From here on an exit is the Delete's own, not a crash to restart.
      m->desired = desired_state::deleted;
      cancel_restart(*m);
      managed = true;
      spec_json = m->spec_json;
      mark();
      return;
    }
    auto j = shared_from_this();
    self->request(client(self), call_timeout(self), atom::ctr_get_v, ns(), id)
      .then(
        [j](container_record& rec) {
          j->spec_json = rec.spec_json;
          j->managed = is_managed(rec);
          j->mark();
        },
        [j](caf::error& err) {
          if (err == errc::not_found) // Delete of a missing container is done already
            j->finish(caf::error{});
          else if (unreachable(err))
            j->finish(j->unreachable_error(err, false));
          else
            j->finish(err);
        });
  }

  // Step 2: desired "deleted" on the container, so that a restart of contd finishes it.
  void mark() {
    if (!managed) {
      inspect_task();
      return;
    }
    auto j = shared_from_this();
    set_labels(self, id, {{label_desired, to_string(desired_state::deleted)}},
               [j](caf::error err) {
                 if (!err) {
                   j->inspect_task();
                   return;
                 }
                 if (err == errc::not_found) {
                   j->self->state.models.erase(j->id);
                   j->finish(caf::error{});
                   return;
                 }
                 if (auto* m = model_of(j->self, j->id))
                   m->desired = j->before; // nothing changed
                 j->finish(unreachable(err) ? j->unreachable_error(err, false) : err);
               });
  }

  // Step 3: a task that runs is stopped first.
  void inspect_task() {
    auto j = shared_from_this();
    self->request(client(self), call_timeout(self), atom::tsk_get_v, ns(), id)
      .then(
        [j](task_info& t) {
          if (t.status == "stopped" || t.status == "created")
            j->delete_records();
          else
            j->stop(grace_of(j->spec_json, j->self->state.config.default_grace));
        },
        [j](caf::error& err) {
          if (err == errc::not_found)
            j->delete_records();
          else
            j->fail(err);
        });
  }

  void fail(const caf::error& err) {
    finish(unreachable(err) ? unreachable_error(err, managed) : err);
  }

  // Step 4: SIGTERM, the grace period, then SIGKILL to every process and a bounded wait.
  void stop(std::chrono::nanoseconds grace) {
    auto j = shared_from_this();
    auto& st = self->state;
    // Wait first, then signal: the exit cannot slip between the two.
    self
      ->request(client(self), grace + call_timeout(self), atom::tsk_wait_v, ns(), id,
                caf::timespan{grace})
      .then([j](exit_info&) { j->delete_records(); },
            [j](caf::error& err) {
              if (err == errc::not_found)
                j->delete_records();
              else if (err == errc::unavailable)
                j->fail(err);
              else
                j->kill();
            });
    self->request(st.client, call_timeout(self), atom::tsk_kill_v, ns(), id, uint32_t{15}, false)
      .then([] {}, [j](caf::error& err) {
        spdlog::warn("tenant {}: SIGTERM to {} failed: {}", j->ns(), j->id, error_text(err));
      });
  }

  void kill() {
    auto j = shared_from_this();
    auto& st = self->state;
    auto kill_failed = std::make_shared<caf::error>();
    self->request(st.client, call_timeout(self), atom::tsk_kill_v, ns(), id, uint32_t{9}, true)
      .then([] {}, [j, kill_failed](caf::error& err) {
        *kill_failed = err;
        spdlog::warn("tenant {}: SIGKILL to {} failed: {}", j->ns(), j->id, error_text(err));
      });
    self
      ->request(st.client, st.config.kill_bound + call_timeout(self), atom::tsk_wait_v, ns(), id,
                caf::timespan{st.config.kill_bound})
      .then([j](exit_info&) { j->delete_records(); },
            [j, kill_failed](caf::error& err) {
              if (err == errc::not_found) { // gone meanwhile
                j->delete_records();
                return;
              }
              if (unreachable(*kill_failed) || err == errc::unavailable) {
                j->fail(*kill_failed ? *kill_failed : err);
                return;
              }
              j->classify(err);
            });
  }

  // The wait after SIGKILL ran out: ask containerd whether the task still runs, so that
  // "containerd unreachable" is never reported as "will not die".
  void classify(caf::error wait_err) {
    auto j = shared_from_this();
    self->request(client(self), call_timeout(self), atom::tsk_get_v, ns(), id)
      .then(
        [j, wait_err](task_info& t) {
          if (t.status == "stopped") {
            j->delete_records();
            return;
          }
          auto text = where(j->self, j->id)
                      + " is still running after SIGKILL; it was kept intact ("
                      + error_text(wait_err) + ")";
          if (auto* m = model_of(j->self, j->id)) {
            m->state.status = "stuck";
            m->state.reason = text;
          }
          publish(j->self, j->id, "stuck", text);
          j->finish(make_error(errc::stuck, text));
        },
        [j](caf::error& err) {
          if (err == errc::not_found)
            j->delete_records();
          else
            j->fail(err);
        });
  }

  // Step 5: task first, container second: a container record is never deleted under a task.
  void delete_records() {
    auto j = shared_from_this();
    self->request(client(self), call_timeout(self), atom::tsk_delete_v, ns(), id)
      .then([j](exit_info&) { j->delete_container(); },
            [j](caf::error& err) {
              if (err == errc::not_found)
                reap_leaked(j->self, j->id, [j] { j->delete_container(); });
              else
                j->fail(err);
            });
  }

  void delete_container() {
    auto j = shared_from_this();
    auto gone = [j] {
      remove_log(j->self, j->id);
      if (j->self->state.models.erase(j->id) > 0)
        publish(j->self, j->id, "deleted");
      j->finish(caf::error{});
    };
    self->request(client(self), call_timeout(self), atom::ctr_delete_v, ns(), id)
      .then(gone, [j, gone](caf::error& err) {
        if (err == errc::not_found)
          gone();
        else
          j->fail(err);
      });
  }
};

// --- restart -----------------------------------------------------------------------------------

struct restart_job : std::enable_shared_from_this<restart_job> {
  tenant_pointer self;
  string id;
  done_fn done;

  string ns() const { return self->state.ns; }

  /// containerd did not answer: try again later, without counting an exit.
  void later(const caf::error& err) {
    auto* m = model_of(self, id);
    if (m && m->desired == desired_state::running) {
      cancel_restart(*m);
      m->restart_pending = true;
      m->state.status = "restarting";
      m->state.reason = "containerd unreachable: " + error_text(err);
      auto generation = m->restart_generation;
      auto s = self;
      auto cid = id;
      after(self, 2s, [s, cid, generation] {
        auto* m = model_of(s, cid);
        if (!m || m->restart_generation != generation || m->desired != desired_state::running)
          return;
        enqueue(s, cid, [s, cid](done_fn done) { restart(s, cid, std::move(done)); });
      });
    }
    done();
  }

  // Step 1: the restart is counted (durably) before it is made.
  void count() {
    auto* m = model_of(self, id);
    if (!m || m->desired != desired_state::running) {
      done(); // deleted, stopped or re-run meanwhile
      return;
    }
    m->restart_pending = false;
    auto labels = history_labels(*m);
    labels[label_restarts] = std::to_string(m->history.restarts + 1);
    labels[label_oom_killed] = "";
    labels[label_failed] = "";
    auto j = shared_from_this();
    set_labels(self, id, labels, [j](caf::error err) {
      if (!err) {
        if (auto* m = model_of(j->self, j->id)) {
          m->history.restarts++;
          m->state.restarts = m->history.restarts;
        }
        j->delete_old_task();
      } else if (err == errc::not_found) {
        j->self->state.models.erase(j->id); // removed behind contd's back
        j->done();
      } else if (unreachable(err)) {
        j->later(err);
      } else {
        j->failed(err);
      }
    });
  }

  // Step 2: the old task goes (its exit status stays in the model).
  void delete_old_task() {
    auto j = shared_from_this();
    self->request(client(self), call_timeout(self), atom::tsk_delete_v, ns(), id)
      .then([j](exit_info&) { j->start(); },
            [j](caf::error& err) {
              if (err == errc::not_found)
                j->start();
              else if (unreachable(err))
                j->later(err);
              else
                j->failed(err);
            });
  }

  // Step 3: a new task.
  void start() {
    auto j = shared_from_this();
    launch_task(
      self, id,
      [j](uint32_t pid) {
        auto* m = model_of(j->self, j->id);
        if (m)
          m->state.oom_killed = false;
        publish(j->self, j->id, "restarted");
        started(j->self, j->id, pid);
        j->done();
      },
      [j](caf::error err) {
        if (unreachable(err))
          j->later(err);
        else
          j->failed(err);
      });
  }

  /// A restart that containerd refused counts as an exit: the policy decides whether to try
  /// again, and a container that cannot start ends "failed" with the reason.
  void failed(const caf::error& err) {
    auto* m = model_of(self, id);
    if (m && m->desired == desired_state::running) {
      spdlog::warn("tenant {}: restart of {} failed: {}", ns(), id, error_text(err));
      m->state.status = "stopped";
      decide(self, id, *m, 255, go_time{});
      if (m->state.status == "failed")
        m->state.reason += " (restart failed: " + error_text(err) + ")";
    }
    // The task that failed to start must not linger half-created.
    self->request(client(self), call_timeout(self), atom::tsk_delete_v, ns(), id)
      .then([](exit_info&) {}, [](caf::error&) {});
    done();
  }
};

// --- sync: one container against its desired state (reconciliation) ---------------------------

/// Applies the rules to a managed container as containerd reports it now.
void sync_with(tenant_pointer self, const container_record& rec, std::optional<task_info> task,
               done_fn done) {
  auto id = rec.id;
  auto ns = self->state.ns;
  auto* m = model_of(self, id);
  if (!m) {
    self->state.models[id] = model_from_record(rec);
    m = model_of(self, id);
  } else {
    // The labels are what every job of this and earlier incarnations wrote last.
    m->desired = desired_from_labels(rec.labels);
  }
  switch (m->desired) {
    case desired_state::deleted:
      spdlog::info("tenant {}: finishing the delete of {}", ns, id);
      remove(self, id, std::nullopt, std::move(done));
      return;
    case desired_state::creating: {
      // A Run that was never answered with success (contd or containerd died during it).
      spdlog::info("tenant {}: removing {}, left by an unfinished Run", ns, id);
      m->desired = desired_state::deleted;
      tear_down(self, id, self->state.config.rollback_bound, [self, id, done](caf::error err) {
        forget_or_keep(self, id, err);
        if (!err)
          publish(self, id, "removed", "left by an unfinished Run");
        done();
      });
      return;
    }
    case desired_state::stopped:
      observe(*m, task);
      m->state.stop_requested = true;
      done();
      return;
    case desired_state::running:
      break;
  }
  if (auto reason = label_value(rec, label_failed); !reason.empty()) {
    observe(*m, task); // contd gave up on it before: it stays down until Run or Delete
    m->state.status = "failed";
    m->state.reason = reason;
    done();
    return;
  }
  if (task && (task->status == "running" || task->status == "paused"
               || task->status == "pausing")) {
    observe(*m, task);
    done();
    return;
  }
  if (m->restart_pending) {
    done(); // a restart is already on its way
    return;
  }
  if (task && task->status == "stopped") {
    observe(*m, task);
    publish(self, id, "exited");
    decide(self, id, *m, task->exit_status, task->exited_at);
    done();
    return;
  }
  // No task, or one created and never started: start it now (counted as a restart).
  observe(*m, task);
  spdlog::info("tenant {}: {} should run but has {}; starting it", ns, id,
               task ? "a task that never started" : "no task");
  restart(self, id, std::move(done));
}

/// A task whose container record is gone (containerd does not refuse Containers.Delete under a
/// task): it is killed and deleted.
void remove_orphan_task(tenant_pointer self, const string& id, done_fn done) {
  auto ns = self->state.ns;
  self->request(client(self), call_timeout(self), atom::tsk_kill_v, ns, id, uint32_t{9}, true)
    .then([] {}, [](caf::error&) {});
  self
    ->request(client(self), self->state.config.kill_bound + call_timeout(self),
              atom::tsk_wait_v, ns, id, caf::timespan{self->state.config.kill_bound})
    .then(
      [self, ns, id, done](exit_info&) {
        self->request(client(self), call_timeout(self), atom::tsk_delete_v, ns, id)
          .then([done](exit_info&) { done(); }, [done](caf::error&) { done(); });
      },
      [done](caf::error&) { done(); });
}

/// One container against its desired state, from what containerd reports when the job runs
/// (inside the container's FIFO, so no other job of it is in flight): a listing taken earlier
/// may predate a job that ran since.
void sync(tenant_pointer self, const string& id, done_fn done) {
  auto ns = self->state.ns;
  self->request(client(self), call_timeout(self), atom::ctr_get_v, ns, id)
    .then(
      [self, ns, id, done](container_record& rec) {
        if (!is_managed(rec)) {
          self->state.models.erase(id); // never touched: contd did not create it
          done();
          return;
        }
        self->request(client(self), call_timeout(self), atom::tsk_get_v, ns, id)
          .then([self, rec, done](task_info& t) { sync_with(self, rec, t, done); },
                [self, rec, done](caf::error& err) {
                  if (err == errc::not_found)
                    sync_with(self, rec, std::nullopt, done);
                  else
                    done(); // containerd went away again: the next resync tries again
                });
      },
      [self, ns, id, done](caf::error& err) {
        if (err != errc::not_found) {
          done();
          return;
        }
        // Removed behind contd's back. A task that outlived its record goes too (containerd
        // does not refuse Containers.Delete under a task).
        bool known = self->state.models.erase(id) > 0;
        self->request(client(self), call_timeout(self), atom::tsk_get_v, ns, id)
          .then(
            [self, id, known, done](task_info&) {
              if (known)
                remove_orphan_task(self, id, done);
              else
                done();
            },
            [done](caf::error&) { done(); });
      });
}

void sync_finished(tenant_pointer self);

void reconcile_failed(tenant_pointer self, const caf::error& err) {
  auto& st = self->state;
  spdlog::info("tenant {}: reconcile postponed: {}", st.ns, error_text(err));
  st.reconciling = false;
  st.side_calls--;
  // The stream's next re-open triggers one too; this covers a containerd that answers the
  // stream but not the listings.
  after(self, 2s, [self] {
    if (!self->state.synced)
      reconcile(self);
  });
}

/// The slow period: catches what no event reported (a task deleted behind contd's back). One
/// timer per tenant; a tenant with nothing to supervise only re-arms it.
void arm_periodic_reconcile(tenant_pointer self) {
  auto& st = self->state;
  auto generation = ++st.reconcile_generation;
  after(self, st.config.reconcile_period, [self, generation] {
    if (self->state.reconcile_generation != generation)
      return;
    if (self->state.models.empty())
      arm_periodic_reconcile(self);
    else
      reconcile(self);
  });
}

void reconcile_finished(tenant_pointer self) {
  auto& st = self->state;
  st.reconciling = false;
  if (st.reconcile_again) {
    st.reconcile_again = false;
    reconcile(self);
    return;
  }
  st.synced = true;
  arm_periodic_reconcile(self);
  maybe_idle(self);
}

void sync_finished(tenant_pointer self) {
  auto& st = self->state;
  if (st.syncs_pending > 0 && --st.syncs_pending == 0)
    reconcile_finished(self);
}

} // namespace

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

void run(tenant_pointer self, container c, caf::typed_response_promise<string> rp,
         done_fn done) {
  auto j = std::make_shared<run_job>();
  j->self = self;
  j->id = c.name;
  j->req = std::move(c);
  j->rp = std::move(rp);
  j->done = std::move(done);
  j->build();
}

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

void remove(tenant_pointer self, string id, std::optional<void_promise> rp, done_fn done) {
  auto j = std::make_shared<delete_job>();
  j->self = self;
  j->id = std::move(id);
  j->rp = std::move(rp);
  j->done = std::move(done);
  j->start();
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
  auto run_in = [self, ns, id, timeout, rp, done, fail](string proc) mutable {
    auto& st = self->state;
    // Unique across tenant incarnations: a process left by an earlier one must not collide.
    auto exec_id = "exec-" + st.exec_prefix + "-" + std::to_string(++st.exec_counter);
    self
      ->request(st.client, timeout + call_timeout(self), atom::exec_run_v, ns, id, exec_id, proc,
                timeout, st.config.exec_max_output)
      .then(
        [rp, done](exec_result& r) mutable {
          if (r.exit_code == 0) {
            rp.deliver(caf::unit);
          } else {
            auto text = "non-zero exit code: " + std::to_string(r.exit_code);
            if (!r.output.empty())
              text += "\n" + (r.output.size() <= 4096 ? r.output
                                                      : r.output.substr(r.output.size() - 4096));
            rp.deliver(make_error(errc::exec_failed, text));
          }
          done();
        },
        [fail](caf::error& err) mutable {
          if (err == errc::timeout)
            fail(make_error(errc::timeout, "execution timed out"));
          else
            fail(err);
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

void restart(tenant_pointer self, string id, done_fn done) {
  auto j = std::make_shared<restart_job>();
  j->self = self;
  j->id = std::move(id);
  j->done = std::move(done);
  j->count();
}

void reconcile(tenant_pointer self) {
  auto& st = self->state;
  if (st.reconciling) {
    st.reconcile_again = true;
    return;
  }
  st.reconciling = true;
  st.side_calls++;
  st.idle_generation++;
  auto ns = st.ns;
  // The listing only finds the ids: each sync reads its container afresh inside its FIFO.
  self->request(client(self), call_timeout(self), atom::ctr_list_v, ns, std::vector<string>{})
    .then(
      [self](std::vector<container_record>& recs) {
        auto& st = self->state;
        std::set<string> ids;
        for (const auto& rec : recs)
          if (is_managed(rec))
            ids.insert(rec.id);
        for (const auto& [id, m] : st.models)
          ids.insert(id); // gone from containerd, or created since the listing
        st.side_calls--;
        st.syncs_pending = ids.size();
        if (ids.empty()) {
          reconcile_finished(self);
          return;
        }
        for (const auto& id : ids)
          enqueue(self, id, [self, id](done_fn done) {
            sync(self, id, [self, done] {
              done();
              sync_finished(self);
            });
          });
      },
      [self](caf::error& err) { reconcile_failed(self, err); });
}

} // namespace contd::jobs
