// Hostile and broken requests over the wire: the contd program as a process (JSON logs) over a
// private redis-server and containerd. Each case checks the reply text, that nothing was left
// behind, and that contd still answers.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

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
  std::string ns = test::random_name("hostile");
  std::filesystem::path log = ctrd.dir() / "contd.log";
  std::unique_ptr<test::process> contd;
  zbus::client client{redis.broker()};
  zbus::redis_connection raw{redis.broker()};

  node() {
    contd = std::make_unique<test::process>(
      std::vector<std::string>{bin_dir + "/contd", "--broker", redis.url(), "--root",
                               (ctrd.dir() / "contd-root").string(), "--containerd", ctrd.socket(),
                               "--log-format", "json"},
      log.string());
    REQUIRE(contd->pid > 0);
    REQUIRE(eventually([&] { return status().has_value(); }, 20s));
    REQUIRE(raw.connect());
  }
  ~node() {
    contd.reset();
    ctrd.purge_namespace(ns);
  }

  std::optional<nlohmann::json> status() {
    auto r = client.status(1s);
    if (!r || !r->data)
      return std::nullopt;
    return nlohmann::json::from_msgpack(r->data->begin(), r->data->end());
  }

  /// Pushes a raw request and waits for the reply at `reply_to` (nullopt: none within `wait`).
  std::optional<zbus::response> raw_call(const nlohmann::json& req, const std::string& reply_to,
                                         std::chrono::milliseconds wait = 10s) {
    auto bytes = nlohmann::json::to_msgpack(req);
    REQUIRE(raw.rpush(zbus::object_queue(), std::string(bytes.begin(), bytes.end())));
    if (reply_to.empty())
      return std::nullopt;
    std::string key, value;
    auto r = raw.blpop({reply_to}, std::chrono::duration<double>(wait).count(), key, value);
    if (r != zbus::redis_connection::pop_result::item)
      return std::nullopt;
    auto resp = zbus::decode_response(value);
    REQUIRE(resp);
    return std::move(*resp);
  }

  static nlohmann::json request(const std::string& method, nlohmann::json inputs,
                                const nlohmann::json& id, const nlohmann::json& reply_to) {
    nlohmann::json r{{"ID", id},
                     {"Object", {{"Name", "container"}, {"Version", "0.0.1"}}},
                     {"Method", method},
                     {"Inputs", std::move(inputs)}};
    if (!reply_to.is_null())
      r["ReplyTo"] = reply_to;
    return r;
  }

  static nlohmann::json arg(const zbus::bytes& b) {
    return nlohmann::json::binary(std::vector<uint8_t>(b.begin(), b.end()));
  }

  container make(const std::string& name, const std::string& root) {
    container c;
    c.name = name;
    c.root_fs = root;
    c.network.ns = net.name;
    c.entrypoint = "/bin/sleep 1000";
    return c;
  }

  std::string containers() { return ctrd.ctr({"-n", ns, "containers", "ls", "-q"}).output; }
  bool namespace_exists() {
    return ctrd.ctr({"namespaces", "ls", "-q"}).output.find(ns) != std::string::npos;
  }
};

} // namespace

TEST_CASE("the host's root as RootFS, in any spelling, is refused and nothing is created",
          "[hostile][integration]") {
  node n;
  for (auto root : {std::string{"/tmp/.."}, std::string{"/."}, std::string{"/"}}) {
    auto r = n.client.call(
      "Run", {zbus::encode_string(n.ns), zbus::encode_container(n.make("c", root))}, 30s);
    REQUIRE(r);
    REQUIRE(r->call_error);
    INFO(*r->call_error);
    CHECK(r->call_error->find("host's root directory") != std::string::npos);
  }
  CHECK(n.containers().empty());
  CHECK_FALSE(n.namespace_exists());
  CHECK(n.status());
}

TEST_CASE("a request whose ID is not a string is answered with the protocol error",
          "[hostile][integration]") {
  node n;
  auto r =
    n.raw_call(node::request("ListNS", nlohmann::json::array(), 42, "reply-key-1"), "reply-key-1");
  REQUIRE(r);
  REQUIRE(r->protocol_error);
  CHECK(r->protocol_error->find("ID") != std::string::npos);
  CHECK(n.status());
}

TEST_CASE("a Run without ReplyTo is not executed, and is counted", "[hostile][integration]") {
  node n;
  auto c = n.make("ghost", n.ctrd.rootfs().string());
  for (const auto& reply_to : {nlohmann::json(nullptr), nlohmann::json(std::string{})}) {
    n.raw_call(
      node::request("Run",
                    {node::arg(zbus::encode_string(n.ns)), node::arg(zbus::encode_container(c))},
                    "id-1", reply_to),
      "");
  }
  REQUIRE(eventually([&] {
    auto s = n.status();
    return s && s->contains("Stats") && (*s)["Stats"]["Unanswerable"] == 2;
  }));
  CHECK(n.containers().empty());
  CHECK_FALSE(n.namespace_exists());
  CHECK(n.raw.llen("") == 0); // nothing pushed to the key ""
}

TEST_CASE("an Exec timeout beyond int64 gets a clear error", "[hostile][integration]") {
  node n;
  std::string huge("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9);
  auto r = n.raw_call(
    node::request("Exec",
                  {node::arg(zbus::encode_string(n.ns)), node::arg(zbus::encode_string("c")),
                   node::arg(huge), node::arg(zbus::encode_string("/bin/true"))},
                  "id-2", "reply-key-2"),
    "reply-key-2");
  REQUIRE(r);
  REQUIRE(r->protocol_error);
  CHECK(*r->protocol_error
        == "invalid argument [2]: time.Duration 18446744073709551615ns is out of range");
}

TEST_CASE("60,000 malformed requests: counted, the log stays small, contd keeps answering, JSON "
          "log lines keep UTF-8",
          "[hostile][integration]") {
  node n;
  auto before = std::filesystem::file_size(n.log);
  std::vector<std::string> junk(1000, std::string("\x81\xa2ID\xc1", 5)); // invalid msgpack
  for (int round = 0; round < 60; ++round)
    for (const auto& j : junk)
      REQUIRE(n.raw.rpush(zbus::object_queue(), j));
  REQUIRE(eventually(
    [&] {
      auto s = n.status();
      return s && (*s)["Stats"]["Dropped"].get<uint64_t>() >= 60000;
    },
    120s));
  auto grown = std::filesystem::file_size(n.log) - before;
  INFO("the log grew by " << grown << " bytes");
  CHECK(grown < 64 * 1024);
  auto s = *n.status();
  CHECK(s["Stats"]["WarningsSuppressed"].get<uint64_t>() >= 59000);
  // A name with an accent: refused, and its JSON log line parses back to the same text.
  auto r = n.client.call("Inspect", {zbus::encode_string("café"), zbus::encode_string("x")}, 10s);
  REQUIRE(r);
  REQUIRE(r->call_error);
  bool found = false;
  std::ifstream in(n.log);
  for (std::string line; std::getline(in, line);) {
    if (line.find("caf") == std::string::npos || line.front() != '{')
      continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    if (j["msg"].get<std::string>().find("café") != std::string::npos)
      found = true;
  }
  CHECK(found);
}
