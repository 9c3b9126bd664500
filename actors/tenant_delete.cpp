// Delete, and the teardown that removes what a failed or unfinished Run left: bounded, and
// "containerd unreachable" is never reported as "still running after SIGKILL".
#include <memory>

#include <spdlog/spdlog.h>

#include "actors/tenant_steps.hpp"

namespace contd::jobs {

using namespace std::chrono_literals;

namespace {

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
    gated_task_delete(
      self, id, [j](exit_info&) { j->delete_container(); },
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
          if (t.status == task_status::stopped) {
            j->delete_task();
            return;
          }
          j->k(make_error(errc::stuck, where(j->self, j->id)
                                         + " is still running after SIGKILL; it was kept intact"));
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

struct delete_job : std::enable_shared_from_this<delete_job> {
  tenant_pointer self;
  string id;
  std::optional<void_promise> rp;
  done_fn done;
  string spec_json;
  bool managed = false;
  desired_state before = desired_state::running;
  bool tried_direct = false; // Tasks.Delete without looking first, at most once

  string ns() const { return self->state.ns; }

  /// Statuses whose task has exited (its restart, if any, is cancelled by now).
  static bool exited(container_status s) {
    return s == container_status::stopped || s == container_status::restarting
           || s == container_status::failed;
  }

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
    set_labels(self, id, {{label_desired, to_string(desired_state::deleted)}}, [j](caf::error err) {
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

  // Step 3: a task that runs is stopped first. A task the model saw exit (and contd's own restart
  // of it cancelled above) goes straight to Tasks.Delete, which containerd refuses for a task
  // that runs: then, and only then, the task is looked at.
  void inspect_task() {
    auto j = shared_from_this();
    if (auto* m = model_of(self, id); m && !tried_direct && exited(m->state.status)) {
      tried_direct = true;
      gated_task_delete(
        self, id, [j](exit_info&) { j->delete_container(); },
        [j](caf::error& err) {
          if (unreachable(err))
            j->fail(err);
          else // running after all, or gone: the full path decides
            j->inspect_task();
        });
      return;
    }
    self->request(client(self), call_timeout(self), atom::tsk_get_v, ns(), id)
      .then(
        [j](task_info& t) {
          if (t.status == task_status::stopped || t.status == task_status::created)
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
      .then([] {},
            [j](caf::error& err) {
              spdlog::warn("tenant {}: SIGTERM to {} failed: {}", j->ns(), j->id, error_text(err));
            });
  }

  void kill() {
    auto j = shared_from_this();
    auto& st = self->state;
    auto kill_failed = std::make_shared<caf::error>();
    self->request(st.client, call_timeout(self), atom::tsk_kill_v, ns(), id, uint32_t{9}, true)
      .then([] {},
            [j, kill_failed](caf::error& err) {
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
          if (t.status == task_status::stopped) {
            j->delete_records();
            return;
          }
          auto text = where(j->self, j->id)
                      + " is still running after SIGKILL; it was kept intact ("
                      + error_text(wait_err) + ")";
          if (auto* m = model_of(j->self, j->id)) {
            m->state.status = container_status::stuck;
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
    gated_task_delete(
      self, id, [j](exit_info&) { j->delete_container(); },
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

} // namespace

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
  spdlog::warn("tenant {}: {} is left for the reconciler: {}", self->state.ns, id, error_text(err));
  if (auto* m = model_of(self, id)) {
    m->desired = desired_state::deleted;
    cancel_restart(*m);
    if (err == errc::stuck) {
      m->state.status = container_status::stuck;
      m->state.reason = error_text(err);
    }
  }
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
                                 where(self, id) + ": containerd unreachable (" + error_text(err)
                                   + "); it is marked stopped but SIGTERM was not sent");
              finish(err);
            });
  });
}

} // namespace contd::jobs
