// The container module and its tenants under the deterministic scheduler, over a fake containerd
// adapter that behaves like containerd (tests/fakes/fake_containerd.hpp): the shared fixture.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>

#include "actors/container_module.hpp"
#include "src/oci/spec.hpp"
#include "src/oci/validate.hpp"
#include "tests/deterministic_fixture.hpp"
#include "tests/fakes/fake_containerd.hpp"
#include "tests/fakes/fake_log_io.hpp"

namespace contd::test {

using namespace std::chrono_literals;

/// The pure spec function without the filesystem checks: an empty RootFS is the one validation
/// error these tests need.
inline spec_builder_actor::behavior_type fake_builder() {
  return {
    [](atom::build, const std::string& ns, const container& c,
       const std::string& shim_group) -> caf::result<std::string> {
      if (c.root_fs.empty())
        return make_error(errc::invalid_argument, "RootFS: must not be empty");
      oci::node_facts node;
      node.cpu_count = 8;
      node.memory_bytes = uint64_t{16} << 30;
      auto spec = oci::build_spec(ns, c, node, oci::spec_defaults{}, shim_group);
      if (!spec)
        return make_error(errc::invalid_argument, spec.error());
      return spec->dump();
    },
  };
}

inline container make_container(const std::string& name) {
  container c;
  c.name = name;
  c.root_fs = "/mnt/" + name;
  c.network.ns = "netns1";
  c.entrypoint = "/bin/sleep 1000";
  c.env = {"A=1"};
  return c;
}

/// What the fake shim would start (the fake containerd never runs it).
inline const std::string logger_path = "/usr/libexec/contd/contd-logger";

/// The stdout/stderr URI of a task whose log is `log`.
inline std::string logger_uri(const std::string& log) {
  return "binary://" + logger_path + "?path=" + log + "&max=" + std::to_string(10ull << 20);
}

struct fixture : deterministic_fixture<> {
  // Paths in the in-memory file system the fakes share: nothing here touches a real file.
  std::string logs_dir = "/fake/logs";
  std::string exec_dir = "/fake/exec";
  std::shared_ptr<fake_files> files = std::make_shared<fake_files>();
  fake_containerd_actor ctrd;
  spec_builder_actor builder;
  module_actor module;
  log_io_actor io;

  fixture() {
    ctrd = sys.spawn(fake_containerd, files);
    builder = sys.spawn(fake_builder);
    module = sys.spawn(container_module, module_config(42), containerd_client_actor{ctrd}, builder);
    log_io_config icfg;
    icfg.log_dir = logs_dir;
    icfg.scratch_dir = exec_dir;
    io = sys.spawn(fake_log_io, icfg, files);
    self->send(module, atom::attach_v, io);
    run();
  }

  /// The tenants' settings of every test: short bounds, the fake's clock origin, a fixed seed.
  tenant_config module_config(uint64_t jitter_seed) const {
    tenant_config cfg;
    cfg.log_dir = logs_dir;
    cfg.logger_path = logger_path;
    cfg.forwarding = false; // forwarders are detached actors with real sockets: integration tests
    cfg.call_timeout = 10s;
    cfg.default_grace = 3s;
    cfg.kill_bound = 5s;
    cfg.idle_timeout = 60s;
    cfg.reconcile_period = 60s;
    cfg.rollback_bound = 10s;
    cfg.unix_origin_ns = int64_t{1800000000} * 1'000'000'000; // the fake containerd's origin
    cfg.jitter_seed = jitter_seed;
    return cfg;
  }

  ~fixture() override {
    self->send_exit(module, caf::exit_reason::user_shutdown);
    self->send_exit(ctrd, caf::exit_reason::user_shutdown);
    self->send_exit(builder, caf::exit_reason::user_shutdown);
    self->send_exit(io, caf::exit_reason::user_shutdown);
    run();
  }

  fake_containerd_state& fake() { return caf::actor_cast<fake_containerd_pointer>(ctrd)->state; }
  container_module_state& mod() { return caf::actor_cast<container_module_pointer>(module)->state; }
  std::vector<std::string> calls_for(const std::string& id) {
    std::vector<std::string> out;
    for (auto& c : fake().calls)
      if (c.find(" " + id) != std::string::npos)
        out.push_back(c.substr(0, c.find(' ')));
    return out;
  }
  bool has_container(const std::string& ns, const std::string& id) {
    return fake().containers.count({ns, id}) > 0;
  }
  bool has_task(const std::string& ns, const std::string& id) {
    return fake().tasks.count({ns, id}) > 0;
  }

  caf::expected<std::string> run_container(const std::string& ns, const container& c) {
    return request<std::string>(module, atom::run_v, ns, c);
  }

  /// A Run of `id` asking for another entrypoint than the one it runs is refused as a conflict.
  void check_conflict(const std::string& ns, const std::string& id) {
    auto other = make_container(id);
    other.entrypoint = "/bin/other";
    auto conflict = run_container(ns, other);
    REQUIRE_FALSE(conflict);
    CHECK(conflict.error() == errc::already_exists);
    CHECK(error_text(conflict.error()) == "container \"" + id + "\": already exists");
  }

  /// Replaces the module by one whose tenants put at most `size` containers in one shim (as
  /// contd restarted with that setting).
  void use_shim_groups(size_t size) {
    self->send_exit(module, caf::exit_reason::user_shutdown);
    run();
    auto cfg = module_config(42);
    cfg.shim_group_size = size;
    module = sys.spawn(container_module, cfg, containerd_client_actor{ctrd}, builder);
    self->send(module, atom::attach_v, io);
    run();
  }

  /// The shim group in the spec containerd stores for the container ("" without one).
  std::string shim_group(const std::string& ns, const std::string& id) {
    auto spec = nlohmann::json::parse(fake().containers.at({ns, id}).spec_json);
    auto key = std::string{oci::annotation_shim_group};
    return spec["annotations"].contains(key) ? spec["annotations"][key].get<std::string>() : "";
  }
};

/// Receives the reply of an earlier self->request through its handle, if a reply is waiting
/// (never blocks on an empty mailbox).
template <class T, class Handle>
std::optional<caf::expected<T>> take_reply(caf::scoped_actor& self, Handle& rh) {
  if (self->peek_at_next_mailbox_element() == nullptr)
    return std::nullopt;
  caf::expected<T> out{caf::sec::unexpected_response};
  rh.receive([&](T& x) { out = std::move(x); }, [&](caf::error& e) { out = std::move(e); });
  return out;
}

template <class Handle>
std::optional<caf::error> take_void_reply(caf::scoped_actor& self, Handle& rh) {
  if (self->peek_at_next_mailbox_element() == nullptr)
    return std::nullopt;
  caf::error out;
  rh.receive([&]() {}, [&](caf::error& e) { out = std::move(e); });
  return out;
}

} // namespace contd::test
