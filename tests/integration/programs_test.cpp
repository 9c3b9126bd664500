// The contd and contctl programs end to end, as processes, against a private redis-server and a
// private containerd.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/integration/containerd_fixture.hpp"
#include "tests/integration/contd_process.hpp"
#include "tests/integration/redis_fixture.hpp"

using namespace contd;
using namespace std::chrono_literals;

namespace {

const std::string bin_dir = CONTD_BIN_DIR;

using test::netns;
using test::process;

struct programs {
  test::redis_server redis;
  test::containerd_instance ctrd;
  netns net;
  std::string ns = test::random_name("prog");
  std::unique_ptr<process> contd;

  void start_contd() {
    contd = std::make_unique<process>(
      std::vector<std::string>{bin_dir + "/contd", "-broker", redis.url(), "-root",
                               (ctrd.dir() / "contd-root").string(), "--containerd", ctrd.socket()},
      (ctrd.dir() / "contd.log").string());
    REQUIRE(contd->pid > 0);
  }

  test::command_outcome ctl(std::vector<std::string> args, std::chrono::milliseconds d = 60s) {
    std::vector<std::string> argv{bin_dir + "/contctl", "--broker", redis.url()};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::run_command(argv, d);
  }

  bool ready(std::chrono::milliseconds limit = 20s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (ctl({"--timeout", "1s", "status"}, 5s).status == 0)
        return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  ~programs() {
    contd.reset();
    ctrd.purge_namespace(ns);
  }
};

} // namespace

TEST_CASE("contctl drives contd through every subcommand", "[programs][integration]") {
  programs p;
  p.start_contd();
  REQUIRE(p.ready());
  auto rootfs = p.ctrd.rootfs().string();
  auto run = p.ctl({"run", p.ns, "demo", "--rootfs", rootfs, "--netns", p.net.name, "--env",
                    "WHO=world", "--memory", "64M", "--shutdown-timeout", "1s", "--", "/bin/sh",
                    "-c", "echo hello $WHO; exec sleep 1000"});
  INFO(run.output << "\n" << p.contd->output());
  REQUIRE(run.status == 0);
  CHECK(run.output == "demo\n");
  auto ls = p.ctl({"ls", "-q", p.ns});
  CHECK(ls.output == "demo\n");
  auto table = p.ctl({"ls"});
  CHECK(table.output.find("NAMESPACE") != std::string::npos);
  CHECK(table.output.find(p.ns) != std::string::npos);
  CHECK(table.output.find("running") != std::string::npos);
  CHECK(p.ctl({"ns"}).output.find(p.ns) != std::string::npos);
  auto insp = p.ctl({"inspect", p.ns, "demo", "--json"});
  REQUIRE(insp.status == 0);
  CHECK(insp.output.find("\"Status\": \"running\"") != std::string::npos);
  // Every key of the reply, the sink lists and contd's state included.
  auto insp_json = nlohmann::json::parse(insp.output);
  for (const char* key : {"Name", "RootFS", "Env", "Mounts", "Logs", "Stats", "CreatedAt",
                          "ShutdownTimeout", "State"})
    CHECK(insp_json.contains(key));
  CHECK(insp_json["Logs"].is_array());
  CHECK(insp_json["State"].contains("OOMKilled"));
  CHECK(insp_json["State"]["Restarts"] == 0);
  std::string logs;
  for (int i = 0; i < 50 && logs != "hello world\n"; ++i) {
    logs = p.ctl({"logs", p.ns, "demo"}).output;
    std::this_thread::sleep_for(100ms);
  }
  CHECK(logs == "hello world\n");
  CHECK(p.ctl({"exec", p.ns, "demo", "--", "/bin/true"}).status == 0);
  auto failing = p.ctl({"exec", p.ns, "demo", "--", "/bin/sh", "-c", "exit 4"});
  CHECK(failing.status == 1);
  CHECK(failing.output.find("non-zero exit code: 4") != std::string::npos);
  CHECK(p.ctl({"stop", p.ns, "demo"}).status == 0);
  CHECK(p.ctl({"rm", p.ns, "demo"}).status == 0);
  CHECK(p.ctl({"ls", "-q", p.ns}).output.empty());
  auto missing = p.ctl({"inspect", p.ns, "demo"});
  CHECK(missing.status == 1);
  CHECK(missing.output.find("not found") != std::string::npos);
  // One log line per request, with method and outcome.
  CHECK(p.contd->output().find("zbus Run ns=\"" + p.ns + "\" id=\"demo\"") != std::string::npos);
}

TEST_CASE("SIGTERM while a request is in flight: it is answered and contd exits 0",
          "[programs][integration]") {
  programs p;
  p.start_contd();
  REQUIRE(p.ready());
  REQUIRE(p.ctl({"run", p.ns, "deaf", "--rootfs", p.ctrd.rootfs().string(), "--netns", p.net.name,
                 "--shutdown-timeout", "2s", "--", "/bin/sleep", "1000"})
            .status
          == 0);
  // rm waits out the 2 s grace (sleep as PID 1 ignores SIGTERM); stop contd meanwhile.
  auto rm = std::async(std::launch::async, [&] { return p.ctl({"rm", p.ns, "deaf"}); });
  std::this_thread::sleep_for(700ms);
  kill(p.contd->pid, SIGTERM);
  auto r = rm.get();
  INFO(r.output << "\n" << p.contd->output());
  CHECK(r.status == 0);
  CHECK(p.contd->wait_exit(30s) == 0);
  CHECK(p.ctrd.ctr({"-n", p.ns, "containers", "ls", "-q"}).output.empty());
}

TEST_CASE("a second SIGTERM stops the wait for calls in flight and contd exits 0",
          "[programs][integration]") {
  programs p;
  p.start_contd();
  REQUIRE(p.ready());
  REQUIRE(p.ctl({"run", p.ns, "deafer", "--rootfs", p.ctrd.rootfs().string(), "--netns", p.net.name,
                 "--shutdown-timeout", "30s", "--", "/bin/sleep", "1000"})
            .status
          == 0);
  // rm waits out the 30 s grace; the first SIGTERM would wait for it, the second does not.
  auto rm = std::async(std::launch::async, [&] {
    return p.ctl({"--timeout", "5s", "rm", p.ns, "deafer"});
  });
  std::this_thread::sleep_for(700ms);
  auto start = std::chrono::steady_clock::now();
  kill(p.contd->pid, SIGTERM);
  std::this_thread::sleep_for(1500ms);
  kill(p.contd->pid, SIGTERM);
  CHECK(p.contd->wait_exit(20s) == 0);
  CHECK(std::chrono::steady_clock::now() - start < 20s);
  INFO(p.contd->output());
  CHECK(p.contd->output().find("second signal") != std::string::npos);
  CHECK(p.contd->output().find("1 calls still in flight") != std::string::npos);
  CHECK(rm.get().status != 0); // never answered
}

TEST_CASE("contd started before containerd becomes ready once containerd appears",
          "[programs][integration]") {
  programs p;
  p.ctrd.stop();
  p.start_contd();
  CHECK_FALSE(p.ready(2s));
  p.ctrd.start();
  CHECK(p.ready(30s));
  CHECK(p.contd->output().find("waiting for containerd") != std::string::npos);
}

TEST_CASE("Redis restarted under a running contd: service resumes", "[programs][integration]") {
  programs p;
  p.start_contd();
  REQUIRE(p.ready());
  p.redis.stop();
  std::this_thread::sleep_for(500ms);
  p.redis.start();
  CHECK(p.ready(30s));
  CHECK(p.ctl({"ns"}).status == 0);
}

TEST_CASE("bad flags print usage and exit 2", "[programs]") {
  for (auto args : std::vector<std::vector<std::string>>{
         {"--bogus"}, {"--broker"}, {"--broker", "ftp://x"}, {"--max-inflight=abc"}, {"stray"}}) {
    std::vector<std::string> argv{bin_dir + "/contd"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = test::run_command(argv, 10s);
    INFO(args[0] << ": " << r.output);
    CHECK(r.status == 2);
    CHECK(r.output.find("usage: contd") != std::string::npos);
  }
  CHECK(test::run_command({bin_dir + "/contd", "--version"}, 10s).status == 0);
  auto bad_ctl = test::run_command({bin_dir + "/contctl", "frobnicate"}, 10s);
  CHECK(bad_ctl.status == 2);
}

TEST_CASE("contctl against a broker where nothing listens fails clearly within its timeout",
          "[programs]") {
  auto start = std::chrono::steady_clock::now();
  auto r = test::run_command({bin_dir + "/contctl", "--broker",
                              "unix:///tmp/contd-nothing-here.sock", "--timeout", "2s", "status"},
                             20s);
  CHECK(r.status == 3);
  CHECK(r.output.find("cannot reach contd") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < 10s);
  // A Redis with no contd behind it: the call times out.
  test::redis_server redis;
  auto t = test::run_command(
    {bin_dir + "/contctl", "--broker", redis.url(), "--timeout", "1s", "ns"}, 20s);
  CHECK(t.status == 3);
  CHECK(t.output.find("no reply") != std::string::npos);
}

TEST_CASE("json log format: one parseable JSON object per line", "[programs][integration]") {
  programs p;
  p.contd = std::make_unique<process>(
    std::vector<std::string>{bin_dir + "/contd", "--broker=" + p.redis.url(),
                             "--root=" + (p.ctrd.dir() / "contd-root").string(),
                             "--containerd=" + p.ctrd.socket(), "--log-format", "json"},
    (p.ctrd.dir() / "contd.log").string());
  REQUIRE(p.ready());
  // A request whose log line carries quotes and a hostile name.
  p.ctl({"inspect", p.ns, "no\"such"});
  p.ctl({"inspect", p.ns, "ghost"});
  kill(p.contd->pid, SIGTERM);
  REQUIRE(p.contd->wait_exit(30s) == 0);
  std::istringstream in{p.contd->output()};
  int lines = 0;
  bool saw_inspect = false;
  for (std::string line; std::getline(in, line);) {
    INFO(line);
    auto j = nlohmann::json::parse(line, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    CHECK(j.contains("time"));
    CHECK(j.contains("level"));
    if (j["msg"].get<std::string>().find("zbus Inspect") != std::string::npos)
      saw_inspect = true;
    ++lines;
  }
  CHECK(lines >= 4);
  CHECK(saw_inspect);
}

TEST_CASE("restarting contd or containerd loses no container and no log line",
          "[programs][integration]") {
  programs p;
  p.start_contd();
  REQUIRE(p.ready());
  REQUIRE(
    p.ctl({"run", p.ns, "steady", "--rootfs", p.ctrd.rootfs().string(), "--netns", p.net.name, "--",
           "/bin/sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"})
      .status
    == 0);
  auto inspect = [&] { return p.ctl({"inspect", p.ns, "steady", "--json"}); };
  auto pid_of = [](const std::string& json_text) {
    auto j = nlohmann::json::parse(json_text, nullptr, false);
    return j.is_discarded() ? 0u : j["State"]["Pid"].get<unsigned>();
  };
  auto before = inspect();
  REQUIRE(before.status == 0);
  auto pid = pid_of(before.output);
  REQUIRE(pid > 0);

  // contd restarts: the shim owns the task; nothing of the container depends on contd.
  kill(p.contd->pid, SIGTERM);
  REQUIRE(p.contd->wait_exit(30s) == 0);
  p.start_contd();
  REQUIRE(p.ready());
  auto after_contd = inspect();
  REQUIRE(after_contd.status == 0);
  CHECK(after_contd.output.find("\"Status\": \"running\"") != std::string::npos);
  CHECK(pid_of(after_contd.output) == pid);

  // containerd restarts under a running contd: the adapter reconnects, the task lives on.
  p.ctrd.restart();
  test::command_outcome after_ctrd;
  for (int i = 0; i < 50; ++i) {
    after_ctrd = inspect();
    if (after_ctrd.status == 0)
      break;
    std::this_thread::sleep_for(200ms);
  }
  REQUIRE(after_ctrd.status == 0);
  CHECK(pid_of(after_ctrd.output) == pid);

  // The log kept counting through both restarts: no gap in the ticks.
  std::this_thread::sleep_for(300ms);
  auto logs = p.ctl({"logs", p.ns, "steady"}).output;
  std::istringstream in{logs};
  int last = -1;
  bool contiguous = true;
  for (std::string line; std::getline(in, line);) {
    int n = std::atoi(line.substr(5).c_str());
    if (last >= 0 && n != last + 1)
      contiguous = false;
    last = n;
  }
  CHECK(contiguous);
  CHECK(last > 10);
  CHECK(p.ctl({"rm", p.ns, "steady"}).status == 0);
}
