#include "actors/tenant.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "src/log/log.hpp"
#include "src/oci/lexer.hpp"
#include "src/oci/spec.hpp"
#include "src/oci/validate.hpp"

namespace contd {

namespace {

using std::string;
using step = tenant_state::step;
using namespace std::chrono_literals;

constexpr auto max_grace = std::chrono::hours{1};

std::string quote(const string& s) {
  return "\"" + s + "\"";
}

// --- the per-container FIFO -------------------------------------------------------------------

void maybe_idle(tenant_pointer self) {
  auto& st = self->state;
  if (!st.lanes.empty() || st.side_calls > 0)
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

void start_waiting(tenant_pointer self, const string& id);

void start_op(tenant_pointer self, const string& id, std::function<void(step)> op) {
  auto called = std::make_shared<bool>(false);
  op([self, id, called] {
    if (*called)
      return; // done() runs once, whatever path an operation takes
    *called = true;
    auto& lanes = self->state.lanes;
    auto it = lanes.find(id);
    if (it == lanes.end())
      return;
    if (--it->second.running == 0)
      start_waiting(self, id);
  });
}

/// Starts what waits at the front: one write alone, or every read up to the next write.
void start_waiting(tenant_pointer self, const string& id) {
  auto& lanes = self->state.lanes;
  auto it = lanes.find(id);
  if (it == lanes.end())
    return;
  auto& lane = it->second;
  if (lane.waiting.empty()) {
    lanes.erase(it);
    maybe_idle(self);
    return;
  }
  lane.reading = lane.waiting.front().read;
  std::vector<std::function<void(step)>> batch;
  do {
    batch.push_back(std::move(lane.waiting.front().op));
    lane.waiting.pop_front();
  } while (lane.reading && !lane.waiting.empty() && lane.waiting.front().read);
  lane.running += batch.size();
  // `lane` may be erased by an operation that completes synchronously: no access after this.
  for (auto& op : batch)
    start_op(self, id, std::move(op));
}

/// Operations on one container run in arrival order and never overlap, except that reads
/// (Inspect) that meet only reads run side by side.
void enqueue(tenant_pointer self, const string& id, std::function<void(step)> op,
             bool read = false) {
  self->state.idle_generation++; // cancels a pending idle tick
  auto& lane = self->state.lanes[id];
  if (lane.running == 0 && lane.waiting.empty()) {
    lane.running = 1;
    lane.reading = read;
    start_op(self, id, std::move(op));
    return;
  }
  if (read && lane.reading && lane.waiting.empty()) {
    lane.running++;
    start_op(self, id, std::move(op));
    return;
  }
  lane.waiting.push_back({std::move(op), read});
}

/// Work not bound to one container (List, events): counted so the tenant is not retired under it.
void side_begin(tenant_pointer self) {
  self->state.idle_generation++;
  self->state.side_calls++;
}

void side_end(tenant_pointer self) {
  self->state.side_calls--;
  maybe_idle(self);
}

caf::timespan call_timeout(tenant_pointer self) {
  return self->state.config.call_timeout;
}

std::optional<caf::error> check_id(const string& id, std::string_view field = "id") {
  if (auto err = oci::check_identifier(field, id))
    return make_error(errc::invalid_argument, *err);
  return std::nullopt;
}

// --- Run --------------------------------------------------------------------------------------

bool same_spec(const string& stored, const string& wanted) {
  auto a = nlohmann::json::parse(stored, nullptr, false);
  auto b = nlohmann::json::parse(wanted, nullptr, false);
  return !a.is_discarded() && !b.is_discarded() && a == b;
}

/// Removes what a failed Run created, in reverse order, then calls `k`.
void rollback(tenant_pointer self, const string& id, std::function<void()> k) {
  auto& st = self->state;
  auto ns = st.ns;
  auto remove_container = [self, ns, id, k] {
    self->request(self->state.client, call_timeout(self), atom::ctr_delete_v, ns, id)
      .then(
        [self, ns, id, k] {
          std::error_code ec;
          std::filesystem::remove(log_path(self->state.config, ns, id), ec);
          k();
        },
        [self, ns, id, k](caf::error& err) {
          spdlog::error("tenant {}: rollback of {} left the container record: {}", ns, id,
                        error_text(err));
          k();
        });
  };
  auto kill_then_delete = [self, ns, id, remove_container, k] {
    auto& st = self->state;
    self->request(st.client, call_timeout(self), atom::tsk_kill_v, ns, id, uint32_t{9}, true)
      .then([] {}, [](caf::error&) {});
    self
      ->request(st.client, st.config.kill_bound + call_timeout(self), atom::tsk_wait_v, ns, id,
                caf::timespan{st.config.kill_bound})
      .then(
        [self, ns, id, remove_container](exit_info&) {
          self->request(self->state.client, call_timeout(self), atom::tsk_delete_v, ns, id)
            .then([remove_container](exit_info&) { remove_container(); },
                  [remove_container](caf::error&) { remove_container(); });
        },
        [self, ns, id, k](caf::error& err) {
          // A task that will not die keeps its container: never orphan a task.
          spdlog::error("tenant {}: rollback of {}: task does not stop: {}", ns, id,
                        error_text(err));
          k();
        });
  };
  self->request(st.client, call_timeout(self), atom::tsk_delete_v, ns, id)
    .then([remove_container](exit_info&) { remove_container(); },
          [remove_container, kill_then_delete](caf::error& err) {
            if (err == errc::not_found)
              remove_container();
            else
              kill_then_delete();
          });
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

void run_create(tenant_pointer self, container c, string spec,
                caf::typed_response_promise<string> rp, step done) {
  auto& st = self->state;
  auto ns = st.ns;
  auto id = c.name;
  auto fail = [rp, done](caf::error err) mutable {
    rp.deliver(std::move(err));
    done();
  };
  auto undo = [self, id, rp, done](caf::error err) mutable {
    spdlog::warn("tenant {}: Run {} failed, rolling back: {}", self->state.ns, id,
                 error_text(err));
    // The caller is answered once the rollback is over, so a retry finds nothing in its way.
    rollback(self, id, [rp, done, err]() mutable {
      rp.deliver(err);
      done();
    });
  };
  label_map ns_labels{{label_managed, "true"}};
  self->request(st.client, call_timeout(self), atom::ns_ensure_v, ns, ns_labels)
    .then(
      [self, ns, id, spec, fail, undo, rp, done]() mutable {
        container_record rec;
        rec.id = id;
        rec.labels = {{label_managed, "true"}};
        rec.spec_json = spec;
        self->request(self->state.client, call_timeout(self), atom::ctr_create_v, ns, rec)
          .then(
            [self, ns, id, undo, rp, done](container_record&) mutable {
              // The shim appends to an existing regular file given by path. Two spellings of
              // one file give stdout and stderr a writer each: containerd 1.6's shim drops
              // stderr now and then when both streams share one (file:// does that).
              auto path = log_path(self->state.config, ns, id);
              if (auto err = create_log(path)) {
                undo(make_error(errc::internal, *err));
                return;
              }
              auto err_path = self->state.config.log_dir + "/" + ns + "/./" + id + ".log";
              self
                ->request(self->state.client, call_timeout(self), atom::tsk_create_v, ns, id,
                          path, err_path)
                .then(
                  [self, ns, id, undo, rp, done](uint32_t) mutable {
                    self
                      ->request(self->state.client, call_timeout(self), atom::tsk_start_v, ns,
                                id)
                      .then(
                        [id, rp, done](uint32_t) mutable {
                          rp.deliver(id);
                          done();
                        },
                        undo);
                  },
                  undo);
            },
            fail);
      },
      fail);
}

void run_op(tenant_pointer self, container c, caf::typed_response_promise<string> rp, step done) {
  auto& st = self->state;
  auto ns = st.ns;
  self->request(st.builder, call_timeout(self), atom::build_v, ns, c)
    .then(
      [self, ns, c, rp, done](string& spec) mutable {
        // An existing container: the same request again is success (a retrying caller), a
        // different one is a conflict.
        self->request(self->state.client, call_timeout(self), atom::ctr_get_v, ns, c.name)
          .then(
            [c, spec, rp, done](container_record& rec) mutable {
              if (same_spec(rec.spec_json, spec))
                rp.deliver(c.name);
              else
                rp.deliver(make_error(errc::already_exists,
                                      "container " + quote(c.name) + ": already exists"));
              done();
            },
            [self, c, spec, rp, done](caf::error& err) mutable {
              if (err == errc::not_found) {
                run_create(self, c, spec, rp, done);
                return;
              }
              rp.deliver(err);
              done();
            });
      },
      [rp, done](caf::error& err) mutable {
        rp.deliver(err);
        done();
      });
}

// --- Inspect ----------------------------------------------------------------------------------

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

void inspect_op(tenant_pointer self, string id, caf::typed_response_promise<container> rp,
                step done) {
  auto ns = self->state.ns;
  self->request(self->state.client, call_timeout(self), atom::ctr_get_v, ns, id)
    .then(
      [self, ns, id, rp, done](container_record& rec) mutable {
        auto spec = nlohmann::json::parse(rec.spec_json, nullptr, false);
        container c;
        if (!spec.is_discarded()) {
          // contd's own containers carry the request; others are rebuilt from their spec.
          if (auto r = oci::request_from_spec(spec))
            c = *r;
          else
            c = container_from_foreign_spec(spec);
        }
        c.name = id;
        c.created_at = rec.created_at;
        c.has_state = true;
        c.state = container_state{};
        c.state.stop_requested = rec.labels.count(label_stop_requested) > 0;
        c.state.oom_killed = rec.labels.count(label_oom_killed) > 0;
        self->request(self->state.client, call_timeout(self), atom::tsk_get_v, ns, id)
          .then(
            [c, rp, done](task_info& t) mutable {
              c.state.status = t.status;
              c.state.pid = t.pid;
              if (t.status == "stopped") {
                c.state.exit_code = t.exit_status;
                c.state.exited_at = t.exited_at;
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

// --- Delete -----------------------------------------------------------------------------------

std::chrono::nanoseconds grace_of(const container_record& rec, std::chrono::nanoseconds dflt) {
  auto spec = nlohmann::json::parse(rec.spec_json, nullptr, false);
  if (spec.is_discarded() || !spec.contains("annotations"))
    return dflt;
  auto& ann = spec["annotations"];
  auto key = std::string{oci::annotation_shutdown_timeout};
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

// Untyped: CAF 0.17 cannot deliver an empty reply through typed_response_promise<void>.
using void_promise = caf::response_promise;

void delete_records(tenant_pointer self, string id, void_promise rp, step done) {
  auto ns = self->state.ns;
  auto fail = [rp, done](caf::error& err) mutable {
    rp.deliver(err);
    done();
  };
  // Task first, container second: a container record is never deleted under a task.
  auto remove_container = [self, ns, id, rp, done, fail]() mutable {
    self->request(self->state.client, call_timeout(self), atom::ctr_delete_v, ns, id)
      .then(
        [self, ns, id, rp, done]() mutable {
          std::error_code ec;
          std::filesystem::remove(log_path(self->state.config, ns, id), ec);
          rp.deliver(caf::unit);
          done();
        },
        fail);
  };
  self->request(self->state.client, call_timeout(self), atom::tsk_delete_v, ns, id)
    .then([remove_container](exit_info&) mutable { remove_container(); },
          [remove_container, fail](caf::error& err) mutable {
            if (err == errc::not_found)
              remove_container();
            else
              fail(err);
          });
}

void stop_then_delete(tenant_pointer self, string id, std::chrono::nanoseconds grace,
                      void_promise rp, step done) {
  auto& st = self->state;
  auto ns = st.ns;
  auto escalate = [self, ns, id, rp, done]() mutable {
    auto& st = self->state;
    self->request(st.client, call_timeout(self), atom::tsk_kill_v, ns, id, uint32_t{9}, true)
      .then([] {}, [self, id](caf::error& err) {
        spdlog::warn("tenant {}: SIGKILL to {} failed: {}", self->state.ns, id, error_text(err));
      });
    self
      ->request(st.client, st.config.kill_bound + call_timeout(self), atom::tsk_wait_v, ns, id,
                caf::timespan{st.config.kill_bound})
      .then([self, id, rp, done](exit_info&) mutable { delete_records(self, id, rp, done); },
            [self, ns, id, rp, done](caf::error& err) mutable {
              if (err == errc::not_found) { // gone meanwhile
                delete_records(self, id, rp, done);
                return;
              }
              rp.deliver(make_error(
                errc::stuck, "container " + quote(id) + " in namespace " + quote(ns)
                               + " is still running after SIGKILL; it was kept intact ("
                               + error_text(err) + ")"));
              done();
            });
  };
  // Wait first, then signal: the exit cannot slip between the two.
  self->request(st.client, grace + call_timeout(self), atom::tsk_wait_v, ns, id,
                caf::timespan{grace})
    .then([self, id, rp, done](exit_info&) mutable { delete_records(self, id, rp, done); },
          [self, id, rp, done, escalate](caf::error& err) mutable {
            if (err == errc::not_found) {
              delete_records(self, id, rp, done);
              return;
            }
            escalate();
          });
  self->request(st.client, call_timeout(self), atom::tsk_kill_v, ns, id, uint32_t{15}, false)
    .then([] {}, [self, id](caf::error& err) {
      spdlog::warn("tenant {}: SIGTERM to {} failed: {}", self->state.ns, id, error_text(err));
    });
}

void delete_op(tenant_pointer self, string id, void_promise rp, step done) {
  auto ns = self->state.ns;
  self->request(self->state.client, call_timeout(self), atom::ctr_get_v, ns, id)
    .then(
      [self, ns, id, rp, done](container_record& rec) mutable {
        auto grace = grace_of(rec, self->state.config.default_grace);
        self->request(self->state.client, call_timeout(self), atom::tsk_get_v, ns, id)
          .then(
            [self, id, grace, rp, done](task_info& t) mutable {
              if (t.status == "stopped" || t.status == "created")
                delete_records(self, id, rp, done);
              else
                stop_then_delete(self, id, grace, rp, done);
            },
            [self, id, rp, done](caf::error& err) mutable {
              if (err == errc::not_found) {
                delete_records(self, id, rp, done);
                return;
              }
              rp.deliver(err);
              done();
            });
      },
      [rp, done](caf::error& err) mutable {
        if (err == errc::not_found) // Delete of a missing container is done already
          rp.deliver(caf::unit);
        else
          rp.deliver(err);
        done();
      });
}

// --- SignalDelete -----------------------------------------------------------------------------

void signal_delete_op(tenant_pointer self, string id, void_promise rp, step done) {
  auto ns = self->state.ns;
  auto fail = [rp, done](caf::error& err) mutable {
    if (err == errc::not_found)
      rp.deliver(caf::unit);
    else
      rp.deliver(err);
    done();
  };
  label_map labels{{label_stop_requested, "true"}};
  // The mark is a label, so it survives a restart of contd.
  self->request(self->state.client, call_timeout(self), atom::ctr_labels_v, ns, id, labels)
    .then(
      [self, ns, id, rp, done, fail](container_record&) mutable {
        self
          ->request(self->state.client, call_timeout(self), atom::tsk_kill_v, ns, id,
                    uint32_t{15}, false)
          .then(
            [rp, done]() mutable {
              rp.deliver(caf::unit);
              done();
            },
            fail);
      },
      fail);
}

// --- Exec -------------------------------------------------------------------------------------

string tail_text(const string& s, size_t max) {
  if (s.size() <= max)
    return s;
  return s.substr(s.size() - max);
}

void exec_op(tenant_pointer self, string id, caf::timespan timeout, std::vector<string> args,
             void_promise rp, step done) {
  auto ns = self->state.ns;
  auto fail = [rp, done](caf::error err) mutable {
    rp.deliver(std::move(err));
    done();
  };
  self->request(self->state.client, call_timeout(self), atom::ctr_get_v, ns, id)
    .then(
      [self, ns, id, timeout, args, rp, done, fail](container_record& rec) mutable {
        auto process = oci::exec_process_from_text(rec.spec_json, args);
        if (!process) {
          fail(make_error(errc::invalid_argument, process.error()));
          return;
        }
        self->request(self->state.client, call_timeout(self), atom::tsk_get_v, ns, id)
          .then(
            [self, ns, id, timeout, proc = process->dump(), rp, done,
             fail](task_info& t) mutable {
              if (t.status != "running") {
                fail(make_error(errc::failed_precondition, "container " + quote(id)
                                                             + " in namespace " + quote(ns)
                                                             + " is not running (" + t.status
                                                             + ")"));
                return;
              }
              auto& st = self->state;
              // Unique across tenant incarnations: a process left by an earlier one must not
              // collide.
              auto exec_id = "exec-" + st.exec_prefix + "-" + std::to_string(++st.exec_counter);
              self
                ->request(st.client, timeout + call_timeout(self), atom::exec_run_v, ns, id,
                          exec_id, proc, timeout, st.config.exec_max_output)
                .then(
                  [rp, done](exec_result& r) mutable {
                    if (r.exit_code == 0) {
                      rp.deliver(caf::unit);
                    } else {
                      auto text = "non-zero exit code: " + std::to_string(r.exit_code);
                      if (!r.output.empty())
                        text += "\n" + tail_text(r.output, 4096);
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
            },
            [ns, id, fail](caf::error& err) mutable {
              if (err == errc::not_found)
                fail(make_error(errc::failed_precondition,
                                "container " + quote(id) + " in namespace " + quote(ns)
                                  + " is not running (no task)"));
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

} // namespace

std::string log_path(const tenant_config& cfg, const std::string& ns, const std::string& id) {
  return cfg.log_dir + "/" + ns + "/" + id + ".log";
}

std::optional<std::string> tail_file(const std::string& path, size_t lines, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::nullopt;
  in.seekg(0, std::ios::end);
  auto size = static_cast<size_t>(std::max<std::streamoff>(0, in.tellg()));
  auto start = size > max_bytes ? size - max_bytes : 0;
  in.seekg(static_cast<std::streamoff>(start));
  std::string buf(size - start, '\0');
  in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
  buf.resize(static_cast<size_t>(in.gcount()));
  if (start > 0) {
    // Drop the partial first line.
    auto nl = buf.find('\n');
    buf = nl == std::string::npos ? std::string{} : buf.substr(nl + 1);
  }
  // Walk back over `lines` line ends (a final newline does not start a new line).
  size_t pos = buf.size();
  if (pos > 0 && buf[pos - 1] == '\n')
    --pos;
  size_t count = 0;
  while (pos > 0) {
    auto nl = buf.rfind('\n', pos - 1);
    if (nl == std::string::npos) {
      pos = 0;
      break;
    }
    if (++count == lines) {
      pos = nl + 1;
      break;
    }
    pos = nl;
  }
  return buf.substr(pos);
}

tenant_actor::behavior_type tenant(tenant_pointer self, std::string ns, tenant_config config,
                                   module_actor module, containerd_client_actor client,
                                   spec_builder_actor builder) {
  auto& st = self->state;
  st.ns = std::move(ns);
  st.config = std::move(config);
  st.module = std::move(module);
  st.client = std::move(client);
  st.builder = std::move(builder);
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx",
                static_cast<unsigned long long>(std::random_device{}()) << 32
                  ^ static_cast<unsigned long long>(std::random_device{}()));
  st.exec_prefix = buf;
  maybe_idle(self);
  return {
    [self](atom::run, const std::string&, container& c) -> caf::result<std::string> {
      if (auto err = check_id(c.name, "Name"))
        return *err;
      auto rp = self->make_response_promise<std::string>();
      auto id = c.name;
      enqueue(self, id, [self, c, rp](step done) mutable { run_op(self, c, rp, done); });
      return rp;
    },
    [self](atom::inspect, const std::string&, const std::string& id) -> caf::result<container> {
      if (auto err = check_id(id))
        return *err;
      auto rp = self->make_response_promise<container>();
      enqueue(
        self, id, [self, id, rp](step done) mutable { inspect_op(self, id, rp, done); },
        true);
      return rp;
    },
    [self](atom::delete_, const std::string&, const std::string& id) -> caf::result<void> {
      if (auto err = check_id(id))
        return *err;
      auto rp = self->make_response_promise();
      enqueue(self, id, [self, id, rp](step done) mutable { delete_op(self, id, rp, done); });
      return rp;
    },
    [self](atom::sig_delete, const std::string&, const std::string& id) -> caf::result<void> {
      if (auto err = check_id(id))
        return *err;
      auto rp = self->make_response_promise();
      enqueue(self, id,
              [self, id, rp](step done) mutable { signal_delete_op(self, id, rp, done); });
      return rp;
    },
    [self](atom::exec, const std::string&, const std::string& id, caf::timespan timeout,
           std::vector<std::string>& args) -> caf::result<void> {
      if (auto err = check_id(id))
        return *err;
      if (args.empty() || args.front().empty())
        return make_error(errc::invalid_argument, "Exec needs a command (args is empty)");
      if (timeout <= caf::timespan{0} || timeout > std::chrono::hours{24})
        return make_error(errc::invalid_argument,
                          "Exec timeout must be between 1ns and 24h, got "
                            + std::to_string(timeout.count()) + "ns");
      auto rp = self->make_response_promise();
      enqueue(self, id, [self, id, timeout, args, rp](step done) mutable {
        exec_op(self, id, timeout, args, rp, done);
      });
      return rp;
    },
    [self](atom::logs, const std::string&, const std::string& id) -> caf::result<std::string> {
      // Validated names only: no path can leave the logs directory.
      if (auto err = check_id(id))
        return *err;
      auto& st = self->state;
      if (auto text = tail_file(log_path(st.config, st.ns, id), st.config.log_lines,
                                st.config.log_max_bytes))
        return *text;
      // No log: a container that never printed, or no container at all.
      auto rp = self->make_response_promise<std::string>();
      side_begin(self);
      self->request(st.client, call_timeout(self), atom::ctr_get_v, st.ns, id)
        .then(
          [self, rp](container_record&) mutable {
            rp.deliver(std::string{});
            side_end(self);
          },
          [self, rp](caf::error& err) mutable {
            rp.deliver(err);
            side_end(self);
          });
      return rp;
    },
    [self](atom::list, const std::string&) -> caf::result<std::vector<std::string>> {
      auto rp = self->make_response_promise<std::vector<std::string>>();
      side_begin(self);
      self
        ->request(self->state.client, call_timeout(self), atom::ctr_list_v, self->state.ns,
                  std::vector<std::string>{})
        .then(
          [self, rp](std::vector<container_record>& recs) mutable {
            std::vector<std::string> ids;
            for (auto& r : recs)
              ids.push_back(std::move(r.id));
            std::sort(ids.begin(), ids.end());
            rp.deliver(std::move(ids));
            side_end(self);
          },
          [self, rp](caf::error& err) mutable {
            rp.deliver(err);
            side_end(self);
          });
      return rp;
    },
    [self](atom::event, const task_event& ev) {
      if (ev.topic != "/tasks/oom")
        return;
      side_begin(self);
      label_map labels{{label_oom_killed, "true"}};
      self
        ->request(self->state.client, call_timeout(self), atom::ctr_labels_v, self->state.ns,
                  ev.container_id, labels)
        .then([self](container_record&) { side_end(self); },
              [self, id = ev.container_id](caf::error& err) {
                spdlog::warn("tenant {}: cannot mark {} OOM-killed: {}", self->state.ns, id,
                             error_text(err));
                side_end(self);
              });
    },
    [self](atom::done) {
      self->state.retiring = true;
      maybe_idle(self);
    },
    [self](atom::timer, uint64_t generation) {
      auto& st = self->state;
      st.tick_pending = false;
      if (!st.lanes.empty() || st.side_calls > 0 || st.retiring)
        return; // busy: the end of the work re-arms the timer
      auto idle_for = self->clock().now() - st.idle_since;
      if (generation != st.idle_generation && idle_for < st.config.idle_timeout) {
        st.tick_pending = true;
        self->delayed_send(self, st.config.idle_timeout - idle_for, atom::timer_v,
                           st.idle_generation);
        return;
      }
      self->send(st.module, atom::retire_v, st.ns, tenant_actor{self});
    },
  };
}

} // namespace contd
