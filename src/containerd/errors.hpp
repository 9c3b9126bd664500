// gRPC status → contd error, without pulling grpc headers into the includer: the status travels
// between threads as (numeric code, message), the codes being gRPC's wire values.
#pragma once

#include <cstdint>
#include <string>

#include <caf/error.hpp>

#include "messages/error.hpp"

namespace contd::containerd {

/// gRPC's status codes by their wire value (identical in every gRPC implementation).
enum class rpc_code : int32_t {
  ok = 0,
  cancelled = 1,
  unknown = 2,
  invalid_argument = 3,
  deadline_exceeded = 4,
  not_found = 5,
  already_exists = 6,
  permission_denied = 7,
  resource_exhausted = 8,
  failed_precondition = 9,
  aborted = 10,
  out_of_range = 11,
  unimplemented = 12,
  internal = 13,
  unavailable = 14,
  data_loss = 15,
  unauthenticated = 16,
};

/// The status code of a call as the caller should see it. containerd passes the call's deadline on
/// to the shim; when the shim's copy expires first, containerd answers UNKNOWN with "context
/// deadline exceeded: unknown" instead of gRPC's own DEADLINE_EXCEEDED. Both are the deadline.
int32_t effective_code(int32_t code, const std::string& message);

/// NOT_FOUND → not_found, ALREADY_EXISTS → already_exists, DEADLINE_EXCEEDED → timeout,
/// UNAVAILABLE → unavailable, INVALID_ARGUMENT → invalid_argument,
/// FAILED_PRECONDITION → failed_precondition, everything else → internal.
errc map_code(int32_t code);

/// The contd error for a failed call. containerd's message is kept verbatim as the text (callers
/// match on `container "<id>" in namespace "<ns>": not found`); errors that gRPC itself raises on
/// the client side (deadline, unreachable socket, cancellation) get the method name in front,
/// because "Deadline Exceeded" alone tells an operator nothing.
caf::error to_error(int32_t code, const std::string& message, const std::string& method);

} // namespace contd::containerd
