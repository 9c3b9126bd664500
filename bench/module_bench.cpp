// Benchmarks of the container module through the real zbus path (private Redis and containerd,
// contd in-process). Prints figures; asserts nothing.
//
//   module_bench [runs=20] [callers=64] [tenants=1000]
//
// 1. Run + Delete latency of a busybox /bin/true container through zbus, against the floor of the
//    same lifecycle through the containerd adapter alone, in the same run (ratio of medians).
// 2. Inspect latency (p50, p99) and throughput with `callers` concurrent callers over Redis.
// 3. Another tenant's Inspect p99 while a Delete waits out a 5 s grace period, against idle.
// 4. Resident memory after `tenants` tenants each ran and deleted one container.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numeric>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "bench/figures.hpp"
#include "src/zbus/client.hpp"
#include "tests/integration/inprocess_stack.hpp"

using namespace contd;
using namespace std::chrono_literals;
using bench::clk;
using bench::ms_since;
using bench::pct;

namespace {

void summary(const char* what, const std::vector<double>& xs) {
  std::printf("%-44s n=%zu min %.1f  p50 %.1f  p99 %.1f  max %.1f ms\n", what, xs.size(),
              pct(xs, 0), pct(xs, 50), pct(xs, 99), pct(xs, 100));
}

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return -1;
}

/// contd in-process; tenants are kept for the memory figure.
struct stack : test::inprocess_stack {
  stack() : inprocess_stack([](module_config& mc) { mc.tenant_idle = std::chrono::hours{1}; }) {}
};

bool call_ok(zbus::client& c, const std::string& method, std::vector<zbus::bytes> in,
             zbus::response* out = nullptr) {
  auto r = c.call(method, std::move(in), 120s);
  if (!r || r->protocol_error || r->call_error) {
    std::fprintf(stderr, "%s failed: %s\n", method.c_str(),
                 !r ? r.error().c_str()
                    : (r->call_error ? r->call_error->c_str() : r->protocol_error->c_str()));
    return false;
  }
  if (out)
    *out = *r;
  return true;
}

std::vector<zbus::bytes> args2(const std::string& a, const std::string& b) {
  return {zbus::encode_string(a), zbus::encode_string(b)};
}

/// The floor: the same lifecycle through the containerd adapter only.
std::vector<double> floor_runs(stack& s, int runs) {
  caf::scoped_actor self{s.sys};
  std::vector<double> out;
  const std::string ns = "floor";
  for (int i = 0; i < runs; ++i) {
    auto id = "f" + std::to_string(i);
    container_record rec;
    rec.id = id;
    nlohmann::json spec = nlohmann::json::parse(s.ctrd.spec_json(ns, id, {"/bin/true"}));
    rec.spec_json = spec.dump();
    auto uri = "file://" + (s.ctrd.scratch() / (id + ".log")).string();
    auto t0 = clk::now();
    bool ok = true;
    auto fail = [&](caf::error& e) {
      std::fprintf(stderr, "floor: %s\n", error_text(e).c_str());
      ok = false;
    };
    self->request(s.module.client, 30s, atom::ctr_create_v, ns, rec)
      .receive([](container_record&) {}, fail);
    self->request(s.module.client, 30s, atom::tsk_create_v, ns, id, uri, uri)
      .receive([](uint32_t) {}, fail);
    self->request(s.module.client, 30s, atom::tsk_start_v, ns, id).receive([](uint32_t) {}, fail);
    self->request(s.module.client, 30s, atom::tsk_wait_v, ns, id, caf::timespan{10s})
      .receive([](exit_info&) {}, fail);
    self->request(s.module.client, 30s, atom::tsk_delete_v, ns, id)
      .receive([](exit_info&) {}, fail);
    self->request(s.module.client, 30s, atom::ctr_delete_v, ns, id).receive([] {}, fail);
    if (ok)
      out.push_back(ms_since(t0));
  }
  s.ctrd.purge_namespace(ns);
  return out;
}

} // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 20;
  int callers = argc > 2 ? std::atoi(argv[2]) : 64;
  int tenants = argc > 3 ? std::atoi(argv[3]) : 1000;
  spdlog::set_level(spdlog::level::warn); // one line per request would drown the figures
  stack s;
  zbus::client c{s.redis.broker()};
  if (!call_ok(c, "ListNS", {}))
    return 1;

  // 1. Run + Delete against the floor, interleaved in one run.
  floor_runs(s, 3); // warm-up: first shim starts are slower
  std::vector<double> contd_ms;
  for (int i = 0; i < runs; ++i) {
    auto id = "r" + std::to_string(i);
    auto t0 = clk::now();
    if (!call_ok(c, "Run",
                 {zbus::encode_string("bench"), zbus::encode_container(s.make(id, "/bin/true"))}))
      return 1;
    if (!call_ok(c, "Delete", args2("bench", id)))
      return 1;
    contd_ms.push_back(ms_since(t0));
  }
  auto floor_ms = floor_runs(s, runs);
  summary("floor: adapter create+start+wait+delete", floor_ms);
  summary("contd: zbus Run + Delete (/bin/true)", contd_ms);
  std::printf("ratio of medians contd/floor: %.3f\n", pct(contd_ms, 50) / pct(floor_ms, 50));

  // 2. Inspect with many concurrent callers.
  if (!call_ok(c, "Run",
               {zbus::encode_string("bench"),
                zbus::encode_container(s.make("target", "/bin/sleep 100000"))}))
    return 1;
  std::vector<double> idle_ms;
  for (int i = 0; i < 200; ++i) {
    auto t0 = clk::now();
    call_ok(c, "Inspect", args2("bench", "target"));
    idle_ms.push_back(ms_since(t0));
  }
  summary("Inspect, 1 caller", idle_ms);
  {
    std::mutex m;
    std::vector<double> all;
    std::vector<std::thread> ts;
    constexpr int per_caller = 50;
    auto t0 = clk::now();
    for (int k = 0; k < callers; ++k)
      ts.emplace_back([&] {
        zbus::client cc{s.redis.broker()};
        std::vector<double> mine;
        for (int i = 0; i < per_caller; ++i) {
          auto t = clk::now();
          call_ok(cc, "Inspect", args2("bench", "target"));
          mine.push_back(ms_since(t));
        }
        std::lock_guard<std::mutex> g{m};
        all.insert(all.end(), mine.begin(), mine.end());
      });
    for (auto& t : ts)
      t.join();
    auto secs = ms_since(t0) / 1000;
    char label[64];
    std::snprintf(label, sizeof(label), "Inspect, %d concurrent callers", callers);
    summary(label, all);
    std::printf("Inspect throughput with %d callers: %.0f calls/s\n", callers,
                static_cast<double>(all.size()) / secs);
  }

  // 3. Another tenant's Inspect while a Delete waits out a 5 s grace period.
  auto deaf = s.make("deaf", "/bin/sleep 100000"); // PID 1 ignores SIGTERM
  deaf.shutdown_timeout = 5'000'000'000;
  if (!call_ok(c, "Run", {zbus::encode_string("slow"), zbus::encode_container(deaf)}))
    return 1;
  std::atomic<bool> deleting{true};
  std::thread del([&] {
    zbus::client dc{s.redis.broker()};
    call_ok(dc, "Delete", args2("slow", "deaf"));
    deleting = false;
  });
  std::this_thread::sleep_for(200ms);
  std::vector<double> during;
  while (deleting) {
    auto t0 = clk::now();
    call_ok(c, "Inspect", args2("bench", "target"));
    during.push_back(ms_since(t0));
  }
  del.join();
  summary("Inspect (other tenant) during a 5 s Delete", during);
  std::printf("p99 during / p99 idle: %.2f\n", pct(during, 99) / pct(idle_ms, 99));
  call_ok(c, "Delete", args2("bench", "target"));

  // 4. Memory with many tenants.
  auto before = rss_kib();
  std::atomic<int> next{0};
  std::vector<std::thread> ts;
  auto t0 = clk::now();
  for (int k = 0; k < 8; ++k)
    ts.emplace_back([&] {
      zbus::client cc{s.redis.broker()};
      for (int i = next++; i < tenants; i = next++) {
        auto ns = "t" + std::to_string(i);
        call_ok(cc, "Run",
                {zbus::encode_string(ns), zbus::encode_container(s.make("c", "/bin/true"))});
        call_ok(cc, "Delete", args2(ns, "c"));
      }
    });
  for (auto& t : ts)
    t.join();
  auto after = rss_kib();
  std::printf("%d tenants each ran and deleted one container in %.1f s\n", tenants,
              ms_since(t0) / 1000);
  std::printf("resident memory: %ld KiB before, %ld KiB after (%.1f KiB per tenant)\n", before,
              after, static_cast<double>(after - before) / tenants);
  return 0; // the fixture purges every namespace of its containerd
}
