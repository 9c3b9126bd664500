// The one gRPC channel to containerd and the stubs on it. Heavy (grpc++ and generated headers):
// include it only from the adapter's .cpp files, never from a widely included header.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include "github.com/containerd/containerd/api/services/containers/v1/containers.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/events/v1/events.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/namespaces/v1/namespace.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.grpc.pb.h"

namespace contd::containerd {

namespace containers_v1 = ::containerd::services::containers::v1;
namespace events_v1 = ::containerd::services::events::v1;
namespace namespaces_v1 = ::containerd::services::namespaces::v1;
namespace tasks_v1 = ::containerd::services::tasks::v1;
namespace version_v1 = ::containerd::services::version::v1;

/// The Go client's limits, in both directions.
constexpr int max_message_bytes = 16 << 20;

/// "unix:///run/containerd/containerd.sock" from either that or a bare socket path.
std::string grpc_target(const std::string& socket);

/// An insecure HTTP/2 channel over the unix socket with 16 MiB message limits. It reconnects by
/// itself; the reconnect backoff is capped at one second (gRPC's default grows to two minutes),
/// so that after a containerd restart calls succeed again within about a second.
std::shared_ptr<grpc::Channel> make_channel(const std::string& socket);

/// One stub per service, all on the same channel.
struct stubs {
  explicit stubs(std::shared_ptr<grpc::Channel> ch);
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<version_v1::Version::Stub> version;
  std::unique_ptr<namespaces_v1::Namespaces::Stub> namespaces;
  std::unique_ptr<containers_v1::Containers::Stub> containers;
  std::unique_ptr<tasks_v1::Tasks::Stub> tasks;
  std::unique_ptr<events_v1::Events::Stub> events;
};

/// Counts the gRPC operations (unary calls, streams) whose objects gRPC may still touch.
///
/// Why: grpc++ 1.51 runs callback-API completions on a process-wide completion queue that is
/// torn down with the last grpc::Channel. A call still in flight when its channel goes then
/// completes on a deleted queue (seen here as `ref_counted.h: assertion failed: prior > 0` on a
/// "nexting_thread" after a containerd restart). So every call object holds a token, and the
/// channel's owner cancels everything and waits for the count to drop to zero before it lets the
/// channel go.
class inflight {
public:
  /// Held by a call object (declare it first, so that it is released last).
  class token {
  public:
    token() = default;
    explicit token(std::shared_ptr<inflight> owner);
    token(token&&) = default;
    token& operator=(token&&) = default;
    token(const token&) = delete;
    token& operator=(const token&) = delete;
    ~token();

  private:
    std::shared_ptr<inflight> owner_;
  };

  static token enter(const std::shared_ptr<inflight>& self);

  /// True once nothing is in flight; false when `timeout` passed first.
  bool wait_idle(std::chrono::milliseconds timeout);

  size_t count();

private:
  void leave();

  std::mutex mtx_;
  std::condition_variable idle_;
  size_t count_ = 0;
};

/// Sets the deadline (now + timeout, capped at a day) and, when `ns` is not empty, the
/// `containerd-namespace` header. Every call goes through here.
void prepare(grpc::ClientContext& ctx, const std::string& ns, std::chrono::nanoseconds timeout);

} // namespace contd::containerd
