// The private containerd fixture itself: it answers, runs a busybox container from its spec,
// survives a restart, and leaves nothing behind (directory, containerd, shims).
#include <catch2/catch.hpp>

#include <signal.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/containerd_fixture.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using contd::test::containerd_instance;

namespace {

bool process_alive(pid_t pid) {
  return kill(pid, 0) == 0;
}

} // namespace

TEST_CASE("the fixture runs a busybox container from its spec and tears everything down") {
  fs::path dir;
  pid_t containerd_pid = -1;
  {
    containerd_instance ctrd;
    dir = ctrd.dir();
    containerd_pid = ctrd.pid();
    REQUIRE(fs::exists(ctrd.socket()));
    REQUIRE(fs::exists(ctrd.rootfs() / "bin" / "sh"));

    auto ns = contd::test::random_name("fx");
    auto spec_path = ctrd.scratch() / "config.json";
    std::ofstream{spec_path} << ctrd.spec_json(ns, "hello", {"/bin/sh", "-c", "echo hi; id -u"});
    auto out = ctrd.ctr({"-n", ns, "run", "--rm", "--config", spec_path.string(), "hello"}, 60s);
    INFO(out.output << ctrd.log());
    REQUIRE(out.status == 0);
    CHECK(out.output == "hi\n0\n");

    // A task that outlives the test body: the destructor must kill it.
    auto long_spec = ctrd.scratch() / "long.json";
    std::ofstream{long_spec} << ctrd.spec_json(ns, "sleeper", {"/bin/sleep", "1000"});
    REQUIRE(ctrd.ctr({"-n", ns, "run", "-d", "--config", long_spec.string(), "sleeper"}, 60s).status
            == 0);

    ctrd.restart();
    CHECK(ctrd.pid() != containerd_pid);
    containerd_pid = ctrd.pid();
    auto tasks = ctrd.ctr({"-n", ns, "tasks", "ls"});
    REQUIRE(tasks.status == 0);
    CHECK(tasks.output.find("RUNNING") != std::string::npos); // the task survived the restart
  }
  CHECK_FALSE(fs::exists(dir));
  CHECK_FALSE(process_alive(containerd_pid));
  auto shims = contd::test::run_command({"pgrep", "-f", dir.string()});
  CHECK(shims.output.empty());
}
