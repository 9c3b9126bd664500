#include <catch2/catch.hpp>

#include <array>
#include <set>
#include <string>

#include "src/zbus/client.hpp"
#include "src/zbus/redis_link.hpp"

using namespace contd::zbus;

TEST_CASE("broker URLs are read as the Go client reads them", "[zbus][url]") {
  auto u = parse_broker_url("unix:///var/run/redis.sock");
  REQUIRE(u);
  CHECK(u->is_unix);
  CHECK(u->path == "/var/run/redis.sock");
  // The typo of one zos unit: host "var", path "/run/redis.sock".
  u = parse_broker_url("unix://var/run/redis.sock");
  REQUIRE(u);
  CHECK(u->path == "/run/redis.sock");
  u = parse_broker_url("tcp://localhost:6379");
  REQUIRE(u);
  CHECK_FALSE(u->is_unix);
  CHECK(u->host == "localhost");
  CHECK(u->port == 6379);
  CHECK(u->password.empty());
  // The user name is the AUTH password.
  u = parse_broker_url("tcp://secret@10.0.0.1:7000");
  REQUIRE(u);
  CHECK(u->password == "secret");
  CHECK(u->host == "10.0.0.1");
  CHECK(u->port == 7000);
  CHECK(u->to_string() == "tcp://10.0.0.1:7000"); // never logs the password

  auto ftp = parse_broker_url("ftp://x");
  REQUIRE_FALSE(ftp);
  CHECK(ftp.error() == "unknown scheme 'ftp' expecting tcp or unix");
  CHECK_FALSE(parse_broker_url("tcp://host:99999"));
  CHECK_FALSE(parse_broker_url("tcp://host:abc"));
  CHECK_FALSE(parse_broker_url("unix://"));
  CHECK_FALSE(parse_broker_url("no scheme"));
  CHECK_FALSE(parse_broker_url("tcp://:6379"));
}

TEST_CASE("reply keys are version 4 UUIDs with full entropy", "[zbus][client]") {
  std::set<std::string> seen;
  std::array<std::set<char>, 36> chars_at{};
  for (int i = 0; i < 2000; ++i) {
    auto id = contd::zbus::new_uuid();
    REQUIRE(id.size() == 36);
    CHECK(id[8] == '-');
    CHECK(id[13] == '-');
    CHECK(id[18] == '-');
    CHECK(id[23] == '-');
    CHECK(id[14] == '4');
    CHECK(std::string{"89ab"}.find(id[19]) != std::string::npos);
    CHECK(seen.insert(id).second);
    for (size_t k = 0; k < id.size(); ++k)
      chars_at[k].insert(id[k]);
  }
  // Every random hex position takes all 16 digits over 2000 draws (a weak generator seeded
  // with 32 bits would still pass; this catches constant or low-entropy positions).
  for (size_t k : {0u, 7u, 9u, 15u, 20u, 24u, 35u})
    CHECK(chars_at[k].size() == 16);
}
