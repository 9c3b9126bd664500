#include "actors/container_module.hpp"

#include <algorithm>
#include <set>

#include <spdlog/spdlog.h>

#include "src/log/log.hpp"
#include "src/oci/validate.hpp"

namespace contd {

namespace {

/// The tenant of `ns`, spawned on first use. Nothing is spawned for an invalid name.
caf::expected<tenant_actor> tenant_of(container_module_pointer self, const std::string& ns) {
  if (auto err = oci::check_identifier("namespace", ns))
    return make_error(errc::invalid_argument, *err);
  auto& st = self->state;
  auto it = st.tenants.find(ns);
  if (it != st.tenants.end())
    return it->second;
  auto t =
    self->spawn<caf::linked>(tenant, ns, st.config, module_actor{self}, st.client, st.builder);
  if (st.reaper)
    self->send(t, atom::attach_v, st.reaper);
  if (st.io)
    self->send(t, atom::attach_v, st.io);
  st.tenants.emplace(ns, t);
  st.tenants_spawned++;
  return t;
}

/// List("") : the union over every namespace, as the interface comment promises.
caf::result<std::vector<std::string>> list_all(container_module_pointer self) {
  auto rp = self->make_response_promise<std::vector<std::string>>();
  auto timeout = self->state.config.call_timeout;
  self->request(self->state.client, timeout, atom::ns_list_v)
    .then(
      [self, rp, timeout](std::vector<std::string>& names) mutable {
        if (names.empty()) {
          rp.deliver(std::vector<std::string>{});
          return;
        }
        struct gather {
          size_t pending;
          std::set<std::string> ids;
          bool failed = false;
        };
        auto g = std::make_shared<gather>(gather{names.size(), {}});
        for (const auto& ns : names) {
          self
            ->request(self->state.client, timeout, atom::ctr_list_v, ns, std::vector<std::string>{})
            .then(
              [g, rp](std::vector<container_record>& recs) mutable {
                for (auto& r : recs)
                  g->ids.insert(r.id);
                if (--g->pending == 0 && !g->failed)
                  rp.deliver(std::vector<std::string>(g->ids.begin(), g->ids.end()));
              },
              [g, rp](caf::error& err) mutable {
                if (!g->failed) {
                  g->failed = true;
                  rp.deliver(err);
                }
                --g->pending;
              });
        }
      },
      [rp](caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

/// A namespace contd created (label contd.managed) goes with its last container, and so do the
/// empty cgroup parents runc leaves for it. Called when its tenant retires, i.e. when contd
/// supervises nothing there. containerd refuses to delete a namespace that still holds anything
/// (containers, images, snapshots, leases), and a namespace contd did not create is never touched.
void remove_namespace_if_empty(container_module_pointer self, const std::string& ns) {
  auto& st = self->state;
  auto timeout = st.config.call_timeout;
  auto still_ours = [self, ns] { return !self->state.tenants.count(ns); };
  self->request(st.client, timeout, atom::ns_get_v, ns)
    .then(
      [self, ns, timeout, still_ours](label_map& labels) {
        auto m = labels.find(label_managed);
        if (m == labels.end() || m->second != "true" || !still_ours())
          return;
        self->request(self->state.client, timeout, atom::ctr_list_v, ns, std::vector<std::string>{})
          .then(
            [self, ns, timeout, still_ours](std::vector<container_record>& recs) {
              if (!recs.empty() || !still_ours())
                return;
              self->request(self->state.client, timeout, atom::ns_delete_v, ns)
                .then(
                  [self, ns] {
                    spdlog::info("container module: removed namespace {}, empty since its last "
                                 "container",
                                 ns);
                    if (self->state.reaper)
                      self->request(self->state.reaper, std::chrono::seconds{30}, atom::reap_v, ns)
                        .then([](uint32_t) {},
                              [ns](caf::error& err) {
                                spdlog::warn("container module: cgroups of {} not removed: {}", ns,
                                             error_text(err));
                              });
                  },
                  [ns](caf::error& err) {
                    // Something else lives there (an image, a snapshot, a lease): it stays.
                    spdlog::debug("container module: namespace {} stays: {}", ns, error_text(err));
                  });
            },
            [](caf::error&) {});
      },
      [](caf::error&) {});
}

} // namespace

module_actor::behavior_type container_module(container_module_pointer self, tenant_config config,
                                             containerd_client_actor client,
                                             spec_builder_actor builder) {
  auto& st = self->state;
  st.config = std::move(config);
  st.client = std::move(client);
  st.builder = std::move(builder);
  // The tenants supervise from these events; every (re)opening of the stream is followed by a
  // resync, which reconciles every namespace (at start too: that is the boot reconcile).
  self->send(st.client, atom::subscribe_v, event_sink_actor{self},
             std::vector<std::string>{R"(topic=="/tasks/exit")", R"(topic=="/tasks/oom")",
                                      R"(topic=="/tasks/start")", R"(topic=="/tasks/delete")"});
  // A tenant that stops is forgotten (links deliver its exit). Any other exit — a shutdown, or
  // the adapter or the builder going away — stops the module, and with it its tenants.
  self->set_exit_handler([self](const caf::exit_msg& msg) {
    auto& tenants = self->state.tenants;
    for (auto it = tenants.begin(); it != tenants.end(); ++it)
      if (it->second.address() == msg.source) {
        if (msg.reason && msg.reason != caf::exit_reason::normal)
          spdlog::warn("container module: tenant {} stopped: {}", it->first,
                       caf::to_string(msg.reason));
        tenants.erase(it);
        return;
      }
    // A retired tenant (no longer registered) ends normally: nothing to do.
    auto& st = self->state;
    if (msg.reason == caf::exit_reason::normal && msg.source != st.client.address()
        && msg.source != st.builder.address())
      return;
    self->quit(msg.reason);
  });
  return {
    [self](atom::run, const std::string& ns, container& c) -> caf::result<std::string> {
      auto t = tenant_of(self, ns);
      if (!t)
        return t.error();
      return self->delegate(*t, atom::run_v, ns, std::move(c));
    },
    [self](atom::inspect, const std::string& ns, const std::string& id) -> caf::result<container> {
      auto t = tenant_of(self, ns);
      if (!t)
        return t.error();
      return self->delegate(*t, atom::inspect_v, ns, id);
    },
    [self](atom::delete_, const std::string& ns, const std::string& id) -> caf::result<void> {
      auto t = tenant_of(self, ns);
      if (!t)
        return t.error();
      return self->delegate(*t, atom::delete_v, ns, id);
    },
    [self](atom::sig_delete, const std::string& ns, const std::string& id) -> caf::result<void> {
      auto t = tenant_of(self, ns);
      if (!t)
        return t.error();
      return self->delegate(*t, atom::sig_delete_v, ns, id);
    },
    [self](atom::exec, const std::string& ns, const std::string& id, caf::timespan timeout,
           std::vector<std::string>& args) -> caf::result<void> {
      auto t = tenant_of(self, ns);
      if (!t)
        return t.error();
      return self->delegate(*t, atom::exec_v, ns, id, timeout, std::move(args));
    },
    [self](atom::logs, const std::string& ns, const std::string& id) -> caf::result<std::string> {
      auto t = tenant_of(self, ns);
      if (!t)
        return t.error();
      return self->delegate(*t, atom::logs_v, ns, id);
    },
    [self](atom::list, const std::string& ns) -> caf::result<std::vector<std::string>> {
      if (ns.empty())
        return list_all(self);
      auto t = tenant_of(self, ns);
      if (!t)
        return t.error();
      return self->delegate(*t, atom::list_v, ns);
    },
    [self](atom::list_ns) -> caf::result<std::vector<std::string>> {
      return self->delegate(self->state.client, atom::ns_list_v);
    },
    [self](atom::retire, const std::string& ns, tenant_actor t) {
      auto& tenants = self->state.tenants;
      auto it = tenants.find(ns);
      if (it == tenants.end() || it->second != t)
        return;
      // Calls already sent to the tenant arrive before `done`: it finishes them, then quits.
      tenants.erase(it);
      self->send(t, atom::done_v);
      remove_namespace_if_empty(self, ns);
    },
    [self](atom::event, task_event& ev) {
      // Only tenants that exist supervise something: a namespace without one has nothing of
      // contd's (a tenant with containers never retires), so its events are not contd's concern.
      auto& tenants = self->state.tenants;
      if (auto it = tenants.find(ev.ns); it != tenants.end())
        self->send(it->second, atom::event_v, std::move(ev));
    },
    [self](atom::resync) {
      auto& st = self->state;
      st.resyncs++;
      // Tenants that exist reconcile now; a namespace without one gets one, which reconciles as
      // it starts (and retires again if it finds nothing of contd's).
      for (auto& [ns, t] : st.tenants)
        self->send(t, atom::resync_v);
      self->request(st.client, st.config.call_timeout, atom::ns_list_v)
        .then(
          [self](std::vector<std::string>& names) {
            for (const auto& ns : names)
              if (!self->state.tenants.count(ns))
                if (!tenant_of(self, ns))
                  spdlog::warn("container module: namespace {} has a name contd cannot use", ns);
          },
          [](caf::error& err) {
            // The stream re-opens (and resyncs) once containerd answers again.
            spdlog::warn("container module: cannot list namespaces to reconcile: {}",
                         error_text(err));
          });
    },
    [self](atom::publish, container_event& ev) {
      if (self->state.publisher)
        self->send(self->state.publisher, atom::publish_v, std::move(ev));
    },
    [self](atom::attach, event_publisher_actor publisher) {
      self->state.publisher = std::move(publisher);
    },
    [self](atom::attach, shim_reaper_actor reaper) {
      self->state.reaper = reaper;
      for (auto& [ns, t] : self->state.tenants)
        self->send(t, atom::attach_v, reaper);
    },
    [self](atom::attach, log_io_actor io) {
      self->state.io = io;
      for (auto& [ns, t] : self->state.tenants)
        self->send(t, atom::attach_v, io);
    },
    [self](atom::metrics, const std::string& ns,
           const std::string& id) -> caf::result<task_metrics> {
      auto t = tenant_of(self, ns);
      if (!t)
        return t.error();
      return self->delegate(*t, atom::metrics_v, ns, id);
    },
    [self](atom::stats) -> caf::result<uint64_t, uint64_t, uint64_t> {
      auto& tenants = self->state.tenants;
      auto rp = self->make_response_promise<uint64_t, uint64_t, uint64_t>();
      if (tenants.empty()) {
        rp.deliver(uint64_t{0}, uint64_t{0}, uint64_t{0});
        return rp;
      }
      struct gather {
        uint64_t pending, tenants, synced = 0, supervised = 0;
      };
      auto g = std::make_shared<gather>(gather{tenants.size(), tenants.size()});
      auto finish = [g, rp]() mutable {
        if (--g->pending == 0)
          rp.deliver(g->tenants, g->synced, g->supervised);
      };
      for (auto& [ns, t] : tenants)
        self->request(t, self->state.config.call_timeout, atom::stats_v)
          .then(
            [g, finish](bool synced, uint64_t supervised) mutable {
              g->synced += synced ? 1 : 0;
              g->supervised += supervised;
              finish();
            },
            [finish](caf::error&) mutable { finish(); });
      return rp;
    },
  };
}

} // namespace contd
