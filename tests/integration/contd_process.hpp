// A program of this project run as a child process (output to a file), and a named network
// namespace, for the integration tests that start contd itself.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/containerd_fixture.hpp"

extern char** environ;

namespace contd::test {

struct process {
  pid_t pid = -1;
  std::string log;

  process(std::vector<std::string> args, std::string log_file) : log(std::move(log_file)) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0)
      pid = -1;
    posix_spawn_file_actions_destroy(&fa);
  }

  process(const process&) = delete;
  process& operator=(const process&) = delete;

  /// Exit code, or -1 if it did not exit within `limit` (then it is killed).
  int wait_exit(std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    kill_hard();
    return -1;
  }

  /// kill -9, reaped.
  void kill_hard() {
    if (pid <= 0)
      return;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pid = -1;
  }

  ~process() { kill_hard(); }

  std::string output() const {
    std::ifstream in(log);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

struct netns {
  std::string name = random_name("contd-net-");
  netns() { run_command({"ip", "netns", "add", name}); }
  ~netns() { run_command({"ip", "netns", "del", name}); }
  netns(const netns&) = delete;
  netns& operator=(const netns&) = delete;
};

} // namespace contd::test
