// Supervision under the deterministic scheduler: restart policies with simulated time, the model
// that Inspect answers from, truthful rollbacks and deletes when containerd goes away, and the
// reconciliation of every half-done shape a crash can leave (tests/fakes/fake_containerd.hpp
// behaves like containerd, events included).
#include <tuple>

#include "tests/actors/module_fixture.hpp"

using namespace contd;
using namespace contd::test;
using namespace std::chrono_literals;

namespace {

const std::string ns1 = "ns1";

struct supervision : fixture {
  /// The container's process ends with `code`, as a crash inside containerd would.
  void crash(const std::string& id, uint32_t code, const std::string& ns = ns1) {
    task_event ev;
    ev.ns = ns;
    ev.topic = "/tasks/exit";
    ev.container_id = id;
    ev.exec_id = id;
    ev.exit_status = code;
    self->send(ctrd, atom::event_v, ev);
    run();
  }

  void oom(const std::string& id) {
    task_event ev;
    ev.ns = ns1;
    ev.topic = "/tasks/oom";
    ev.container_id = id;
    self->send(ctrd, atom::event_v, ev);
    run();
  }

  container inspect(const std::string& id, const std::string& ns = ns1) {
    auto got = request<container>(module, atom::inspect_v, ns, id);
    REQUIRE(got);
    return *got;
  }

  size_t count_calls(const std::string& call) {
    return static_cast<size_t>(std::count(fake().calls.begin(), fake().calls.end(), call));
  }

  void advance(caf::timespan d) {
    sched.advance_time(d);
    run();
  }

  task_info& task(const std::string& id, const std::string& ns = ns1) {
    return fake().tasks.at({ns, id});
  }

  std::string label(const std::string& id, const char* key) {
    auto& labels = fake().containers.at({ns1, id}).labels;
    auto it = labels.find(key);
    return it == labels.end() ? std::string{} : it->second;
  }

  /// A container record as an earlier contd left it (the spec carries the request).
  void leave_container(const std::string& id, const std::string& desired,
                       std::optional<task_status> status, uint32_t exit_status = 0,
                       label_map extra = {}) {
    auto c = make_container(id);
    oci::node_facts node;
    node.cpu_count = 8;
    node.memory_bytes = uint64_t{16} << 30;
    container_record rec;
    rec.id = id;
    rec.spec_json = oci::build_spec(ns1, c, node, oci::spec_defaults{})->dump();
    rec.labels = {{label_managed, "true"}, {label_desired, desired}};
    for (auto& [k, v] : extra)
      rec.labels[k] = v;
    rec.runtime = "io.containerd.runc.v2";
    fake().containers[{ns1, id}] = rec;
    fake().namespaces.insert(ns1);
    if (status) {
      task_info t;
      t.id = id;
      t.pid = 5000 + static_cast<uint32_t>(fake().tasks.size());
      t.status = *status;
      t.exit_status = exit_status;
      if (*status == task_status::stopped)
        t.exited_at = go_time{1800000000 - 30, 0};
      fake().tasks[{ns1, id}] = t;
    }
  }

  /// A fresh contd over the same containerd: what a restart of contd looks like.
  void restart_contd() {
    self->send_exit(module, caf::exit_reason::kill);
    run();
    module = sys.spawn(container_module, module_config(7), containerd_client_actor{ctrd}, builder);
    run();
  }
};

} // namespace

// --- restart policies ----------------------------------------------------------------------------

TEST_CASE_METHOD(supervision, "a crashed container is restarted after about 1 s and counted",
                 "[supervision]") {
  REQUIRE(run_container(ns1, make_container("c1")));
  auto first_pid = task("c1").pid;
  crash("c1", 1);
  auto c = inspect("c1");
  CHECK(c.state.status == container_status::restarting);
  CHECK(c.state.restarts == 0);
  CHECK(c.state.last_exit_code == 1);
  CHECK_FALSE(c.state.last_exited_at.is_zero());
  CHECK(count_calls("tsk_create c1 " + logger_uri(logs_dir + "/ns1/c1.log")) == 1);
  advance(790ms); // below the smallest jittered backoff (0.8 s)
  CHECK(task("c1").status == task_status::stopped);
  advance(420ms); // past the largest (1.2 s)
  REQUIRE(task("c1").status == task_status::running);
  CHECK(task("c1").pid != first_pid);
  c = inspect("c1");
  CHECK(c.state.status == container_status::running);
  CHECK(c.state.pid == task("c1").pid);
  CHECK(c.state.restarts == 1);
  CHECK(c.state.last_exit_code == 1);
  CHECK(label("c1", label_restarts) == "1");
  CHECK_FALSE(label("c1", label_exits).empty());
}

TEST_CASE_METHOD(supervision,
                 "backoff doubles, and the 4th exit within 60 s gives up, reported and "
                 "durable",
                 "[supervision]") {
  REQUIRE(run_container(ns1, make_container("c1")));
  // Exit 1 after ~1 s, 2 after ~2 s, 3 after ~4 s: each restart comes inside its jitter band.
  for (auto [low, high] : {std::pair{800ms, 1200ms}, {1600ms, 2400ms}, {3200ms, 4800ms}}) {
    auto before = count_calls("tsk_start c1");
    crash("c1", 1);
    advance(low - 10ms);
    CHECK(count_calls("tsk_start c1") == before);
    advance(high - low + 20ms);
    CHECK(count_calls("tsk_start c1") == before + 1);
  }
  crash("c1", 1);
  auto c = inspect("c1");
  CHECK(c.state.status == container_status::failed);
  CHECK(c.state.restarts == 3);
  CHECK(c.state.reason.find("4 exits within 60 s") != std::string::npos);
  CHECK(label("c1", label_failed) == c.state.reason);
  auto starts = count_calls("tsk_start c1");
  advance(120s);
  CHECK(count_calls("tsk_start c1") == starts); // given up means no more restarts
  // A restarted contd reads the decision back instead of starting over.
  restart_contd();
  c = inspect("c1");
  CHECK(c.state.status == container_status::failed);
  CHECK(c.state.restarts == 3);
  advance(5s);
  CHECK(count_calls("tsk_start c1") == starts);
}

TEST_CASE_METHOD(supervision, "exits spread wider than the window never give up", "[supervision]") {
  REQUIRE(run_container(ns1, make_container("c1")));
  for (int i = 0; i < 6; ++i) {
    crash("c1", 1);
    advance(30s); // restarted after ~1 s, then runs; exits stay 30 s apart
    REQUIRE(task("c1").status == task_status::running);
  }
  CHECK(inspect("c1").state.restarts == 6);
}

TEST_CASE_METHOD(supervision,
                 "on-failure restarts a failure but not a clean exit, no never restarts",
                 "[supervision]") {
  auto onf = make_container("onf");
  onf.restart = restart_policy{"on-failure", 0, 0};
  auto never = make_container("never");
  never.restart = restart_policy{"no", 0, 0};
  REQUIRE(run_container(ns1, onf));
  REQUIRE(run_container(ns1, never));
  crash("onf", 0);
  crash("never", 3);
  advance(5s);
  CHECK(task("onf").status == task_status::stopped);
  CHECK(task("never").status == task_status::stopped);
  auto a = inspect("onf");
  CHECK(a.state.status == container_status::stopped);
  CHECK(a.state.restarts == 0);
  CHECK(a.restart == onf.restart); // Inspect returns the policy as asked
  CHECK(inspect("never").state.exit_code == 3);
  // A failure of the on-failure container is restarted.
  REQUIRE_FALSE(request_void(module, atom::delete_v, ns1, std::string{"onf"}));
  REQUIRE(run_container(ns1, onf));
  crash("onf", 2);
  advance(1300ms);
  CHECK(task("onf").status == task_status::running);
  CHECK(inspect("onf").state.restarts == 1);
}

TEST_CASE_METHOD(supervision,
                 "Delete of an exited task goes straight to Tasks.Delete, and looks when it runs",
                 "[supervision][delete]") {
  auto never = make_container("never");
  never.restart = restart_policy{"no", 0, 0};
  REQUIRE(run_container(ns1, never));
  crash("never", 3);
  REQUIRE(inspect("never").state.status == container_status::stopped);
  fake().calls.clear();
  REQUIRE_FALSE(request_void(module, atom::delete_v, ns1, std::string{"never"}));
  CHECK(calls_for("never") == std::vector<std::string>{"ctr_labels", "tsk_delete", "ctr_delete"});
  CHECK_FALSE(has_container(ns1, "never"));
  // The model says exited but someone started the task again behind contd's back: containerd
  // refuses to delete a running task, so Delete looks, stops it and then deletes.
  REQUIRE(run_container(ns1, never));
  crash("never", 3);
  REQUIRE(inspect("never").state.status == container_status::stopped);
  task("never").status = task_status::running;
  fake().calls.clear();
  auto deleting = self->request(module, caf::infinite, atom::delete_v, ns1, std::string{"never"});
  run();
  advance(5s);
  caf::error err;
  deleting.receive([] {}, [&](caf::error& e) { err = e; });
  CHECK_FALSE(err);
  auto seq = calls_for("never");
  REQUIRE(seq.size() >= 4);
  CHECK(std::vector<std::string>(seq.begin(), seq.begin() + 3)
        == std::vector<std::string>{"ctr_labels", "tsk_delete", "tsk_get"});
  CHECK(std::count(seq.begin(), seq.end(), "tsk_kill") >= 1);
  CHECK_FALSE(has_container(ns1, "never"));
  CHECK_FALSE(has_task(ns1, "never"));
}

TEST_CASE_METHOD(supervision, "MaxRestarts and Window of the request are honoured",
                 "[supervision]") {
  auto c = make_container("c1");
  c.restart = restart_policy{"always", 1, int64_t{10} * 1'000'000'000};
  REQUIRE(run_container(ns1, c));
  crash("c1", 1);
  advance(1300ms);
  REQUIRE(task("c1").status == task_status::running);
  crash("c1", 1); // the 2nd exit within 10 s: MaxRestarts 1 is spent
  CHECK(inspect("c1").state.status == container_status::failed);
}

TEST_CASE_METHOD(supervision, "SignalDelete then exit: the container stays stopped",
                 "[supervision]") {
  REQUIRE(run_container(ns1, make_container("c1")));
  REQUIRE_FALSE(request_void(module, atom::sig_delete_v, ns1, std::string{"c1"}));
  CHECK(task("c1").status == task_status::stopped); // the fake's process obeys SIGTERM
  advance(10s);
  CHECK(task("c1").status == task_status::stopped);
  auto c = inspect("c1");
  CHECK(c.state.status == container_status::stopped);
  CHECK(c.state.stop_requested);
  CHECK(c.state.restarts == 0);
  CHECK(label("c1", label_desired) == "stopped");
  // ... also across a restart of contd.
  restart_contd();
  advance(10s);
  CHECK(task("c1").status == task_status::stopped);
  // An identical Run brings it back.
  REQUIRE(run_container(ns1, make_container("c1")));
  CHECK(task("c1").status == task_status::running);
  CHECK(label("c1", label_desired) == "running");
  CHECK(label("c1", label_stop_requested).empty());
}

TEST_CASE_METHOD(supervision,
                 "a Delete during the backoff cancels the restart and proceeds at once",
                 "[supervision]") {
  REQUIRE(run_container(ns1, make_container("c1")));
  crash("c1", 1);
  REQUIRE(inspect("c1").state.status == container_status::restarting);
  auto starts = count_calls("tsk_start c1");
  // Answered without any time passing: no grace period for a stopped task, no wait for the
  // backoff.
  CHECK_FALSE(request_void(module, atom::delete_v, ns1, std::string{"c1"}));
  CHECK_FALSE(has_container(ns1, "c1"));
  advance(5s);
  CHECK(count_calls("tsk_start c1") == starts);
  CHECK_FALSE(has_task(ns1, "c1"));
}

TEST_CASE_METHOD(supervision, "an OOM kill counts as an exit and is reported as such",
                 "[supervision]") {
  REQUIRE(run_container(ns1, make_container("c1")));
  oom("c1");
  crash("c1", 137);
  auto c = inspect("c1");
  CHECK(c.state.oom_killed);
  CHECK(c.state.status == container_status::restarting);
  CHECK(c.state.last_exit_code == 137);
  CHECK(label("c1", label_oom_killed) == "true");
  advance(1300ms);
  c = inspect("c1");
  CHECK(c.state.status == container_status::running);
  CHECK(c.state.restarts == 1);
  CHECK_FALSE(c.state.oom_killed); // the new process was not OOM-killed
}

TEST_CASE_METHOD(supervision, "exits of exec'd processes never count", "[supervision]") {
  REQUIRE(run_container(ns1, make_container("c1")));
  task_event ev{ns1, "/tasks/exit", "c1", "exec-1", 999, 1, go_time{}};
  self->send(module, atom::event_v, ev);
  run();
  advance(5s);
  auto c = inspect("c1");
  CHECK(c.state.status == container_status::running);
  CHECK(c.state.restarts == 0);
}

TEST_CASE_METHOD(supervision, "an exit of an older task, reported late, is not a crash",
                 "[supervision]") {
  REQUIRE(run_container(ns1, make_container("c1")));
  crash("c1", 1);
  advance(1300ms);
  REQUIRE(task("c1").status == task_status::running);
  task_event stale{ns1, "/tasks/exit", "c1", "c1", 1, 1, go_time{}}; // not the current pid
  self->send(module, atom::event_v, stale);
  run();
  CHECK(inspect("c1").state.status == container_status::running);
}

// --- the model
// ------------------------------------------------------------------------------------

TEST_CASE_METHOD(supervision, "Inspect of a supervised container makes no containerd call",
                 "[supervision][model]") {
  auto c = make_container("c1");
  c.memory = 64 << 20;
  REQUIRE(run_container(ns1, c));
  fake().calls.clear();
  auto got = inspect("c1");
  CHECK(fake().calls.empty());
  CHECK(got.memory == uint64_t{64} << 20);
  CHECK(got.state.status == container_status::running);
  CHECK(got.state.pid == task("c1").pid);
  CHECK_FALSE(got.created_at.is_zero());
}

TEST_CASE_METHOD(supervision, "after a stream gap the tenant reconciles before the model answers",
                 "[supervision][model]") {
  REQUIRE(run_container(ns1, make_container("c1")));
  // The task died while the stream was down: no event ever comes for it.
  task("c1").status = task_status::stopped;
  task("c1").exit_status = 9;
  self->send(module, atom::resync_v);
  run();
  auto c = inspect("c1");
  CHECK(c.state.status == container_status::restarting);
  CHECK(c.state.last_exit_code == 9);
  advance(1300ms);
  CHECK(task("c1").status == task_status::running);
  CHECK(inspect("c1").state.restarts == 1);
}

// --- rollback and delete when containerd goes away ---------------------------------------------

TEST_CASE_METHOD(supervision,
                 "a Run whose containerd dies and comes back within the bound is rolled "
                 "back completely",
                 "[supervision][faults]") {
  fake().down_at.insert("tsk_start c1");
  auto rh = self->request(module, caf::infinite, atom::run_v, ns1, make_container("c1"));
  run();
  CHECK(self->peek_at_next_mailbox_element() == nullptr); // the rollback retries
  advance(3s);
  fake().down = false; // containerd is back
  advance(3s);
  auto r = take_reply<std::string>(self, rh);
  REQUIRE(r);
  REQUIRE_FALSE(*r);
  CHECK(r->error() == errc::unavailable);
  CHECK(error_text(r->error()).find("still running") == std::string::npos);
  CHECK_FALSE(has_container(ns1, "c1"));
  CHECK_FALSE(has_task(ns1, "c1"));
  run();
  CHECK_FALSE(files->exists(logs_dir + "/ns1/c1.log"));
}

TEST_CASE_METHOD(supervision,
                 "a Run whose containerd stays away says so, the reconciler removes the "
                 "leftover, or an identical retry makes it run",
                 "[supervision][faults]") {
  fake().down_at.insert("tsk_start c1");
  auto rh = self->request(module, caf::infinite, atom::run_v, ns1, make_container("c1"));
  run();
  advance(11s); // past the rollback bound
  auto r = take_reply<std::string>(self, rh);
  REQUIRE(r);
  REQUIRE_FALSE(*r);
  auto text = error_text(r->error());
  CHECK(text.find("containerd unreachable") != std::string::npos);
  CHECK(text.find("contd removes the container once containerd is back") != std::string::npos);
  CHECK(has_container(ns1, "c1")); // could not be removed yet

  SECTION("containerd comes back: the stream re-opens, the reconciler removes it") {
    fake().down = false;
    self->send(module, atom::resync_v);
    run();
    CHECK_FALSE(has_container(ns1, "c1"));
    CHECK_FALSE(has_task(ns1, "c1"));
  }
  SECTION("an identical retry first: it runs, and says so truthfully") {
    fake().down = false;
    auto again = run_container(ns1, make_container("c1"));
    REQUIRE(again);
    CHECK(task("c1").status == task_status::running);
    CHECK(label("c1", label_desired) == "running");
    self->send(module, atom::resync_v);
    run();
    CHECK(task("c1").status == task_status::running); // the reconciler agrees
    CHECK(inspect("c1").state.status == container_status::running);
  }
}

TEST_CASE_METHOD(supervision,
                 "a rollback whose task will not die reports it stuck, not unreachable",
                 "[supervision][faults]") {
  fake().failures["ctr_labels c1"] = make_error(errc::internal, "injected");
  fake().unkillable.insert("c1");
  auto rh = self->request(module, caf::infinite, atom::run_v, ns1, make_container("c1"));
  run();
  advance(6s); // the kill bound
  auto r = take_reply<std::string>(self, rh);
  REQUIRE(r);
  REQUIRE_FALSE(*r);
  auto text = error_text(r->error());
  CHECK(text.find("injected") == 0);
  CHECK(text.find("still running after SIGKILL") != std::string::npos);
  CHECK(text.find("unreachable") == std::string::npos);
  CHECK(has_task(ns1, "c1")); // never orphan a task
}

TEST_CASE_METHOD(supervision, "Delete while containerd is down says so and changes nothing",
                 "[supervision][faults]") {
  REQUIRE(run_container(ns1, make_container("c1")));
  fake().down = true;
  auto err = request_void(module, atom::delete_v, ns1, std::string{"c1"});
  REQUIRE(err);
  CHECK(err == errc::unavailable);
  CHECK(error_text(err).find("containerd unreachable") != std::string::npos);
  CHECK(error_text(err).find("nothing was changed") != std::string::npos);
  CHECK(error_text(err).find("SIGKILL") == std::string::npos);
  fake().down = false;
  CHECK(task("c1").status == task_status::running);
  CHECK(inspect("c1").state.status == container_status::running);
  // Supervision goes on: a crash is still restarted.
  crash("c1", 1);
  advance(1300ms);
  CHECK(task("c1").status == task_status::running);
}

TEST_CASE_METHOD(supervision,
                 "containerd dying in the middle of a Delete: reported as unreachable, "
                 "finished by the reconciler",
                 "[supervision][faults]") {
  fake().ignores_sigterm.insert("c1");
  REQUIRE(run_container(ns1, make_container("c1")));
  fake().down_at.insert("tsk_kill c1"); // dies as SIGTERM arrives
  auto err = request_void(module, atom::delete_v, ns1, std::string{"c1"});
  REQUIRE(err);
  CHECK(err == errc::unavailable);
  CHECK(error_text(err).find("marked for deletion") != std::string::npos);
  CHECK(error_text(err).find("still running after SIGKILL") == std::string::npos);
  CHECK(has_container(ns1, "c1"));
  fake().down = false;
  self->send(module, atom::resync_v);
  run();
  advance(10s); // grace and kill bound of the reconciler's delete
  CHECK_FALSE(has_container(ns1, "c1"));
  CHECK_FALSE(has_task(ns1, "c1"));
}

// --- reconciliation
// -------------------------------------------------------------------------------

TEST_CASE_METHOD(supervision,
                 "a restarted contd brings every half-done shape to what callers were "
                 "told",
                 "[supervision][reconcile]") {
  // What an earlier contd (or containerd) left behind.
  leave_container("run-no-task", "running", std::nullopt);
  leave_container("run-created", "running", task_status::created);
  leave_container("run-dead", "running", task_status::stopped, 137);
  leave_container("run-ok", "running", task_status::running);
  leave_container("new-no-task", "creating", std::nullopt);
  leave_container("new-created", "creating", task_status::created);
  leave_container("new-running", "creating", task_status::running);
  leave_container("stopped", "stopped", task_status::stopped, 143);
  leave_container("deleting", "deleted", task_status::running);
  leave_container("gave-up", "running", task_status::stopped, 1,
                  {{label_failed, "gave up: 4 exits within 60 s"}});
  // A container contd did not create, with a dead task: never touched.
  container_record foreign;
  foreign.id = "foreign";
  foreign.spec_json = "{}";
  fake().containers[{ns1, "foreign"}] = foreign;
  fake().tasks[{ns1, "foreign"}] = task_info{"foreign", 77, task_status::stopped, 1, go_time{}};
  auto ok_pid = task("run-ok").pid;

  restart_contd(); // subscribes; the stream's resync reconciles every namespace
  // Unanswered Runs are removed; Runs that were answered run (the dead one after its backoff).
  for (auto id : {"new-no-task", "new-created", "new-running"}) {
    INFO(id);
    CHECK_FALSE(has_container(ns1, id));
    CHECK_FALSE(has_task(ns1, id));
  }
  CHECK(task("run-no-task").status == task_status::running);
  CHECK(task("run-created").status == task_status::running);
  CHECK(task("run-dead").status == task_status::stopped);
  CHECK(inspect("run-dead").state.status == container_status::restarting);
  advance(1300ms);
  CHECK(task("run-dead").status == task_status::running);
  CHECK(inspect("run-dead").state.restarts == 1);
  CHECK(inspect("run-dead").state.last_exit_code == 137);
  CHECK(task("run-ok").pid == ok_pid); // left alone
  CHECK(inspect("run-ok").state.status == container_status::running);
  CHECK(task("stopped").status == task_status::stopped);
  CHECK(inspect("stopped").state.status == container_status::stopped);
  CHECK(inspect("gave-up").state.status == container_status::failed);
  CHECK(task("gave-up").status == task_status::stopped);
  advance(10s); // the interrupted delete's grace period
  CHECK_FALSE(has_container(ns1, "deleting"));
  CHECK(fake().containers.count({ns1, "foreign"}));
  CHECK(task("foreign").status == task_status::stopped);
  CHECK(count_calls("ctr_labels foreign") == 0);
}

TEST_CASE_METHOD(supervision,
                 "a container left \"creating\" is made to run by an identical Run that "
                 "arrives before the reconciler",
                 "[supervision][reconcile]") {
  leave_container("c1", "creating", std::nullopt);
  restart_contd();
  // The resync has already removed it here; leave it again and Run before any resync.
  leave_container("c2", "creating", task_status::created);
  auto r = run_container(ns1, make_container("c2"));
  REQUIRE(r);
  CHECK(task("c2").status == task_status::running);
  CHECK(label("c2", label_desired) == "running");
  self->send(module, atom::resync_v);
  run();
  CHECK(task("c2").status == task_status::running);
}

TEST_CASE_METHOD(supervision, "the periodic reconcile catches a task removed behind contd's back",
                 "[supervision][reconcile]") {
  REQUIRE(run_container(ns1, make_container("c1")));
  fake().tasks.erase({ns1, "c1"}); // no event: as if the stream missed it
  advance(61s);
  REQUIRE(has_task(ns1, "c1"));
  CHECK(task("c1").status == task_status::running);
  CHECK(inspect("c1").state.restarts == 1);
}

TEST_CASE_METHOD(supervision,
                 "module stats count tenants, reconciled tenants and supervised "
                 "containers",
                 "[supervision][model]") {
  REQUIRE(run_container(ns1, make_container("a")));
  REQUIRE(run_container(ns1, make_container("b")));
  REQUIRE(run_container("ns2", make_container("c")));
  auto stats = [&] {
    std::tuple<uint64_t, uint64_t, uint64_t> out{99, 99, 99};
    auto rh = self->request(module, caf::infinite, atom::stats_v);
    run();
    rh.receive([&](uint64_t t, uint64_t s, uint64_t n) { out = {t, s, n}; }, [](caf::error&) {});
    return out;
  };
  CHECK(stats() == std::make_tuple(uint64_t{2}, uint64_t{2}, uint64_t{3}));
  fake().down = true;
  self->send(module, atom::resync_v); // a gap whose reconcile cannot finish yet
  run();
  CHECK(stats() == std::make_tuple(uint64_t{2}, uint64_t{0}, uint64_t{3}));
  fake().down = false;
  advance(3s); // the postponed reconcile tries again
  CHECK(stats() == std::make_tuple(uint64_t{2}, uint64_t{2}, uint64_t{3}));
}
