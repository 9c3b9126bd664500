// Container output and stats end to end: the contd program as a process over a private
// redis-server (the zbus broker), a second redis-server on TCP (the containers' log and stats
// sink) and a private containerd with runc. The logger program runs under the shim, the
// forwarders publish from the local logs, and contd, the sink and the disk fail on purpose.
#include <catch2/catch.hpp>

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "src/logs/format.hpp"
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
namespace fs = std::filesystem;

int free_port() {
  std::random_device rd;
  return 20000 + static_cast<int>(rd() % 20000);
}

/// Everything a SUBSCRIBE to the sink receives, per channel, in order. Re-subscribes when the
/// sink goes away and comes back (pub/sub keeps nothing for absent subscribers).
struct subscriber {
  zbus::broker_url url;
  std::vector<std::string> channels;
  std::mutex m;
  std::map<std::string, std::vector<std::string>> got;
  std::atomic<bool> stop{false};
  std::atomic<bool> ready{false};
  std::thread t;

  subscriber(zbus::broker_url u, std::vector<std::string> chans)
      : url(std::move(u)), channels(std::move(chans)) {
    t = std::thread([this] { loop(); });
    REQUIRE(eventually([&] { return ready.load(); }));
  }
  ~subscriber() {
    stop = true;
    t.join();
  }

  void loop() {
    while (!stop) {
      zbus::redis_connection c{url, 200ms};
      if (!c.subscribe(channels)) {
        ready = false;
        std::this_thread::sleep_for(10ms);
        continue;
      }
      ready = true;
      while (!stop) {
        std::string channel, payload;
        auto r = c.next_message(100ms, channel, payload);
        if (r == zbus::redis_connection::message_result::failed)
          break;
        if (r == zbus::redis_connection::message_result::message) {
          std::lock_guard<std::mutex> g{m};
          got[channel].push_back(payload);
        }
      }
      ready = false;
    }
  }

  std::vector<std::string> of(const std::string& channel) {
    std::lock_guard<std::mutex> g{m};
    return got[channel];
  }
};

struct node {
  test::redis_server redis;
  test::containerd_instance ctrd;
  test::netns net;
  std::string ns = test::random_name("logs");
  fs::path root;
  std::vector<std::string> extra;
  std::unique_ptr<test::process> contd;
  zbus::client client{redis.broker()};

  explicit node(std::vector<std::string> extra_flags = {}, fs::path root_dir = {})
      : root(root_dir.empty() ? ctrd.dir() / "contd-root" : root_dir),
        extra(std::move(extra_flags)) {
    start_contd();
  }

  ~node() {
    contd.reset();
    ctrd.purge_namespace(ns);
  }

  void start_contd() {
    std::vector<std::string> args{bin_dir + "/contd", "--broker",     redis.url(),   "--root",
                                  root.string(),      "--containerd", ctrd.socket(), "--netns-dir",
                                  "/var/run/netns",   "--log-level",  "debug"};
    args.insert(args.end(), extra.begin(), extra.end());
    contd = std::make_unique<test::process>(args, (ctrd.dir() / "contd.log").string());
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

  zbus::response call(const std::string& method, std::vector<zbus::bytes> in,
                      std::chrono::milliseconds t = 60s, zbus::client* cl = nullptr) {
    auto r = (cl ? *cl : client).call(method, std::move(in), t);
    if (!r) {
      zbus::response none;
      none.call_error = "no reply: " + r.error();
      return none;
    }
    return *r;
  }

  zbus::response run(const container& c, const std::string& in_ns = {}) {
    return call("Run",
                {zbus::encode_string(in_ns.empty() ? ns : in_ns), zbus::encode_container(c)});
  }

  zbus::response two(const std::string& method, const std::string& id,
                     const std::string& in_ns = {}, zbus::client* cl = nullptr) {
    return call(method, {zbus::encode_string(in_ns.empty() ? ns : in_ns), zbus::encode_string(id)},
                60s, cl);
  }

  std::string logs(const std::string& id) {
    auto r = two("Logs", id);
    return r.call_error || !r.data ? "(error: " + r.call_error.value_or("no data") + ")"
                                   : zbus::decode_string(*r.data);
  }

  std::string status(const std::string& id) {
    auto r = two("Inspect", id);
    if (r.call_error || !r.data)
      return "?";
    return to_string(zbus::decode_container(*r.data).state.status);
  }

  fs::path log_file(const std::string& id, const std::string& in_ns = {}) const {
    return root / "logs" / (in_ns.empty() ? ns : in_ns) / (id + ".log");
  }

  /// Every record of the container's local log (rotated file first).
  std::vector<logs::record> records(const std::string& id) const {
    std::vector<logs::record> out;
    for (auto p : {log_file(id).string() + ".1", log_file(id).string()}) {
      std::ifstream in(p, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), {});
      auto rs = logs::parse_all(bytes, false);
      out.insert(out.end(), rs.begin(), rs.end());
    }
    return out;
  }
};

/// A time.Duration argument as the Go client encodes it: nanoseconds as an integer.
zbus::bytes duration(std::chrono::nanoseconds d) {
  auto b = nlohmann::json::to_msgpack(nlohmann::json(static_cast<int64_t>(d.count())));
  return zbus::bytes(b.begin(), b.end());
}

/// The numbers n of lines "<prefix> n", in order.
std::vector<long> numbers(const std::vector<std::string>& lines, const std::string& prefix) {
  std::vector<long> out;
  for (const auto& l : lines)
    if (l.rfind(prefix, 0) == 0)
      out.push_back(std::stol(l.substr(prefix.size())));
  return out;
}

/// True when xs is 1, 2, …, n with repeats allowed only as a re-sent run (duplicates after a
/// restart): every number from 1 to the max appears and the sequence never skips ahead.
bool no_gap(const std::vector<long>& xs, long& max_seen, size_t& dups) {
  max_seen = 0;
  dups = 0;
  for (auto x : xs) {
    if (x > max_seen + 1)
      return false;
    if (x <= max_seen)
      ++dups;
    max_seen = std::max(max_seen, x);
  }
  return true;
}

} // namespace

TEST_CASE("output reaches the sink per stream, Logs merges both, stats arrive every 2 s",
          "[logs][integration]") {
  int port = free_port();
  test::redis_server sink{port, ""};
  node n;
  subscriber sub{sink.broker(), {"out", "err", "stats"}};
  auto sink_url = "redis://127.0.0.1:" + std::to_string(port) + "/";
  auto c = n.make("talker", "/bin/sh -c 'i=0; while true; do i=$((i+1)); echo out $i; "
                            "echo err $i >&2; sleep 0.1; done'");
  c.logs = {log_sink{"redis", logs_redis{sink_url + "out", sink_url + "err"}}};
  c.stats = {stats_sink{"redis", sink_url + "stats"}};
  auto r = n.run(c);
  REQUIRE_FALSE(r.call_error);

  REQUIRE(
    eventually([&] { return sub.of("out").size() >= 30 && sub.of("stats").size() >= 3; }, 20s));
  // Each line on its stream's channel, one message per line, in order, none missing.
  auto outs = numbers(sub.of("out"), "out ");
  auto errs = numbers(sub.of("err"), "err ");
  long max_out = 0, max_err = 0;
  size_t dups = 0;
  CHECK(outs.size() == sub.of("out").size()); // nothing but stdout lines on "out"
  CHECK(errs.size() == sub.of("err").size());
  CHECK(no_gap(outs, max_out, dups));
  CHECK(dups == 0);
  CHECK(no_gap(errs, max_err, dups));
  CHECK(outs.front() == 1);

  // Logs: both streams merged, the container's own text.
  auto text = n.logs("talker");
  CHECK(std::count(text.begin(), text.end(), '\n') == 100); // the last 100 lines
  auto last = std::to_string(max_out - 5);
  CHECK(text.find("\nout " + last + "\n") != std::string::npos);
  CHECK(text.find("\nerr " + last + "\n") != std::string::npos);
  // The local log keeps the stream and the time of each line.
  auto recs = n.records("talker");
  REQUIRE_FALSE(recs.empty());
  CHECK(std::any_of(recs.begin(), recs.end(),
                    [](auto& r) { return r.source == logs::stream::err && r.text == "err 1"; }));
  CHECK(std::all_of(recs.begin(), recs.end(), [](auto& r) { return r.unix_ns > 0; }));

  // Stats: the Go original's JSON every 2 s with plausible figures.
  auto stats = sub.of("stats");
  std::vector<int64_t> stamps;
  for (const auto& s : stats) {
    auto j = nlohmann::json::parse(s);
    CHECK(j.at("memory_usage").get<uint64_t>() > 0);
    CHECK(j.at("memory_usage").get<uint64_t>() <= j.at("memory_limit").get<uint64_t>());
    CHECK(j.at("memory_limit").get<uint64_t>() == 64u << 20);
    CHECK(j.at("pids_current").get<uint64_t>() >= 1);
    CHECK(j.at("pids_current").get<uint64_t>() <= 4);
    CHECK(j.contains("memory_cache"));
    CHECK(j.at("cpu_usage").get<uint64_t>() > 0);
    stamps.push_back(j.at("timestamp").get<int64_t>());
  }
  for (size_t i = 1; i < stamps.size(); ++i) {
    CHECK(stamps[i] - stamps[i - 1] >= 1);
    CHECK(stamps[i] - stamps[i - 1] <= 3);
  }
  // The Stats method answers the same figures.
  auto m = n.two("Stats", "talker");
  REQUIRE_FALSE(m.call_error);
  std::map<std::string, uint64_t> figures;
  for (auto& [k, v] : zbus::decode_stats(*m.data))
    figures[k] = v;
  CHECK(figures["memory_limit"] == 64u << 20);
  CHECK(figures["memory_usage"] > 0);
  CHECK(figures["pids_current"] >= 1);
  auto ghost = n.two("Stats", "ghost");
  REQUIRE(ghost.call_error);
  CHECK(ghost.call_error->find("not found") != std::string::npos);

  // contctl: the stats table, and logs -f following the output until Ctrl-C.
  auto ctl = [&](std::vector<std::string> args, const std::string& out) {
    std::vector<std::string> argv{bin_dir + "/contctl", "--broker", n.redis.url()};
    argv.insert(argv.end(), args.begin(), args.end());
    return std::make_unique<test::process>(argv, (n.ctrd.dir() / out).string());
  };
  auto table = ctl({"stats", n.ns, "talker"}, "stats.out");
  CHECK(table->wait_exit(30s) == 0);
  auto printed = table->output();
  INFO(printed);
  CHECK(printed.find("NAMESPACE") != std::string::npos);
  CHECK(printed.find("talker") != std::string::npos);
  CHECK(printed.find("64.0 MiB") != std::string::npos); // the limit
  auto follow = ctl({"logs", "-f", n.ns, "talker"}, "follow.out");
  auto first = max_out;
  REQUIRE(eventually(
    [&] {
      auto xs = numbers(sub.of("out"), "out ");
      return !xs.empty() && xs.back() >= first + 20;
    },
    20s));
  std::this_thread::sleep_for(1s);
  kill(follow->pid, SIGINT);
  CHECK(follow->wait_exit(10s) == 0);
  std::istringstream followed(follow->output());
  std::vector<std::string> flines;
  for (std::string l; std::getline(followed, l);)
    flines.push_back(l);
  auto fnums = numbers(flines, "out ");
  INFO("contctl logs -f printed out lines up to " << (fnums.empty() ? 0 : fnums.back()));
  REQUIRE_FALSE(fnums.empty());
  CHECK(fnums.back() >= first + 20);
  // From its first line on, every line once, in order.
  size_t skipped = 0;
  for (size_t i = 1; i < fnums.size(); ++i)
    skipped += fnums[i] == fnums[i - 1] + 1 ? 0 : 1;
  CHECK(skipped == 0);

  // Delete stops forwarding and removes the local log.
  REQUIRE_FALSE(n.two("Delete", "talker").call_error);
  auto after = sub.of("out").size();
  auto stats_after = sub.of("stats").size();
  std::this_thread::sleep_for(3s);
  CHECK(sub.of("out").size() == after);
  CHECK(sub.of("stats").size() == stats_after);
  CHECK_FALSE(fs::exists(n.log_file("talker")));
  CHECK_FALSE(fs::exists(n.log_file("talker").string() + ".lock"));
}

TEST_CASE("a sink down for 10 s never stalls the container, what it wrote meanwhile arrives",
          "[logs][integration]") {
  int port = free_port();
  test::redis_server sink{port, ""};
  node n;
  subscriber sub{sink.broker(), {"lines"}};
  auto c = n.make("steady", "/bin/sh -c 'i=0; while [ $i -lt 300 ]; do i=$((i+1)); "
                            "echo line $i; sleep 0.05; done; sleep 1000'");
  c.logs = {
    log_sink{"redis", logs_redis{"redis://127.0.0.1:" + std::to_string(port) + "/lines", ""}}};
  REQUIRE_FALSE(n.run(c).call_error);
  REQUIRE(eventually([&] { return sub.of("lines").size() >= 20; }, 20s));
  sink.stop();
  std::this_thread::sleep_for(10s);
  sink.start();
  REQUIRE(eventually([&] { return n.records("steady").size() >= 300; }, 30s));
  REQUIRE(eventually([&] { return numbers(sub.of("lines"), "line ").size() >= 300; }, 40s));
  auto nums = numbers(sub.of("lines"), "line ");
  long max_seen = 0;
  size_t dups = 0;
  CHECK(no_gap(nums, max_seen, dups));
  CHECK(max_seen == 300);
  // The loop never stalled: the logger's read times (it reads as the container writes) show
  // no gap near the 10 s outage. One line per 50 ms; allow a generous 1 s.
  auto recs = n.records("steady");
  int64_t worst = 0;
  for (size_t i = 1; i < recs.size(); ++i)
    worst = std::max(worst, recs[i].unix_ns - recs[i - 1].unix_ns);
  INFO("largest gap between two lines: " << worst / 1000000 << " ms");
  CHECK(worst < 1'000'000'000);
}

TEST_CASE("contd killed with -9 and restarted while a container writes: nothing is lost",
          "[logs][integration]") {
  int port = free_port();
  test::redis_server sink{port, ""};
  node n;
  subscriber sub{sink.broker(), {"lines"}};
  auto c = n.make("writer", "/bin/sh -c 'i=0; while [ $i -lt 400 ]; do i=$((i+1)); "
                            "echo line $i; sleep 0.02; done; sleep 1000'");
  c.logs = {
    log_sink{"redis", logs_redis{"redis://127.0.0.1:" + std::to_string(port) + "/lines", ""}}};
  REQUIRE_FALSE(n.run(c).call_error);
  REQUIRE(eventually([&] { return sub.of("lines").size() >= 50; }, 20s));
  n.contd->kill_hard();
  std::this_thread::sleep_for(2s);
  n.start_contd();
  // The local log has every line: the logger lives under the shim, not under contd.
  REQUIRE(eventually([&] { return n.records("writer").size() >= 400; }, 30s));
  std::vector<std::string> local;
  for (auto& r : n.records("writer"))
    local.push_back(r.text);
  long max_seen = 0;
  size_t dups = 0;
  auto local_nums = numbers(local, "line ");
  CHECK(no_gap(local_nums, max_seen, dups));
  CHECK(max_seen == 400);
  CHECK(dups == 0);
  // Forwarding resumed from the kept offset: no gap, duplicates at most one batch.
  REQUIRE(eventually(
    [&] {
      auto xs = numbers(sub.of("lines"), "line ");
      return !xs.empty() && *std::max_element(xs.begin(), xs.end()) == 400;
    },
    30s));
  auto nums = numbers(sub.of("lines"), "line ");
  CHECK(no_gap(nums, max_seen, dups));
  INFO("duplicates after the restart: " << dups);
  CHECK(dups <= 400);
  // Logs still answers with the newest lines.
  CHECK(n.logs("writer").find("line 400\n") != std::string::npos);
}

TEST_CASE("a container writing 100 MB uses at most the cap on disk", "[logs][integration]") {
  node n{{"--log-max-size", "256K"}};
  auto c = n.make("flood", "/bin/sh -c 'yes 0123456789012345678901234567890123456789 "
                           "| head -c 100000000; echo; echo end; sleep 1000'");
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE_FALSE(n.run(c).call_error);
  std::string seen;
  bool ended = eventually(
    [&] {
      seen = n.logs("flood");
      return seen.find("end\n") != std::string::npos;
    },
    120s);
  INFO("Logs: " << seen.substr(seen.size() > 600 ? seen.size() - 600 : 0));
  REQUIRE(ended);
  auto took = std::chrono::steady_clock::now() - t0;
  INFO("100 MB through the logger in "
       << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  uint64_t total = 0;
  for (auto& e : fs::directory_iterator(n.root / "logs" / n.ns))
    if (e.path().filename().string().rfind("flood.log", 0) == 0 && e.is_regular_file())
      total += e.file_size();
  INFO("on disk: " << total << " bytes");
  CHECK(total <= 256 * 1024 + 64 * 1024); // the cap, plus at most one write batch
  CHECK(total > 64 * 1024);               // and the newest output is kept
  auto tail = n.logs("flood");
  CHECK(std::count(tail.begin(), tail.end(), '\n') == 100);
}

TEST_CASE("a FIFO, a symlink or a device at a log or capture path: a clear error in four tenants "
          "at once, contd keeps answering and stops on SIGTERM",
          "[logs][integration]") {
  node n;
  std::vector<std::string> nss;
  for (int i = 0; i < 4; ++i) {
    nss.push_back(test::random_name("hostile"));
    REQUIRE_FALSE(n.run(n.make("c", "/bin/sleep 1000"), nss.back()).call_error);
  }
  auto log = [&](int i) { return n.log_file("c", nss[static_cast<size_t>(i)]).string(); };
  // The log paths replaced: FIFO, symlink to a secret, device, FIFO.
  auto secret = n.ctrd.dir() / "secret";
  std::ofstream(secret) << "2026-11-30T23:34:11.000000001Z stdout F the secret\n";
  for (int i = 0; i < 4; ++i)
    fs::remove(log(i));
  REQUIRE(mkfifo(log(0).c_str(), 0600) == 0);
  fs::create_symlink(secret, log(1));
  REQUIRE(mknod(log(2).c_str(), S_IFCHR | 0600, makedev(1, 5)) == 0);
  REQUIRE(mkfifo(log(3).c_str(), 0600) == 0);
  // The capture directories replaced: a symlink and a FIFO where a directory belongs.
  auto exec_dir = n.root / "exec";
  fs::create_directories(exec_dir);
  fs::create_symlink(n.ctrd.dir(), exec_dir / nss[1]);
  REQUIRE(mkfifo((exec_dir / nss[3]).c_str(), 0600) == 0);

  // Four clients at once, one per tenant, each asking twice for Logs and once for an Exec.
  std::vector<std::string> errors(8), exec_errors(4);
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&, i] {
      zbus::client cl{n.redis.broker()};
      for (int k = 0; k < 2; ++k) {
        auto r = n.two("Logs", "c", nss[static_cast<size_t>(i)], &cl);
        errors[static_cast<size_t>(2 * i + k)] = r.call_error.value_or("(no error)");
      }
      auto e = n.call("Exec",
                      {zbus::encode_string(nss[static_cast<size_t>(i)]), zbus::encode_string("c"),
                       duration(5s), zbus::encode_string("/bin/sh"), zbus::encode_string("-c"),
                       zbus::encode_string("echo hi; exit 3")},
                      30s, &cl);
      exec_errors[static_cast<size_t>(i)] = e.call_error.value_or("(no error)");
    });
  for (auto& t : ts)
    t.join();
  for (int k = 0; k < 2; ++k) {
    INFO(errors[static_cast<size_t>(k)]);
    CHECK(errors[static_cast<size_t>(k)].find("is a FIFO, not a regular file")
          != std::string::npos);
    CHECK(errors[static_cast<size_t>(6 + k)].find("is a FIFO") != std::string::npos);
    CHECK(errors[static_cast<size_t>(2 + k)].find("symbolic link") != std::string::npos);
    CHECK(errors[static_cast<size_t>(2 + k)].find("the secret") == std::string::npos);
    CHECK(errors[static_cast<size_t>(4 + k)].find("character device") != std::string::npos);
  }
  // Exec: the normal failure where the capture directory is sound, a clear refusal elsewhere.
  INFO(exec_errors[0] << " | " << exec_errors[1] << " | " << exec_errors[3]);
  CHECK(exec_errors[0] == "non-zero exit code: 3\nhi\n");
  CHECK(exec_errors[1].find("symbolic link, not a directory") != std::string::npos);
  CHECK(exec_errors[2] == "non-zero exit code: 3\nhi\n");
  CHECK(exec_errors[3].find("a FIFO, not a directory") != std::string::npos);
  CHECK_FALSE(fs::exists(n.ctrd.dir() / "secret.out"));
  // Still answering, then a clean stop.
  CHECK(n.status_ok());
  CHECK(n.status("c") == "?"); // Inspect of a name in the node's own namespace: none there
  kill(n.contd->pid, SIGTERM);
  CHECK(n.contd->wait_exit(30s) == 0);
  for (const auto& ns : nss)
    n.ctrd.purge_namespace(ns);
}

namespace {

/// A small tmpfs, unmounted (lazily, whatever is still open) when the test ends.
struct small_disk {
  fs::path dir;
  explicit small_disk(const fs::path& where, const std::string& size) : dir(where) {
    fs::create_directories(dir);
    REQUIRE(mount("tmpfs", dir.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0);
  }
  ~small_disk() { umount2(dir.c_str(), MNT_DETACH); }
};

} // namespace

TEST_CASE("a full disk: other tenants keep working, Exec reports that its output cannot be kept, "
          "and the logger counts what it dropped",
          "[logs][integration]") {
  test::containerd_instance scratch; // only for its temporary directory
  small_disk disk{scratch.dir() / "small", "4m"};
  // 1 MiB of ballast, removed later to make room again.
  auto ballast = disk.dir / "ballast";
  std::ofstream(ballast) << std::string(1 << 20, 'x');
  node n{{"--log-max-size", "64M"}, disk.dir / "root"};
  auto chatty_ns = test::random_name("chatty");
  REQUIRE_FALSE(n.run(n.make("chatty", "/bin/sh -c 'yes 01234567890123456789012345678901234567"
                                       "89 | head -c 8000000; i=0; while true; do i=$((i+1)); "
                                       "echo tick $i; sleep 0.2; done'"),
                      chatty_ns)
                  .call_error);
  REQUIRE_FALSE(n.run(n.make("quiet", "/bin/sleep 1000")).call_error);
  auto exec_true = [&] {
    return n.call("Exec", {zbus::encode_string(n.ns), zbus::encode_string("quiet"), duration(5s),
                           zbus::encode_string("/bin/true")});
  };
  // The disk fills up.
  REQUIRE(eventually(
    [&] {
      std::error_code ec;
      auto space = fs::space(disk.dir, ec);
      return !ec && space.available < 64 * 1024;
    },
    30s));
  // The other tenant: Inspect answers; an Exec says its output has no room instead of losing it.
  CHECK(n.status("quiet") == "running");
  auto e = exec_true();
  REQUIRE(e.call_error);
  CHECK(e.call_error->find("No space left on device") != std::string::npos);
  // The chatty container still runs: its writes are dropped, not blocked.
  auto i = n.two("Inspect", "chatty", chatty_ns);
  REQUIRE_FALSE(i.call_error);
  CHECK(zbus::decode_container(*i.data).state.status == container_status::running);
  // Room again: the logger writes again and reports in the log what it dropped.
  fs::remove(ballast);
  REQUIRE(eventually(
    [&] {
      auto r = n.two("Logs", "chatty", chatty_ns);
      return !r.call_error
             && zbus::decode_string(*r.data).find("[contd-logger] dropped") != std::string::npos;
    },
    20s));
  auto r = n.two("Logs", "chatty", chatty_ns);
  INFO(zbus::decode_string(*r.data).substr(0, 2000));
  CHECK(zbus::decode_string(*r.data).find("No space left on device") != std::string::npos);
  CHECK_FALSE(n.two("Delete", "chatty", chatty_ns).call_error);
  n.ctrd.purge_namespace(chatty_ns);
  CHECK_FALSE(exec_true().call_error);
}
