// contd as a library: `cmake --install` into a temporary prefix, a host program (tests/embed)
// configured and built against the installed package with find_package(contd), run against a
// private containerd and Redis, and called over zbus by the installed contctl. Then the .deb.
#include <signal.h>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/integration/containerd_fixture.hpp"
#include "tests/integration/contd_process.hpp"
#include "tests/integration/eventually.hpp"
#include "tests/integration/redis_fixture.hpp"

using namespace contd;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string source_dir = CONTD_SOURCE_DIR;
const std::string build_dir = CONTD_BUILD_DIR;

void require_ok(const test::command_outcome& r) {
  INFO(r.output);
  REQUIRE(r.status == 0);
}

} // namespace

TEST_CASE("a host built against the installed package serves the module over zbus",
          "[embed][integration]") {
  test::redis_server redis;
  test::containerd_instance ctrd;
  test::netns net;
  auto prefix = ctrd.dir() / "prefix";
  require_ok(
    test::run_command({"cmake", "--install", build_dir, "--prefix", prefix.string()}, 120s));
  for (const char* file :
       {"bin/contd", "bin/contctl", "bin/contd-logger", "bin/contd-health", "lib/libcontd.so",
        "lib/cmake/contd/contdConfig.cmake", "lib/cmake/contd/contdTargets.cmake",
        "include/contd/src/module.hpp", "include/contd/messages/messages.hpp",
        "lib/systemd/system/contd.service", "share/contd/contd.zinit.yaml"}) {
    INFO(file);
    CHECK(fs::exists(prefix / file));
  }
  // The unit names the installed programs.
  std::ifstream unit(prefix / "lib/systemd/system/contd.service");
  std::string text(std::istreambuf_iterator<char>(unit), {});
  CHECK(text.find("ExecStart=" + (prefix / "bin/contd").string() + " ") != std::string::npos);

  auto host_build = ctrd.dir() / "host-build";
  require_ok(
    test::run_command({"cmake", "-S", source_dir + "/tests/embed", "-B", host_build.string(), "-G",
                       "Ninja", "-DCMAKE_PREFIX_PATH=" + prefix.string()},
                      120s));
  require_ok(test::run_command({"cmake", "--build", host_build.string()}, 300s));

  test::process host({(host_build / "host").string(), ctrd.socket(),
                      (ctrd.dir() / "host-root").string(), (prefix / "bin/contd-logger").string(),
                      redis.url()},
                     (ctrd.dir() / "host.log").string());
  REQUIRE(host.pid > 0);
  REQUIRE(
    test::eventually([&] { return host.output().find("host: ready") != std::string::npos; }, 30s));
  CHECK(host.output().find("host: containerd 1.") != std::string::npos);

  auto ns = test::random_name("embed");
  auto ctl = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{(prefix / "bin/contctl").string(), "--broker", redis.url()};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::run_command(argv, 60s);
  };
  require_ok(ctl({"run", ns, "hosted", "--rootfs", ctrd.rootfs().string(), "--netns", net.name,
                  "--", "/bin/sh", "-c", "echo embedded; exec sleep 1000"}));
  auto inspect = ctl({"inspect", ns, "hosted", "--json"});
  require_ok(inspect);
  auto j = nlohmann::json::parse(inspect.output);
  CHECK(j["State"]["Status"] == "running");
  CHECK(j["Name"] == "hosted");
  CHECK(test::eventually([&] { return ctl({"logs", ns, "hosted"}).output == "embedded\n"; }));
  require_ok(ctl({"rm", ns, "hosted"}));
  CHECK(ctl({"ls", "-q", ns}).output.empty());

  kill(host.pid, SIGTERM);
  CHECK(host.wait_exit(30s) == 0);
  CHECK(host.output().find("host: stopped by signal 15, 0 calls unanswered") != std::string::npos);
  ctrd.purge_namespace(ns);
}

TEST_CASE("cpack builds a .deb with the programs, the library and the package",
          "[embed][integration]") {
  auto dir = test::make_temp_dir("contd-deb");
  require_ok(test::run_command(
    {"cpack", "-G", "DEB", "--config", build_dir + "/CPackConfig.cmake", "-B", dir.string()},
    300s));
  fs::path deb;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".deb")
      deb = e.path();
  REQUIRE(!deb.empty());
  auto contents = test::run_command({"dpkg-deb", "--contents", deb.string()});
  require_ok(contents);
  for (const char* file :
       {"./usr/bin/contd", "./usr/bin/contctl", "./usr/bin/contd-logger", "./usr/lib/libcontd.so",
        "./usr/lib/cmake/contd/contdConfig.cmake", "./usr/lib/systemd/system/contd.service"}) {
    INFO(file);
    CHECK(contents.output.find(std::string{file}) != std::string::npos);
  }
  // The unit names the programs where the package puts them.
  require_ok(test::run_command({"dpkg-deb", "-x", deb.string(), (dir / "root").string()}));
  std::ifstream unit(dir / "root/usr/lib/systemd/system/contd.service");
  std::string text(std::istreambuf_iterator<char>(unit), {});
  CHECK(text.find("ExecStart=/usr/bin/contd ") != std::string::npos);
  CHECK(text.find("/usr/local") == std::string::npos);
  auto fields = test::run_command({"dpkg-deb", "--field", deb.string(), "Package", "Depends"});
  require_ok(fields);
  CHECK(fields.output.find("Package: contd") != std::string::npos);
  CHECK(fields.output.find("containerd") != std::string::npos);
  CHECK(fields.output.find("libgrpc++") != std::string::npos); // found by dpkg-shlibdeps
  fs::remove_all(dir);
}
