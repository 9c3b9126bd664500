#include "src/containerd/channel.hpp"

#include <algorithm>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

namespace contd::containerd {

std::string grpc_target(const std::string& socket) {
  if (socket.rfind("unix:", 0) == 0)
    return socket;
  return "unix://" + socket;
}

std::shared_ptr<grpc::Channel> make_channel(const std::string& socket) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_message_bytes);
  args.SetMaxSendMessageSize(max_message_bytes);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return grpc::CreateCustomChannel(grpc_target(socket), grpc::InsecureChannelCredentials(), args);
}

stubs::stubs(std::shared_ptr<grpc::Channel> ch)
    : channel(std::move(ch)), version(version_v1::Version::NewStub(channel)),
      namespaces(namespaces_v1::Namespaces::NewStub(channel)),
      containers(containers_v1::Containers::NewStub(channel)),
      tasks(tasks_v1::Tasks::NewStub(channel)), events(events_v1::Events::NewStub(channel)) {}

inflight::token::token(std::shared_ptr<inflight> owner) : owner_(std::move(owner)) {}

inflight::token::~token() {
  if (owner_)
    owner_->leave();
}

inflight::token inflight::enter(const std::shared_ptr<inflight>& self) {
  std::lock_guard<std::mutex> guard{self->mtx_};
  ++self->count_;
  return token{self};
}

void inflight::leave() {
  std::lock_guard<std::mutex> guard{mtx_};
  if (--count_ == 0)
    idle_.notify_all();
}

bool inflight::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> guard{mtx_};
  return idle_.wait_for(guard, timeout, [this] { return count_ == 0; });
}

size_t inflight::count() {
  std::lock_guard<std::mutex> guard{mtx_};
  return count_;
}

void prepare(grpc::ClientContext& ctx, const std::string& ns, std::chrono::nanoseconds timeout) {
  // A day is "forever" for any call contd makes, and keeps now + timeout from overflowing.
  auto bounded = std::clamp(timeout, std::chrono::nanoseconds{0},
                            std::chrono::nanoseconds{std::chrono::hours{24}});
  ctx.set_deadline(std::chrono::system_clock::now()
                   + std::chrono::duration_cast<std::chrono::system_clock::duration>(bounded));
  if (!ns.empty())
    ctx.AddMetadata("containerd-namespace", ns);
}

} // namespace contd::containerd
