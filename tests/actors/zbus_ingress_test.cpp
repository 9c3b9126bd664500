// The zbus ingress under the deterministic scheduler, with a fake module and recording fakes for
// the Redis adapters.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "actors/zbus_ingress.hpp"
#include "tests/deterministic_fixture.hpp"
#include "tests/fakes/zbus_fakes.hpp"

using namespace contd;
using namespace contd::test;

namespace {

std::string vector_file(const std::string& name) {
  std::ifstream in(std::string{CONTD_VECTORS_DIR} + "/" + name, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

zbus::request make_request(const std::string& id, const std::string& method,
                           std::vector<zbus::bytes> inputs) {
  zbus::request r;
  r.id = id;
  r.reply_to = id;
  r.method = method;
  r.object = {"container", "0.0.1"};
  r.inputs = std::move(inputs);
  return r;
}

zbus::bytes container_arg(const std::string& name) {
  container c;
  c.name = name;
  return zbus::encode_container(c);
}

struct fixture : deterministic_fixture<> {
  fake_module_actor module;
  zbus_replier_actor replier;
  zbus_listener_actor listener;
  zbus_ingress_actor ingress;

  /// The wall clock the ingress starts from: 2023-11-14T22:13:20Z.
  static constexpr int64_t origin_ns = int64_t{1'700'000'000} * 1'000'000'000;

  explicit fixture(uint32_t max_in_flight = 1024) {
    module = sys.spawn(fake_module);
    replier = sys.spawn(fake_replier);
    listener = sys.spawn(fake_listener);
    ingress =
      sys.spawn(zbus_ingress, module, replier, zbus_ingress_config{max_in_flight, origin_ns});
    run();
    self->send(ingress, atom::attach_v, listener);
    run();
  }

  ~fixture() override {
    self->send_exit(module, caf::exit_reason::user_shutdown); // parked promises pin it
    run();
  }

  recorder_state& replies_state() {
    return caf::actor_cast<zbus_replier_actor::stateful_pointer<recorder_state>>(replier)->state;
  }
  recorder_state& listener_state() {
    return caf::actor_cast<zbus_listener_actor::stateful_pointer<recorder_state>>(listener)->state;
  }
  /// Lets the fake module deliver a parked Run.
  void release(const std::string& name) {
    caf::anon_send(module, release_v, name);
    run();
  }

  fake_module_state& module_state() { return caf::actor_cast<fake_module_pointer>(module)->state; }
  ingress_stats stats() {
    auto s = request<ingress_stats>(ingress, atom::stats_v);
    REQUIRE(s);
    return *s;
  }

  void push(const std::string& bytes, const std::string& queue = zbus::object_queue()) {
    self->send(ingress, atom::payload_v, queue, bytes);
    run();
  }

  /// The last reply, decoded.
  zbus::response last_reply() {
    REQUIRE(!replies_state().replies.empty());
    auto r = zbus::decode_response(replies_state().replies.back().second);
    INFO(r.error());
    REQUIRE(r);
    return *r;
  }
};

} // namespace

TEST_CASE_METHOD(fixture, "the ingress grants its in-flight budget as credit on attach",
                 "[zbus][ingress]") {
  CHECK(listener_state().credit == 1024);
}

TEST_CASE_METHOD(fixture, "replies to the captured requests equal the Go server's bytes",
                 "[zbus][ingress]") {
  struct row {
    const char* req;
    const char* resp;
  };
  // With the Go test double behind both servers, our replies must be byte-identical.
  for (auto r : {row{"run.req.bin", "run.resp.bin"}, row{"run-fail.req.bin", "run-fail.resp.bin"},
                 row{"listns.req.bin", "listns.resp.bin"}, row{"exec.req.bin", "exec.resp.bin"},
                 row{"delete-err.req.bin", "delete-err.resp.bin"},
                 row{"signaldelete.req.bin", "signaldelete.resp.bin"},
                 row{"nomethod.req.bin", "nomethod.resp.bin"},
                 row{"unknownobj.req.bin", "unknownobj.resp.bin"},
                 row{"argcount.req.bin", "argcount.resp.bin"}}) {
    INFO(r.req);
    auto before = replies_state().replies.size();
    push(vector_file(r.req));
    REQUIRE(replies_state().replies.size() == before + 1);
    auto& [key, bytes] = replies_state().replies.back();
    CHECK(key == zbus::decode_request(vector_file(r.req))->reply_to);
    CHECK(bytes == vector_file(r.resp));
  }
  CHECK(module_state().calls
        == std::vector<std::string>{"Run c1", "Run fail", "ListNS", "Exec c1 ls -l",
                                    "Delete missing", "SignalDelete c1"});
  auto s = stats();
  CHECK(s.protocol_errors == 3);
  CHECK(s.in_flight == 0);
  // Every call returned its credit.
  CHECK(listener_state().credit == 1024 + 9);
}

TEST_CASE_METHOD(fixture, "Inspect replies decode to the captured Inspect values",
                 "[zbus][ingress]") {
  push(vector_file("inspect.req.bin"));
  auto ours = last_reply();
  auto theirs = zbus::decode_response(vector_file("inspect.resp.bin"));
  REQUIRE(theirs);
  REQUIRE(ours.data);
  CHECK(zbus::decode_container(*ours.data) == zbus::decode_container(*theirs->data));
  CHECK_FALSE(ours.protocol_error);
}

TEST_CASE_METHOD(fixture, "a missing container's Inspect carries the zero Container and the text",
                 "[zbus][ingress]") {
  push(zbus::encode_request(
    make_request("q1", "Inspect", {zbus::encode_string("ns1"), zbus::encode_string("missing")})));
  auto r = last_reply();
  REQUIRE(r.call_error);
  CHECK(*r.call_error == R"(container "missing" in namespace "ns1": not found)");
  REQUIRE(r.data); // Data is always present for value methods
  CHECK(zbus::decode_container(*r.data) == container{});
  CHECK_FALSE(r.protocol_error);
}

TEST_CASE_METHOD(fixture, "the status object answers with the object and a free worker",
                 "[zbus][ingress]") {
  push(vector_file("status.req.bin"), zbus::status_queue());
  auto r = last_reply();
  CHECK(r.id == "00000000-0000-4000-8000-000000000011");
  REQUIRE(r.data);
  auto j = nlohmann::json::from_msgpack(r.data->begin(), r.data->end());
  CHECK(j["Objects"] == nlohmann::json::parse(R"([{"Name":"container","Version":"0.0.1"}])"));
  REQUIRE(j["Workers"].size() == 1);
  CHECK(j["Workers"][0]["State"] == "free");
  CHECK(j["Workers"][0]["StartTime"].get_binary().subtype() == 0xff);
  // Status requests consume no credit.
  CHECK(listener_state().credit == 1024);
  CHECK(stats().in_flight == 0);
}

TEST_CASE_METHOD(fixture, "status is answered at once while calls are parked, listing them busy",
                 "[zbus][ingress]") {
  push(zbus::encode_request(
    make_request("p1", "Run", {zbus::encode_string("ns1"), container_arg("park1")})));
  CHECK(replies_state().replies.empty());
  push(vector_file("status.req.bin"), zbus::status_queue());
  REQUIRE(replies_state().replies.size() == 1);
  auto r = last_reply();
  auto j = nlohmann::json::from_msgpack(r.data->begin(), r.data->end());
  REQUIRE(j["Workers"].size() == 2);
  CHECK(j["Workers"][0]["State"] == "busy");
  CHECK(j["Workers"][0]["Action"] == "[container@0.0.1].Run()");
  CHECK(j["Workers"][1]["State"] == "free");
  release("park1");
  CHECK(replies_state().replies.size() == 2);
}

TEST_CASE_METHOD(fixture, "the status times come from CAF's clock, not the machine's",
                 "[zbus][ingress]") {
  auto status_times = [&] {
    push(vector_file("status.req.bin"), zbus::status_queue());
    auto r = last_reply();
    auto j = nlohmann::json::from_msgpack(r.data->begin(), r.data->end());
    std::vector<std::pair<std::string, int64_t>> out;
    for (const auto& w : j["Workers"]) {
      auto t = zbus::decode_time_ext(w["StartTime"].get_binary());
      out.emplace_back(w["State"].get<std::string>(), t.sec);
    }
    return out;
  };
  using entries = std::vector<std::pair<std::string, int64_t>>;
  CHECK(status_times() == entries{{"free", 1'700'000'000}});
  sched.advance_time(std::chrono::seconds{5});
  push(zbus::encode_request(
    make_request("p1", "Run", {zbus::encode_string("ns1"), container_arg("park1")})));
  sched.advance_time(std::chrono::seconds{7});
  // Busy since the Run arrived; free since the spawn (no call has finished yet).
  CHECK(status_times() == entries{{"busy", 1'700'000'005}, {"free", 1'700'000'000}});
  release("park1");
  CHECK(status_times() == entries{{"free", 1'700'000'012}});
}

TEST_CASE_METHOD(fixture, "many concurrent calls complete independently and out of order",
                 "[zbus][ingress]") {
  constexpr int n = 200;
  for (int i = 0; i < n; ++i)
    push(zbus::encode_request(
      make_request("id-" + std::to_string(i), "Run",
                   {zbus::encode_string("ns1"), container_arg("park" + std::to_string(i))})));
  CHECK(replies_state().replies.empty());
  CHECK(stats().in_flight == n);
  CHECK(listener_state().credit == 1024); // nothing returned yet
  // Release in reverse order: each reply goes to its own caller with its own value.
  for (int i = n - 1; i >= 0; --i) {
    auto name = "park" + std::to_string(i);
    release(name);
    auto& [key, bytes] = replies_state().replies.back();
    CHECK(key == "id-" + std::to_string(i));
    auto r = zbus::decode_response(bytes);
    REQUIRE(r);
    CHECK(zbus::decode_string(*r->data) == name + "-id");
  }
  CHECK(replies_state().replies.size() == n);
  CHECK(stats().in_flight == 0);
  CHECK(listener_state().credit == 1024 + n);
}

TEST_CASE("credit bounds the calls out of Redis", "[zbus][ingress]") {
  fixture f{3};
  CHECK(f.listener_state().credit == 3);
  for (int i = 0; i < 3; ++i)
    f.push(zbus::encode_request(
      make_request("id-" + std::to_string(i), "Run",
                   {zbus::encode_string("ns"), container_arg("park" + std::to_string(i))})));
  CHECK(f.stats().in_flight == 3);
  f.release("park1");
  CHECK(f.listener_state().credit == 4); // one call finished: one more may be popped
  CHECK(f.stats().in_flight == 2);
  // A listener attaching later (after a restart) gets only the remaining budget.
  auto second = f.sys.spawn(fake_listener);
  f.self->send(f.ingress, atom::attach_v, second);
  f.run();
  CHECK(caf::actor_cast<zbus_listener_actor::stateful_pointer<recorder_state>>(second)->state.credit
        == 1);
}

TEST_CASE_METHOD(fixture,
                 "undecodable payloads are answered when a ReplyTo survives, counted always",
                 "[zbus][ingress]") {
  auto run_req = vector_file("run.req.bin");
  push(run_req.substr(0, run_req.size() - 3));
  REQUIRE(replies_state().replies.size() == 1);
  CHECK(replies_state().replies[0].first == "00000000-0000-4000-8000-000000000001");
  auto r = last_reply();
  REQUIRE(r.protocol_error);
  CHECK(r.protocol_error->find("malformed request") != std::string::npos);

  push(std::string("\xc1\xc1\xc1", 3));
  CHECK(replies_state().replies.size() == 1); // nowhere to reply to
  auto s = stats();
  CHECK(s.undecodable == 2);
  CHECK(s.dropped == 1);
  CHECK(s.in_flight == 0);
  CHECK(listener_state().credit == 1024 + 2);
  CHECK(module_state().calls.empty());
}

TEST_CASE_METHOD(fixture, "bad argument types never reach the module", "[zbus][ingress]") {
  push(zbus::encode_request(make_request(
    "t1", "Run", {zbus::encode_string("ns"), zbus::encode_string("not a container")})));
  auto r = last_reply();
  REQUIRE(r.protocol_error);
  CHECK(*r.protocol_error == "invalid argument type [1] expecting pkg.Container got");
  CHECK_FALSE(r.data);
  CHECK(module_state().calls.empty());
}

TEST_CASE_METHOD(fixture, "a call to a module that is gone still gets exactly one reply",
                 "[zbus][ingress]") {
  self->send_exit(module, caf::exit_reason::user_shutdown);
  run();
  push(vector_file("run.req.bin"));
  REQUIRE(replies_state().replies.size() == 1);
  auto r = last_reply();
  REQUIRE(r.call_error);
  CHECK_FALSE(r.call_error->empty());
  REQUIRE(r.data);
  CHECK(zbus::decode_string(*r.data).empty());
  CHECK(stats().in_flight == 0);
}

TEST_CASE_METHOD(fixture, "a request whose ID is not a string is answered at its ReplyTo",
                 "[zbus][ingress][hostile]") {
  // {"ID": 42, "ReplyTo": "r1", …}: the Go server's decoder stops at ID; the caller would wait.
  nlohmann::json req{{"ID", 42},
                     {"Object", {{"Name", "container"}, {"Version", "0.0.1"}}},
                     {"Method", "ListNS"},
                     {"Inputs", nlohmann::json::array()},
                     {"ReplyTo", "r1"}};
  auto bytes = nlohmann::json::to_msgpack(req);
  push(std::string(bytes.begin(), bytes.end()));
  REQUIRE(replies_state().replies.size() == 1);
  CHECK(replies_state().replies[0].first == "r1");
  auto r = last_reply();
  REQUIRE(r.protocol_error);
  CHECK(r.protocol_error->find("ID") != std::string::npos);
  CHECK(module_state().calls.empty());
}

TEST_CASE_METHOD(fixture, "a request without a ReplyTo is not executed, only counted",
                 "[zbus][ingress][hostile]") {
  auto run = make_request("n1", "Run", {zbus::encode_string("ns"), container_arg("c1")});
  run.reply_to.clear();
  push(zbus::encode_request(run));
  CHECK(replies_state().replies.empty());
  CHECK(module_state().calls.empty()); // no container nobody hears of
  auto status = make_request("n2", "Status", {});
  status.reply_to.clear();
  status.object = {"zbus", "1.0"};
  push(zbus::encode_request(status), zbus::status_queue());
  CHECK(replies_state().replies.empty());
  auto s = stats();
  CHECK(s.unanswerable == 2);
  CHECK(s.in_flight == 0);
  // The status object reports the counters (Go's decoder skips the extra key).
  push(vector_file("status.req.bin"), zbus::status_queue());
  auto r = last_reply();
  REQUIRE(r.data);
  auto j = nlohmann::json::from_msgpack(r.data->begin(), r.data->end());
  CHECK(j["Stats"]["Unanswerable"] == 2);
  CHECK(j["Stats"]["Received"] == 3);
}

TEST_CASE_METHOD(fixture, "a flood of bad requests is counted, its warnings are rate-limited",
                 "[zbus][ingress][hostile]") {
  for (int i = 0; i < 500; ++i)
    push(std::string("\xc1", 1));
  auto s = stats();
  CHECK(s.dropped == 500);
  CHECK(s.warnings_suppressed == 490); // 10 a minute are written
  // A minute later the next one is written again (and says how many were held back).
  sched.advance_time(std::chrono::seconds{61});
  push(std::string("\xc1", 1));
  CHECK(stats().warnings_suppressed == 490);
}

TEST_CASE_METHOD(fixture, "an Exec timeout beyond int64 is refused with what is wrong",
                 "[zbus][ingress][hostile]") {
  std::string huge("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9); // 2^64-1 as msgpack uint64
  push(zbus::encode_request(make_request("x1", "Exec",
                                         {zbus::encode_string("ns"), zbus::encode_string("c1"),
                                          huge, zbus::encode_string("/bin/true")})));
  auto r = last_reply();
  REQUIRE(r.protocol_error);
  CHECK(*r.protocol_error
        == "invalid argument [2]: time.Duration 18446744073709551615ns is out of range");
  CHECK(module_state().calls.empty());
}

namespace {

/// Pushes a Run the fake module parks until release(name).
void park(fixture& f, const std::string& name) {
  f.push(zbus::encode_request(
    make_request("id-" + name, "Run", {zbus::encode_string("ns1"), container_arg(name)})));
}

/// The answer to a drain sent earlier, if it has come.
template <class Handle>
std::optional<uint64_t> drain_answer(fixture& f, Handle& rh) {
  if (f.self->peek_at_next_mailbox_element() == nullptr)
    return std::nullopt;
  std::optional<uint64_t> out;
  rh.receive([&](uint64_t n) { out = n; }, [&](caf::error&) {});
  return out;
}

} // namespace

TEST_CASE_METHOD(fixture, "a drain with nothing in flight answers 0 at once", "[zbus][ingress]") {
  auto left = request<uint64_t>(ingress, atom::drain_v, caf::timespan{std::chrono::seconds{60}});
  REQUIRE(left);
  CHECK(*left == 0);
}

TEST_CASE_METHOD(fixture, "a drain answers when the last call in flight is answered",
                 "[zbus][ingress]") {
  park(*this, "park1");
  park(*this, "park2");
  auto rh =
    self->request(ingress, caf::infinite, atom::drain_v, caf::timespan{std::chrono::seconds{60}});
  run();
  CHECK_FALSE(drain_answer(*this, rh));
  release("park1");
  CHECK_FALSE(drain_answer(*this, rh));
  release("park2");
  CHECK(drain_answer(*this, rh) == uint64_t{0});
  CHECK(replies_state().replies.size() == 2);
}

TEST_CASE_METHOD(fixture, "a drain whose time passes answers with the calls still in flight",
                 "[zbus][ingress]") {
  park(*this, "park1");
  auto rh =
    self->request(ingress, caf::infinite, atom::drain_v, caf::timespan{std::chrono::seconds{1}});
  run();
  CHECK_FALSE(drain_answer(*this, rh));
  sched.trigger_timeouts();
  run();
  CHECK(drain_answer(*this, rh) == uint64_t{1});
  release("park1"); // answered late all the same
  CHECK(replies_state().replies.size() == 1);
}

TEST_CASE_METHOD(fixture, "a drain with a zero timespan cuts every drain short, now and later",
                 "[zbus][ingress]") {
  park(*this, "park1");
  park(*this, "park2");
  auto rh =
    self->request(ingress, caf::infinite, atom::drain_v, caf::timespan{std::chrono::seconds{60}});
  run();
  CHECK_FALSE(drain_answer(*this, rh));
  caf::anon_send(ingress, atom::drain_v, caf::timespan::zero());
  run();
  CHECK(drain_answer(*this, rh) == uint64_t{2});
  auto later = request<uint64_t>(ingress, atom::drain_v, caf::timespan{std::chrono::seconds{60}});
  REQUIRE(later);
  CHECK(*later == 2);
  release("park1");
  release("park2");
}
