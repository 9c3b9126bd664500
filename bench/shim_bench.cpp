// Shared shims (--shim-per-container=false: at most 10 containers of a namespace per containerd
// shim) against one shim per container (contd's default), in one run on the same busybox rootfs.
// Prints figures; asserts nothing.
//
//   shim_bench [per_tenant=10] [tenants=2] [storm_tenants=8] [storm_per_tenant=5]
//
// 1. Run p50 through zbus of the 2nd..last container of a tenant against its 1st (which starts
//    the shared shim), for both settings.
// 2. Host memory (RSS of this process, which runs contd, plus every shim of the private
//    containerd) with per_tenant * tenants sleeping containers, minus the same with none: the cost
//    of one added container, for both settings.
// 3. Run + Delete p50 of a /bin/true container through zbus against `ctr run --rm` of the same
//    rootfs in the same containerd: in a tenant without other containers (its shim starts and
//    ends with the container either way), and in a tenant where another container runs (a
//    shared shim is already there and stays).
//    Then where the time goes: every containerd call a Run and a Delete make, timed one by one
//    through the adapter with the spec and logger contd uses (p50 of each), against the same
//    Run + Delete through zbus.
// 4. Boot storm: storm_tenants * storm_per_tenant Runs pushed at once over Redis, as provisiond
//    does after a reboot; the wall time until every Run is answered, against the same number of
//    `ctr run -d` started in parallel. Then the same number of Runs at once into one tenant.
#include <sys/types.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <spdlog/spdlog.h>

#include "bench/figures.hpp"
#include "messages/messages.hpp"
#include "src/zbus/client.hpp"
#include "tests/integration/inprocess_stack.hpp"

using namespace contd;
using namespace std::chrono_literals;
using bench::clk;
using bench::ms_since;
using bench::pct;

namespace {

long rss_kib(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return 0;
}

/// contd in-process with one shim per container or shared shims.
struct stack : test::inprocess_stack {
  explicit stack(bool shim_per_container)
      : inprocess_stack([&](module_config& mc) { mc.shim_per_container = shim_per_container; }) {}

  container make(const std::string& name) const {
    auto c = inprocess_stack::make(name, "/bin/sleep 100000");
    c.shutdown_timeout = 100'000'000; // sleep ignores SIGTERM: Delete kills it after 0.1 s
    return c;
  }

  /// contd (this process) plus every shim of the private containerd.
  long host_kib() const {
    long sum = rss_kib("self");
    for (auto pid : ctrd.shim_pids())
      sum += rss_kib(std::to_string(pid));
    return sum;
  }
};

/// Deletes through contd (removing them behind its back would make it restart them).
void delete_all(zbus::client& c, const std::string& ns, const std::string& prefix, int n) {
  for (int i = 0; i < n; ++i) {
    auto r = c.call(
      "Delete", {zbus::encode_string(ns), zbus::encode_string(prefix + std::to_string(i))}, 120s);
    if (!r || r->call_error)
      std::fprintf(stderr, "Delete %s/%s%d failed\n", ns.c_str(), prefix.c_str(), i);
  }
}

bool run_ok(zbus::client& c, const std::string& ns, const container& ctr) {
  auto r = c.call("Run", {zbus::encode_string(ns), zbus::encode_container(ctr)}, 120s);
  if (!r || r->protocol_error || r->call_error) {
    std::fprintf(stderr, "Run %s/%s failed: %s\n", ns.c_str(), ctr.name.c_str(),
                 !r ? r.error().c_str()
                    : (r->call_error ? r->call_error->c_str() : r->protocol_error->c_str()));
    return false;
  }
  return true;
}

/// Every containerd call of one Run and one Delete of a /bin/true container, through the adapter
/// as contd makes them, timed one by one: p50 per step over `runs` cycles.
void step_breakdown(stack& s, int runs, double zbus_cycle_ms) {
  caf::scoped_actor self{s.sys};
  const std::string ns = "steps";
  const std::vector<std::string> names{
    "Run:    Containers.Get (miss)", "Run:    Namespaces.Create", "Run:    Containers.Create",
    "Run:    Tasks.Create",          "Run:    Tasks.Start",       "Run:    Containers.Update",
    "(the task runs /bin/true)",     "Delete: Containers.Update", "Delete: Tasks.Get",
    "Delete: Tasks.Delete",          "Delete: Tasks.Get (guard)", "Delete: Containers.Delete",
    "no IO:  Containers.Create",     "no IO:  Tasks.Create",      "no IO:  Tasks.Start",
    "(the task runs /bin/true)",     "no IO:  Tasks.Delete",      "no IO:  Containers.Delete"};
  std::vector<std::vector<double>> ms(names.size());
  auto logger = std::string{CONTD_BIN_DIR} + "/contd-logger";
  for (int i = 0; i < runs; ++i) {
    auto id = "s" + std::to_string(i);
    container c;
    c.name = id;
    c.root_fs = s.ctrd.rootfs().string();
    c.network.ns = s.net.name;
    c.entrypoint = "/bin/true";
    std::string spec;
    self->request(s.module.builder, 30s, atom::build_v, ns, c, std::string{"shim-0"})
      .receive([&](std::string& x) { spec = std::move(x); }, [](caf::error&) {});
    auto log = (s.ctrd.scratch() / (id + ".log")).string();
    std::ofstream{log + ".lock"};
    std::ofstream{log};
    auto uri = "binary://" + logger + "?path=" + log + "&max=10485760";
    container_record rec;
    rec.id = id;
    rec.spec_json = spec;
    rec.labels = {{"contd.managed", "true"}, {"contd.desired", "creating"}};
    size_t step = 0;
    // on_ok names the reply type (the adapter is a typed actor); errors count as a step too.
    auto timed = [&](auto on_ok, auto&&... xs) {
      auto t0 = clk::now();
      self->request(s.module.client, 30s, std::forward<decltype(xs)>(xs)...)
        .receive(on_ok, [](caf::error&) {});
      ms[step++].push_back(ms_since(t0));
    };
    auto record = [](container_record&) {};
    auto pid = [](uint32_t) {};
    auto task = [](task_info&) {};
    auto exit = [](exit_info&) {};
    auto none = [] {};
    timed(record, atom::ctr_get_v, ns, id);
    timed(none, atom::ns_ensure_v, ns, label_map{});
    timed(record, atom::ctr_create_v, ns, rec);
    timed(pid, atom::tsk_create_v, ns, id, uri, uri);
    timed(pid, atom::tsk_start_v, ns, id);
    timed(record, atom::ctr_labels_v, ns, id, label_map{{"contd.desired", "running"}});
    timed(exit, atom::tsk_wait_v, ns, id, caf::timespan{10s});
    timed(record, atom::ctr_labels_v, ns, id, label_map{{"contd.desired", "deleted"}});
    timed(task, atom::tsk_get_v, ns, id);
    timed(exit, atom::tsk_delete_v, ns, id);
    timed(task, atom::tsk_get_v, ns, id);
    timed(none, atom::ctr_delete_v, ns, id);
    // The same task without output: what starting contd-logger adds to Tasks.Create.
    auto bare = rec;
    bare.id = id + "-bare";
    timed(record, atom::ctr_create_v, ns, bare);
    timed(pid, atom::tsk_create_v, ns, bare.id, std::string{}, std::string{});
    timed(pid, atom::tsk_start_v, ns, bare.id);
    timed(exit, atom::tsk_wait_v, ns, bare.id, caf::timespan{10s});
    timed(exit, atom::tsk_delete_v, ns, bare.id);
    timed(none, atom::ctr_delete_v, ns, bare.id);
  }
  // Steps 3, 4 and 9 are the task's own life in containerd, shim and runc; the rest are the
  // metadata calls contd makes around them.
  double task_calls = 0, other_calls = 0;
  for (size_t k = 0; k < names.size(); ++k) {
    auto p50 = pct(ms[k], 50);
    if (k == 3 || k == 4 || k == 9)
      task_calls += p50;
    else if (k != 6 && k < 12)
      other_calls += p50;
    std::printf("  %-32s p50 %6.1f ms\n", names[k].c_str(), p50);
  }
  std::printf("  Tasks.Create + Start + Delete %.1f ms, contd's other calls %.1f ms; zbus "
              "Run+Delete p50 %.1f ms: task calls %.2f of it, other calls %.2f\n",
              task_calls, other_calls, zbus_cycle_ms, task_calls / zbus_cycle_ms,
              other_calls / zbus_cycle_ms);
  s.ctrd.purge_namespace(ns);
}

struct figures {
  double first_ms = 0;      // p50 of each tenant's first Run
  double later_ms = 0;      // p50 of the other Runs
  double per_container = 0; // KiB of host memory per added container
  size_t shims = 0;
  double storm_ms = 0;
  double burst_ms = 0;      // the storm's Runs all into one tenant
  double cycle_ms = 0;      // p50 of zbus Run + Delete of /bin/true
  double warm_cycle_ms = 0; // the same in a tenant where another container runs
  double ctr_rm_ms = 0;     // p50 of ctr run --rm of /bin/true
};

figures measure(bool shim_per_container, int per_tenant, int tenants, int storm_tenants,
                int storm_per_tenant) {
  figures f;
  stack s{shim_per_container};
  zbus::client c{s.redis.broker()};
  if (!c.call("ListNS", {}, 30s)) // contd is up
    std::exit(1);
  long before = s.host_kib();
  std::vector<double> first, later;
  for (int t = 0; t < tenants; ++t) {
    auto ns = "t" + std::to_string(t);
    for (int i = 0; i < per_tenant; ++i) {
      auto t0 = clk::now();
      if (!run_ok(c, ns, s.make("c" + std::to_string(i))))
        std::exit(1);
      (i == 0 ? first : later).push_back(ms_since(t0));
    }
  }
  std::this_thread::sleep_for(1s); // let the shims settle after their last start
  f.first_ms = pct(first, 50);
  f.later_ms = pct(later, 50);
  f.shims = s.ctrd.shim_pids().size();
  f.per_container = double(s.host_kib() - before) / (per_tenant * tenants);
  for (int t = 0; t < tenants; ++t)
    delete_all(c, "t" + std::to_string(t), "c", per_tenant);

  // Run + Delete against ctr run --rm, interleaved; in an empty tenant, and in one where a
  // neighbour runs (with shared shims, its shim is already there and stays).
  if (!run_ok(c, "cycle-warm", s.make("neighbour")))
    std::exit(1);
  std::vector<double> cycles, warm_cycles, ctr_rm;
  for (int i = 0; i < 20; ++i) {
    auto id = "once" + std::to_string(i);
    auto one = s.make(id);
    one.entrypoint = "/bin/true";
    for (const char* ns : {"cycle", "cycle-warm"}) {
      auto t0 = clk::now();
      if (!run_ok(c, ns, one))
        std::exit(1);
      auto r = c.call("Delete", {zbus::encode_string(ns), zbus::encode_string(id)}, 120s);
      if (!r || r->call_error)
        std::exit(1);
      (std::string{ns} == "cycle" ? cycles : warm_cycles).push_back(ms_since(t0));
    }
    auto t0 = clk::now();
    auto out = s.ctrd.ctr({"-n", "ctr-rm", "run", "--rm", "--rootfs", s.ctrd.rootfs().string(),
                           "rm" + std::to_string(i), "/bin/true"},
                          120s);
    if (out.status != 0)
      std::fprintf(stderr, "ctr run --rm failed: %s\n", out.output.c_str());
    ctr_rm.push_back(ms_since(t0));
  }
  f.cycle_ms = pct(cycles, 50);
  f.warm_cycle_ms = pct(warm_cycles, 50);
  f.ctr_rm_ms = pct(ctr_rm, 50);
  if (auto r = c.call("Delete",
                      {zbus::encode_string("cycle-warm"), zbus::encode_string("neighbour")}, 120s);
      !r || r->call_error)
    std::fprintf(stderr, "Delete cycle-warm/neighbour failed\n");
  if (!shim_per_container) {
    std::printf("where a Run and a Delete spend (shared shims, in an empty tenant):\n");
    step_breakdown(s, 10, f.cycle_ms);
  }

  // The boot storm: every Run pushed at once, each from its own client.
  std::vector<std::future<bool>> calls;
  auto t0 = clk::now();
  for (int t = 0; t < storm_tenants; ++t)
    for (int i = 0; i < storm_per_tenant; ++i)
      calls.push_back(std::async(std::launch::async, [&s, t, i] {
        zbus::client own{s.redis.broker()};
        return run_ok(own, "storm" + std::to_string(t), s.make("s" + std::to_string(i)));
      }));
  for (auto& call : calls)
    if (!call.get())
      std::exit(1);
  f.storm_ms = ms_since(t0);
  for (int t = 0; t < storm_tenants; ++t)
    delete_all(c, "storm" + std::to_string(t), "s", storm_per_tenant);

  // The same number of Runs at once into one tenant: one shim takes every Tasks.Create.
  calls.clear();
  int burst = storm_tenants * storm_per_tenant;
  t0 = clk::now();
  for (int i = 0; i < burst; ++i)
    calls.push_back(std::async(std::launch::async, [&s, i] {
      zbus::client own{s.redis.broker()};
      return run_ok(own, "burst", s.make("b" + std::to_string(i)));
    }));
  for (auto& call : calls)
    if (!call.get())
      std::exit(1);
  f.burst_ms = ms_since(t0);
  delete_all(c, "burst", "b", burst);
  return f;
}

/// The same number of `ctr run -d` of the rootfs, all started at once; the wall time until every
/// one has returned (the task is started then).
double ctr_storm(int n) {
  test::containerd_instance ctrd;
  std::vector<std::future<int>> runs;
  auto t0 = clk::now();
  for (int i = 0; i < n; ++i)
    runs.push_back(std::async(std::launch::async, [&ctrd, i] {
      return ctrd
        .ctr({"-n", "storm", "run", "-d", "--rootfs", ctrd.rootfs().string(),
              "c" + std::to_string(i), "/bin/sleep", "100000"},
             120s)
        .status;
    }));
  for (auto& r : runs)
    if (r.get() != 0)
      std::fprintf(stderr, "a ctr run -d failed\n");
  auto ms = ms_since(t0);
  ctrd.purge_namespace("storm");
  return ms;
}

} // namespace

int main(int argc, char** argv) {
  int per_tenant = argc > 1 ? std::atoi(argv[1]) : 10;
  int tenants = argc > 2 ? std::atoi(argv[2]) : 2;
  int storm_tenants = argc > 3 ? std::atoi(argv[3]) : 8;
  int storm_per_tenant = argc > 4 ? std::atoi(argv[4]) : 5;
  spdlog::set_level(spdlog::level::warn);
  auto shared = measure(false, per_tenant, tenants, storm_tenants, storm_per_tenant);
  auto own = measure(true, per_tenant, tenants, storm_tenants, storm_per_tenant);
  auto ctr_ms = ctr_storm(storm_tenants * storm_per_tenant);
  int n = per_tenant * tenants;
  std::printf("%d sleeping containers in %d tenants\n", n, tenants);
  for (const auto* f : {&shared, &own}) {
    bool sh = f == &shared;
    std::printf("%-22s Run p50: 1st of a tenant %.1f ms, later %.1f ms (later/1st %.2f)\n",
                sh ? "shared shims:" : "shim per container:", f->first_ms, f->later_ms,
                f->later_ms / f->first_ms);
    std::printf("%-22s %zu shims, host memory per added container %.0f KiB\n", "", f->shims,
                f->per_container);
  }
  for (const auto* f : {&shared, &own})
    std::printf("%s Run+Delete p50 %.1f ms (empty tenant), %.1f ms (a neighbour runs) vs ctr run "
                "--rm %.1f ms: %.2f, %.2f\n",
                f == &shared ? "shared shims:" : "shim per container:", f->cycle_ms,
                f->warm_cycle_ms, f->ctr_rm_ms, f->cycle_ms / f->ctr_rm_ms,
                f->warm_cycle_ms / f->ctr_rm_ms);
  std::printf("memory per added container, shared/own: %.2f\n",
              shared.per_container / own.per_container);
  int storm = storm_tenants * storm_per_tenant;
  std::printf("boot storm of %d Runs over %d tenants: shared %.0f ms, own %.0f ms, "
              "%d parallel ctr run -d %.0f ms\n",
              storm, storm_tenants, shared.storm_ms, own.storm_ms, storm, ctr_ms);
  std::printf("boot storm / ctr run -d: shared %.2f, own %.2f\n", shared.storm_ms / ctr_ms,
              own.storm_ms / ctr_ms);
  std::printf("%d Runs at once into one tenant: shared %.0f ms, own %.0f ms; / ctr run -d: "
              "shared %.2f, own %.2f\n",
              storm, shared.burst_ms, own.burst_ms, shared.burst_ms / ctr_ms,
              own.burst_ms / ctr_ms);
  return 0;
}
