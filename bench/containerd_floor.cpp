// The floor contd's own Run and Delete are measured against: create + start + wait + delete of a
// busybox /bin/true container, through the containerd adapter actor, against a private containerd
// (tests/integration/containerd_fixture). The same sequence with raw synchronous grpc++ stubs
// gives the adapter's overhead. Runs alternate between the two paths so that drift (page cache,
// other load) affects both alike.
//
//   containerd_floor [runs=20] [warmup=2]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <google/protobuf/empty.pb.h>

#include "actors/containerd_client.hpp"
#include "messages/messages.hpp"
#include "src/config/actor_config.hpp"
#include "src/containerd/channel.hpp"
#include "tests/integration/containerd_fixture.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
namespace cd = contd::containerd;

namespace {

constexpr auto deadline = std::chrono::seconds{60};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "containerd_floor: %s\n", what.c_str());
  std::exit(1);
}

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

struct summary {
  double min, median, max, mean;
};

summary summarize(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  auto n = xs.size();
  double median = n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
  return {xs.front(), median, xs.back(), std::accumulate(xs.begin(), xs.end(), 0.0) / n};
}

// --- through the adapter ---------------------------------------------------------------------

struct adapter_path {
  caf::scoped_actor& self; // one requester for all calls, as a tenant would be
  contd::containerd_client_actor client;

  template <class T, class... Ts>
  T ask(const char* what, Ts&&... xs) {
    T out{};
    caf::error err;
    self->request(client, caf::timespan{deadline}, std::forward<Ts>(xs)...)
      .receive([&](T& x) { out = std::move(x); }, [&](caf::error& e) { err = std::move(e); });
    if (err)
      die(std::string{what} + ": " + contd::error_text(err));
    return out;
  }

  void ask_void(const char* what, const std::string& ns, const std::string& id) {
    caf::error err;
    self->request(client, caf::timespan{deadline}, contd::atom::ctr_delete_v, ns, id)
      .receive([] {}, [&](caf::error& e) { err = std::move(e); });
    if (err)
      die(std::string{what} + ": " + contd::error_text(err));
  }

  void run(const std::string& ns, const std::string& id, const std::string& spec,
           const std::string& log_uri) {
    namespace atom = contd::atom;
    contd::container_record rec;
    rec.id = id;
    rec.spec_json = spec;
    ask<contd::container_record>("Containers.Create", atom::ctr_create_v, ns, rec);
    ask<uint32_t>("Tasks.Create", atom::tsk_create_v, ns, id, log_uri, log_uri);
    ask<uint32_t>("Tasks.Start", atom::tsk_start_v, ns, id);
    auto exit =
      ask<contd::exit_info>("Tasks.Wait", atom::tsk_wait_v, ns, id, caf::timespan{deadline});
    if (exit.exit_status != 0)
      die("/bin/true exited with " + std::to_string(exit.exit_status));
    ask<contd::exit_info>("Tasks.Delete", atom::tsk_delete_v, ns, id);
    ask_void("Containers.Delete", ns, id);
  }
};

// --- raw synchronous stubs -------------------------------------------------------------------

struct raw_path {
  cd::stubs rpc;

  template <class F>
  void call(const char* what, const std::string& ns, F f) {
    grpc::ClientContext ctx;
    cd::prepare(ctx, ns, deadline);
    auto status = f(ctx);
    if (!status.ok())
      die(std::string{what} + ": " + status.error_message());
  }

  void run(const std::string& ns, const std::string& id, const std::string& spec,
           const std::string& log_uri) {
    namespace ctr = cd::containers_v1;
    namespace tsk = cd::tasks_v1;
    google::protobuf::Empty empty;
    ctr::CreateContainerRequest create;
    ctr::CreateContainerResponse created;
    create.mutable_container()->set_id(id);
    create.mutable_container()->mutable_runtime()->set_name("io.containerd.runc.v2");
    create.mutable_container()->mutable_spec()->set_type_url(
      "types.containerd.io/opencontainers/runtime-spec/1/Spec");
    create.mutable_container()->mutable_spec()->set_value(spec);
    call("Containers.Create", ns,
         [&](auto& ctx) { return rpc.containers->Create(&ctx, create, &created); });
    tsk::CreateTaskRequest task;
    tsk::CreateTaskResponse task_created;
    task.set_container_id(id);
    task.set_stdout(log_uri);
    task.set_stderr(log_uri);
    call("Tasks.Create", ns,
         [&](auto& ctx) { return rpc.tasks->Create(&ctx, task, &task_created); });
    tsk::StartRequest start;
    tsk::StartResponse started;
    start.set_container_id(id);
    call("Tasks.Start", ns, [&](auto& ctx) { return rpc.tasks->Start(&ctx, start, &started); });
    tsk::WaitRequest wait;
    tsk::WaitResponse waited;
    wait.set_container_id(id);
    call("Tasks.Wait", ns, [&](auto& ctx) { return rpc.tasks->Wait(&ctx, wait, &waited); });
    if (waited.exit_status() != 0)
      die("/bin/true exited with " + std::to_string(waited.exit_status()));
    // The adapter checks for a task before deleting a container (never orphan a task); do the
    // same here so that both paths make the same calls.
    tsk::DeleteTaskRequest del_task;
    tsk::DeleteResponse del_resp;
    del_task.set_container_id(id);
    call("Tasks.Delete", ns,
         [&](auto& ctx) { return rpc.tasks->Delete(&ctx, del_task, &del_resp); });
    tsk::GetRequest get;
    tsk::GetResponse got;
    get.set_container_id(id);
    {
      grpc::ClientContext ctx;
      cd::prepare(ctx, ns, deadline);
      auto s = rpc.tasks->Get(&ctx, get, &got);
      if (s.error_code() != grpc::StatusCode::NOT_FOUND)
        die("Tasks.Get after Tasks.Delete: expected NOT_FOUND, got " + s.error_message());
    }
    ctr::DeleteContainerRequest del;
    del.set_id(id);
    call("Containers.Delete", ns,
         [&](auto& ctx) { return rpc.containers->Delete(&ctx, del, &empty); });
  }
};

void print(const char* label, const summary& s) {
  std::printf("  %-22s min %7.1f ms   median %7.1f ms   max %7.1f ms   mean %7.1f ms\n", label,
              s.min, s.median, s.max, s.mean);
}

} // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 20;
  int warmup = argc > 2 ? std::atoi(argv[2]) : 2;
  if (runs < 1 || warmup < 0)
    die("usage: containerd_floor [runs=20] [warmup=2]");

  contd::test::containerd_instance ctrd;
  std::string version;
  {
    auto v = ctrd.ctr({"version"});
    auto pos = v.output.find("Server:");
    version = pos == std::string::npos ? "?" : v.output.substr(pos);
  }
  contd::actor_config cfg;
  caf::actor_system sys{cfg};
  contd::containerd_client_config ccfg;
  ccfg.socket = ctrd.socket();
  ccfg.call_timeout = deadline;
  contd::containerd_client_actor client = sys.spawn(contd::containerd_client, ccfg);
  caf::scoped_actor self{sys};
  adapter_path adapter{self, client};
  raw_path raw{cd::stubs{cd::make_channel(ctrd.socket())}};

  // Per-call cost of the adapter on the cheapest RPC (Version): what the actor hop, the promise
  // and the completion message add to a unary call. A cycle makes 7 calls.
  constexpr int version_calls = 500;
  auto t_adapter = clock_type::now();
  for (int i = 0; i < version_calls; ++i)
    adapter.ask<std::string>("Version", contd::atom::version_v);
  double adapter_call_us = ms_since(t_adapter) * 1000.0 / version_calls;
  auto t_raw = clock_type::now();
  for (int i = 0; i < version_calls; ++i) {
    google::protobuf::Empty req;
    cd::version_v1::VersionResponse resp;
    raw.call("Version", "", [&](auto& ctx) { return raw.rpc.version->Version(&ctx, req, &resp); });
  }
  double raw_call_us = ms_since(t_raw) * 1000.0 / version_calls;

  auto ns = contd::test::random_name("floor");
  std::vector<double> through_adapter;
  std::vector<double> through_raw;
  for (int i = 0; i < warmup + runs; ++i) {
    for (int path = 0; path < 2; ++path) {
      // Alternate which path goes first, so neither always follows the other.
      bool use_adapter = (path == 0) == (i % 2 == 0);
      auto id = std::string{use_adapter ? "a" : "r"} + std::to_string(i);
      auto spec = ctrd.spec_json(ns, id, {"/bin/true"});
      auto log_uri = "file://" + (ctrd.scratch() / "logs" / ns / (id + ".log")).string();
      auto t0 = clock_type::now();
      if (use_adapter)
        adapter.run(ns, id, spec, log_uri);
      else
        raw.run(ns, id, spec, log_uri);
      auto ms = ms_since(t0);
      if (i >= warmup)
        (use_adapter ? through_adapter : through_raw).push_back(ms);
    }
  }
  caf::anon_send_exit(client, caf::exit_reason::user_shutdown);

  auto a = summarize(through_adapter);
  auto r = summarize(through_raw);
  std::printf("containerd_floor: create + start + wait + delete of busybox /bin/true\n");
  std::printf("  %d runs per path after %d warm-up runs; file:// log; private containerd\n", runs,
              warmup);
  std::printf("  containerd %s", version.c_str());
  print("through the adapter", a);
  print("raw synchronous stubs", r);
  std::printf("  adapter - raw, whole cycles: %+.2f %% (median), %+.2f %% (mean), %+.2f ms "
              "(median); run-to-run noise dominates at this size\n",
              100.0 * (a.median - r.median) / r.median, 100.0 * (a.mean - r.mean) / r.mean,
              a.median - r.median);
  double per_cycle_ms = 7 * (adapter_call_us - raw_call_us) / 1000.0;
  std::printf("  per call (Version x %d): adapter %.1f us, raw %.1f us -> %+.1f us per call; "
              "x 7 calls = %+.2f ms = %+.2f %% of the raw median cycle\n",
              version_calls, adapter_call_us, raw_call_us, adapter_call_us - raw_call_us,
              per_cycle_ms, 100.0 * per_cycle_ms / r.median);
  return 0;
}
