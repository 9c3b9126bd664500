#include <catch2/catch.hpp>

#include "src/zbus/redis_link.hpp"

using namespace contd::zbus;

TEST_CASE("broker URLs are read as the Go client reads them", "[zbus][url]") {
  std::string err;
  auto u = parse_broker_url("unix:///var/run/redis.sock", err);
  REQUIRE(u);
  CHECK(u->is_unix);
  CHECK(u->path == "/var/run/redis.sock");
  // The typo of one zos unit: host "var", path "/run/redis.sock".
  u = parse_broker_url("unix://var/run/redis.sock", err);
  REQUIRE(u);
  CHECK(u->path == "/run/redis.sock");
  u = parse_broker_url("tcp://localhost:6379", err);
  REQUIRE(u);
  CHECK_FALSE(u->is_unix);
  CHECK(u->host == "localhost");
  CHECK(u->port == 6379);
  CHECK(u->password.empty());
  // The user name is the AUTH password.
  u = parse_broker_url("tcp://secret@10.0.0.1:7000", err);
  REQUIRE(u);
  CHECK(u->password == "secret");
  CHECK(u->host == "10.0.0.1");
  CHECK(u->port == 7000);
  CHECK(u->to_string() == "tcp://10.0.0.1:7000"); // never logs the password

  CHECK_FALSE(parse_broker_url("ftp://x", err));
  CHECK(err == "unknown scheme 'ftp' expecting tcp or unix");
  CHECK_FALSE(parse_broker_url("tcp://host:99999", err));
  CHECK_FALSE(parse_broker_url("tcp://host:abc", err));
  CHECK_FALSE(parse_broker_url("unix://", err));
  CHECK_FALSE(parse_broker_url("no scheme", err));
  CHECK_FALSE(parse_broker_url("tcp://:6379", err));
}
