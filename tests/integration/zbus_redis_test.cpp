// The zbus front door against a real redis-server (private, on a unix socket): the captured Go
// client bytes go in through Redis, the replies come out of the ReplyTo list. The module behind
// the ingress is the Go test double (tests/fakes), as in the captures.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/zbus_ingress.hpp"
#include "actors/zbus_redis.hpp"
#include "src/config/actor_config.hpp"
#include "src/front_door.hpp"
#include "src/zbus/client.hpp"
#include "tests/fakes/zbus_fakes.hpp"
#include "tests/integration/eventually.hpp"
#include "tests/integration/redis_fixture.hpp"

using namespace contd;
using namespace std::chrono_literals;

namespace {

std::string vector_file(const std::string& name) {
  std::ifstream in(std::string{CONTD_VECTORS_DIR} + "/" + name, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

using test::eventually;

struct stack {
  test::redis_server redis;
  actor_config cfg;
  caf::actor_system sys{cfg};
  test::fake_module_actor module;
  contd::front_door door;

  stack() {
    module = sys.spawn(test::fake_module);
    door = spawn_front_door(sys, container_module_actor{module},
                            front_door_config{redis.broker(), 1024, 0.2});
  }

  ~stack() {
    stop_front_door(door);
    caf::anon_send_exit(module, caf::exit_reason::user_shutdown);
  }

  zbus::client client() { return zbus::client{redis.broker()}; }

  ingress_stats stats() {
    caf::scoped_actor self{sys};
    ingress_stats out;
    self->request(door.ingress, 5s, atom::stats_v)
      .receive([&](ingress_stats& s) { out = s; }, [&](caf::error&) { FAIL("no stats"); });
    return out;
  }
};

} // namespace

TEST_CASE("the captured Run request pushed through Redis gets the Go server's reply bytes",
          "[zbus][integration]") {
  stack fd;
  zbus::redis_connection conn{fd.redis.broker()};
  REQUIRE(conn.connect());
  for (auto [req, resp] :
       {std::pair{"run.req.bin", "run.resp.bin"}, std::pair{"listns.req.bin", "listns.resp.bin"},
        std::pair{"nomethod.req.bin", "nomethod.resp.bin"},
        std::pair{"argcount.req.bin", "argcount.resp.bin"}}) {
    INFO(req);
    auto reply_to = zbus::decode_request(vector_file(req))->reply_to;
    REQUIRE(conn.rpush("container.container@0.0.1", vector_file(req)));
    std::string key, value;
    REQUIRE(conn.blpop({reply_to}, 10, key, value) == zbus::redis_connection::pop_result::item);
    CHECK(value == vector_file(resp));
  }
}

TEST_CASE("the status object is served on container.zbus@1.0 with a 300 s reply TTL",
          "[zbus][integration]") {
  stack fd;
  auto c = fd.client();
  auto r = c.status(3s);
  INFO(r.error());
  REQUIRE(r);
  REQUIRE(r->data);
  CHECK_FALSE(r->protocol_error);
  // Nobody consumes this one: it must carry the EXPIRE.
  zbus::redis_connection conn{fd.redis.broker()};
  REQUIRE(conn.connect());
  auto payload = vector_file("status.req.bin");
  REQUIRE(conn.rpush("container.zbus@1.0", payload));
  const std::string reply_key = "00000000-0000-4000-8000-000000000011";
  REQUIRE(eventually([&] { return conn.llen(reply_key) == 1; }));
  auto ttl = conn.ttl(reply_key);
  CHECK(ttl > 290);
  CHECK(ttl <= 300);
}

TEST_CASE("every method of the interface answers through Redis", "[zbus][integration]") {
  stack fd;
  auto c = fd.client();
  container data;
  data.name = "c9";
  auto run = c.call("Run", {zbus::encode_string("ns1"), zbus::encode_container(data)}, 5s);
  REQUIRE(run);
  CHECK(zbus::decode_string(*run->data) == "ns1-c9");
  auto insp = c.call("Inspect", {zbus::encode_string("ns1"), zbus::encode_string("missing")}, 5s);
  REQUIRE(insp);
  REQUIRE(insp->call_error);
  CHECK(insp->call_error->find("not found") != std::string::npos);
  auto list = c.call("List", {zbus::encode_string("ns1")}, 5s);
  REQUIRE(list);
  CHECK(zbus::decode_strings(*list->data).empty());
  auto logs = c.call("Logs", {zbus::encode_string("ns1"), zbus::encode_string("c9")}, 5s);
  REQUIRE(logs);
  CHECK(zbus::decode_string(*logs->data) == "line 1\nline 2\n");
  for (auto m : {"Delete", "SignalDelete"}) {
    auto r = c.call(m, {zbus::encode_string("ns1"), zbus::encode_string("c9")}, 5s);
    REQUIRE(r);
    CHECK_FALSE(r->call_error);
    CHECK_FALSE(r->data);
  }
  auto exec = c.call("Exec",
                     {zbus::encode_string("ns1"), zbus::encode_string("c9"),
                      zbus::encode_string(""), zbus::encode_string("ls")},
                     5s);
  REQUIRE(exec);
  CHECK(exec->protocol_error
        == std::string{"invalid argument type [2] expecting time.Duration got"});
}

TEST_CASE("Redis killed and restarted: the listener reconnects and nothing popped is lost",
          "[zbus][integration]") {
  stack fd;
  auto c = fd.client();
  REQUIRE(c.status(3s));

  // A call that is in flight (popped, parked in the module) when Redis dies.
  container parked;
  parked.name = "park-r1";
  zbus::redis_connection conn{fd.redis.broker()};
  REQUIRE(conn.connect());
  zbus::request req;
  req.id = req.reply_to = "in-flight-1";
  req.object = {"container", "0.0.1"};
  req.method = "Run";
  req.inputs = {zbus::encode_string("ns1"), zbus::encode_container(parked)};
  REQUIRE(conn.rpush(zbus::object_queue(), zbus::encode_request(req)));
  REQUIRE(eventually([&] { return fd.stats().in_flight == 1; }));

  fd.redis.stop();
  std::this_thread::sleep_for(300ms); // both adapters notice the outage
  // The call completes while Redis is down: the reply is held, not dropped.
  caf::anon_send(fd.module, test::release_v, std::string{"park-r1"});
  REQUIRE(eventually([&] { return fd.stats().in_flight == 0; }));

  fd.redis.start(); // an empty Redis (no persistence) on the same socket
  zbus::redis_connection conn2{fd.redis.broker()};
  REQUIRE(conn2.connect());
  std::string key, value;
  REQUIRE(conn2.blpop({"in-flight-1"}, 10, key, value) == zbus::redis_connection::pop_result::item);
  auto r = zbus::decode_response(value);
  REQUIRE(r);
  CHECK(zbus::decode_string(*r->data) == "park-r1-id");

  // New requests are served again.
  zbus::client c2{fd.redis.broker()};
  auto after = c2.call("ListNS", {}, 10s);
  INFO(after.error());
  REQUIRE(after);
  CHECK(zbus::decode_strings(*after->data) == std::vector<std::string>{"ns1", "ns2"});
}

TEST_CASE("a client against a broker where nothing listens fails within its timeout",
          "[zbus][integration]") {
  test::redis_server redis;
  auto url = redis.broker();
  redis.stop();
  zbus::client c{url};
  auto start = std::chrono::steady_clock::now();
  auto r = c.call("ListNS", {}, 2s);
  REQUIRE_FALSE(r);
  CHECK_FALSE(r.error().empty());
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("a tcp:// broker with a password in the URL authenticates", "[zbus][integration]") {
  // A free port on loopback, chosen by the kernel.
  int port = 0;
  {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    socklen_t len = sizeof(a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    close(fd);
  }
  test::redis_server redis{port, "s3cret"};
  auto good = zbus::parse_broker_url("tcp://s3cret@127.0.0.1:" + std::to_string(port));
  REQUIRE(good);
  zbus::redis_connection ok{*good};
  CHECK(ok.connect());
  auto bad = zbus::parse_broker_url("tcp://wrong@127.0.0.1:" + std::to_string(port));
  zbus::redis_connection nope{*bad};
  CHECK_FALSE(nope.connect());
  CHECK(nope.error().find("AUTH") != std::string::npos);
}
