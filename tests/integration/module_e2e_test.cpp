// The container module through the real zbus path: a private redis-server, a private containerd
// with runc, a busybox rootfs and a network namespace made with `ip netns add`; calls go through
// Redis exactly as the Go stubs send them.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <caf/actor_system.hpp>
#include <nlohmann/json.hpp>

#include "src/zbus/client.hpp"
#include "tests/integration/eventually.hpp"
#include "tests/integration/inprocess_stack.hpp"

using namespace contd;
using namespace std::chrono_literals;

namespace {

/// contd in-process (test::inprocess_stack), with a short call timeout for the tests.
struct stack : test::inprocess_stack {
  explicit stack(std::chrono::milliseconds kill_bound = 5s,
                 std::chrono::milliseconds tenant_idle = 60s)
      : inprocess_stack([&](module_config& mc) {
          mc.call_timeout = 20s;
          mc.kill_bound = kill_bound;
          mc.tenant_idle = tenant_idle;
        }) {}

  std::string new_ns() {
    purge_at_end.push_back(test::random_name("e2e"));
    return purge_at_end.back();
  }

  container make(const std::string& name, const std::string& entrypoint) const {
    auto c = inprocess_stack::make(name, entrypoint);
    c.env = {"GREETING=hello"};
    c.memory = 64 << 20;
    c.shutdown_timeout = 500'000'000; // keeps Deletes of SIGTERM-deaf sleepers short
    return c;
  }
};

struct caller {
  zbus::client client;
  explicit caller(const stack& s) : client(s.redis.broker()) {}

  zbus::response call(const std::string& method, std::vector<zbus::bytes> inputs,
                      std::chrono::milliseconds timeout = 60s) {
    auto r = client.call(method, std::move(inputs), timeout);
    INFO(method << ": " << r.error());
    REQUIRE(r);
    REQUIRE_FALSE(r->protocol_error); // a valid call never gets a protocol error
    return *r;
  }
  zbus::response run(const std::string& ns, const container& c) {
    return call("Run", {zbus::encode_string(ns), zbus::encode_container(c)});
  }
  zbus::response two(const std::string& method, const std::string& ns, const std::string& id) {
    return call(method, {zbus::encode_string(ns), zbus::encode_string(id)});
  }
  zbus::response exec(const std::string& ns, const std::string& id, std::chrono::nanoseconds t,
                      std::vector<std::string> args) {
    std::vector<zbus::bytes> in{zbus::encode_string(ns), zbus::encode_string(id)};
    auto tb = nlohmann::json::to_msgpack(nlohmann::json(static_cast<int64_t>(t.count())));
    in.emplace_back(tb.begin(), tb.end());
    for (auto& a : args)
      in.push_back(zbus::encode_string(a));
    return call("Exec", std::move(in));
  }
};

using test::eventually;

bool ctr_has_container(const stack& s, const std::string& ns, const std::string& id) {
  auto r = s.ctrd.ctr({"-n", ns, "containers", "ls", "-q"});
  return r.output.find(id) != std::string::npos;
}

} // namespace

TEST_CASE("every method against real containerd through Redis", "[e2e][integration]") {
  stack s;
  caller c{s};
  auto ns = s.new_ns();
  auto spec = s.make("web1", "/bin/sh -c 'echo \"$GREETING from $(hostname)\"; echo oops >&2; "
                             "trap \"echo bye; exit 0\" TERM; while true; do sleep 0.2; done'");
  spec.shutdown_timeout = 5'000'000'000;

  auto run = c.run(ns, spec);
  INFO(run.call_error.value_or(""));
  REQUIRE_FALSE(run.call_error);
  CHECK(zbus::decode_string(*run.data) == "web1");

  auto insp = c.two("Inspect", ns, "web1");
  REQUIRE_FALSE(insp.call_error);
  auto got = zbus::decode_container(*insp.data);
  CHECK(got.name == "web1");
  CHECK(got.entrypoint == spec.entrypoint);
  CHECK(got.root_fs == spec.root_fs);
  CHECK(got.network.ns == s.net.name);
  CHECK(got.env == spec.env);
  CHECK(got.memory == spec.memory);
  CHECK_FALSE(got.created_at.is_zero());
  REQUIRE(got.has_state);
  CHECK(got.state.status == container_status::running);
  CHECK(got.state.pid > 0);

  // Logs: the container's own output, through contd's logger (binary://).
  // stdout and stderr both land in the log (stderr through its own writer).
  REQUIRE(eventually([&] {
    auto l = c.two("Logs", ns, "web1");
    auto text = l.call_error ? std::string{} : zbus::decode_string(*l.data);
    return text.find("hello from web1\n") != std::string::npos
           && text.find("oops\n") != std::string::npos;
  }));

  // Exec inherits the container's env and PATH; exit codes and stderr come back.
  auto ok = c.exec(ns, "web1", 10s, {"sh", "-c", "test \"$GREETING\" = hello"});
  CHECK_FALSE(ok.call_error);
  auto bad = c.exec(ns, "web1", 10s, {"sh", "-c", "echo broken >&2; exit 3"});
  REQUIRE(bad.call_error);
  CHECK(*bad.call_error == "non-zero exit code: 3\nbroken\n");
  auto slow = c.exec(ns, "web1", 1s, {"sleep", "30"});
  REQUIRE(slow.call_error);
  CHECK(*slow.call_error == "execution timed out");

  auto list = c.call("List", {zbus::encode_string(ns)});
  CHECK(zbus::decode_strings(*list.data) == std::vector<std::string>{"web1"});
  auto all = c.call("List", {zbus::encode_string("")});
  CHECK(zbus::decode_strings(*all.data) == std::vector<std::string>{"web1"});
  auto names = c.call("ListNS", {});
  auto ns_list = zbus::decode_strings(*names.data);
  CHECK(std::find(ns_list.begin(), ns_list.end(), ns) != ns_list.end());

  // SignalDelete: the trap answers SIGTERM; the container stays until Delete.
  auto sig = c.two("SignalDelete", ns, "web1");
  CHECK_FALSE(sig.call_error);
  REQUIRE(eventually([&] {
    auto i = zbus::decode_container(*c.two("Inspect", ns, "web1").data);
    return i.state.status == container_status::stopped;
  }));
  auto after = zbus::decode_container(*c.two("Inspect", ns, "web1").data);
  CHECK(after.state.stop_requested);
  CHECK(after.state.exit_code == 0);
  auto final_log = zbus::decode_string(*c.two("Logs", ns, "web1").data);
  CHECK(final_log.size() == std::string{"hello from web1\noops\nbye\n"}.size());
  CHECK(final_log.find("bye\n") != std::string::npos);

  auto del = c.two("Delete", ns, "web1");
  CHECK_FALSE(del.call_error);
  CHECK_FALSE(ctr_has_container(s, ns, "web1"));
  CHECK_FALSE(std::filesystem::exists(s.root / "logs" / ns / "web1.log"));
  auto empty = c.call("List", {zbus::encode_string(ns)});
  CHECK(*empty.data == zbus::encode_strings({})); // [] not nil
}

TEST_CASE("a PID 1 that ignores SIGTERM is killed after its grace period", "[e2e][integration]") {
  stack s;
  caller c{s};
  auto ns = s.new_ns();
  auto spec = s.make("stubborn", "/bin/sleep 1000"); // PID 1 has no default SIGTERM handler
  spec.shutdown_timeout = 1'000'000'000;
  REQUIRE_FALSE(c.run(ns, spec).call_error);
  auto start = std::chrono::steady_clock::now();
  auto del = c.two("Delete", ns, "stubborn");
  auto took = std::chrono::steady_clock::now() - start;
  CHECK_FALSE(del.call_error);
  CHECK(took >= 1s);
  CHECK(took < 10s);
  CHECK_FALSE(ctr_has_container(s, ns, "stubborn"));
}

TEST_CASE("missing containers: not-found texts, and Delete/SignalDelete succeed",
          "[e2e][integration]") {
  stack s;
  caller c{s};
  auto ns = s.new_ns();
  auto insp = c.two("Inspect", ns, "ghost");
  REQUIRE(insp.call_error);
  CHECK(*insp.call_error == "container \"ghost\" in namespace \"" + ns + "\": not found");
  REQUIRE(insp.data); // the zero Container, decodable by Go
  CHECK(zbus::decode_container(*insp.data) == container{});
  CHECK_FALSE(c.two("Delete", ns, "ghost").call_error);
  CHECK_FALSE(c.two("SignalDelete", ns, "ghost").call_error);
  auto ex = c.exec(ns, "ghost", 1s, {"true"});
  REQUIRE(ex.call_error);
  CHECK(ex.call_error->find("not found") != std::string::npos);
  auto logs = c.two("Logs", ns, "ghost");
  REQUIRE(logs.call_error);
  CHECK(logs.call_error->find("not found") != std::string::npos);
}

TEST_CASE("bad input across the wire is refused and leaves no container or namespace",
          "[e2e][integration]") {
  stack s;
  caller c{s};
  auto ns = s.new_ns();
  struct bad_case {
    const char* what;
    std::function<void(container&)> spoil;
    const char* needle;
  };
  std::vector<bad_case> cases{
    {"name", [](container& x) { x.name = "../../etc"; }, "Name"},
    {"rootfs", [](container& x) { x.root_fs = "/does/not/exist"; }, "RootFS"},
    {"env", [](container& x) { x.env = {"NOEQUALS"}; }, "Env"},
    {"netns", [](container& x) { x.network.ns = "../../proc/1/ns/net"; }, "Namespace"},
    {"entrypoint", [](container& x) { x.entrypoint = "'unterminated"; }, "Entrypoint"},
    {"memory", [](container& x) { x.memory = 1024; }, "Memory"},
    {"propagation", [](container& x) { x.root_fs_propagation = "sideways"; }, "Propagation"},
  };
  for (auto& bc : cases) {
    INFO(bc.what);
    auto spec = s.make("victim", "/bin/true");
    bc.spoil(spec);
    auto r = c.run(ns, spec);
    REQUIRE(r.call_error);
    CHECK(r.call_error->find(bc.needle) != std::string::npos);
    REQUIRE(r.data);
    CHECK(zbus::decode_string(*r.data).empty());
  }
  auto bad_ns = c.run("no/slashes", s.make("victim", "/bin/true"));
  REQUIRE(bad_ns.call_error);
  auto names = zbus::decode_strings(*c.call("ListNS", {}).data);
  CHECK(std::find(names.begin(), names.end(), ns) == names.end());
  CHECK(s.ctrd.ctr({"-n", ns, "containers", "ls", "-q"}).output.empty());
}

TEST_CASE("a Run that fails inside runc is rolled back and can be retried", "[e2e][integration]") {
  stack s;
  caller c{s};
  auto ns = s.new_ns();
  auto r = c.run(ns, s.make("broken", "/bin/no-such-program"));
  REQUIRE(r.call_error);
  CHECK_FALSE(ctr_has_container(s, ns, "broken"));
  auto ok = c.run(ns, s.make("broken", "/bin/sleep 1000"));
  INFO(ok.call_error.value_or(""));
  CHECK_FALSE(ok.call_error);
  // Same request again: a retrying caller gets the id; a different one a conflict.
  auto again = c.run(ns, s.make("broken", "/bin/sleep 1000"));
  CHECK_FALSE(again.call_error);
  auto other = c.run(ns, s.make("broken", "/bin/sleep 5"));
  REQUIRE(other.call_error);
  CHECK(*other.call_error == "container \"broken\": already exists");
  CHECK_FALSE(c.two("Delete", ns, "broken").call_error);
}

TEST_CASE("concurrent Runs in 10 tenants all succeed", "[e2e][integration]") {
  stack s;
  std::vector<std::string> nss;
  for (int i = 0; i < 10; ++i)
    nss.push_back(s.new_ns());
  std::vector<std::optional<std::string>> errors(10);
  std::vector<std::thread> threads;
  for (int i = 0; i < 10; ++i)
    threads.emplace_back([&, i] {
      caller c{s};
      auto r =
        c.client.call("Run",
                      {zbus::encode_string(nss[i]),
                       zbus::encode_container(s.make("c" + std::to_string(i), "/bin/sleep 1000"))},
                      60s);
      if (!r)
        errors[i] = r.error();
      else if (r->call_error)
        errors[i] = *r->call_error;
    });
  for (auto& t : threads)
    t.join();
  caller c{s};
  for (int i = 0; i < 10; ++i) {
    INFO(i << ": " << errors[i].value_or(""));
    CHECK_FALSE(errors[i]);
    auto insp = c.two("Inspect", nss[i], "c" + std::to_string(i));
    REQUIRE_FALSE(insp.call_error);
    CHECK(zbus::decode_container(*insp.data).state.status == container_status::running);
  }
  for (int i = 0; i < 10; ++i)
    CHECK_FALSE(c.two("Delete", nss[i], "c" + std::to_string(i)).call_error);
}

TEST_CASE("a container killed by the OOM killer is reported OOMKilled", "[e2e][integration]") {
  stack s;
  caller c{s};
  auto ns = s.new_ns();
  auto spec = s.make("hog", "/bin/sh -c 'x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done'");
  spec.memory = 8 << 20;
  SECTION("with restart policy no: it stays down, reported OOMKilled") {
    spec.restart = restart_policy{"no", 0, 0};
    REQUIRE_FALSE(c.run(ns, spec).call_error);
    container got;
    REQUIRE(eventually(
      [&] {
        got = zbus::decode_container(*c.two("Inspect", ns, "hog").data);
        return got.state.status == container_status::stopped && got.state.oom_killed;
      },
      30s));
    CHECK(got.state.exit_code == 137);
  }
  SECTION("with the default policy: the OOM kill counts as an exit and is restarted") {
    REQUIRE_FALSE(c.run(ns, spec).call_error);
    container got;
    REQUIRE(eventually(
      [&] {
        got = zbus::decode_container(*c.two("Inspect", ns, "hog").data);
        return got.state.status == container_status::restarting && got.state.oom_killed;
      },
      30s));
    CHECK(got.state.last_exit_code == 137);
    REQUIRE(eventually(
      [&] {
        got = zbus::decode_container(*c.two("Inspect", ns, "hog").data);
        return got.state.restarts >= 1;
      },
      30s));
  }
  CHECK_FALSE(c.two("Delete", ns, "hog").call_error);
}

TEST_CASE("a flist with only a .startup.toml runs its entry, Inspect returns what was sent",
          "[e2e][integration][startup]") {
  stack s;
  caller c{s};
  auto ns = s.new_ns();
  // A copy of the busybox rootfs that declares its entrypoint the 0-OS v1 way.
  auto root = s.ctrd.dir() / "v1-flist";
  std::filesystem::copy(s.ctrd.rootfs(), root,
                        std::filesystem::copy_options::recursive
                          | std::filesystem::copy_options::copy_symlinks);
  std::ofstream{root / ".startup.toml"} << R"(
[startup.entry]
name = "core.system"
[startup.entry.args]
name = "/bin/sh"
args = ["-c", "echo \"started by toml in $(pwd) with $FROM_TOML and $GREETING\"; sleep 1000"]
dir = "/etc"
[startup.entry.args.env]
FROM_TOML = "toml-env"
GREETING = "overridden?"
)";
  auto spec = s.make("v1", "");
  spec.root_fs = root.string();
  auto run = c.run(ns, spec);
  INFO(run.call_error.value_or(""));
  REQUIRE_FALSE(run.call_error);
  REQUIRE(eventually([&] {
    auto l = c.two("Logs", ns, "v1");
    return !l.call_error
           && zbus::decode_string(*l.data).find("started by toml in /etc with "
                                                "toml-env and hello\n")
                != std::string::npos;
  }));
  auto got = zbus::decode_container(*c.two("Inspect", ns, "v1").data);
  CHECK(got.entrypoint.empty()); // what the caller sent
  CHECK(got.working_dir.empty());
  CHECK(got.env == spec.env);
  CHECK(got.state.status == container_status::running);
  CHECK_FALSE(c.two("Delete", ns, "v1").call_error);

  // A broken file: a clear error naming it, and nothing created.
  std::ofstream{root / ".startup.toml"} << "[startup.entry\n";
  auto spec_bad = s.make("v1bad", "");
  spec_bad.root_fs = root.string();
  auto bad = c.run(ns, spec_bad);
  REQUIRE(bad.call_error);
  CHECK(bad.call_error->find((root / ".startup.toml").string()) != std::string::npos);
  CHECK_FALSE(ctr_has_container(s, ns, "v1bad"));
}

TEST_CASE("a namespace contd created is removed with its cgroup parents after its last Delete",
          "[e2e][integration][housekeeping]") {
  stack s{5s, 1s};
  caller c{s};
  auto ns = s.new_ns();
  REQUIRE_FALSE(c.run(ns, s.make("only", "/bin/sleep 1000")).call_error);
  // runc made /<ns>/<id> cgroups; the parent /<ns> is what it leaves behind.
  std::vector<std::filesystem::path> parents;
  for (auto& e : std::filesystem::directory_iterator("/sys/fs/cgroup"))
    if (!e.is_symlink() && std::filesystem::is_directory(e.path() / ns))
      parents.push_back(e.path() / ns);
  if (std::filesystem::is_directory(std::filesystem::path{"/sys/fs/cgroup"} / ns))
    parents.push_back(std::filesystem::path{"/sys/fs/cgroup"} / ns);
  REQUIRE_FALSE(parents.empty());
  auto listed = [&] {
    return s.ctrd.ctr({"namespaces", "ls", "-q"}).output.find(ns) != std::string::npos;
  };
  CHECK(listed());
  REQUIRE_FALSE(c.two("Delete", ns, "only").call_error);
  REQUIRE(eventually([&] { return !listed(); }, 20s));
  REQUIRE(eventually(
    [&] {
      for (auto& p : parents)
        if (std::filesystem::exists(p))
          return false;
      return true;
    },
    10s));
  // A namespace contd did not create stays, empty or not.
  auto foreign = s.new_ns();
  s.ctrd.ctr({"namespaces", "create", foreign});
  REQUIRE_FALSE(c.run(foreign, s.make("f", "/bin/sleep 1000")).call_error);
  REQUIRE_FALSE(c.two("Delete", foreign, "f").call_error);
  std::this_thread::sleep_for(4s); // the tenant retires after 1 s idle
  CHECK(s.ctrd.ctr({"namespaces", "ls", "-q"}).output.find(foreign) != std::string::npos);
}
