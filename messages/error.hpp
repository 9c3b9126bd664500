// contd's error codes. Every error that leaves an actor is a caf::error of category "contd" whose
// context is one human sentence (the text zbus callers see in Output.Error.Message).
#pragma once

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace contd {

enum class errc : uint8_t {
  invalid_argument = 1, // bad input from the wire; nothing was changed
  not_found,            // the container (or task, namespace) does not exist
  already_exists,       // a different container with that name exists
  timeout,              // a deadline passed
  unavailable,          // containerd (or Redis) cannot be reached
  failed_precondition,  // the operation does not fit the current state
  internal,             // anything else, with the underlying message
  stuck,                // a task still runs after SIGKILL; the container was kept intact
  exec_failed,          // an exec'd process exited non-zero
  protocol,             // a zbus protocol error (unknown object/method, bad arguments)
};

std::string to_string(errc x);

/// Builds an error with a human sentence as its only context.
caf::error make_error(errc code, std::string text);

/// The sentence a caller sees: the context string of a contd error, or a rendering of any other.
std::string error_text(const caf::error& err);

} // namespace contd

CAF_ERROR_CODE_ENUM(contd::errc, "contd")
