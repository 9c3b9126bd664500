#include <catch2/catch.hpp>

#include <caf/actor_system.hpp>

#include "messages/messages.hpp"
#include "messages/result.hpp"
#include "messages/status.hpp"
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

namespace {

contd::result<int> half(int x) {
  if (x % 2 != 0)
    return fail(std::to_string(x) + " is odd");
  return x / 2;
}

contd::result<void> even(int x) {
  if (auto h = half(x); !h)
    return fail(h.error());
  return {};
}

} // namespace

TEST_CASE("a result is the value or the sentence saying why not", "[messages][result]") {
  auto ok = half(8);
  REQUIRE(ok);
  CHECK(*ok == 4);
  CHECK(ok.error().empty()); // always loggable
  auto odd = half(7);
  REQUIRE_FALSE(odd);
  CHECK(odd.error() == "7 is odd");
  CHECK_THROWS(odd.value()); // never a silent default
  CHECK(even(2).ok());
  CHECK(even(3).error() == "3 is odd");
  // A structured error where the caller needs more than a sentence; moved-out values.
  struct why {
    std::string text;
    int code = 0;
  };
  contd::result<std::string, why> r = contd::unexpected<why>{{"no", 7}};
  CHECK(r.error().code == 7);
  contd::result<std::string, why> v = std::string(100, 'x');
  CHECK(std::move(v).value().size() == 100);
}

TEST_CASE("statuses turn into the words callers match on and back", "[messages][status]") {
  CHECK(to_string(task_status::unknown) == "unknown");
  CHECK(to_string(container_status::no_task) == "no-task");
  for (int i = 0; i <= static_cast<int>(container_status::no_task); ++i) {
    auto s = static_cast<container_status>(i);
    CHECK(parse_container_status(to_string(s)) == s);
  }
  for (int i = 0; i <= static_cast<int>(task_status::pausing); ++i) {
    auto t = static_cast<task_status>(i);
    CHECK(to_string(to_container_status(t)) == to_string(t));
  }
  CHECK_FALSE(parse_container_status("no_task"));
}
