// The adapter's pure edges: gRPC status → contd error, and events unpacked by their type URL.
#include <catch2/catch.hpp>

#include "github.com/containerd/containerd/api/events/task.pb.h"
#include "src/containerd/convert.hpp"
#include "src/containerd/errors.hpp"

using namespace contd;
using contd::containerd::rpc_code;
namespace cd = contd::containerd;

namespace {

int32_t code(rpc_code c) {
  return static_cast<int32_t>(c);
}

} // namespace

TEST_CASE("gRPC codes map to contd errors and keep containerd's message") {
  using cd::effective_code;
  using cd::to_error;
  auto nf = to_error(code(rpc_code::not_found), "container \"x\" in namespace \"n\": not found",
                     "Containers.Get");
  CHECK(nf == errc::not_found);
  CHECK(error_text(nf) == "container \"x\" in namespace \"n\": not found");
  CHECK(to_error(code(rpc_code::already_exists), "m", "X") == errc::already_exists);
  CHECK(to_error(code(rpc_code::invalid_argument), "m", "X") == errc::invalid_argument);
  CHECK(to_error(code(rpc_code::failed_precondition), "m", "X") == errc::failed_precondition);
  CHECK(to_error(code(rpc_code::unknown), "cannot delete a running process", "X")
        == errc::internal);
  CHECK(error_text(to_error(code(rpc_code::unknown), "cannot delete a running process", "X"))
        == "cannot delete a running process");
  CHECK(to_error(code(rpc_code::internal), "m", "X") == errc::internal);
  CHECK(to_error(code(rpc_code::unimplemented), "m", "X") == errc::internal);
  // Client-side failures name the call.
  // containerd's own report of the deadline, when the shim's copy of it expired first.
  CHECK(effective_code(code(rpc_code::unknown), "context deadline exceeded: unknown")
        == code(rpc_code::deadline_exceeded));
  CHECK(effective_code(code(rpc_code::unknown), "cannot delete a running process")
        == code(rpc_code::unknown));
  CHECK(effective_code(code(rpc_code::not_found), "context deadline exceeded")
        == code(rpc_code::not_found));
  auto dl = to_error(code(rpc_code::deadline_exceeded), "Deadline Exceeded", "Tasks.Wait");
  CHECK(dl == errc::timeout);
  CHECK(error_text(dl) == "containerd Tasks.Wait: Deadline Exceeded (gRPC code 4)");
  auto un = to_error(code(rpc_code::unavailable), "failed to connect", "Version.Version");
  CHECK(un == errc::unavailable);
  CHECK(error_text(un).find("Version.Version") != std::string::npos);
}

TEST_CASE("TaskExit, TaskOOM, TaskStart and TaskDelete are unpacked by type URL, other payloads "
          "are skipped") {
  ::containerd::events::TaskExit exit;
  exit.set_container_id("c1");
  exit.set_id("e1");
  exit.set_pid(42);
  exit.set_exit_status(137);
  exit.mutable_exited_at()->set_seconds(1700000000);
  exit.mutable_exited_at()->set_nanos(5);
  ::containerd::services::events::v1::Envelope env;
  env.set_namespace_("ns1");
  env.set_topic("/tasks/exit");
  env.mutable_event()->set_type_url("containerd.events.TaskExit"); // no slash: UnpackTo fails
  env.mutable_event()->set_value(exit.SerializeAsString());
  CHECK_FALSE(env.event().UnpackTo(&exit)); // why the adapter parses by hand
  auto ev = cd::unpack_event(env);
  REQUIRE(ev);
  CHECK(*ev == task_event{"ns1", "/tasks/exit", "c1", "e1", 42, 137, go_time{1700000000, 5}});

  ::containerd::events::TaskOOM oom;
  oom.set_container_id("c2");
  env.set_topic("/tasks/oom");
  env.mutable_event()->set_type_url("containerd.events.TaskOOM");
  env.mutable_event()->set_value(oom.SerializeAsString());
  ev = cd::unpack_event(env);
  REQUIRE(ev);
  CHECK(ev->container_id == "c2");
  CHECK(ev->topic == "/tasks/oom");

  ::containerd::events::TaskStart start;
  start.set_container_id("c3");
  start.set_pid(77);
  env.set_topic("/tasks/start");
  env.mutable_event()->set_type_url("containerd.events.TaskStart");
  env.mutable_event()->set_value(start.SerializeAsString());
  ev = cd::unpack_event(env);
  REQUIRE(ev);
  CHECK(*ev == task_event{"ns1", "/tasks/start", "c3", "c3", 77, 0, go_time{}});

  ::containerd::events::TaskDelete del;
  del.set_container_id("c4");
  del.set_pid(78);
  del.set_exit_status(1);
  env.set_topic("/tasks/delete");
  env.mutable_event()->set_type_url("containerd.events.TaskDelete");
  env.mutable_event()->set_value(del.SerializeAsString());
  ev = cd::unpack_event(env);
  REQUIRE(ev);
  CHECK(ev->exec_id == "c4"); // the init process: containerd leaves the id empty
  CHECK(ev->exit_status == 1);

  env.set_topic("/tasks/paused");
  env.mutable_event()->set_type_url("containerd.events.TaskPaused");
  CHECK_FALSE(cd::unpack_event(env));
}

TEST_CASE("process status names and Go's zero time") {
  CHECK(cd::to_task_status(::containerd::v1::types::RUNNING) == task_status::running);
  CHECK(cd::to_task_status(::containerd::v1::types::STOPPED) == task_status::stopped);
  CHECK(cd::to_task_status(::containerd::v1::types::CREATED) == task_status::created);
  CHECK(cd::to_task_status(::containerd::v1::types::PAUSED) == task_status::paused);
  CHECK(cd::to_task_status(::containerd::v1::types::PAUSING) == task_status::pausing);
  CHECK(cd::to_task_status(0) == task_status::unknown);
  google::protobuf::Timestamp ts;
  CHECK(cd::to_go_time(ts, false).is_zero());
  ts.set_seconds(go_time::zero_seconds);
  CHECK(cd::to_go_time(ts, true).is_zero());
}
