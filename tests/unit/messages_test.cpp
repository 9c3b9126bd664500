#include <catch2/catch.hpp>

#include <caf/actor_system.hpp>

#include "messages/messages.hpp"
#include "src/config/actor_config.hpp"

using namespace contd;

TEST_CASE("a contd error carries its sentence and renders readably", "[messages]") {
  auto err = make_error(errc::not_found, R"(container "c1" in namespace "ns1": not found)");
  CHECK(err == errc::not_found);
  CHECK(error_text(err) == R"(container "c1" in namespace "ns1": not found)");
  actor_config cfg;
  caf::actor_system sys{cfg};
  CHECK(sys.render(err) == R"(not_found: container "c1" in namespace "ns1": not found)");
}

TEST_CASE("an error without a sentence still has a non-empty text", "[messages]") {
  caf::error err = caf::make_error(errc::timeout);
  CHECK(error_text(err) == "timeout");
  CHECK(error_text(caf::make_error(caf::sec::request_timeout)).find("request_timeout")
        != std::string::npos);
  CHECK(error_text(caf::error{}).empty());
}

TEST_CASE("the zero container compares equal and has Go's zero time", "[messages]") {
  container a, b;
  CHECK(a == b);
  CHECK(a.created_at.is_zero());
  b.mounts.push_back(mount_info{"/a", "/b", "", {}});
  CHECK(a != b);
}
