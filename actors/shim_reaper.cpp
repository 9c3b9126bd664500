#include "actors/shim_reaper.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <caf/expected.hpp>
#include <spdlog/spdlog.h>

namespace contd {

namespace {

caf::expected<uint32_t> to_result(const containerd::reap_summary& s) {
  if (s.invalid_argument)
    return make_error(errc::invalid_argument, s.error);
  if (!s.error.empty())
    return make_error(errc::internal, s.error);
  return s.removed;
}

} // namespace

uint32_t remove_cgroup_parents(const std::string& cgroup_root, const std::string& ns) {
  uint32_t removed = 0;
  auto try_rmdir = [&](const std::string& dir) {
    struct stat sb {};
    if (::lstat(dir.c_str(), &sb) == 0 && S_ISDIR(sb.st_mode) && ::rmdir(dir.c_str()) == 0)
      ++removed;
  };
  try_rmdir(cgroup_root + "/" + ns); // cgroup v2
  if (auto* d = ::opendir(cgroup_root.c_str())) {
    while (auto* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == ".." || e->d_type != DT_DIR)
        continue; // links (cpu -> cpu,cpuacct) and control files
      try_rmdir(cgroup_root + "/" + name + "/" + ns);
    }
    ::closedir(d);
  }
  return removed;
}

shim_reaper_actor::behavior_type shim_reaper(shim_reaper_pointer self, shim_reaper_config config) {
  config.options.containerd_socket = config.containerd_socket;
  config.options.runc_root = config.runc_root;
  self->state.config = std::move(config);
  return {
    [self](atom::reap, const std::string& ns, const std::string& id) -> caf::result<uint32_t> {
      // Refuse bad names before anything else, so that nothing is looked up with them.
      for (auto [what, value] : {std::pair{"namespace", &ns}, std::pair{"id", &id}})
        if (auto problem = containerd::identifier_problem(what, *value))
          return make_error(errc::invalid_argument, std::move(*problem));
      const auto& cfg = self->state.config;
      if (!cfg.confirm_with)
        return to_result(containerd::reap_leaked(ns, id, cfg.options));
      auto rp = self->make_response_promise<uint32_t>();
      self->request(cfg.confirm_with, cfg.confirm_timeout, atom::tsk_get_v, ns, id)
        .then(
          [rp](const task_info&) mutable {
            // containerd knows a task for id: its shim is not a leak.
            rp.deliver(uint32_t{0});
          },
          [self, rp, ns, id](caf::error& err) mutable {
            if (err != errc::not_found) {
              rp.deliver(make_error(errc::internal, "cannot confirm that containerd has no task "
                                                      + id + ": " + error_text(err)));
              return;
            }
            // Blocking is fine: this actor is detached.
            auto r = to_result(containerd::reap_leaked(ns, id, self->state.config.options));
            if (r)
              rp.deliver(*r);
            else
              rp.deliver(r.error());
          });
      return rp;
    },
    [self](atom::reap, const std::string& ns, const std::string& id,
           const std::string& bundle) -> caf::result<uint32_t> {
      const auto& cfg = self->state.config;
      auto remove = [self, ns, id, bundle] {
        return to_result(
          containerd::reap_orphan_bundle(ns, id, bundle, self->state.config.options));
      };
      if (!cfg.confirm_with)
        return remove();
      auto rp = self->make_response_promise<uint32_t>();
      self->request(cfg.confirm_with, cfg.confirm_timeout, atom::tsk_get_v, ns, id)
        .then([rp](const task_info&) mutable { rp.deliver(uint32_t{0}); },
              [rp, id, remove](caf::error& err) mutable {
                if (err != errc::not_found) {
                  rp.deliver(
                    make_error(errc::internal, "cannot confirm that containerd has no task " + id
                                                 + ": " + error_text(err)));
                  return;
                }
                auto r = remove();
                if (r)
                  rp.deliver(*r);
                else
                  rp.deliver(r.error());
              });
      return rp;
    },
    [self](atom::reap, const std::string& ns) -> caf::result<uint32_t> {
      if (auto problem = containerd::identifier_problem("namespace", ns))
        return make_error(errc::invalid_argument, std::move(*problem));
      // Shims first: a removed shim's container may leave a cgroup that becomes removable.
      auto shims = containerd::reap_abandoned(ns, self->state.config.options);
      if (!shims.error.empty())
        spdlog::warn("shim reaper: {}", shims.error);
      return shims.removed + remove_cgroup_parents(self->state.config.cgroup_root, ns);
    },
    [self](atom::sweep, const std::string& ns) -> caf::result<uint32_t> {
      // The sweep runs after every reconcile: a containerd it cannot tell (restarting, or not
      // visible in this /proc) only postpones it to the next one.
      auto swept = containerd::reap_abandoned(ns, self->state.config.options);
      if (swept.containerd_unknown) {
        spdlog::debug("shim reaper: no sweep of {}: {}", ns, swept.error);
        return uint32_t{0};
      }
      return to_result(swept);
    },
  };
}

} // namespace contd
