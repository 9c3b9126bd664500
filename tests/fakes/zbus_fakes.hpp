// Scheduled typed fakes for the zbus front door: a container module that behaves like the Go
// server's test double (the values in tests/data/zbus-vectors), and recorders for the Redis
// adapters.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <caf/atom.hpp>
#include <caf/typed_response_promise.hpp>

#include "messages/messages.hpp"

namespace contd::test {

struct fake_module_state {
  static inline const char* name = "mock.container_module";
  /// Run calls whose name starts with "park" wait here until the test delivers them.
  std::map<std::string, caf::typed_response_promise<std::string>> parked;
  std::vector<std::string> calls;
};

/// Test-only control, never part of the production interface: (release, name) delivers the parked
/// Run `name` (promises must be delivered from within the actor that made them).
using release_atom = caf::atom_constant<caf::atom("release")>;
constexpr release_atom release_v = release_atom::value;

/// The module interface plus the test-only control; converts to container_module_actor.
using fake_module_actor = container_module_actor::extend<caf::reacts_to<release_atom, std::string>>;

using fake_module_pointer = fake_module_actor::stateful_pointer<fake_module_state>;

/// The Go test double: Run -> ns-name ("fail" -> boom), Inspect -> Container, List -> [],
/// ListNS -> [ns1 ns2], Delete("missing") -> error, everything else succeeds.
inline fake_module_actor::behavior_type fake_module(fake_module_pointer self) {
  return {
    [self](release_atom, const std::string& name) {
      auto it = self->state.parked.find(name);
      if (it != self->state.parked.end()) {
        it->second.deliver(name + "-id");
        self->state.parked.erase(it);
      }
    },
    [self](atom::run, const std::string& ns, const container& c) -> caf::result<std::string> {
      self->state.calls.push_back("Run " + c.name);
      if (c.name == "fail")
        return make_error(errc::internal, "boom");
      if (c.name.rfind("park", 0) == 0) {
        auto rp = self->make_response_promise<std::string>();
        self->state.parked.emplace(c.name, rp);
        return rp;
      }
      return ns + "-" + c.name;
    },
    [self](atom::inspect, const std::string& ns, const std::string& id) -> caf::result<container> {
      self->state.calls.push_back("Inspect " + id);
      if (id == "missing")
        return make_error(errc::not_found,
                          "container \"" + id + "\" in namespace \"" + ns + "\": not found");
      container c;
      c.name = id;
      c.cpu = 2;
      c.created_at = go_time{1700000000, 5};
      return c;
    },
    [self](atom::delete_, const std::string&, const std::string& id) -> caf::result<void> {
      self->state.calls.push_back("Delete " + id);
      if (id == "missing")
        return make_error(errc::not_found, "container missing not found");
      return caf::unit;
    },
    [self](atom::sig_delete, const std::string&, const std::string& id) -> caf::result<void> {
      self->state.calls.push_back("SignalDelete " + id);
      return caf::unit;
    },
    [self](atom::exec, const std::string&, const std::string& id, caf::timespan,
           const std::vector<std::string>& args) -> caf::result<void> {
      std::string line = "Exec " + id;
      for (const auto& a : args)
        line += " " + a;
      self->state.calls.push_back(line);
      return caf::unit;
    },
    [self](atom::logs, const std::string&, const std::string& id) -> caf::result<std::string> {
      self->state.calls.push_back("Logs " + id);
      return std::string{"line 1\nline 2\n"};
    },
    [self](atom::list, const std::string& ns) -> caf::result<std::vector<std::string>> {
      self->state.calls.push_back("List " + ns);
      return std::vector<std::string>{};
    },
    [self](atom::list_ns) -> caf::result<std::vector<std::string>> {
      self->state.calls.push_back("ListNS");
      return std::vector<std::string>{"ns1", "ns2"};
    },
    [self](atom::metrics, const std::string& ns,
           const std::string& id) -> caf::result<task_metrics> {
      self->state.calls.push_back("Stats " + ns + " " + id);
      if (id == "ghost")
        return make_error(errc::not_found, "container \"ghost\": not found");
      return task_metrics{
        int64_t{1800000000} * 1000000000, 1048576, 268435456, 4096, 5000000, 2, false};
    },
  };
}

struct recorder_state {
  static inline const char* name = "mock.recorder";
  std::vector<std::pair<std::string, std::string>> replies;
  uint64_t credit = 0;
};

inline zbus_replier_actor::behavior_type
fake_replier(zbus_replier_actor::stateful_pointer<recorder_state> self) {
  return {
    [self](atom::reply, const std::string& key, const std::string& bytes) {
      self->state.replies.emplace_back(key, bytes);
    },
    [](atom::drain) { return uint64_t{0}; },
    [](atom::retry) {},
  };
}

inline zbus_listener_actor::behavior_type
fake_listener(zbus_listener_actor::stateful_pointer<recorder_state> self) {
  return {
    [self](atom::credit, uint32_t n) { self->state.credit += n; },
    [](atom::pop) {},
  };
}

} // namespace contd::test
