// The zbus v1 codec against the requests and responses captured from the upstream Go client and
// server (tests/data/zbus-vectors: the bytes the Go zbus v1.0.1 client and server put on Redis; its
// README says how they were made).
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <limits>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "src/zbus/codec.hpp"
#include "src/zbus/dispatch.hpp"

using namespace contd;
using namespace contd::zbus;

namespace {

std::string vector_file(const std::string& name) {
  std::ifstream in(std::string{CONTD_VECTORS_DIR} + "/" + name, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

std::string mp(const nlohmann::json& j) {
  auto v = nlohmann::json::to_msgpack(j);
  return std::string(v.begin(), v.end());
}

std::string id_of(int n) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "00000000-0000-4000-8000-0000000000%02d", n);
  return buf;
}

request decode_ok(const std::string& bytes) {
  auto req = decode_request(bytes);
  INFO(req.error().reason);
  REQUIRE(req.ok());
  return *req;
}

/// Why `bytes` is not a request (it must not be one).
decode_failure failure_of(std::string_view bytes) {
  auto req = decode_request(bytes);
  REQUIRE_FALSE(req.ok());
  return req.error();
}

/// Decoded-value comparison of two msgpack documents.
nlohmann::json as_json(const std::string& bytes) {
  return nlohmann::json::from_msgpack(bytes.begin(), bytes.end());
}

container golden_c1() {
  container c;
  c.name = "c1";
  c.root_fs = "/mnt/c1";
  c.env = {"A=1"};
  c.network.ns = "ns-c1";
  c.entrypoint = "/bin/sh";
  c.cpu = 1;
  c.memory = 1024;
  c.elevated = true;
  c.created_at = go_time{1700000000, 0};
  c.root_fs_propagation = "rshared";
  c.shutdown_timeout = 5'000'000'000;
  return c;
}

} // namespace

TEST_CASE("the captured Run request decodes into every field of the container", "[zbus][codec]") {
  auto req = decode_ok(vector_file("run.req.bin"));
  CHECK(req.id == id_of(1));
  CHECK(req.reply_to == id_of(1));
  CHECK(req.method == "Run");
  CHECK(req.object == object_id{"container", "0.0.1"});
  REQUIRE(req.inputs.size() == 2);
  CHECK(decode_string(req.inputs[0]) == "ns1");
  auto c = decode_container(req.inputs[1]);
  CHECK(c == golden_c1());
  auto checked = check_call(req);
  REQUIRE(checked.value);
  CHECK(checked.value->m == method::run);
  CHECK(checked.value->ns == "ns1");
  CHECK(checked.value->data.name == "c1");
}

TEST_CASE("the run-fail request decodes with the name fail", "[zbus][codec]") {
  auto req = decode_ok(vector_file("run-fail.req.bin"));
  CHECK(req.id == id_of(2));
  auto c = decode_container(req.inputs.at(1));
  auto want = golden_c1();
  want.name = "fail";
  CHECK(c == want);
}

TEST_CASE("every captured request decodes to its method and arguments", "[zbus][codec]") {
  SECTION("Inspect") {
    auto req = decode_ok(vector_file("inspect.req.bin"));
    CHECK(req.id == id_of(3));
    auto c = check_call(req);
    REQUIRE(c.value);
    CHECK(c.value->m == method::inspect);
    CHECK(c.value->ns == "ns1");
    CHECK(c.value->id == "c1");
  }
  SECTION("List") {
    auto c = check_call(decode_ok(vector_file("list.req.bin")));
    REQUIRE(c.value);
    CHECK(c.value->m == method::list);
    CHECK(c.value->ns == "ns1");
  }
  SECTION("ListNS with an empty Inputs array") {
    auto req = decode_ok(vector_file("listns.req.bin"));
    CHECK(req.inputs.empty());
    auto c = check_call(req);
    REQUIRE(c.value);
    CHECK(c.value->m == method::list_ns);
  }
  SECTION("Exec with flattened variadic arguments and a Duration") {
    auto req = decode_ok(vector_file("exec.req.bin"));
    CHECK(req.inputs.size() == 5);
    auto c = check_call(req);
    REQUIRE(c.value);
    CHECK(c.value->m == method::exec);
    CHECK(c.value->ns == "ns1");
    CHECK(c.value->id == "c1");
    CHECK(c.value->timeout_ns == 2'000'000'000);
    CHECK(c.value->args == std::vector<std::string>{"ls", "-l"});
  }
  SECTION("Delete") {
    auto c = check_call(decode_ok(vector_file("delete-err.req.bin")));
    REQUIRE(c.value);
    CHECK(c.value->m == method::delete_);
    CHECK(c.value->id == "missing");
  }
  SECTION("SignalDelete") {
    auto c = check_call(decode_ok(vector_file("signaldelete.req.bin")));
    REQUIRE(c.value);
    CHECK(c.value->m == method::signal_delete);
    CHECK(c.value->id == "c1");
  }
  SECTION("the status request") {
    auto req = decode_ok(vector_file("status.req.bin"));
    CHECK(req.object == object_id{"zbus", "1.0"});
    CHECK(req.method.empty());
    CHECK(req.inputs.empty());
    CHECK(req.id == id_of(11));
  }
}

TEST_CASE("protocol errors carry the Go server's exact texts", "[zbus][codec]") {
  CHECK(check_call(decode_ok(vector_file("nomethod.req.bin"))).protocol_error == "not a function");
  CHECK(check_call(decode_ok(vector_file("unknownobj.req.bin"))).protocol_error
        == "unknown object");
  CHECK(check_call(decode_ok(vector_file("argcount.req.bin"))).protocol_error
        == "invalid number of arguments expecting 2 got 1");

  request req;
  req.object = {"container", "0.0.1"};
  req.method = "Delete";
  req.inputs = {mp(42), mp(true)};
  CHECK(check_call(req).protocol_error == "invalid argument type [0] expecting string got");

  req.inputs = {encode_string("ns"), mp(true)};
  CHECK(check_call(req).protocol_error
        == "invalid argument type [1] expecting pkg.ContainerID got");

  req.method = "Run";
  req.inputs = {encode_string("ns"), encode_string("not a container")};
  CHECK(check_call(req).protocol_error == "invalid argument type [1] expecting pkg.Container got");

  req.method = "Exec";
  req.inputs = {encode_string("ns"), encode_string("c"), encode_string("2s")};
  CHECK(check_call(req).protocol_error == "invalid argument type [2] expecting time.Duration got");
  // A bad variadic element is reported with the Go server's double offset: input 3 -> [6].
  req.inputs = {encode_string("ns"), encode_string("c"), encode_string(""), mp(1)};
  req.inputs[2] = mp(1000);
  CHECK(check_call(req).protocol_error == "invalid argument type [6] expecting string");

  req.method = "Exec";
  req.inputs = {encode_string("ns"), encode_string("c")};
  CHECK(check_call(req).protocol_error == "invalid number of arguments expecting 3 got 2");

  req.method = "Watch"; // exported by the Go value, not part of the interface
  CHECK(check_call(req).protocol_error == "not a function");
  req.method = "";
  CHECK(check_call(req).protocol_error == "not a function");
}

TEST_CASE("encoded responses equal the captured Go responses byte for byte", "[zbus][codec]") {
  SECTION("Run with a value") {
    response r{id_of(1), encode_string("ns1-c1"), std::nullopt, std::nullopt};
    CHECK(encode_response(r) == vector_file("run.resp.bin"));
  }
  SECTION("Run with a call error still carries the zero value") {
    response r{id_of(2), zero_result(method::run), std::string{"boom"}, std::nullopt};
    CHECK(encode_response(r) == vector_file("run-fail.resp.bin"));
  }
  SECTION("List returning nil") {
    response r{id_of(4), encode_nil(), std::nullopt, std::nullopt};
    CHECK(encode_response(r) == vector_file("list.resp.bin"));
  }
  SECTION("ListNS") {
    response r{id_of(5), encode_strings({"ns1", "ns2"}), std::nullopt, std::nullopt};
    CHECK(encode_response(r) == vector_file("listns.resp.bin"));
  }
  SECTION("error-only methods") {
    CHECK(encode_response({id_of(6), std::nullopt, std::nullopt, std::nullopt})
          == vector_file("exec.resp.bin"));
    CHECK(encode_response({id_of(8), std::nullopt, std::nullopt, std::nullopt})
          == vector_file("signaldelete.resp.bin"));
    CHECK(encode_response(
            {id_of(7), std::nullopt, std::string{"container missing not found"}, std::nullopt})
          == vector_file("delete-err.resp.bin"));
  }
  SECTION("protocol errors") {
    CHECK(encode_response({id_of(9), std::nullopt, std::nullopt, std::string{"not a function"}})
          == vector_file("nomethod.resp.bin"));
    CHECK(encode_response({id_of(9), std::nullopt, std::nullopt, std::string{"unknown object"}})
          == vector_file("unknownobj.resp.bin"));
    CHECK(encode_response({id_of(10), std::nullopt, std::nullopt,
                           std::string{"invalid number of arguments expecting 2 got 1"}})
          == vector_file("argcount.resp.bin"));
  }
  SECTION("the derived replies of the real module (§20.4)") {
    CHECK(encode_response({id_of(1), encode_string("c1"), std::nullopt, std::nullopt})
          == unhex("83a24944d92430303030303030302d303030302d343030302d383030302d3030"
                   "30303030303030303031a64f757470757482a444617461c403a26331a5457272"
                   "6f72c0a54572726f72c0"));
    CHECK(encode_response({id_of(4), encode_strings({}), std::nullopt, std::nullopt})
          == unhex("83a24944d92430303030303030302d303030302d343030302d383030302d3030"
                   "30303030303030303034a64f757470757482a444617461c40190a54572726f72"
                   "c0a54572726f72c0"));
  }
}

TEST_CASE("Inspect and status replies decode to the same values as the captured ones",
          "[zbus][codec]") {
  SECTION("Inspect") {
    container c;
    c.name = "c1";
    c.cpu = 2;
    c.created_at = go_time{1700000000, 5};
    response r{id_of(3), encode_container(c), std::nullopt, std::nullopt};
    auto ours = encode_response(r);
    auto theirs = vector_file("inspect.resp.bin");
    auto a = decode_response(ours);
    auto b = decode_response(theirs);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->id == b->id);
    CHECK_FALSE(a->call_error);
    CHECK_FALSE(b->call_error);
    REQUIRE(a->data);
    REQUIRE(b->data);
    CHECK(decode_container(*a->data) == decode_container(*b->data));
    // Key sets and order are Go's; only integer widths (and [] vs nil) differ.
    auto ja = nlohmann::ordered_json::from_msgpack(a->data->begin(), a->data->end());
    auto jb = nlohmann::ordered_json::from_msgpack(b->data->begin(), b->data->end());
    std::vector<std::string> ka, kb;
    for (auto& [k, v] : ja.items())
      ka.push_back(k);
    for (auto& [k, v] : jb.items())
      kb.push_back(k);
    CHECK(ka == kb);
  }
  SECTION("the zero Container equals §15.3 after decoding") {
    auto zero = unhex(
      "de0010a44e616d65a0a6526f6f744653a0a3456e76c0aa576f726b696e67446972a0a74e6574776f726b81a94e"
      "616d657370616365a0a64d6f756e7473c0aa456e747279706f696e74a0ab496e746572616374697665c2a34350"
      "55cf0000000000000000a64d656d6f7279cf0000000000000000a44c6f6773c0a55374617473c0a8456c657661"
      "746564c2a9437265617465644174c70cff00000000fffffff1886e0900b1526f6f74467350726f706167617469"
      "6f6ea0af53687574646f776e54696d656f7574d30000000000000000");
    CHECK(decode_container(zero) == container{});
    CHECK(as_json(*zero_result(method::inspect)) == as_json(zero));
  }
  SECTION("status") {
    auto theirs = vector_file("status.resp.bin");
    auto b = decode_response(theirs);
    REQUIRE(b);
    REQUIRE(b->data);
    auto jb = as_json(*b->data);
    go_time start = decode_time_ext(jb["Workers"][0]["StartTime"].get_binary());
    auto ours = encode_status({{"container", "0.0.1"}}, {{"free", start, ""}});
    CHECK(ours == *b->data); // byte-identical: no integers in it
  }
}

TEST_CASE("the Inspect reply with an extra State key is still a Go Container", "[zbus][codec]") {
  container c;
  c.name = "c1";
  c.has_state = true;
  c.state.status = container_status::running;
  c.state.pid = 42;
  auto bytes = encode_container(c);
  auto j = nlohmann::ordered_json::from_msgpack(bytes.begin(), bytes.end());
  REQUIRE(j.size() == 17);
  // The 16 Go keys come first, in Go's order, exactly as in the captured reply.
  auto theirs = vector_file("inspect.resp.bin");
  auto b = decode_response(theirs);
  REQUIRE(b);
  auto jb = nlohmann::ordered_json::from_msgpack(b->data->begin(), b->data->end());
  size_t i = 0;
  for (auto& [k, v] : jb.items()) {
    CHECK(std::next(j.begin(), static_cast<long>(i)).key() == k);
    ++i;
  }
  CHECK(std::next(j.begin(), 16).key() == "State");
  auto back = decode_container(bytes);
  CHECK(back == c);
}

TEST_CASE("time.Time round-trips in its 4, 8 and 12 byte forms", "[zbus][codec]") {
  struct row {
    go_time t;
    std::string hex;
  };
  std::vector<row> rows = {
    {{1700000000, 0}, "6553f100"},
    {{1700000000, 5}, "000000146553f100"},
    {go_time{}, "00000000fffffff1886e0900"},
    {{0, 0}, "00000000"},
    {{(int64_t{1} << 32), 0}, "0000000100000000"},
    {{(int64_t{1} << 34), 0}, "000000000000000400000000"},
    {{-1, 999999999}, "3b9ac9ffffffffffffffffff"},
  };
  for (const auto& r : rows) {
    auto enc = encode_time_ext(r.t);
    CHECK(std::string(enc.begin(), enc.end()) == unhex(r.hex));
    CHECK(decode_time_ext(enc) == r.t);
  }
  CHECK_THROWS_AS(decode_time_ext({1, 2, 3}), type_error);
  // nanoseconds above 999999999 are not a time
  CHECK_THROWS_AS(decode_time_ext({0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0}), type_error);
}

TEST_CASE("integers of every width and str-or-bin are accepted as Go does", "[zbus][codec]") {
  // uint widths for CPU, signed widths for ShutdownTimeout, bin for strings, nil for zero.
  for (auto hex : {"01", "cc01", "cd0001", "ce00000001", "cf0000000000000001", "d001", "d10001",
                   "d200000001", "d30000000000000001"}) {
    auto doc = unhex(std::string{"82a3435055"} + hex + "a44e616d65c4026331");
    auto c = decode_container(doc);
    CHECK(c.cpu == 1);
    CHECK(c.name == "c1");
  }
  CHECK(decode_string(unhex("c0")).empty());
  CHECK(decode_string(unhex("c403616263")) == "abc");
  CHECK(decode_int64(unhex("c0")) == 0);
  CHECK(decode_int64(unhex("ff")) == -1);
  CHECK_THROWS_AS(decode_int64(unhex("cb3ff0000000000000")), type_error); // float
  CHECK_THROWS_AS(decode_string(unhex("2a")), type_error);
  // nil for a bool is refused, as Go's decoder does
  CHECK_THROWS_AS(decode_container(unhex("81ab496e746572616374697665c0")), type_error);
  // nil container = zero container; missing keys keep zero values; unknown keys are skipped
  CHECK(decode_container(unhex("c0")) == container{});
  CHECK(decode_container(unhex("81a3466f6f01")) == container{});
  // negative CPU is not a uint
  CHECK_THROWS_AS(decode_container(unhex("81a3435055ff")), type_error);
}

TEST_CASE("the seed-era Container with mount Type and Options decodes", "[zbus][codec]") {
  nlohmann::ordered_json seed;
  seed["Name"] = "old";
  seed["RootFS"] = "/mnt/old";
  seed["Env"] = {"A=1"};
  seed["Network"] = {{"Namespace", "n1"}};
  seed["Mounts"] = nlohmann::ordered_json::array(
    {{{"Source", "/data"}, {"Target", "/data"}, {"Type", "bind"}, {"Options", {"rbind", "ro"}}}});
  seed["Entrypoint"] = "/bin/app --x";
  seed["Interactive"] = true;
  auto bytes = nlohmann::ordered_json::to_msgpack(seed);
  CHECK(bytes[0] == 0x87); // the 7-key fixmap of the seed era
  auto c = decode_container(std::string(bytes.begin(), bytes.end()));
  CHECK(c.name == "old");
  CHECK(c.interactive);
  REQUIRE(c.mounts.size() == 1);
  CHECK(c.mounts[0] == mount_info{"/data", "/data", "bind", {"rbind", "ro"}});
  CHECK(c.created_at.is_zero());
  // and it survives our own encoding
  CHECK(decode_container(encode_container(c)) == c);
}

TEST_CASE("malformed payloads get a clear error and never a crash", "[zbus][codec]") {
  auto run = vector_file("run.req.bin");
  decode_failure f;
  SECTION("every truncation of a valid request") {
    for (size_t n = 0; n < run.size(); ++n) {
      CHECK_FALSE(failure_of(std::string_view(run).substr(0, n)).reason.empty());
    }
  }
  SECTION("a truncated request still yields its ReplyTo when it is intact") {
    auto cut = run.substr(0, run.size() - 3); // inside the Method value
    f = failure_of(cut);
    CHECK(f.reply_to == id_of(1));
  }
  SECTION("not a map") {
    f = failure_of(unhex("92a161a162"));
    CHECK(f.reason.find("expected a map") != std::string::npos);
  }
  SECTION("wrong types in the envelope") {
    nlohmann::ordered_json v;
    v["ID"] = "x";
    v["ReplyTo"] = "r1";
    v["Inputs"] = "oops";
    auto b = nlohmann::ordered_json::to_msgpack(v);
    f = failure_of(std::string(b.begin(), b.end()));
    CHECK(f.reply_to == "r1");
    CHECK(f.reason.find("Inputs") != std::string::npos);
  }
  SECTION("missing keys") {
    auto b = nlohmann::ordered_json::to_msgpack(nlohmann::ordered_json::object());
    auto req = decode_request(std::string(b.begin(), b.end()));
    REQUIRE(req);
    CHECK(check_call(*req).protocol_error == "unknown object");
  }
  SECTION("a 10 MB payload") {
    std::string big = unhex("85a24944a178a6496e7075747391c6");
    uint32_t len = 10 * 1024 * 1024;
    for (int i = 3; i >= 0; --i)
      big.push_back(static_cast<char>(len >> (8 * i)));
    big.append(len, 'a');
    f = failure_of(big);
    CHECK(f.reason.find("too large") != std::string::npos);
  }
  SECTION("deep nesting") {
    std::string deep(100000, static_cast<char>(0x91));
    deep.push_back(static_cast<char>(0xc0));
    f = failure_of(deep);
    CHECK(f.reason.find("nested deeper") != std::string::npos);
    CHECK_THROWS_AS(decode_container(deep), type_error);
  }
  SECTION("lengths that lie") {
    CHECK_FALSE(check_msgpack(unhex("dd7fffffff")));
    CHECK_FALSE(check_msgpack(unhex("db7fffffff61")));
    CHECK_FALSE(check_msgpack(unhex("c1")));
    CHECK_FALSE(check_msgpack(unhex("a161a162"))); // trailing bytes
    CHECK(check_msgpack(unhex("a161")).ok());
  }
  SECTION("non-UTF-8 strings pass through as bytes") {
    nlohmann::ordered_json v;
    v["ID"] = "x";
    v["Inputs"] = nlohmann::ordered_json::array();
    v["Object"] = {{"Name", "container"}, {"Version", "0.0.1"}};
    v["ReplyTo"] = "r";
    v["Method"] = "List";
    auto b = nlohmann::ordered_json::to_msgpack(v);
    std::string bytes(b.begin(), b.end());
    request req = decode_ok(bytes);
    req.inputs = {unhex("a3ff00fe")};
    auto c = check_call(req);
    REQUIRE(c.value);
    CHECK(c.value->ns == unhex("ff00fe"));
  }
  SECTION("random garbage never crashes") {
    uint32_t seed = 12345;
    for (int i = 0; i < 2000; ++i) {
      std::string junk;
      auto len = (seed = seed * 1103515245 + 12345) % 64;
      for (uint32_t j = 0; j < len; ++j)
        junk.push_back(static_cast<char>((seed = seed * 1103515245 + 12345) >> 16));
      (void)decode_request(junk);
      try {
        decode_container(junk);
      } catch (const type_error&) {
      }
    }
    SUCCEED("no crash");
  }
  SECTION("a zbus v0 request is named as such") {
    nlohmann::ordered_json v;
    v["ID"] = "x";
    v["Arguments"] = nlohmann::ordered_json::array();
    v["ReplyTo"] = "r";
    auto b = nlohmann::ordered_json::to_msgpack(v);
    f = failure_of(std::string(b.begin(), b.end()));
    CHECK(f.reason.find("v0") != std::string::npos);
    CHECK(f.reply_to == "r");
  }
}

TEST_CASE("RestartPolicy and the supervision State keys round-trip, a default policy is not "
          "written",
          "[zbus][codec]") {
  container c;
  c.name = "c1";
  auto plain = nlohmann::ordered_json::from_msgpack(encode_container(c));
  CHECK_FALSE(plain.contains("RestartPolicy")); // byte-compatible with the Go server's replies
  c.restart = restart_policy{"on-failure", 5, 30'000'000'000};
  c.has_state = true;
  c.state.status = container_status::failed;
  c.state.restarts = 7;
  c.state.last_exit_code = 137;
  c.state.last_exited_at = go_time{1700000000, 9};
  c.state.reason = "gave up";
  auto bytes = encode_container(c);
  auto j = nlohmann::ordered_json::from_msgpack(bytes.begin(), bytes.end());
  REQUIRE(j.size() == 18);
  CHECK(std::next(j.begin(), 16).key() == "RestartPolicy"); // after Go's 16 keys
  CHECK(j["RestartPolicy"]["Window"] == 30'000'000'000);
  CHECK(j["State"]["Restarts"] == 7);
  CHECK(decode_container(bytes) == c);
  // As a Go caller would send it: a map with the three keys; wrong types are refused.
  nlohmann::json req{{"Name", "c1"}, {"RestartPolicy", {{"Name", "no"}, {"MaxRestarts", 1}}}};
  auto in = nlohmann::json::to_msgpack(req);
  auto got = decode_container(std::string(in.begin(), in.end()));
  CHECK(got.restart == restart_policy{"no", 1, 0});
  nlohmann::json bad{{"Name", "c1"}, {"RestartPolicy", {{"Name", 3}}}};
  auto bad_in = nlohmann::json::to_msgpack(bad);
  CHECK_THROWS(decode_container(std::string(bad_in.begin(), bad_in.end())));
  nlohmann::json neg{{"Name", "c1"}, {"RestartPolicy", {{"MaxRestarts", -1}}}};
  auto neg_in = nlohmann::json::to_msgpack(neg);
  CHECK_THROWS(decode_container(std::string(neg_in.begin(), neg_in.end())));
}

TEST_CASE("State.Status travels as its word, and an unknown word is refused", "[zbus][codec]") {
  // Every status, the ones only contd knows included, is written as the word callers match on.
  const std::vector<std::pair<container_status, std::string>> words{
    {container_status::unknown, "unknown"},       {container_status::created, "created"},
    {container_status::running, "running"},       {container_status::stopped, "stopped"},
    {container_status::paused, "paused"},         {container_status::pausing, "pausing"},
    {container_status::restarting, "restarting"}, {container_status::failed, "failed"},
    {container_status::stuck, "stuck"},           {container_status::no_task, "no-task"},
  };
  for (const auto& [status, word] : words) {
    CAPTURE(word);
    container c;
    c.name = "c1";
    c.has_state = true;
    c.state.status = status;
    auto bytes = encode_container(c);
    auto j = nlohmann::json::from_msgpack(bytes.begin(), bytes.end());
    CHECK(j["State"]["Status"] == word);
    CHECK(decode_container(bytes).state.status == status);
    CHECK(parse_container_status(word) == status);
  }
  // A task status shows as the container status of the same word.
  CHECK(to_string(to_container_status(task_status::pausing)) == "pausing");
  CHECK(to_string(task_status::stopped) == "stopped");
  nlohmann::json bad{{"Name", "c1"}, {"State", {{"Status", "sleeping"}}}};
  auto in = nlohmann::json::to_msgpack(bad);
  try {
    decode_container(std::string(in.begin(), in.end()));
    FAIL("an unknown status decoded");
  } catch (const type_error& e) {
    CHECK(std::string{e.what()} == "State.Status: unknown status \"sleeping\"");
  }
  CHECK_FALSE(parse_container_status("Running"));
  CHECK_FALSE(parse_container_status(""));
}

TEST_CASE("requests we encode decode back to themselves", "[zbus][codec]") {
  request req;
  req.id = "id-1";
  req.reply_to = "id-1";
  req.method = "Exec";
  req.object = {"container", "0.0.1"};
  req.inputs = {encode_string("ns"), encode_string("c"), mp(3'000'000'000LL), encode_string("ls")};
  auto bytes = encode_request(req);
  auto back = decode_ok(bytes);
  CHECK(back.id == req.id);
  CHECK(back.method == req.method);
  CHECK(back.inputs == req.inputs);
  // A Go client sends the same envelope shape: compare with the captured Exec request's keys.
  auto theirs = as_json(vector_file("exec.req.bin"));
  auto ours = as_json(bytes);
  for (auto& [k, v] : theirs.items())
    CHECK(ours.contains(k));
}

TEST_CASE("queue names follow <module>.<Name>@<Version>", "[zbus][codec]") {
  CHECK(object_queue() == "container.container@0.0.1");
  CHECK(status_queue() == "container.zbus@1.0");
}

// --- container events (the Events stream) ----------------------------------------------------

namespace {

container_event sample_event() {
  container_event ev;
  ev.ns = "ns1";
  ev.id = "web";
  ev.kind = "exited";
  ev.exit_code = 137;
  ev.signal = 9;
  ev.oom_killed = true;
  ev.restarts = 3;
  ev.at = go_time{1700000000, 5};
  ev.reason = "killed by the OOM killer";
  return ev;
}

} // namespace

TEST_CASE("the events channel is the zbus stream name of the container object",
          "[zbus][codec][events]") {
  CHECK(events_channel() == "container.container@0.0.1.Events");
}

TEST_CASE("container events round-trip through their msgpack map", "[zbus][codec][events]") {
  std::vector<container_event> events;
  events.push_back(sample_event());
  container_event zero; // Go's zero time, empty strings, zeros
  zero.kind = "started";
  events.push_back(zero);
  container_event big = sample_event();
  big.exit_code = 0xffffffffu;
  big.signal = 0;
  big.oom_killed = false;
  big.restarts = ~uint64_t{0};
  big.at = go_time{int64_t{1} << 34, 999999999}; // the 12-byte time form
  big.reason = std::string(300, 'r');
  events.push_back(big);
  for (const auto& ev : events) {
    auto bytes = encode_event(ev);
    CHECK(check_msgpack(bytes).ok());
    CHECK(decode_event(bytes) == ev);
  }
}

TEST_CASE("an encoded event has exactly the nine Go keys in order, At as time.Time",
          "[zbus][codec][events]") {
  auto ev = sample_event();
  auto bytes = encode_event(ev);
  auto v = nlohmann::ordered_json::from_msgpack(bytes.begin(), bytes.end());
  REQUIRE(v.is_object());
  std::vector<std::string> keys;
  for (auto it = v.begin(); it != v.end(); ++it)
    keys.push_back(it.key());
  CHECK(keys
        == std::vector<std::string>{"Namespace", "ID", "Kind", "ExitCode", "Signal", "OOMKilled",
                                    "Restarts", "At", "Reason"});
  CHECK(v["Namespace"] == "ns1");
  CHECK(v["ID"] == "web");
  CHECK(v["Kind"] == "exited");
  CHECK(v["ExitCode"] == 137);
  CHECK(v["Signal"] == 9);
  CHECK(v["OOMKilled"] == true);
  CHECK(v["Restarts"] == 3);
  CHECK(v["Reason"] == "killed by the OOM killer");
  // At is the msgpack time extension (type -1) exactly as Container.CreatedAt is written.
  REQUIRE(v["At"].is_binary());
  CHECK(v["At"].get_binary().subtype() == 0xff);
  auto ext = encode_time_ext(ev.at);
  CHECK(std::vector<uint8_t>(v["At"].get_binary()) == ext);
  // fixext 8 (d7), type ff, then the 8 bytes: what Go's msgpack decodes into time.Time.
  CHECK(bytes.find(std::string("\xa2"
                               "At"
                               "\xd7\xff",
                               5)
                   + std::string(ext.begin(), ext.end()))
        != std::string::npos);
}

TEST_CASE("malformed event payloads are refused with type_error and never crash",
          "[zbus][codec][events]") {
  auto good = encode_event(sample_event());
  auto with = [](const std::string& key, const nlohmann::json& value) {
    nlohmann::json v{{"Namespace", "ns1"}, {"ID", "web"}, {"Kind", "exited"}};
    v[key] = value;
    return mp(v);
  };
  SECTION("every truncation") {
    for (size_t n = 0; n < good.size(); ++n)
      CHECK_THROWS_AS(decode_event(std::string_view(good).substr(0, n)), type_error);
  }
  SECTION("trailing bytes") {
    CHECK_THROWS_AS(decode_event(good + "\xc0"), type_error);
  }
  SECTION("not a map") {
    CHECK_THROWS_AS(decode_event(mp(nlohmann::json::array({1, 2}))), type_error);
    CHECK_THROWS_AS(decode_event(mp(nullptr)), type_error);
    CHECK_THROWS_AS(decode_event(mp("exited")), type_error);
  }
  SECTION("wrong types in a key") {
    CHECK_THROWS_AS(decode_event(with("ExitCode", "137")), type_error);
    CHECK_THROWS_AS(decode_event(with("ExitCode", -1)), type_error);
    CHECK_THROWS_AS(decode_event(with("ExitCode", uint64_t{1} << 32)), type_error);
    CHECK_THROWS_AS(decode_event(with("Signal", 1.5)), type_error);
    CHECK_THROWS_AS(decode_event(with("OOMKilled", nullptr)), type_error);
    CHECK_THROWS_AS(decode_event(with("Restarts", nlohmann::json::object())), type_error);
    CHECK_THROWS_AS(decode_event(with("At", "2023-11-14T22:13:20Z")), type_error);
    CHECK_THROWS_AS(decode_event(with("At", nlohmann::json::binary({1, 2, 3}, 0xff))), type_error);
    CHECK_THROWS_AS(decode_event(with("Namespace", 5)), type_error);
    CHECK_THROWS_AS(decode_event(with("Kind", nlohmann::json::array())), type_error);
  }
  SECTION("an event without a Kind") {
    CHECK_THROWS_AS(decode_event(mp(nlohmann::json{{"Namespace", "ns1"}, {"ID", "web"}})),
                    type_error);
    CHECK_THROWS_AS(decode_event(mp(nlohmann::json::object())), type_error);
  }
  SECTION("nesting beyond the limit and lying lengths") {
    std::string deep(200, '\x91');
    deep += '\xc0';
    CHECK_THROWS_AS(decode_event(deep), type_error);
    CHECK_THROWS_AS(decode_event(unhex("dfffffffff")), type_error);
    CHECK_THROWS_AS(decode_event(unhex("c1")), type_error);
  }
  SECTION("unknown keys are skipped and the legacy [sec, nsec] time is accepted") {
    nlohmann::json v{{"Namespace", "ns1"},
                     {"ID", "web"},
                     {"Kind", "stopped"},
                     {"Extra", {1, 2}},
                     {"At", {1700000000, 7}}};
    auto ev = decode_event(mp(v));
    CHECK(ev.kind == "stopped");
    CHECK(ev.at == go_time{1700000000, 7});
  }
}

TEST_CASE("the stats JSON has the Go original's keys, order and units") {
  task_metrics m;
  m.unix_ns = int64_t{1700000000} * 1'000'000'000 + 999'999'999;
  m.memory_usage = 380928;
  m.memory_limit = 9223372036854771712u;
  m.memory_cache = 4096;
  m.cpu_usage_ns = 46479015;
  m.pids_current = 1;
  CHECK(zbus::stats_json(m)
        == R"({"timestamp":1700000000,"memory_usage":380928,"memory_limit":9223372036854771712,)"
           R"("memory_cache":4096,"cpu_usage":46479015,"pids_current":1})");
  CHECK(zbus::stats_json(task_metrics{})
        == R"({"timestamp":0,"memory_usage":0,"memory_limit":0,"memory_cache":0,"cpu_usage":0,)"
           R"("pids_current":0})");
  // Whole seconds rounded down, also before 1970.
  task_metrics early;
  early.unix_ns = -1;
  CHECK(zbus::stats_json(early).rfind(R"({"timestamp":-1,)", 0) == 0);
  task_metrics huge;
  huge.memory_limit = std::numeric_limits<uint64_t>::max();
  CHECK(zbus::stats_json(huge).find(R"("memory_limit":18446744073709551615,)")
        != std::string::npos);
}

TEST_CASE("Stats answers a map of unsigned figures, and contctl reads it back") {
  task_metrics m{int64_t{1700000000} * 1'000'000'000 + 5, 1, 2, 3, 4, 5, false};
  auto bytes = zbus::encode_stats(m);
  auto back = zbus::decode_stats(bytes);
  std::vector<std::pair<std::string, uint64_t>> want{
    {"timestamp", 1700000000}, {"memory_usage", 1}, {"memory_limit", 2},
    {"memory_cache", 3},       {"cpu_usage", 4},    {"pids_current", 5}};
  // nlohmann's msgpack reader sorts keys; compare as sets.
  std::sort(back.begin(), back.end());
  std::sort(want.begin(), want.end());
  CHECK(back == want);
  // The encoding keeps the declared order: timestamp is the first key.
  REQUIRE(bytes.size() > 11);
  CHECK(bytes.substr(1, 10) == "\xa9timestamp");
  CHECK_THROWS_AS(zbus::decode_stats(zbus::encode_string("no map")), zbus::type_error);
}
