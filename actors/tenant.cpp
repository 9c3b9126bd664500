#include "actors/tenant.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include <spdlog/spdlog.h>

#include "actors/tenant_jobs.hpp"
#include "src/log/log.hpp"
#include "src/oci/validate.hpp"

namespace contd {

namespace {

using std::string;
using done_fn = jobs::done_fn;

std::optional<caf::error> check_id(const string& id, std::string_view field = "id") {
  if (auto err = oci::check_identifier(field, id))
    return make_error(errc::invalid_argument, *err);
  return std::nullopt;
}

/// Work not bound to one container (List, Logs): counted so the tenant is not retired under it.
void side_begin(tenant_pointer self) {
  self->state.idle_generation++;
  self->state.side_calls++;
}

void side_end(tenant_pointer self) {
  self->state.side_calls--;
  jobs::maybe_idle(self);
}

/// containerd's events for one of this tenant's containers.
void on_event(tenant_pointer self, const task_event& ev) {
  auto& st = self->state;
  auto it = st.models.find(ev.container_id);
  if (ev.topic == "/tasks/exit") {
    jobs::on_exit(self, ev);
    return;
  }
  if (it == st.models.end())
    return; // not supervised: contd leaves it alone
  auto& m = it->second;
  if (ev.topic == "/tasks/oom") {
    m.state.oom_killed = true;
    jobs::publish(self, ev.container_id, "oom");
    // A label, so Inspect reports it after a restart of contd too.
    side_begin(self);
    label_map labels{{label_oom_killed, "true"}};
    self
      ->request(st.client, st.config.call_timeout, atom::ctr_labels_v, st.ns, ev.container_id,
                labels)
      .then([self](container_record&) { side_end(self); },
            [self, id = ev.container_id](caf::error& err) {
              spdlog::warn("tenant {}: cannot mark {} OOM-killed: {}", self->state.ns, id,
                           error_text(err));
              side_end(self);
            });
    return;
  }
  if (st.fifo.busy(ev.container_id))
    return; // contd's own job is acting on it and will set the model
  if (ev.topic == "/tasks/start" && ev.exec_id == ev.container_id) {
    // Started by someone else (ctr): take the facts.
    m.state.status = container_status::running;
    m.state.pid = ev.pid;
  } else if (ev.topic == "/tasks/delete" && ev.exec_id == ev.container_id
             && m.desired == desired_state::running && !m.restart_pending
             && m.state.status != container_status::failed && ev.pid == m.state.pid) {
    // The task was deleted behind contd's back: bring the container back under its policy.
    auto id = ev.container_id;
    m.state.status = container_status::no_task;
    jobs::enqueue(self, id, [self, id](done_fn done) { jobs::restart(self, id, done); });
  }
}

} // namespace

const char* to_string(desired_state d) {
  switch (d) {
  case desired_state::creating:
    return "creating";
  case desired_state::running:
    return "running";
  case desired_state::stopped:
    return "stopped";
  case desired_state::deleted:
    return "deleted";
  }
  return "running";
}

desired_state desired_from_labels(const label_map& labels) {
  auto it = labels.find(label_desired);
  if (it != labels.end()) {
    if (it->second == "creating")
      return desired_state::creating;
    if (it->second == "stopped")
      return desired_state::stopped;
    if (it->second == "deleted")
      return desired_state::deleted;
    if (it->second == "running")
      return desired_state::running;
  }
  // Containers of a contd before supervision: stopped when SignalDelete marked them.
  auto stop = labels.find(label_stop_requested);
  return stop != labels.end() && stop->second == "true" ? desired_state::stopped
                                                        : desired_state::running;
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
  st.unix_origin_ns = st.config.unix_origin_ns;
  if (st.unix_origin_ns == 0)
    st.unix_origin_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  st.clock_origin = self->clock().now();
  std::random_device rd;
  st.jitter.seed(st.config.jitter_seed != 0 ? st.config.jitter_seed
                                            : (uint64_t{rd()} << 32) ^ rd());
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx",
                static_cast<unsigned long long>(rd()) << 32
                  ^ static_cast<unsigned long long>(rd()));
  st.exec_prefix = buf;
  st.fifo.on_idle = [self] { jobs::maybe_idle(self); };
  // What contd manages here is read from containerd before the model answers anything.
  jobs::reconcile(self);
  return {
    [self](atom::run, const std::string&, container& c) -> caf::result<std::string> {
      if (auto err = check_id(c.name, "Name"))
        return *err;
      auto rp = self->make_response_promise<std::string>();
      auto id = c.name;
      jobs::enqueue(self, id, [self, c, rp](done_fn done) mutable {
        jobs::run(self, std::move(c), rp, std::move(done));
      });
      return rp;
    },
    [self](atom::inspect, const std::string&, const std::string& id) -> caf::result<container> {
      if (auto err = check_id(id))
        return *err;
      auto rp = self->make_response_promise<container>();
      jobs::enqueue(
        self, id, [self, id, rp](done_fn done) { jobs::inspect(self, id, rp, std::move(done)); },
        true);
      return rp;
    },
    [self](atom::delete_, const std::string&, const std::string& id) -> caf::result<void> {
      if (auto err = check_id(id))
        return *err;
      // A restart waiting out its backoff is cancelled now: the Delete need not wait for it.
      if (auto it = self->state.models.find(id); it != self->state.models.end()) {
        it->second.restart_generation++;
        it->second.restart_pending = false;
      }
      auto rp = self->make_response_promise();
      jobs::enqueue(self, id,
                    [self, id, rp](done_fn done) { jobs::remove(self, id, rp, std::move(done)); });
      return rp;
    },
    [self](atom::sig_delete, const std::string&, const std::string& id) -> caf::result<void> {
      if (auto err = check_id(id))
        return *err;
      auto rp = self->make_response_promise();
      jobs::enqueue(self, id, [self, id, rp](done_fn done) {
        jobs::signal_delete(self, id, rp, std::move(done));
      });
      return rp;
    },
    [self](atom::exec, const std::string&, const std::string& id, caf::timespan timeout,
           std::vector<std::string>& args) -> caf::result<void> {
      if (auto err = check_id(id))
        return *err;
      if (args.empty() || args.front().empty())
        return make_error(errc::invalid_argument, "Exec needs a command (args is empty)");
      if (timeout <= caf::timespan{0} || timeout > std::chrono::hours{24})
        return make_error(errc::invalid_argument, "Exec timeout must be between 1ns and 24h, got "
                                                    + std::to_string(timeout.count()) + "ns");
      auto rp = self->make_response_promise();
      jobs::enqueue(self, id, [self, id, timeout, args, rp](done_fn done) {
        jobs::exec(self, id, timeout, args, rp, std::move(done));
      });
      return rp;
    },
    [self](atom::logs, const std::string&, const std::string& id) -> caf::result<std::string> {
      // Validated names only: no path can leave the logs directory.
      if (auto err = check_id(id))
        return *err;
      auto& st = self->state;
      if (!st.io)
        return make_error(errc::failed_precondition, "container logs are not kept here");
      auto rp = self->make_response_promise<std::string>();
      side_begin(self);
      // Off the scheduler: the log I/O actor reads, bounded in bytes and time.
      self->request(st.io, st.config.io_timeout, atom::logs_v, st.ns, id)
        .then(
          [self, rp](std::string& text) mutable {
            rp.deliver(std::move(text));
            side_end(self);
          },
          [self, rp, id](caf::error& err) mutable {
            if (err != errc::not_found) {
              rp.deliver(err);
              side_end(self);
              return;
            }
            // No log: a container that never ran with contd's logger, or no container at all.
            auto& st = self->state;
            self->request(st.client, st.config.call_timeout, atom::ctr_get_v, st.ns, id)
              .then(
                [self, rp](container_record&) mutable {
                  rp.deliver(std::string{});
                  side_end(self);
                },
                [self, rp](caf::error& err) mutable {
                  rp.deliver(err);
                  side_end(self);
                });
          });
      return rp;
    },
    [self](atom::metrics, const std::string&, const std::string& id) -> caf::result<task_metrics> {
      if (auto err = check_id(id))
        return *err;
      auto& st = self->state;
      return self->delegate(st.client, atom::tsk_metrics_v, st.ns, id);
    },
    [self](atom::list, const std::string&) -> caf::result<std::vector<std::string>> {
      // containerd, not the model: List also names containers contd does not manage.
      auto rp = self->make_response_promise<std::vector<std::string>>();
      side_begin(self);
      self
        ->request(self->state.client, self->state.config.call_timeout, atom::ctr_list_v,
                  self->state.ns, std::vector<std::string>{})
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
    [self](atom::event, const task_event& ev) { on_event(self, ev); },
    [self](atom::resync) {
      // Events may have been missed: the model answers again after the reconciliation.
      self->state.synced = false;
      jobs::reconcile(self);
    },
    [self](atom::stats) -> caf::result<bool, uint64_t> {
      return {self->state.synced && !self->state.reconciling,
              static_cast<uint64_t>(self->state.models.size())};
    },
    [self](atom::attach, shim_reaper_actor reaper) { self->state.reaper = std::move(reaper); },
    [self](atom::attach, log_io_actor io) { self->state.io = std::move(io); },
    [self](atom::done) {
      self->state.retiring = true;
      jobs::maybe_idle(self);
    },
    [self](atom::timer, uint64_t generation) {
      auto& st = self->state;
      st.tick_pending = false;
      if (!st.fifo.idle() || st.side_calls > 0 || st.retiring || st.reconciling
          || !st.models.empty())
        return; // busy or supervising: the end of the work re-arms the timer
      auto idle_for = self->clock().now() - st.idle_since;
      if (generation != st.idle_generation && idle_for < st.config.idle_timeout) {
        st.tick_pending = true;
        self->delayed_send(self, st.config.idle_timeout - idle_for, atom::timer_v,
                           st.idle_generation);
        return;
      }
      self->send(st.module, atom::retire_v, st.ns, tenant_actor{self});
    },
    [self](atom::retry, uint64_t key) {
      auto& timers = self->state.timers;
      auto it = timers.find(key);
      if (it == timers.end())
        return;
      auto fn = std::move(it->second);
      timers.erase(it);
      fn();
    },
  };
}

} // namespace contd
