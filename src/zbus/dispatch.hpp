// The Go server's checks of a request in the order the Go server makes them: object, method,
// argument count and argument types, with its exact protocol error texts; then the typed call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "messages/types.hpp"
#include "src/zbus/codec.hpp"

namespace contd::zbus {

enum class method { run, exec, list_ns, list, inspect, signal_delete, delete_, logs, stats };

/// The Go method name ("Run", "SignalDelete", ...).
const char* method_name(method m);

/// A request whose arguments decoded into the container module's types.
struct call {
  method m = method::list_ns;
  std::string ns;
  std::string id;                // Exec, Inspect, SignalDelete, Delete, Logs, Stats
  container data;                // Run
  int64_t timeout_ns = 0;        // Exec
  std::vector<std::string> args; // Exec
};

/// Either a call or the protocol error text the Go server would answer.
struct checked_call {
  std::optional<call> value;
  std::string protocol_error;
};

checked_call check_call(const request& req);

/// True for methods with a non-error result: their Data is always present.
bool returns_value(method m);

/// The msgpack of the zero value of the method's result (what Data holds next to a call error),
/// or nullopt for error-only methods.
std::optional<bytes> zero_result(method m);

} // namespace contd::zbus
