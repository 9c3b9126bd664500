// Supervision end to end: the contd program as a process over a private redis-server and a
// private containerd with runc. Crash loops, restart policies, kill -9 of a container while contd
// is down, kill -9 of containerd and of contd in the middle of 30 concurrent Runs, and namespaces
// contd does not manage. Calls go through Redis as the Go stubs send them.
#include <catch2/catch.hpp>

#include <dirent.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "src/zbus/client.hpp"
#include "src/zbus/codec.hpp"
#include "tests/integration/containerd_fixture.hpp"
#include "tests/integration/contd_process.hpp"
#include "tests/integration/eventually.hpp"
#include "tests/integration/redis_fixture.hpp"

using namespace contd;
using namespace std::chrono_literals;
using test::eventually;

namespace {

const std::string bin_dir = CONTD_BIN_DIR;

struct node {
  test::redis_server redis;
  test::containerd_instance ctrd;
  test::netns net;
  std::string ns = test::random_name("sup");
  std::filesystem::path root = ctrd.dir() / "contd-root";
  std::unique_ptr<test::process> contd;
  zbus::client client{redis.broker()};

  std::vector<std::string> extra; // more flags for contd

  explicit node(std::vector<std::string> flags = {}) : extra(std::move(flags)) { start_contd(); }

  ~node() {
    contd.reset();
    ctrd.purge_namespace(ns);
  }

  void start_contd() {
    std::vector<std::string> argv{bin_dir + "/contd", "--broker",     redis.url(),   "--root",
                                  root.string(),      "--containerd", ctrd.socket(), "--netns-dir",
                                  "/var/run/netns",   "--log-level",  "debug"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    contd = std::make_unique<test::process>(argv, (ctrd.dir() / "contd.log").string());
    REQUIRE(contd->pid > 0);
    REQUIRE(eventually([&] { return status_ok(); }, 20s));
  }

  bool status_ok() { return client.status(1s).ok(); }

  container make(const std::string& name, const std::string& entrypoint) {
    container c;
    c.name = name;
    c.root_fs = ctrd.rootfs().string();
    c.network.ns = net.name;
    c.entrypoint = entrypoint;
    c.memory = 64 << 20;
    c.shutdown_timeout = 500'000'000;
    return c;
  }

  static zbus::response call(zbus::client& cl, const std::string& method,
                             std::vector<zbus::bytes> in, std::chrono::milliseconds t = 60s) {
    auto r = cl.call(method, std::move(in), t);
    if (!r) {
      zbus::response none;
      none.call_error = "no reply: " + r.error();
      return none;
    }
    return *r;
  }

  zbus::response run(const container& c, zbus::client* cl = nullptr,
                     std::chrono::milliseconds timeout = 60s) {
    return call(cl ? *cl : client, "Run", {zbus::encode_string(ns), zbus::encode_container(c)},
                timeout);
  }

  zbus::response two(const std::string& method, const std::string& id) {
    return call(client, method, {zbus::encode_string(ns), zbus::encode_string(id)});
  }

  std::optional<container> inspect(const std::string& id) {
    auto r = two("Inspect", id);
    if (r.call_error || !r.data)
      return std::nullopt;
    return zbus::decode_container(*r.data);
  }

  /// `ctr task ls` of the namespace: id -> status.
  std::map<std::string, std::string> tasks() {
    std::map<std::string, std::string> out;
    auto r = ctrd.ctr({"-n", ns, "tasks", "ls"});
    std::istringstream in(r.output);
    std::string line;
    std::getline(in, line); // header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string id, pid, status;
      if (f >> id >> pid >> status)
        out[id] = status;
    }
    return out;
  }

  std::vector<std::string> containers() {
    auto r = ctrd.ctr({"-n", ns, "containers", "ls", "-q"});
    std::vector<std::string> out;
    std::istringstream in(r.output);
    std::string id;
    while (in >> id)
      out.push_back(id);
    return out;
  }

  /// contd's log lines that name `id` (for failure messages).
  std::string log_of(const std::string& id) {
    std::istringstream in(contd ? contd->output() : std::string{});
    std::string line, out;
    while (std::getline(in, line))
      for (auto pos = line.find(id); pos != std::string::npos; pos = line.find(id, pos + 1)) {
        auto after = pos + id.size() < line.size() ? line[pos + id.size()] : ' ';
        auto before = pos > 0 ? line[pos - 1] : ' ';
        if (!std::isalnum(static_cast<unsigned char>(after))
            && !std::isalnum(static_cast<unsigned char>(before))) {
          out += line + "\n";
          break;
        }
      }
    return out;
  }

  bool has_container(const std::string& id) {
    auto cs = containers();
    return std::find(cs.begin(), cs.end(), id) != cs.end();
  }
};

std::string describe(const std::optional<container>& c) {
  if (!c)
    return "(no container)";
  return to_string(c->state.status) + " pid " + std::to_string(c->state.pid) + " restarts "
         + std::to_string(c->state.restarts) + " reason '" + c->state.reason + "'";
}

} // namespace

TEST_CASE("a crash loop restarts with growing delays and gives up at the 4th exit within 60 s",
          "[supervision][integration]") {
  node n;
  // Every transition is published; a subscriber collects them in the background.
  std::atomic<bool> listening{true};
  std::mutex events_mutex;
  std::vector<container_event> events;
  zbus::redis_connection sub{n.redis.broker()};
  REQUIRE(sub.connect());
  REQUIRE(sub.subscribe({zbus::events_channel()}));
  std::thread listener([&] {
    while (listening) {
      std::string channel, payload;
      if (sub.next_message(100ms, channel, payload)
          != zbus::redis_connection::message_result::message)
        continue;
      auto ev = zbus::decode_event(payload);
      if (ev.id == "loop") {
        std::lock_guard<std::mutex> g{events_mutex};
        events.push_back(ev);
      }
    }
  });
  auto c = n.make("loop", "/bin/sh -c 'sleep 0.2; exit 1'");
  auto r = n.run(c);
  REQUIRE_FALSE(r.call_error);
  // Poll Inspect: the times at which each restart is first seen.
  using clock = std::chrono::steady_clock;
  std::map<uint64_t, clock::time_point> restart_seen;
  std::map<uint64_t, go_time> exit_before;
  std::optional<container> last;
  auto start = clock::now();
  while (clock::now() - start < 40s) {
    last = n.inspect("loop");
    REQUIRE(last);
    auto k = last->state.restarts;
    if (!restart_seen.count(k)) {
      restart_seen[k] = clock::now();
    }
    if (last->state.status == container_status::restarting)
      exit_before[k] = last->state.last_exited_at;
    if (last->state.status == container_status::failed)
      break;
    std::this_thread::sleep_for(25ms);
  }
  INFO(describe(last));
  REQUIRE(last->state.status == container_status::failed);
  CHECK(last->state.restarts == 3);
  CHECK(last->state.last_exit_code == 1);
  CHECK(last->state.reason.find("4 exits within 60 s") != std::string::npos);
  // The delay from each exit (containerd's time) to its restart grows: about 1 s, 2 s, 4 s.
  REQUIRE(restart_seen.size() == 4);
  auto gap = [&](uint64_t k) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(restart_seen[k]
                                                                 - restart_seen[k - 1])
      .count();
  };
  // Between two restarts: the run (0.2 s plus start-up) and the backoff.
  INFO("gaps " << gap(1) << " " << gap(2) << " " << gap(3) << " ms");
  CHECK(gap(2) > gap(1));
  CHECK(gap(3) > gap(2));
  CHECK(gap(3) >= 3000);
  // Given up is final: no more restarts.
  std::this_thread::sleep_for(3s);
  auto after = n.inspect("loop");
  REQUIRE(after);
  CHECK(after->state.status == container_status::failed);
  CHECK(after->state.restarts == 3);
  CHECK(n.tasks()["loop"] == "STOPPED");
  CHECK_FALSE(n.two("Delete", "loop").call_error);
  CHECK_FALSE(n.has_container("loop"));
  // The events, in order: started, then three rounds of exited/restarting/restarted, then the
  // 4th exit and failed, then deleted (the last one published, so the wait ends with it).
  CHECK(eventually([&] {
    std::lock_guard<std::mutex> g{events_mutex};
    return !events.empty() && events.back().kind == "deleted";
  }));
  listening = false;
  listener.join();
  std::vector<std::string> kinds;
  for (auto& ev : events)
    kinds.push_back(ev.kind);
  std::vector<std::string> want{"started"};
  for (int i = 0; i < 3; ++i)
    want.insert(want.end(), {"exited", "restarting", "restarted"});
  want.insert(want.end(), {"exited", "failed", "deleted"});
  CHECK(kinds == want);
  REQUIRE(events.size() == want.size());
  CHECK(events[1].exit_code == 1);
  CHECK(events[1].ns == n.ns);
  CHECK(events[3].restarts == 1);
  CHECK(events[9].restarts == 3);
  CHECK(events[11].reason.find("4 exits within 60 s") != std::string::npos);
  for (size_t i = 1; i < events.size(); ++i) {
    INFO(i);
    CHECK(events[i].at.sec * 1'000'000'000LL + events[i].at.nsec
          >= events[i - 1].at.sec * 1'000'000'000LL + events[i - 1].at.nsec);
  }
}

TEST_CASE("on-failure with exit 0 is not restarted, a Run again restarts it",
          "[supervision][integration]") {
  node n;
  auto c = n.make("once", "/bin/sh -c 'sleep 0.2; exit 0'");
  c.restart = restart_policy{"on-failure", 0, 0};
  REQUIRE_FALSE(n.run(c).call_error);
  REQUIRE(eventually([&] {
    auto i = n.inspect("once");
    return i && i->state.status == container_status::stopped;
  }));
  std::this_thread::sleep_for(2500ms);
  auto i = n.inspect("once");
  REQUIRE(i);
  INFO(describe(i));
  CHECK(i->state.status == container_status::stopped);
  CHECK(i->state.restarts == 0);
  CHECK(i->state.exit_code == 0);
  CHECK(i->restart == c.restart);
  // An identical Run of a container that does not run makes it run (never success with nothing
  // running).
  REQUIRE_FALSE(n.run(c).call_error);
  auto again = n.inspect("once");
  REQUIRE(again);
  CHECK((again->state.status == container_status::running
         || again->state.status == container_status::stopped));
  CHECK(again->state.pid != i->state.pid);
}

TEST_CASE("kill -9 of a container's PID 1 while contd is down: running again within 10 s",
          "[supervision][integration]") {
  node n;
  REQUIRE_FALSE(n.run(n.make("svc", "/bin/sleep 1000")).call_error);
  auto before = n.inspect("svc");
  REQUIRE(before);
  REQUIRE(before->state.pid > 0);
  n.contd->kill_hard();
  REQUIRE(kill(static_cast<pid_t>(before->state.pid), SIGKILL) == 0);
  REQUIRE(eventually([&] { return n.tasks()["svc"] == "STOPPED"; }));
  auto t0 = std::chrono::steady_clock::now();
  n.start_contd();
  REQUIRE(eventually(
    [&] {
      auto i = n.inspect("svc");
      return i && i->state.status == container_status::running && i->state.pid != before->state.pid;
    },
    10s));
  auto took = std::chrono::steady_clock::now() - t0;
  INFO("back after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                     << " ms");
  auto i = n.inspect("svc");
  CHECK(i->state.restarts == 1);
  CHECK(i->state.last_exit_code == 137);
  CHECK(n.tasks()["svc"] == "RUNNING");
}

namespace {

/// 30 Runs at once, each from its own client; `fault` runs meanwhile. Returns id -> reply.
std::map<std::string, zbus::response> burst_of_runs(node& n, std::function<void()> fault,
                                                    std::chrono::milliseconds timeout = 60s) {
  constexpr int count = 30;
  std::vector<std::thread> threads;
  std::vector<zbus::response> replies(count);
  for (int i = 0; i < count; ++i)
    threads.emplace_back([&, i] {
      zbus::client cl{n.redis.broker()};
      replies[i] = n.run(n.make("b" + std::to_string(i), "/bin/sleep 1000"), &cl, timeout);
    });
  // A fault that throws (containerd not coming back) fails the test after the callers are joined,
  // instead of ending the program on a joinable thread.
  std::exception_ptr failed;
  try {
    fault();
  } catch (...) {
    failed = std::current_exception();
  }
  for (auto& t : threads)
    t.join();
  if (failed)
    std::rethrow_exception(failed);
  std::map<std::string, zbus::response> out;
  for (int i = 0; i < count; ++i)
    out["b" + std::to_string(i)] = replies[i];
  return out;
}

/// What every caller was told still holds after a settle time: each success runs; each error
/// left nothing, or its identical retry succeeds with the task running. Then everything is
/// deleted and no shim of this containerd is left.
void check_told_the_truth(node& n, std::map<std::string, zbus::response>& replies) {
  size_t ok = 0, failed = 0;
  for (auto& [id, r] : replies)
    (r.call_error ? failed : ok)++;
  WARN("Runs answered with success: " << ok << ", with an error: " << failed);
  for (auto& [id, r] : replies)
    if (r.call_error)
      INFO(id << ": " << *r.call_error);
  // Settle: successes run; leftovers of errors are removed by rollback or reconciliation.
  bool settled = eventually(
    [&] {
      auto tasks = n.tasks();
      for (auto& [id, r] : replies) {
        if (!r.call_error && tasks[id] != "RUNNING")
          return false;
      }
      return true;
    },
    60s);
  auto tasks = n.tasks();
  for (auto& [id, r] : replies)
    if (!r.call_error) {
      INFO(id << " was answered with success");
      CHECK(tasks[id] == "RUNNING");
    }
  CHECK(settled);
  for (auto& [id, r] : replies) {
    if (!r.call_error)
      continue;
    INFO(id << " was answered with: " << *r.call_error);
    // Either nothing is left, or the identical retry makes it run.
    auto retry = n.run(n.make(id, "/bin/sleep 1000"));
    INFO("retry: " << retry.call_error.value_or("success"));
    INFO("contd's log of it:\n" << n.log_of(id));
    INFO("task: " << n.tasks()[id] << "; Inspect: " << describe(n.inspect(id)));
    CHECK_FALSE(retry.call_error);
    CHECK(eventually([&] { return n.tasks()[id] == "RUNNING"; }));
  }
  // Delete everything; right after a containerd restart the adapter's channel may need up to its
  // reconnect backoff (1 s) to see containerd again, and says so ("nothing was changed").
  for (auto& [id, r] : replies) {
    std::string last;
    bool deleted = eventually([&] {
      auto d = n.two("Delete", id);
      last = d.call_error.value_or("");
      return !d.call_error;
    });
    INFO("Delete " << id << ": " << last);
    CHECK(deleted);
  }
  CHECK(n.containers().empty());
  bool no_shim = eventually([&] { return n.ctrd.shim_pids().empty(); }, 30s);
  if (auto swept = n.log_of("let go of"); !swept.empty())
    WARN("contd removed shims containerd had let go of:\n" << swept);
  if (!no_shim) {
    std::vector<std::string> leaked_ids; // their -id: containerd's log lines about them are shown
    std::string left;
    for (auto pid : n.ctrd.shim_pids()) {
      std::ifstream in{"/proc/" + std::to_string(pid) + "/cmdline"};
      std::string arg, previous;
      left += std::to_string(pid) + ":";
      while (std::getline(in, arg, '\0')) {
        left += " " + arg;
        if (previous == "-id")
          leaked_ids.push_back(arg);
        previous = arg;
      }
      std::error_code ec;
      auto cwd = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/cwd", ec);
      left += "\n  cwd: " + (ec ? ec.message() : cwd.string());
      left += "\n  children:"
              + test::run_command({"ps", "--ppid", std::to_string(pid), "-o", "pid=,args="}).output
              + "\n";
    }
    std::istringstream ctrd_log{n.ctrd.log()};
    std::string line, shim_lines;
    while (std::getline(ctrd_log, line))
      if (std::any_of(leaked_ids.begin(), leaked_ids.end(),
                      [&](const std::string& id) { return line.find(id) != std::string::npos; }))
        shim_lines += line + "\n";
      else if (line.find("level=info") == std::string::npos
               && line.find("level=debug") == std::string::npos)
        shim_lines += line + "\n";
    INFO("shims left:\n"
         << left << "tasks: " << n.ctrd.ctr({"-n", n.ns, "tasks", "ls"}).output
         << "containerd's log of shims:\n"
         << shim_lines << "\ncontd's log of shims:\n"
         << n.log_of("shim"));
    CHECK(no_shim);
  }
}

} // namespace

TEST_CASE("kill -9 of a shared shim: every container of it is reported and restarted under its "
          "policy",
          "[supervision][integration]") {
  node n{{"--shim-per-container=false"}};
  // One namespace, one shim: four containers, three restarted always, one never.
  for (const auto* id : {"a", "b", "c", "gone"})
    REQUIRE_FALSE(n.run(n.make(id, "/bin/sleep 1000")).call_error);
  auto once = n.make("once", "/bin/sleep 1000");
  once.restart = restart_policy{"no", 0, 0};
  REQUIRE_FALSE(n.run(once).call_error);
  auto shims = n.ctrd.shim_pids();
  REQUIRE(shims.size() == 1);
  // Deleting one container keeps the shim and its neighbours.
  REQUIRE_FALSE(n.two("Delete", "gone").call_error);
  CHECK(n.ctrd.shim_pids() == shims);
  std::map<std::string, uint32_t> before;
  for (const auto* id : {"a", "b", "c"}) {
    auto i = n.inspect(id);
    REQUIRE(i);
    CHECK(i->state.status == container_status::running);
    before[id] = i->state.pid;
  }
  REQUIRE(kill(shims[0], SIGKILL) == 0);
  REQUIRE(eventually(
    [&] {
      for (const auto* id : {"a", "b", "c"}) {
        auto i = n.inspect(id);
        if (!i || i->state.status != container_status::running || i->state.pid == before[id])
          return false;
      }
      return true;
    },
    30s));
  for (const auto* id : {"a", "b", "c"}) {
    auto i = n.inspect(id);
    INFO(id << ": " << describe(i));
    CHECK(i->state.restarts == 1);
    CHECK(i->state.last_exit_code == 137);
  }
  REQUIRE(eventually([&] {
    auto i = n.inspect("once");
    return i && i->state.status == container_status::stopped;
  }));
  auto o = n.inspect("once");
  INFO(describe(o));
  CHECK(o->state.exit_code == 137);
  CHECK(o->state.restarts == 0);
  // The restarted containers share one new shim again.
  auto after = n.ctrd.shim_pids();
  CHECK(after.size() == 1);
  CHECK(after != shims);
}

TEST_CASE("shims shared in groups of two: a crash of one stops only its own group",
          "[supervision][integration]") {
  node n{{"--shim-per-container=false", "--shim-group-size", "2"}};
  const std::vector<std::string> ids{"a", "b", "c", "d", "e"}; // groups: a b | c d | e
  for (const auto& id : ids)
    REQUIRE_FALSE(n.run(n.make(id, "/bin/sleep 1000")).call_error);
  CHECK(n.ctrd.shim_pids().size() == 3);
  std::map<std::string, uint32_t> pid, shim;
  for (const auto& id : ids) {
    auto i = n.inspect(id);
    REQUIRE(i);
    REQUIRE(i->state.status == container_status::running);
    pid[id] = i->state.pid;
    // The container's init is a child of the shim that serves it.
    std::ifstream stat{"/proc/" + std::to_string(i->state.pid) + "/stat"};
    std::string text{std::istreambuf_iterator<char>{stat}, {}};
    std::istringstream after_comm{text.substr(text.rfind(')') + 2)};
    char state = 0;
    after_comm >> state >> shim[id];
  }
  CHECK(shim["a"] == shim["b"]);
  CHECK(shim["c"] == shim["d"]);
  CHECK(shim["a"] != shim["c"]);
  CHECK(shim["e"] != shim["a"]);
  CHECK(shim["e"] != shim["c"]);
  REQUIRE(kill(static_cast<pid_t>(shim["c"]), SIGKILL) == 0);
  REQUIRE(eventually(
    [&] {
      for (const auto* id : {"c", "d"}) {
        auto i = n.inspect(id);
        if (!i || i->state.status != container_status::running || i->state.pid == pid[id])
          return false;
      }
      return true;
    },
    30s));
  for (const auto* id : {"c", "d"}) {
    auto i = n.inspect(id);
    INFO(id << ": " << describe(i));
    CHECK(i->state.restarts == 1);
    CHECK(i->state.last_exit_code == 137);
  }
  for (const auto* id : {"a", "b", "e"}) { // the other groups did not notice
    auto i = n.inspect(id);
    INFO(id << ": " << describe(i));
    REQUIRE(i);
    CHECK(i->state.pid == pid[id]);
    CHECK(i->state.restarts == 0);
  }
  CHECK(n.ctrd.shim_pids().size() == 3);
  for (const auto& id : ids)
    CHECK_FALSE(n.two("Delete", id).call_error);
  CHECK(eventually([&] { return n.ctrd.shim_pids().empty(); }, 30s));
}

TEST_CASE("a Run into a shim group whose last task is being deleted gets a running task",
          "[supervision][integration]") {
  node n{{"--shim-group-size", "2"}};
  zbus::client other{n.redis.broker()};
  for (int i = 0; i < 10; ++i) {
    // "last" is its shim's only task, and has exited: its Delete goes straight to Tasks.Delete,
    // which makes the shim exit. "next" is put into the same group meanwhile, at a slightly
    // different moment each round.
    auto last = n.make("last" + std::to_string(i), "/bin/true");
    last.restart = restart_policy{"no", 0, 0};
    REQUIRE_FALSE(n.run(last).call_error);
    REQUIRE(eventually([&] {
      auto in = n.inspect(last.name);
      return in && in->state.status == container_status::stopped;
    }));
    zbus::response deleted;
    std::thread del{[&] {
      deleted =
        n.call(other, "Delete", {zbus::encode_string(n.ns), zbus::encode_string(last.name)});
    }};
    std::this_thread::sleep_for(std::chrono::milliseconds{10 * i});
    auto next = n.make("next" + std::to_string(i), "/bin/sleep 1000");
    auto ran = n.run(next);
    del.join();
    INFO("round " << i << ": Delete: " << deleted.call_error.value_or("ok")
                  << "; Run: " << ran.call_error.value_or("ok") << "\ncontd's log of it:\n"
                  << n.log_of(next.name));
    CHECK_FALSE(deleted.call_error);
    CHECK_FALSE(ran.call_error);
    CHECK(eventually([&] { return n.tasks()[next.name] == "RUNNING"; }));
    CHECK(n.ctrd.shim_pids().size() == 1);
    CHECK_FALSE(n.two("Delete", next.name).call_error);
  }
  CHECK(eventually([&] { return n.ctrd.shim_pids().empty(); }, 30s));
}

TEST_CASE("kill -9 of containerd during 30 concurrent Runs: every reply stays true",
          "[supervision][integration][faults]") {
  // Early: every Run is inside containerd; later: some are answered already.
  auto delay = std::chrono::milliseconds{GENERATE(400, 5000)};
  node n;
  auto replies = burst_of_runs(n, [&] {
    std::this_thread::sleep_for(delay);
    n.ctrd.kill_hard();
    std::this_thread::sleep_for(3s);
    n.ctrd.start();
  });
  check_told_the_truth(n, replies);
}

TEST_CASE("kill -9 of contd during 30 concurrent Runs: the restarted contd keeps every promise",
          "[supervision][integration][faults]") {
  auto delay = std::chrono::milliseconds{GENERATE(400, 5000)};
  node n;
  auto replies = burst_of_runs(
    n,
    [&] {
      std::this_thread::sleep_for(delay);
      n.contd->kill_hard();
      std::this_thread::sleep_for(1s);
      n.start_contd(); // takes the Runs still queued in Redis, reconciles the rest
    },
    20s); // requests the killed contd had taken out of Redis are never answered
  check_told_the_truth(n, replies);
}

TEST_CASE("containers of a namespace contd does not manage are left untouched",
          "[supervision][integration]") {
  node n;
  auto foreign = test::random_name("foreign");
  // A container made with ctr, whose process exits at once: contd must neither restart it nor
  // remove it, not at start, not on its periodic reconcile, not after a stream gap.
  auto created = n.ctrd.ctr(
    {"-n", foreign, "run", "-d", "--rootfs", n.ctrd.rootfs().string(), "stranger", "/bin/true"});
  INFO(created.output);
  REQUIRE(created.status == 0);
  REQUIRE(eventually([&] {
    auto r = n.ctrd.ctr({"-n", foreign, "tasks", "ls"});
    return r.output.find("STOPPED") != std::string::npos;
  }));
  // A stream gap and a restart of contd: both reconcile every namespace.
  n.ctrd.restart();
  n.contd->kill_hard();
  n.start_contd();
  std::this_thread::sleep_for(3s);
  auto tasks = n.ctrd.ctr({"-n", foreign, "tasks", "ls"});
  CHECK(tasks.output.find("stranger") != std::string::npos);
  CHECK(tasks.output.find("STOPPED") != std::string::npos);
  auto info = n.ctrd.ctr({"-n", foreign, "containers", "info", "stranger"});
  CHECK(info.output.find("contd.") == std::string::npos); // no label of contd's was added
  n.ctrd.purge_namespace(foreign);
}
