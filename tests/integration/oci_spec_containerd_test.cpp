// Specs from the builder, run by a real containerd + runc (through `ctr run --config`), checked
// from inside the container and from the host's cgroups: env and PATH, cwd, hostname, the netns,
// memory/CPU/pids limits, a read-only mount, a sized tmpfs, Elevated's capability and /dev/fuse,
// and coreX (a stand-in script) as PID 1.
//
// Everything is private: containerd runs from a temp directory with its own socket, each test
// uses a random containerd namespace and its own `ip netns`, and all of it is removed again,
// also when a check fails.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/oci/lexer.hpp"
#include "src/oci/node.hpp"
#include "src/oci/spec.hpp"
#include "src/oci/validate.hpp"
#include "tests/integration/containerd_fixture.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace contd;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in{p};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  return s;
}

// A named network namespace, as networkd would create it.
class named_netns {
public:
  named_netns() : name_("contd-test-" + test::random_name("", 10)) {
    auto r = test::run_command({"ip", "netns", "add", name_});
    INFO(r.output);
    REQUIRE(r.status == 0);
  }
  ~named_netns() { test::run_command({"ip", "netns", "delete", name_}); }
  named_netns(const named_netns&) = delete;
  named_netns& operator=(const named_netns&) = delete;
  const std::string& name() const { return name_; }
  std::string path() const { return "/var/run/netns/" + name_; }

private:
  std::string name_;
};

// --- one container run from a built spec -----------------------------------------------------

struct scenario {
  test::containerd_instance& ctrd;
  std::string ns = "ocit-" + test::random_name("", 10);
  fs::path dir = test::make_temp_dir("contd-oci-run");
  fs::path rootfs = dir / "rootfs";
  fs::path out = dir / "out";
  oci::node_facts node = oci::discover_node_facts();
  oci::spec_defaults defaults;
  std::vector<std::string> started;

  explicit scenario(test::containerd_instance& c) : ctrd(c) {
    // A busybox rootfs: the static binary plus the applets the probes use.
    fs::create_directories(rootfs / "bin");
    fs::create_directories(rootfs / "work");
    fs::create_directories(out);
    fs::copy_file("/usr/bin/busybox", rootfs / "bin" / "busybox");
    for (const char* applet : {"sh", "env", "pwd", "hostname", "readlink", "grep", "cat", "touch",
                               "sleep", "ls", "echo"})
      fs::create_symlink("busybox", rootfs / "bin" / applet);
  }

  ~scenario() {
    for (const auto& id : started) {
      ctr({"task", "kill", "-s", "SIGKILL", id});
      for (int i = 0; i < 50; ++i) {
        if (ctr({"task", "delete", id}).status == 0)
          break;
        std::this_thread::sleep_for(100ms);
      }
      ctr({"container", "delete", id});
    }
    ctr({"namespace", "remove", ns}, false);
    // runc removes the container's cgroups but not the per-namespace parents it created.
    std::error_code ec;
    for (const auto& controller : fs::directory_iterator("/sys/fs/cgroup", ec))
      ::rmdir((controller.path() / ns).c_str());
    ::rmdir((fs::path{"/sys/fs/cgroup"} / ns).c_str());
    // The runc shim keeps a per-namespace runc root (empty once its containers are gone).
    ::rmdir(("/run/containerd/runc/" + ns).c_str());
    fs::remove_all(dir, ec);
  }

  test::command_outcome ctr(std::vector<std::string> args, bool namespaced = true) {
    std::vector<std::string> argv{"ctr", "-a", ctrd.socket()};
    if (namespaced) {
      argv.push_back("-n");
      argv.push_back(ns);
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return test::run_command(argv);
  }

  container request(const std::string& name, const named_netns& netns) {
    container c;
    c.name = name;
    c.root_fs = rootfs.string();
    c.network.ns = netns.name();
    c.mounts = {{out.string(), "/out", "", {}}};
    return c;
  }

  // Validates and builds like the spec builder actor, starts it detached, waits for /out/ready.
  nlohmann::json start(const container& c) {
    auto problem = oci::validate(ns, c, node);
    INFO("validation: " << problem.value_or("ok"));
    REQUIRE_FALSE(problem.has_value());
    auto spec = oci::build_spec(ns, c, node, defaults);
    INFO(spec.error());
    REQUIRE(spec.ok());
    auto spec_file = dir / (c.name + ".json");
    std::ofstream{spec_file} << spec->dump(2);
    auto log = dir / (c.name + ".log");
    auto r = ctr(
      {"run", "--config", spec_file.string(), "--log-uri", "file://" + log.string(), "-d", c.name});
    started.push_back(c.name);
    INFO("ctr run: " << r.output << "\ncontainerd: " << ctrd.log());
    REQUIRE(r.status == 0);
    for (int i = 0; i < 300 && !fs::exists(out / "ready"); ++i)
      std::this_thread::sleep_for(100ms);
    INFO("container log: " << read_file(log));
    REQUIRE(fs::exists(out / "ready"));
    return *spec;
  }

  std::string found(const char* name) const { return trim(read_file(out / name)); }
};

// The value of one cgroup v1 file (or its v2 equivalent on a unified host).
std::string cgroup_value(const std::string& ns, const std::string& id, const char* controller,
                         const char* v1_file, const char* v2_file) {
  fs::path v1 = fs::path{"/sys/fs/cgroup"} / controller / ns / id / v1_file;
  if (fs::exists(v1))
    return trim(read_file(v1));
  return trim(read_file(fs::path{"/sys/fs/cgroup"} / ns / id / v2_file));
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

bool contains(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

// The probe a non-interactive container runs; /out/ready is written last.
const char* probe_script = R"(env > /out/env
pwd > /out/cwd
hostname > /out/hostname
readlink /proc/self/ns/net > /out/netns
grep CapEff /proc/self/status > /out/capeff
if touch /ro/probe 2>/out/ro-err; then echo writable > /out/ro; else echo refused > /out/ro; fi
if touch /out/rw-probe; then echo writable > /out/rw; else echo refused > /out/rw; fi
cat /proc/mounts > /out/mounts
ls -l /dev/fuse > /out/fuse 2>&1
echo ok > /out/ready
exec sleep 120)";

uint64_t cap_eff(const std::string& line) {
  // "CapEff:\t00000000a80425fb"
  auto tab = line.find_first_of("\t ");
  REQUIRE(tab != std::string::npos);
  return std::stoull(line.substr(tab + 1), nullptr, 16);
}

constexpr uint64_t cap_sys_admin = 1ULL << 21;
constexpr uint64_t default_cap_eff = 0xa80425fb; // the 14 default capabilities

void require_root() {
  INFO("this test needs root, containerd, runc, ctr and ip");
  REQUIRE(geteuid() == 0);
}

} // namespace

TEST_CASE("a built spec runs with its env, PATH, cwd, hostname, netns, mounts and limits",
          "[oci][integration]") {
  require_root();
  test::containerd_instance ctrd;
  named_netns netns;
  scenario s{ctrd};
  s.defaults.pids_limit = 77;
  fs::create_directories(s.dir / "ro-src");

  auto c = s.request("plain", netns);
  c.env = {"A=1", "GREETING=hello world"};
  c.working_dir = "/work";
  c.entrypoint = oci::join_entrypoint({"/bin/sh", "-c", probe_script});
  c.mounts.push_back({(s.dir / "ro-src").string(), "/ro", "bind", {"ro"}});
  c.mounts.push_back({"", "/scratch", "tmpfs", {"size=1m", "mode=0750"}});
  c.cpu = std::min<uint64_t>(2, s.node.cpu_count);
  c.memory = 64ULL << 20;
  s.start(c);

  auto env = lines(s.found("env"));
  CHECK(contains(env, "A=1"));
  CHECK(contains(env, "GREETING=hello world"));
  CHECK(contains(env, std::string{oci::default_path_env})); // `env` itself was found by PATH
  CHECK(s.found("cwd") == "/work");
  CHECK(s.found("hostname") == "plain");

  struct stat st {};
  REQUIRE(::stat(netns.path().c_str(), &st) == 0);
  CHECK(s.found("netns") == "net:[" + std::to_string(st.st_ino) + "]");

  CHECK(s.found("ro") == "refused");
  CHECK(s.found("ro-err").find("Read-only file system") != std::string::npos);
  CHECK_FALSE(fs::exists(s.dir / "ro-src" / "probe"));
  CHECK(s.found("rw") == "writable");
  CHECK(fs::exists(s.out / "rw-probe"));

  bool tmpfs_found = false;
  for (const auto& line : lines(s.found("mounts")))
    if (line.rfind("tmpfs /scratch tmpfs ", 0) == 0) {
      tmpfs_found = true;
      CHECK(line.find("size=1024k") != std::string::npos);
      INFO(line);
      CHECK(line.find("mode=750") != std::string::npos);
    }
  CHECK(tmpfs_found);

  CHECK(cap_eff(s.found("capeff")) == default_cap_eff);
  CHECK((cap_eff(s.found("capeff")) & cap_sys_admin) == 0);
  CHECK(s.found("fuse").find("No such file") != std::string::npos);

  CHECK(cgroup_value(s.ns, "plain", "memory", "memory.limit_in_bytes", "memory.max")
        == std::to_string(64ULL << 20));
  auto quota = cgroup_value(s.ns, "plain", "cpu", "cpu.cfs_quota_us", "cpu.max");
  auto period = cgroup_value(s.ns, "plain", "cpu", "cpu.cfs_period_us", "cpu.max");
  if (quota.find(' ') == std::string::npos) { // v1: two files
    CHECK(quota == std::to_string(c.cpu * 100000));
    CHECK(period == "100000");
  } else {
    CHECK(quota == std::to_string(c.cpu * 100000) + " 100000");
  }
  CHECK(cgroup_value(s.ns, "plain", "pids", "pids.max", "pids.max") == "77");
}

TEST_CASE("an elevated spec grants CAP_SYS_ADMIN and /dev/fuse", "[oci][integration]") {
  require_root();
  test::containerd_instance ctrd;
  named_netns netns;
  scenario s{ctrd};
  // A 70-character name (containerd allows 76): the kernel takes only 64 as the host name.
  const std::string name = "elevated-" + std::string(61, 'x');
  auto c = s.request(name, netns);
  c.elevated = true;
  c.entrypoint = oci::join_entrypoint({"/bin/sh", "-c", probe_script});
  s.start(c);
  CHECK(s.found("hostname") == name.substr(0, 64));
  auto caps = cap_eff(s.found("capeff"));
  CHECK((caps & cap_sys_admin) != 0);
  CHECK(caps == (default_cap_eff | cap_sys_admin));
  auto fuse = s.found("fuse");
  INFO(fuse);
  CHECK(fuse.rfind("crw-rw-rw-", 0) == 0);
  CHECK(fuse.find("10,") != std::string::npos);
  CHECK(fuse.find("229") != std::string::npos);
  // Defaults applied: 256 MiB for real, one CPU, the default pids limit.
  CHECK(cgroup_value(s.ns, name, "memory", "memory.limit_in_bytes", "memory.max") == "268435456");
  CHECK(cgroup_value(s.ns, name, "pids", "pids.max", "pids.max") == "4096");
}

TEST_CASE("an interactive spec runs the configured coreX as PID 1", "[oci][integration]") {
  require_root();
  test::containerd_instance ctrd;
  named_netns netns;
  scenario s{ctrd};
  // The stand-in records how it was started; the real coreX is a static web terminal.
  auto corex = s.dir / "corex-standin";
  std::ofstream{corex} << "#!/bin/sh\n"
                          "echo $$ > /out/corex-pid\n"
                          "echo \"$@\" > /out/corex-args\n"
                          "pwd > /out/cwd\n"
                          "echo ok > /out/ready\n"
                          "exec sleep 120\n";
  fs::permissions(corex, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec
                           | fs::perms::others_read | fs::perms::others_exec);
  s.node.corex_path = corex.string();
  auto c = s.request("shell", netns);
  c.interactive = true;
  c.working_dir = "/work";
  c.entrypoint = "/bin/sh -c 'echo entrypoint ran > /out/entrypoint'";
  auto spec = s.start(c);
  CHECK(spec["process"]["args"][0] == "/corex");
  CHECK(s.found("corex-pid") == "1");
  CHECK(s.found("corex-args") == "--ipv6 -d 7 --interface eth0");
  CHECK(s.found("cwd") == "/work");
  CHECK_FALSE(fs::exists(s.out / "entrypoint"));
}
