// Run: validate and build the spec, then namespace, container ("creating"), task, "running",
// answer; a failure after creation is rolled back before the answer. An identical Run of a
// container that exists makes it run.
#include <memory>

#include <spdlog/spdlog.h>

#include "actors/tenant_steps.hpp"

namespace contd::jobs {

namespace {

struct run_job : std::enable_shared_from_this<run_job> {
  tenant_pointer self;
  container req;
  string id;
  string spec;
  bool compared = false; // Containers.Get after AlreadyExists, at most once
  string shim_group;     // chosen for a new container, held in shim_reserved until finish
  caf::typed_response_promise<string> rp;
  done_fn done;

  string ns() const { return self->state.ns; }

  void finish(caf::error err) {
    release_shim_group();
    if (err)
      rp.deliver(std::move(err));
    else
      rp.deliver(id);
    done();
  }

  void release_shim_group() {
    auto& reserved = self->state.shim_reserved;
    if (auto it = reserved.find(shim_group); !shim_group.empty() && it != reserved.end()) {
      if (--it->second == 0)
        reserved.erase(it);
    }
    shim_group.clear();
  }

  // Step 1: validate and build the spec (no side effect before it), with the shim group a new
  // container would join; it counts as a member of the group until the Run is answered.
  void build() {
    shim_group = choose_shim_group(self->state);
    if (!shim_group.empty())
      ++self->state.shim_reserved[shim_group];
    auto j = shared_from_this();
    self->request(self->state.builder, call_timeout(self), atom::build_v, ns(), req, shim_group)
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
    // Not in the model: most likely new. Create it; containerd's AlreadyExists sends it to the
    // comparison below (Containers.Create changes nothing then), so a new container costs no
    // Containers.Get.
    create_namespace();
  }

  // An existing container contd has no model of (not yet reconciled, or not contd's).
  void compare_existing() {
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
          start_sinks(j->self, j->id);
          j->ensure_running();
        },
        [j](caf::error& err) {
          if (err == errc::not_found) // deleted meanwhile by someone else: create it
            j->create_namespace();
          else
            j->finish(err);
        });
  }

  // The retry path: whatever state the container is in, it ends running or the caller hears
  // why not. Never success with nothing running.
  void ensure_running() {
    auto* m = model_of(self, id);
    if (m->desired == desired_state::running && m->state.status == container_status::running
        && self->state.synced) {
      finish(caf::error{});
      return;
    }
    auto j = shared_from_this();
    self->request(client(self), call_timeout(self), atom::tsk_get_v, ns(), id)
      .then(
        [j](task_info& t) {
          auto* m = model_of(j->self, j->id);
          if (t.status == task_status::running && m && m->desired == desired_state::running) {
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
      gated_task_delete(
        j->self, j->id, [j](exit_info&) { j->start_again(); },
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

  // Step 3: the namespace, labelled as contd's (once per tenant). Should someone remove it while
  // it is empty, containerd creates it again with the next container, unlabelled, and the next
  // tenant of that namespace labels it.
  void create_namespace() {
    if (self->state.ns_ready) {
      create_container();
      return;
    }
    auto j = shared_from_this();
    label_map ns_labels{{label_managed, "true"}};
    self->request(client(self), call_timeout(self), atom::ns_ensure_v, ns(), ns_labels)
      .then(
        [j] {
          j->self->state.ns_ready = true;
          j->create_container();
        },
        [j](caf::error& err) { j->finish(err); });
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
          m.state.status = container_status::created;
          j->self->state.models[j->id] = std::move(m);
          start_sinks(j->self, j->id);
          j->start_task();
        },
        [j](caf::error& err) {
          if (err == errc::already_exists && !j->compared) {
            j->compared = true;
            j->compare_existing();
          } else {
            j->finish(err);
          }
        });
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
      m->state.status = container_status::running;
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

} // namespace

void run(tenant_pointer self, container c, caf::typed_response_promise<string> rp, done_fn done) {
  auto j = std::make_shared<run_job>();
  j->self = self;
  j->id = c.name;
  j->req = std::move(c);
  j->rp = std::move(rp);
  j->done = std::move(done);
  j->build();
}

} // namespace contd::jobs
