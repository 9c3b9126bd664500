#include "tests/integration/redis_fixture.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>
#include <vector>

extern char** environ;

namespace contd::test {

redis_server::redis_server() : redis_server(0, "") {}

redis_server::redis_server(int tcp_port, std::string password)
    : tcp_port_(tcp_port), password_(std::move(password)) {
  char tmpl[] = "/tmp/contd-redis.XXXXXX";
  if (mkdtemp(tmpl) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  socket_ = dir_ + "/redis.sock";
  start();
}

redis_server::~redis_server() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

zbus::broker_url redis_server::broker() const {
  auto b = *zbus::parse_broker_url(url());
  b.password = password_;
  return b;
}

void redis_server::start() {
  if (pid_ > 0)
    return;
  std::vector<std::string> args{"redis-server",
                                "--port",
                                std::to_string(tcp_port_),
                                "--bind",
                                "127.0.0.1",
                                "--unixsocket",
                                socket_,
                                "--unixsocketperm",
                                "700",
                                "--save",
                                "",
                                "--appendonly",
                                "no",
                                "--dir",
                                dir_,
                                "--logfile",
                                dir_ + "/redis.log",
                                "--daemonize",
                                "no"};
  if (!password_.empty()) {
    args.push_back("--requirepass");
    args.push_back(password_);
  }
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawnp(&pid, "redis-server", nullptr, nullptr, argv.data(), environ) != 0)
    throw std::runtime_error("cannot start redis-server");
  pid_ = pid;
  // Ready when it answers PING on its socket.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (std::chrono::steady_clock::now() < deadline) {
    zbus::redis_connection probe{broker(), std::chrono::milliseconds{200}};
    if (probe.connect())
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  stop();
  throw std::runtime_error("redis-server did not come up on " + socket_);
}

void redis_server::stop() {
  if (pid_ <= 0)
    return;
  kill(pid_, SIGKILL); // no persistence to flush; a crash is also what restart tests want
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  std::error_code ec;
  std::filesystem::remove(socket_, ec);
}

} // namespace contd::test
