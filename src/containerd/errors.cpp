#include "src/containerd/errors.hpp"

#include <grpcpp/support/status_code_enum.h>

namespace contd::containerd {

// The numeric values are part of gRPC's wire protocol; make sure our copy agrees.
static_assert(static_cast<int>(grpc::StatusCode::NOT_FOUND)
              == static_cast<int>(rpc_code::not_found));
static_assert(static_cast<int>(grpc::StatusCode::UNAVAILABLE)
              == static_cast<int>(rpc_code::unavailable));
static_assert(static_cast<int>(grpc::StatusCode::DEADLINE_EXCEEDED)
              == static_cast<int>(rpc_code::deadline_exceeded));
static_assert(static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION)
              == static_cast<int>(rpc_code::failed_precondition));
static_assert(static_cast<int>(grpc::StatusCode::UNAUTHENTICATED)
              == static_cast<int>(rpc_code::unauthenticated));

int32_t effective_code(int32_t code, const std::string& message) {
  if (code == static_cast<int32_t>(rpc_code::unknown)
      && message.rfind("context deadline exceeded", 0) == 0)
    return static_cast<int32_t>(rpc_code::deadline_exceeded);
  return code;
}

errc map_code(int32_t code) {
  switch (static_cast<rpc_code>(code)) {
  case rpc_code::not_found:
    return errc::not_found;
  case rpc_code::already_exists:
    return errc::already_exists;
  case rpc_code::deadline_exceeded:
    return errc::timeout;
  case rpc_code::unavailable:
    return errc::unavailable;
  case rpc_code::invalid_argument:
    return errc::invalid_argument;
  case rpc_code::failed_precondition:
    return errc::failed_precondition;
  default:
    return errc::internal;
  }
}

caf::error to_error(int32_t code, const std::string& message, const std::string& method) {
  auto c = static_cast<rpc_code>(code);
  bool client_side =
    c == rpc_code::deadline_exceeded || c == rpc_code::unavailable || c == rpc_code::cancelled;
  std::string text = message;
  if (client_side || text.empty())
    text = "containerd " + method + ": " + (message.empty() ? "call failed" : message)
           + " (gRPC code " + std::to_string(code) + ")";
  return make_error(map_code(code), std::move(text));
}

} // namespace contd::containerd
