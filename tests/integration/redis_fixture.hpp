// A private redis-server on a unix socket under a temporary directory, for integration tests and
// benchmarks. Never touches a system instance; stops its server (by PID) and removes its directory
// in the destructor, also when a test fails.
#pragma once

#include <sys/types.h>

#include <string>

#include "src/zbus/redis_link.hpp"

namespace contd::test {

class redis_server {
public:
  redis_server();
  /// Also listens on 127.0.0.1:`tcp_port` and requires `password` (AUTH) when it is not empty.
  redis_server(int tcp_port, std::string password);
  ~redis_server();
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  void start();
  void stop();
  bool running() const { return pid_ > 0; }

  const std::string& dir() const { return dir_; }
  const std::string& socket() const { return socket_; }
  std::string url() const { return "unix://" + socket_; }
  zbus::broker_url broker() const;

private:
  std::string dir_;
  std::string socket_;
  int tcp_port_ = 0;
  std::string password_;
  pid_t pid_ = -1;
};

} // namespace contd::test
