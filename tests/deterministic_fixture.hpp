// A deterministic CAF fixture for Catch2, on CAF 0.17's test_coordinator: one thread, a
// simulated clock, time moves only when a test says so.
#pragma once

#include <tuple>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include <catch2/catch.hpp>

#include "src/config/actor_config.hpp"

namespace contd::test {

template <class Config = contd::actor_config>
class deterministic_fixture {
public:
  using coordinator = caf::scheduler::test_coordinator;

  Config cfg; // declaration order = construction order
  caf::actor_system sys;
  caf::scoped_actor self;
  coordinator& sched;

  deterministic_fixture()
      : sys(prepare(cfg)), self(sys, true), sched(dynamic_cast<coordinator&>(sys.scheduler())) {}

  virtual ~deterministic_fixture() {
    run_with_timeouts(); // pending timers pin actors; ~actor_system would wait forever
  }

  size_t run() {
    return sched.run(); // messages only
  }

  size_t run_with_timeouts() {
    size_t n = 0;
    while (sched.has_job() || sched.has_pending_timeout())
      n += sched.run() + sched.trigger_timeouts();
    return n;
  }

  template <class... Ts, class Src, class Dst>
  std::tuple<Ts...> expect_msg(const Src& src, const Dst& dst) {
    REQUIRE(sched.prioritize(dst));
    auto* head = caf::actor_cast<caf::abstract_actor*>(dst)->peek_at_next_mailbox_element();
    REQUIRE(head != nullptr);
    INFO("next message: " << to_string(head->content()));
    CHECK(head->sender == caf::actor_cast<caf::strong_actor_ptr>(src));
    REQUIRE(head->content().template match_elements<Ts...>());
    std::tuple<Ts...> copy = head->content().template get_as_tuple<Ts...>();
    sched.run_once();
    return copy;
  }

  template <class T, class Handle, class... Ts>
  caf::expected<T> request(const Handle& dst, Ts&&... xs) {
    auto rh = self->request(dst, caf::infinite, std::forward<Ts>(xs)...);
    run();
    if (self->peek_at_next_mailbox_element() == nullptr)
      return caf::make_error(caf::sec::request_timeout, "no reply after run()");
    caf::expected<T> out{caf::sec::unexpected_response};
    rh.receive([&](T& x) { out = std::move(x); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  /// For handlers that reply with nothing: an empty error means success.
  template <class Handle, class... Ts>
  caf::error request_void(const Handle& dst, Ts&&... xs) {
    auto rh = self->request(dst, caf::infinite, std::forward<Ts>(xs)...);
    run();
    if (self->peek_at_next_mailbox_element() == nullptr)
      return caf::make_error(caf::sec::request_timeout, "no reply after run()");
    caf::error out;
    rh.receive([&]() {}, [&](caf::error& e) { out = std::move(e); });
    return out;
  }

private:
  static Config& prepare(Config& c) {
    c.set("scheduler.policy", caf::atom("testing")); // an atom, not a string
    return c;
  }
};

} // namespace contd::test
