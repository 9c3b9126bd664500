// Restarts under the restart policy, and reconciliation: every managed container of the
// namespace brought to its desired state from what containerd reports.
#include <memory>
#include <set>

#include <spdlog/spdlog.h>

#include "actors/tenant_steps.hpp"

namespace contd::jobs {

using namespace std::chrono_literals;

namespace {

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
      m->state.status = container_status::restarting;
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
    gated_task_delete(
      self, id, [j](exit_info&) { j->start(); },
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
      m->state.status = container_status::stopped;
      decide(self, id, *m, 255, go_time{});
      if (m->state.status == container_status::failed)
        m->state.reason += " (restart failed: " + error_text(err) + ")";
    }
    // The task that failed to start must not linger half-created.
    gated_task_delete(
      self, id, [](exit_info&) {}, [](caf::error&) {});
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
    start_sinks(self, id);
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
    m->state.status = container_status::failed;
    m->state.reason = reason;
    done();
    return;
  }
  if (task
      && (task->status == task_status::running || task->status == task_status::paused
          || task->status == task_status::pausing)) {
    observe(*m, task);
    done();
    return;
  }
  if (m->restart_pending) {
    done(); // a restart is already on its way
    return;
  }
  if (task && task->status == task_status::stopped) {
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
    ->request(client(self), self->state.config.kill_bound + call_timeout(self), atom::tsk_wait_v,
              ns, id, caf::timespan{self->state.config.kill_bound})
    .then(
      [self, id, done](exit_info&) {
        gated_task_delete(
          self, id, [done](exit_info&) { done(); }, [done](caf::error&) { done(); });
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

/// Removes the namespace's shims that containerd let go of but that never exited (a Tasks.Create
/// cancelled by a contd that died can leave one); the reaper leaves every shim a bundle reaches,
/// so Runs in flight are safe.
void sweep_abandoned_shims(tenant_pointer self) {
  auto& st = self->state;
  if (!st.reaper)
    return;
  self->request(st.reaper, call_timeout(self) + 30s, atom::sweep_v, st.ns)
    .then(
      [self](uint32_t removed) {
        if (removed > 0)
          spdlog::info("tenant {}: removed {} shim(s) containerd had let go of", self->state.ns,
                       removed);
      },
      [self](caf::error& err) {
        spdlog::warn("tenant {}: abandoned shims not swept: {}", self->state.ns, error_text(err));
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
  sweep_abandoned_shims(self);
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
