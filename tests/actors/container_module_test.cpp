// The container module and its tenants under the deterministic scheduler, over a fake containerd
// adapter that behaves like containerd (tests/fakes/fake_containerd.hpp).
#include "tests/actors/module_fixture.hpp"

using namespace contd;
using namespace contd::test;
using namespace std::chrono_literals;

TEST_CASE_METHOD(fixture, "Run creates namespace, container and a started task with a log file",
                 "[module]") {
  auto id = run_container("ns1", make_container("c1"));
  REQUIRE(id);
  CHECK(*id == "c1");
  CHECK(has_container("ns1", "c1"));
  REQUIRE(has_task("ns1", "c1"));
  CHECK(fake().tasks[{"ns1", "c1"}].status == task_status::running);
  // The container is "creating" until the task started; then "running", then the answer.
  // A new container costs no Containers.Get: Create says whether it exists.
  CHECK(calls_for("c1")
        == std::vector<std::string>{"ctr_create", "tsk_create", "tsk_start", "ctr_labels"});
  CHECK(fake().containers[{"ns1", "c1"}].labels.at(label_desired) == "running");
  CHECK(fake().calls.front() == "ns_ensure ns1"); // nothing touched before validation passed
  // stdout and stderr go to contd's logger (binary://), which writes <logs>/<ns>/<id>.log
  auto it = std::find_if(fake().calls.begin(), fake().calls.end(),
                         [](auto& c) { return c.rfind("tsk_create", 0) == 0; });
  CHECK(*it == "tsk_create c1 " + logger_uri(logs_dir + "/ns1/c1.log"));
  // The log and the lock file the logger needs exist before the task starts.
  CHECK(files->exists(logs_dir + "/ns1/c1.log"));
  CHECK(files->exists(logs_dir + "/ns1/c1.log.lock"));
  CHECK(fake().containers[{"ns1", "c1"}].labels.at(label_managed) == "true");
}

TEST_CASE_METHOD(fixture, "Inspect returns the request exactly as asked plus the live state",
                 "[module]") {
  auto c = make_container("c1");
  c.interactive = false;
  c.cpu = 2;
  c.memory = 64 << 20;
  c.shutdown_timeout = 5'000'000'000;
  c.mounts = {mount_info{"/data", "/data", "bind", {"rbind", "ro"}}};
  REQUIRE(run_container("ns1", c));
  auto got = request<container>(module, atom::inspect_v, std::string{"ns1"}, std::string{"c1"});
  REQUIRE(got);
  CHECK(got->name == "c1");
  CHECK(got->root_fs == c.root_fs);
  CHECK(got->env == c.env);
  CHECK(got->entrypoint == c.entrypoint);
  CHECK(got->mounts == c.mounts);
  CHECK(got->cpu == 2);
  CHECK(got->memory == uint64_t{64} << 20);
  CHECK(got->shutdown_timeout == 5'000'000'000);
  CHECK_FALSE(got->created_at.is_zero());
  REQUIRE(got->has_state);
  CHECK(got->state.status == container_status::running);
  CHECK(got->state.pid > 0);
}

TEST_CASE_METHOD(fixture, "Inspect of a missing container carries containerd's not-found text",
                 "[module]") {
  auto got = request<container>(module, atom::inspect_v, std::string{"ns1"}, std::string{"nope"});
  REQUIRE_FALSE(got);
  CHECK(got.error() == errc::not_found);
  CHECK(error_text(got.error()) == R"(container "nope" in namespace "ns1": not found)");
}

TEST_CASE_METHOD(fixture, "bad input is refused before any side effect", "[module]") {
  SECTION("invalid namespace: no tenant is spawned") {
    auto r = run_container("bad/ns", make_container("c1"));
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_argument);
    CHECK(error_text(r.error()).find("namespace") != std::string::npos);
    CHECK(mod().tenants.empty());
  }
  SECTION("invalid name") {
    auto r = run_container("ns1", make_container("../etc"));
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::invalid_argument);
  }
  SECTION("a validation error of the spec builder") {
    auto c = make_container("c1");
    c.root_fs.clear();
    auto r = run_container("ns1", c);
    REQUIRE_FALSE(r);
    CHECK(error_text(r.error()) == "RootFS: must not be empty");
  }
  CHECK(fake().calls.empty());
  CHECK(fake().namespaces.empty());
}

TEST_CASE_METHOD(fixture, "Run is rolled back at each failing step and leaves nothing behind",
                 "[module]") {
  for (auto step : {"ctr_create", "tsk_create", "tsk_start"}) {
    INFO(step);
    fake().failures[std::string{step} + " c1"] = make_error(errc::internal, "injected");
    auto r = run_container("ns1", make_container("c1"));
    REQUIRE_FALSE(r);
    CHECK(error_text(r.error()) == "injected");
    CHECK_FALSE(has_container("ns1", "c1"));
    CHECK_FALSE(has_task("ns1", "c1"));
    fake().failures.clear();
    // ... and a retry then succeeds.
    auto again = run_container("ns1", make_container("c1"));
    REQUIRE(again);
    REQUIRE(request_void(module, atom::delete_v, std::string{"ns1"}, std::string{"c1"})
            == caf::error{});
  }
}

TEST_CASE_METHOD(fixture, "Run is idempotent for the same request and refuses a different one",
                 "[module]") {
  REQUIRE(run_container("ns1", make_container("c1")));
  auto again = run_container("ns1", make_container("c1"));
  REQUIRE(again);
  CHECK(*again == "c1");
  check_conflict("ns1", "c1");
  CHECK(std::count(fake().calls.begin(), fake().calls.end(), "ctr_create c1") == 1);
}

TEST_CASE_METHOD(fixture, "without shim groups every container gets a shim of its own",
                 "[module][shims]") {
  REQUIRE(run_container("ns1", make_container("c1")));
  REQUIRE(run_container("ns1", make_container("c2")));
  CHECK(shim_group("ns1", "c1").empty());
  CHECK(shim_group("ns1", "c2").empty());
}

TEST_CASE_METHOD(fixture,
                 "the containers of a namespace share shims, at most the group size in each",
                 "[module][shims]") {
  use_shim_groups(2);
  for (auto id : {"c1", "c2", "c3", "c4", "c5"})
    REQUIRE(run_container("ns1", make_container(id)));
  CHECK(shim_group("ns1", "c1") == "shim-0");
  CHECK(shim_group("ns1", "c2") == "shim-0");
  CHECK(shim_group("ns1", "c3") == "shim-1");
  CHECK(shim_group("ns1", "c4") == "shim-1");
  CHECK(shim_group("ns1", "c5") == "shim-2");
  // Groups are per namespace: another tenant starts its own.
  REQUIRE(run_container("ns2", make_container("d1")));
  CHECK(shim_group("ns2", "d1") == "shim-0");
  // A place freed by a Delete is taken by the next new container.
  REQUIRE(request_void(module, atom::delete_v, std::string{"ns1"}, std::string{"c1"})
          == caf::error{});
  REQUIRE(run_container("ns1", make_container("c6")));
  CHECK(shim_group("ns1", "c6") == "shim-0");
  // A refused Run gives its place back.
  auto bad = make_container("c7");
  bad.root_fs.clear();
  REQUIRE_FALSE(run_container("ns1", bad));
  REQUIRE(run_container("ns1", make_container("c8")));
  CHECK(shim_group("ns1", "c8") == "shim-2");
  // A repeated Run keeps the container where it is.
  REQUIRE(run_container("ns1", make_container("c3")));
  CHECK(shim_group("ns1", "c3") == "shim-1");
}

TEST_CASE_METHOD(fixture,
                 "a shim group gets one Tasks.Create at a time, other groups are not held up",
                 "[module][shims]") {
  use_shim_groups(3);
  fake().slow_create = {"c1", "c3"};
  fake().failures["tsk_create c2"] = make_error(errc::internal, "injected");
  std::vector<std::pair<std::string, decltype(self->request(module, caf::infinite, atom::run_v,
                                                            std::string{}, container{}))>>
    runs;
  for (auto id : {"c1", "c2", "c3", "c4"}) // c1..c3 fill shim-0; c4 opens shim-1
    runs.emplace_back(id, self->request(module, caf::infinite, atom::run_v, std::string{"ns1"},
                                        make_container(id)));
  run();
  auto creates = [&] {
    std::vector<std::string> out;
    for (auto& c : fake().calls)
      if (c.rfind("tsk_create", 0) == 0)
        out.push_back(c.substr(11, 2));
    return out;
  };
  // c1 is in runc create; c2 and c3 wait for it, c4 (another shim) does not.
  CHECK(creates() == std::vector<std::string>{"c1", "c4"});
  sched.advance_time(1s);
  run();
  // c1 answered; c2 went in and was refused, which let c3 in at once.
  CHECK(creates() == std::vector<std::string>{"c1", "c4", "c2", "c3"});
  sched.advance_time(1s);
  run();
  CHECK(has_task("ns1", "c1"));
  CHECK_FALSE(has_container("ns1", "c2")); // rolled back
  CHECK(has_task("ns1", "c3"));
  CHECK(has_task("ns1", "c4"));
  CHECK(shim_group("ns1", "c4") == "shim-1");
  size_t answered = 0;
  for (auto& [id, rh] : runs) {
    auto reply = take_reply<std::string>(self, rh);
    REQUIRE(reply);
    INFO(id);
    CHECK(bool(*reply) == (id != "c2"));
    ++answered;
  }
  CHECK(answered == 4);
}

TEST_CASE_METHOD(fixture, "a Tasks.Delete waits for the Tasks.Create of its shim group",
                 "[module][shims]") {
  use_shim_groups(3);
  REQUIRE(run_container("ns1", make_container("c1"))); // shim-0
  fake().slow_create = {"c2"};
  fake().calls.clear();
  auto run = self->request(module, caf::infinite, atom::run_v, std::string{"ns1"},
                           make_container("c2")); // shim-0, held in runc create for 1 s
  auto del =
    self->request(module, caf::infinite, atom::delete_v, std::string{"ns1"}, std::string{"c1"});
  this->run();
  auto seen = [&](const std::string& call) { // a call that starts with `call`
    return std::any_of(fake().calls.begin(), fake().calls.end(),
                       [&](const std::string& c) { return c.rfind(call, 0) == 0; });
  };
  REQUIRE(seen("tsk_create c2 "));
  // c1 was stopped, but its Tasks.Delete (which could make the shim exit) waits for c2's Create.
  CHECK(seen("tsk_kill c1 "));
  CHECK_FALSE(seen("tsk_delete c1"));
  CHECK(has_task("ns1", "c1"));
  sched.advance_time(1s);
  this->run();
  CHECK(seen("tsk_delete c1"));
  for (int i = 0; i < 20 && has_container("ns1", "c1"); ++i) {
    sched.advance_time(1s);
    this->run();
  }
  CHECK_FALSE(has_container("ns1", "c1"));
  CHECK(has_task("ns1", "c2"));
  auto deleted = take_void_reply(self, del);
  auto ran = take_reply<std::string>(self, run);
  REQUIRE(deleted);
  REQUIRE(ran);
  CHECK_FALSE(*deleted);
  CHECK(*ran);
}

TEST_CASE_METHOD(fixture, "the namespace is created once per tenant, not once per Run",
                 "[module]") {
  REQUIRE(run_container("ns1", make_container("c1")));
  REQUIRE(run_container("ns1", make_container("c2")));
  REQUIRE(run_container("ns2", make_container("c1")));
  CHECK(std::count(fake().calls.begin(), fake().calls.end(), "ns_ensure ns1") == 1);
  CHECK(std::count(fake().calls.begin(), fake().calls.end(), "ns_ensure ns2") == 1);
}

TEST_CASE_METHOD(fixture,
                 "Run of a container contd has no model of compares it after Create refuses",
                 "[module]") {
  // c1 as an earlier contd left it (created, task running), put back behind this tenant's back
  // after its Delete, so that the tenant's model does not know it.
  REQUIRE(run_container("ns1", make_container("c1")));
  auto rec = fake().containers[{"ns1", "c1"}];
  auto task = fake().tasks[{"ns1", "c1"}];
  REQUIRE(request_void(module, atom::delete_v, std::string{"ns1"}, std::string{"c1"})
          == caf::error{});
  fake().containers[{"ns1", "c1"}] = rec;
  fake().tasks[{"ns1", "c1"}] = task;
  fake().calls.clear();
  auto same = run_container("ns1", make_container("c1"));
  REQUIRE(same);
  CHECK(*same == "c1");
  // Create refused (and changed nothing); the comparison found the same request, and its task
  // running.
  CHECK(calls_for("c1") == std::vector<std::string>{"ctr_create", "ctr_get", "tsk_get"});
  CHECK(fake().tasks[{"ns1", "c1"}].pid == task.pid); // not restarted
  // The same path with a different request is a conflict, and Create changed nothing.
  auto foreign = rec;
  foreign.id = "c9";
  fake().containers[{"ns1", "c9"}] = foreign;
  check_conflict("ns1", "c9");
  CHECK(fake().containers[{"ns1", "c9"}].spec_json == rec.spec_json);
  CHECK_FALSE(has_task("ns1", "c9"));
}

TEST_CASE_METHOD(fixture, "a container created with a shared shim is the same container for Run",
                 "[module]") {
  // An earlier contd ran with --shim-per-container=false: its spec names the shim group.
  REQUIRE(run_container("ns1", make_container("c1")));
  auto& rec = fake().containers[{"ns1", "c1"}];
  auto spec = nlohmann::json::parse(rec.spec_json);
  REQUIRE_FALSE(spec["annotations"].contains(std::string{oci::annotation_shim_group}));
  spec["annotations"][std::string{oci::annotation_shim_group}] = "ns1";
  rec.spec_json = spec.dump();
  auto again = run_container("ns1", make_container("c1"));
  REQUIRE(again);
  CHECK(*again == "c1");
  CHECK(std::count(fake().calls.begin(), fake().calls.end(), "ctr_create c1") == 1);
}

TEST_CASE_METHOD(fixture, "Delete stops gracefully and removes task, container and log",
                 "[module]") {
  REQUIRE(run_container("ns1", make_container("c1")));
  files->write(logs_dir + "/ns1/c1.log", "2026-11-30T23:34:10.000000001Z stdout F hello\n");
  files->write(logs_dir + "/ns1/c1.log.1", "2026-11-30T23:34:09.000000001Z stdout F old\n");
  files->write(logs_dir + "/ns1/c1.log.fwd-0123456789abcdef", "1 2 3\n");
  files->write(logs_dir + "/ns1/c2.log", "a neighbour's log\n");
  auto err = request_void(module, atom::delete_v, std::string{"ns1"}, std::string{"c1"});
  CHECK_FALSE(err);
  CHECK_FALSE(has_container("ns1", "c1"));
  CHECK_FALSE(has_task("ns1", "c1"));
  run(); // the removal is the log I/O actor's
  // Log, rotated log, lock file and forwarding offsets; the neighbour's log stays.
  CHECK(files->count_under(logs_dir + "/ns1/c1.") == 0);
  CHECK(files->exists(logs_dir + "/ns1/c2.log"));
  auto seq = calls_for("c1");
  // wait is armed before SIGTERM; no SIGKILL was needed
  auto wait_at = std::find(seq.begin(), seq.end(), "tsk_wait");
  auto kill_at = std::find(seq.begin(), seq.end(), "tsk_kill");
  CHECK(wait_at < kill_at);
  CHECK(std::count(fake().calls.begin(), fake().calls.end(), "tsk_kill c1 15") == 1);
  CHECK(std::count(fake().calls.begin(), fake().calls.end(), "tsk_kill c1 9 all") == 0);
}

TEST_CASE_METHOD(fixture, "Delete and SignalDelete of a missing container succeed", "[module]") {
  CHECK_FALSE(request_void(module, atom::delete_v, std::string{"ns1"}, std::string{"ghost"}));
  CHECK_FALSE(request_void(module, atom::sig_delete_v, std::string{"ns1"}, std::string{"ghost"}));
}

TEST_CASE_METHOD(fixture, "SignalDelete marks the container and sends SIGTERM without waiting",
                 "[module]") {
  fake().ignores_sigterm.insert("c1");
  REQUIRE(run_container("ns1", make_container("c1")));
  CHECK_FALSE(request_void(module, atom::sig_delete_v, std::string{"ns1"}, std::string{"c1"}));
  CHECK(fake().containers[{"ns1", "c1"}].labels.at(label_stop_requested) == "true");
  CHECK(std::count(fake().calls.begin(), fake().calls.end(), "tsk_kill c1 15") == 1);
  CHECK(fake().tasks[{"ns1", "c1"}].status
        == task_status::running); // it ignored SIGTERM; nobody waited
  auto got = request<container>(module, atom::inspect_v, std::string{"ns1"}, std::string{"c1"});
  REQUIRE(got);
  CHECK(got->state.stop_requested);
}

TEST_CASE_METHOD(fixture, "a Delete whose SIGTERM is ignored holds only its own container",
                 "[module][isolation]") {
  fake().ignores_sigterm.insert("slow");
  REQUIRE(run_container("ns1", make_container("slow")));
  REQUIRE(run_container("ns1", make_container("other")));
  REQUIRE(run_container("ns2", make_container("far")));

  // Delete "slow": its SIGTERM is ignored, so it waits out the 3 s grace on the clock.
  auto del_rh =
    self->request(module, caf::infinite, atom::delete_v, std::string{"ns1"}, std::string{"slow"});
  run();
  CHECK(self->peek_at_next_mailbox_element() == nullptr);

  // Meanwhile: another container of the same tenant, and another tenant, are served at once.
  auto r1 = request<container>(module, atom::inspect_v, std::string{"ns1"}, std::string{"other"});
  REQUIRE(r1);
  CHECK(r1->state.status == container_status::running);
  auto r2 = request<container>(module, atom::inspect_v, std::string{"ns2"}, std::string{"far"});
  REQUIRE(r2);
  REQUIRE(run_container("ns1", make_container("fresh")));
  CHECK_FALSE(request_void(module, atom::delete_v, std::string{"ns2"}, std::string{"far"}));

  // Operations on "slow" itself queue behind the Delete (never overlap, never reorder).
  auto insp_rh =
    self->request(module, caf::infinite, atom::inspect_v, std::string{"ns1"}, std::string{"slow"});
  run();
  CHECK(self->peek_at_next_mailbox_element() == nullptr);

  // The grace period passes: SIGKILL to all, then the Delete completes, then the Inspect.
  sched.advance_time(3s);
  run();
  auto del = take_void_reply(self, del_rh);
  REQUIRE(del);
  CHECK_FALSE(*del);
  auto insp = take_reply<container>(self, insp_rh);
  REQUIRE(insp);
  REQUIRE_FALSE(*insp);
  CHECK(insp->error() == errc::not_found);
  CHECK(std::count(fake().calls.begin(), fake().calls.end(), "tsk_kill slow 9 all") == 1);
  CHECK_FALSE(has_container("ns1", "slow"));
}

TEST_CASE_METHOD(fixture, "a task that survives SIGKILL is reported stuck and kept intact",
                 "[module]") {
  fake().ignores_sigterm.insert("zombie");
  fake().unkillable.insert("zombie");
  REQUIRE(run_container("ns1", make_container("zombie")));
  auto rh =
    self->request(module, caf::infinite, atom::delete_v, std::string{"ns1"}, std::string{"zombie"});
  run();
  sched.advance_time(3s); // grace
  run();
  CHECK(self->peek_at_next_mailbox_element() == nullptr);
  sched.advance_time(5s); // kill bound
  run();
  auto del = take_void_reply(self, rh);
  REQUIRE(del);
  REQUIRE(*del);
  CHECK(*del == errc::stuck);
  CHECK(error_text(*del).find("still running after SIGKILL") != std::string::npos);
  CHECK(has_container("ns1", "zombie"));
  CHECK(has_task("ns1", "zombie"));
}

TEST_CASE_METHOD(fixture, "Run then Delete of one id never reorder", "[module][ordering]") {
  auto a =
    self->request(module, caf::infinite, atom::run_v, std::string{"ns1"}, make_container("c1"));
  auto b =
    self->request(module, caf::infinite, atom::delete_v, std::string{"ns1"}, std::string{"c1"});
  auto c =
    self->request(module, caf::infinite, atom::run_v, std::string{"ns1"}, make_container("c1"));
  run();
  auto ra = take_reply<std::string>(self, a);
  REQUIRE(ra);
  CHECK(*ra);
  auto rb = take_void_reply(self, b);
  REQUIRE(rb);
  CHECK_FALSE(*rb);
  auto rc = take_reply<std::string>(self, c);
  REQUIRE(rc);
  CHECK(*rc);
  auto seq = calls_for("c1");
  auto first_create = std::find(seq.begin(), seq.end(), "tsk_start");
  auto del = std::find(seq.begin(), seq.end(), "ctr_delete");
  auto second_create = std::find(del, seq.end(), "ctr_create");
  CHECK(first_create < del);
  CHECK(second_create != seq.end());
  CHECK(has_container("ns1", "c1")); // the last Run won, as sent
}

TEST_CASE_METHOD(fixture, "Exec runs in the container with its env and reports exit codes",
                 "[module]") {
  REQUIRE(run_container("ns1", make_container("c1")));
  CHECK_FALSE(request_void(module, atom::exec_v, std::string{"ns1"}, std::string{"c1"},
                           caf::timespan{2s}, std::vector<std::string>{"/bin/true"}));
  fake().exec_results["/bin/false"] = exec_result{3, "oops on stderr\n", false};
  auto err = request_void(module, atom::exec_v, std::string{"ns1"}, std::string{"c1"},
                          caf::timespan{2s}, std::vector<std::string>{"/bin/false"});
  REQUIRE(err);
  CHECK(error_text(err) == "non-zero exit code: 3\noops on stderr\n");
  // The capture files (the output above came through them) are gone again.
  CHECK(files->count_under(exec_dir + "/") == 0);
  auto hang = request_void(module, atom::exec_v, std::string{"ns1"}, std::string{"c1"},
                           caf::timespan{1s}, std::vector<std::string>{"/bin/hang"});
  CHECK(error_text(hang) == "execution timed out");
  auto missing = request_void(module, atom::exec_v, std::string{"ns1"}, std::string{"ghost"},
                              caf::timespan{1s}, std::vector<std::string>{"/bin/true"});
  CHECK(error_text(missing)
        == R"(couldn't load container: container "ghost" in namespace "ns1": not found)");
  auto empty = request_void(module, atom::exec_v, std::string{"ns1"}, std::string{"c1"},
                            caf::timespan{1s}, std::vector<std::string>{});
  CHECK(empty == errc::invalid_argument);
}

TEST_CASE_METHOD(fixture, "Logs returns the last lines of the container's log", "[module]") {
  REQUIRE(run_container("ns1", make_container("c1")));
  // What the logger writes: records with time, stream and tag; older ones rotated to .log.1.
  {
    std::string old, out;
    for (int i = 1; i <= 40; ++i)
      old += "2026-11-30T23:34:10.000000001Z stdout F line " + std::to_string(i) + "\n";
    for (int i = 41; i <= 150; ++i)
      out += std::string{"2026-11-30T23:34:11.000000001Z "} + (i % 2 ? "stdout" : "stderr")
             + " F line " + std::to_string(i) + "\n";
    files->write(logs_dir + "/ns1/c1.log.1", old);
    files->write(logs_dir + "/ns1/c1.log", out);
  }
  auto text = request<std::string>(module, atom::logs_v, std::string{"ns1"}, std::string{"c1"});
  REQUIRE(text);
  CHECK(text->rfind("line 51\n", 0) == 0);
  CHECK(std::count(text->begin(), text->end(), '\n') == 100);
  // Short current file: the rotated one supplies the older lines.
  files->write(logs_dir + "/ns1/c1.log", "2026-11-30T23:34:11.000000001Z stderr F newest\n");
  text = request<std::string>(module, atom::logs_v, std::string{"ns1"}, std::string{"c1"});
  REQUIRE(text);
  CHECK(text->rfind("line 1\n", 0) == 0);
  CHECK(text->size() > 7);
  CHECK(text->substr(text->size() - 7) == "newest\n");
  // A task of an earlier contd wrote plain text through the shim's file://: shown as it is.
  files->remove(logs_dir + "/ns1/c1.log.1");
  files->write(logs_dir + "/ns1/c1.log", "plain 1\nplain 2\n");
  text = request<std::string>(module, atom::logs_v, std::string{"ns1"}, std::string{"c1"});
  REQUIRE(text);
  CHECK(*text == "plain 1\nplain 2\n");
  auto none = request<std::string>(module, atom::logs_v, std::string{"ns1"}, std::string{"ghost"});
  REQUIRE_FALSE(none);
  CHECK(error_text(none.error()).find("not found") != std::string::npos);
  auto escape =
    request<std::string>(module, atom::logs_v, std::string{"ns1"}, std::string{"../../etc/passwd"});
  REQUIRE_FALSE(escape);
  CHECK(escape.error() == errc::invalid_argument);
}

TEST_CASE_METHOD(fixture, "List gives ids per namespace, the union for \"\", and [] when empty",
                 "[module]") {
  REQUIRE(run_container("ns1", make_container("a")));
  REQUIRE(run_container("ns1", make_container("b")));
  REQUIRE(run_container("ns2", make_container("c")));
  auto l1 = request<std::vector<std::string>>(module, atom::list_v, std::string{"ns1"});
  REQUIRE(l1);
  CHECK(*l1 == std::vector<std::string>{"a", "b"});
  auto all = request<std::vector<std::string>>(module, atom::list_v, std::string{});
  REQUIRE(all);
  CHECK(*all == std::vector<std::string>{"a", "b", "c"});
  auto none = request<std::vector<std::string>>(module, atom::list_v, std::string{"ns3"});
  REQUIRE(none);
  CHECK(none->empty());
  auto names = request<std::vector<std::string>>(module, atom::list_ns_v);
  REQUIRE(names);
  CHECK(*names == std::vector<std::string>{"ns1", "ns2"});
}

TEST_CASE_METHOD(fixture,
                 "a tenant with nothing to supervise is retired when idle, and a later "
                 "call spawns a new one",
                 "[module]") {
  REQUIRE(run_container("ns1", make_container("a")));
  CHECK(mod().tenants.size() == 1);
  sched.advance_time(60s);
  run();
  CHECK(mod().tenants.size() == 1); // it supervises "a"
  REQUIRE_FALSE(request_void(module, atom::delete_v, std::string{"ns1"}, std::string{"a"}));
  sched.advance_time(60s);
  run();
  CHECK(mod().tenants.empty());
  auto l = request<std::vector<std::string>>(module, atom::list_v, std::string{"ns1"});
  REQUIRE(l);
  CHECK(l->empty());
  CHECK(mod().tenants_spawned == 2);
}

TEST_CASE_METHOD(fixture, "stopping the module stops its tenants", "[module]") {
  REQUIRE(run_container("ns1", make_container("a")));
  REQUIRE(mod().tenants.size() == 1);
  auto t = mod().tenants.begin()->second;
  self->monitor(t);
  self->send_exit(module, caf::exit_reason::user_shutdown);
  run();
  REQUIRE(self->peek_at_next_mailbox_element() != nullptr);
  bool down = false;
  self->receive([&](caf::down_msg& m) { down = m.source == t.address(); });
  CHECK(down);
  auto r = request<std::vector<std::string>>(module, atom::list_ns_v);
  CHECK_FALSE(r);
}

TEST_CASE_METHOD(fixture, "Inspects of one container run side by side, a write waits for them",
                 "[module][ordering]") {
  // A container contd does not supervise: its Inspect asks containerd (slowly, here).
  container_record rec;
  rec.id = "c1";
  rec.spec_json = R"({"process":{"args":["/bin/sleep","9"]}})";
  fake().containers[{"ns1", "c1"}] = rec;
  fake().tasks[{"ns1", "c1"}] = task_info{"c1", 7, task_status::running, 0, go_time{}};
  fake().slow_get.insert("c1");
  fake().calls.clear();
  auto i1 =
    self->request(module, caf::infinite, atom::inspect_v, std::string{"ns1"}, std::string{"c1"});
  auto i2 =
    self->request(module, caf::infinite, atom::inspect_v, std::string{"ns1"}, std::string{"c1"});
  auto d =
    self->request(module, caf::infinite, atom::sig_delete_v, std::string{"ns1"}, std::string{"c1"});
  auto i3 =
    self->request(module, caf::infinite, atom::inspect_v, std::string{"ns1"}, std::string{"c1"});
  run();
  // Both reads are in containerd at once; the write and the read behind it have not started.
  CHECK(fake().calls
        == std::vector<std::string>{"ctr_get c1", "ctr_get c1", "tsk_get c1", "tsk_get c1"});
  CHECK(self->peek_at_next_mailbox_element() == nullptr);
  sched.advance_time(1s);
  run();
  auto r1 = take_reply<container>(self, i1);
  REQUIRE(r1);
  CHECK(*r1);
  auto r2 = take_reply<container>(self, i2);
  REQUIRE(r2);
  CHECK(*r2);
  auto rd = take_void_reply(self, d);
  REQUIRE(rd);
  CHECK_FALSE(*rd);
  // The read queued behind the write sees the write's effect.
  sched.advance_time(1s);
  run();
  auto r3 = take_reply<container>(self, i3);
  REQUIRE(r3);
  REQUIRE(*r3);
  CHECK((*r3)->state.stop_requested);
}

TEST_CASE_METHOD(fixture, "a tenant is retired a full idle period after its last work",
                 "[module]") {
  REQUIRE(request<std::vector<std::string>>(module, atom::list_v, std::string{"ns1"}));
  sched.advance_time(30s);
  run();
  REQUIRE(request<std::vector<std::string>>(module, atom::list_v, std::string{"ns1"}));
  sched.advance_time(30s); // the first timer fires: only 30 s idle, it re-arms
  run();
  CHECK(mod().tenants.size() == 1);
  sched.advance_time(30s);
  run();
  CHECK(mod().tenants.empty());
  CHECK(mod().tenants_spawned == 1);
}

TEST_CASE_METHOD(fixture, "Stats answers containerd's metrics of a running task, and why not",
                 "[module][stats]") {
  REQUIRE(run_container("ns1", make_container("c1")));
  fake().metrics["c1"] = task_metrics{0, 2048, 4096, 512, 777, 3, false};
  auto m = request<task_metrics>(module, atom::metrics_v, std::string{"ns1"}, std::string{"c1"});
  REQUIRE(m);
  CHECK(m->memory_usage == 2048);
  CHECK(m->memory_limit == 4096);
  CHECK(m->pids_current == 3);
  CHECK(m->unix_ns > 0); // stamped with the fake's clock
  auto ghost =
    request<task_metrics>(module, atom::metrics_v, std::string{"ns1"}, std::string{"ghost"});
  REQUIRE_FALSE(ghost);
  CHECK(ghost.error() == errc::not_found);
  auto bad =
    request<task_metrics>(module, atom::metrics_v, std::string{"ns1"}, std::string{"../x"});
  REQUIRE_FALSE(bad);
  CHECK(bad.error() == errc::invalid_argument);
  // A stopped container has no running task: no figures.
  CHECK_FALSE(request_void(module, atom::sig_delete_v, std::string{"ns1"}, std::string{"c1"}));
  fake_stop_task(caf::actor_cast<fake_containerd_pointer>(ctrd), {"ns1", "c1"}, 0);
  run();
  auto stopped =
    request<task_metrics>(module, atom::metrics_v, std::string{"ns1"}, std::string{"c1"});
  CHECK_FALSE(stopped);
}

TEST_CASE_METHOD(fixture,
                 "a namespace contd created goes with its last container, one it did "
                 "not create stays",
                 "[module][housekeeping]") {
  REQUIRE(run_container("ns1", make_container("a")));
  REQUIRE(run_container("ns1", make_container("b")));
  // Someone else's namespace (no contd label), where contd also runs a container.
  fake().namespaces.insert("foreign");
  REQUIRE(run_container("foreign", make_container("f")));
  REQUIRE_FALSE(request_void(module, atom::delete_v, std::string{"ns1"}, std::string{"a"}));
  sched.advance_time(60s);
  run();
  CHECK(fake().namespaces.count("ns1") == 1); // "b" is still there
  REQUIRE_FALSE(request_void(module, atom::delete_v, std::string{"ns1"}, std::string{"b"}));
  REQUIRE_FALSE(request_void(module, atom::delete_v, std::string{"foreign"}, std::string{"f"}));
  sched.advance_time(60s);
  run();
  CHECK(mod().tenants.empty());
  CHECK(fake().namespaces.count("ns1") == 0);
  CHECK(fake().namespaces.count("foreign") == 1);
  CHECK(std::count(fake().calls.begin(), fake().calls.end(), "ns_delete foreign") == 0);
  // Using the name again creates it again.
  REQUIRE(run_container("ns1", make_container("c")));
  CHECK(fake().namespaces.count("ns1") == 1);
}
