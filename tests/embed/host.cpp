// A host that runs contd's container module inside its own actor system and serves it over zbus:
//   host CONTAINERD_SOCKET ROOT LOGGER BROKER_URL
// It prints "host: containerd <version>" and "host: ready", serves until SIGTERM or SIGINT, then
// drains the front door, stops the module and exits 0.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include <src/config/actor_config.hpp>
#include <src/front_door.hpp>
#include <src/module.hpp>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: host CONTAINERD_SOCKET ROOT LOGGER BROKER_URL\n");
    return 2;
  }
  // Signals are taken with sigwait below: block them before any thread starts.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto broker = contd::zbus::parse_broker_url(argv[4]);
  if (!broker) {
    std::fprintf(stderr, "host: %s\n", broker.error().c_str());
    return 2;
  }
  contd::actor_config cfg; // registers contd's message types
  caf::actor_system sys{cfg};
  contd::module_config mc;
  mc.containerd_socket = argv[1];
  mc.root = argv[2];
  mc.logger_path = argv[3];
  auto module = contd::spawn_container_module(sys, mc);

  int rc = 0;
  {
    caf::scoped_actor self{sys};
    self->request(module.client, std::chrono::seconds{10}, contd::atom::version_v)
      .receive([](const std::string& v) { std::printf("host: containerd %s\n", v.c_str()); },
               [&](const caf::error& err) {
                 std::printf("host: containerd unreachable: %s\n", to_string(err).c_str());
                 rc = 1;
               });
  }
  if (rc == 0) {
    contd::front_door_config fc;
    fc.broker = *broker;
    fc.pop_timeout_s = 0.2;
    auto door = contd::spawn_front_door(sys, module.module, fc);
    std::printf("host: ready\n");
    std::fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    auto left = contd::drain_front_door(sys, door, std::chrono::seconds{10});
    contd::stop_front_door(door);
    std::printf("host: stopped by signal %d, %llu calls unanswered\n", sig,
                static_cast<unsigned long long>(left.calls_in_flight));
  }
  contd::stop_container_module(module);
  return rc;
}
