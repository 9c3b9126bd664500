#include "src/front_door.hpp"

#include <chrono>

#include <caf/actor_system.hpp>
#include <caf/after.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include "actors/zbus_ingress.hpp"
#include "actors/zbus_redis.hpp"
#include "src/zbus/codec.hpp"

namespace contd {

front_door spawn_front_door(caf::actor_system& sys, container_module_actor module,
                            const front_door_config& cfg) {
  front_door fd;
  fd.replier = sys.spawn<caf::detached>(
    zbus_replier, zbus_replier_config{cfg.broker, zbus::reply_ttl_seconds, {}});
  fd.ingress =
    sys.spawn(zbus_ingress, std::move(module), fd.replier, zbus_ingress_config{cfg.max_in_flight});
  fd.listener = sys.spawn<caf::detached>(
    zbus_listener,
    zbus_listener_config{
      cfg.broker, zbus::object_queue(), zbus::status_queue(), cfg.pop_timeout_s, {}},
    fd.ingress);
  zbus_publisher_config pcfg;
  pcfg.broker = cfg.broker;
  fd.publisher = sys.spawn<caf::detached>(zbus_publisher, pcfg);
  return fd;
}

front_door spawn_front_door(caf::actor_system& sys, const module_actor& module,
                            const front_door_config& cfg) {
  auto fd = spawn_front_door(sys, container_module_actor{module}, cfg);
  attach_publisher(fd, module);
  return fd;
}

void attach_publisher(const front_door& fd, const module_actor& module) {
  caf::anon_send(module, atom::attach_v, event_publisher_actor{fd.publisher});
}

drain_report drain_front_door(caf::actor_system& sys, const front_door& fd,
                              caf::timespan deadline) {
  using namespace std::chrono_literals;
  drain_report report;
  caf::scoped_actor self{sys};
  // The listener ends after its current BLPOP; a payload popped meanwhile reaches the ingress
  // before the drain does.
  self->monitor(fd.listener);
  caf::anon_send_exit(fd.listener, caf::exit_reason::user_shutdown);
  self->receive([](caf::down_msg&) {}, caf::after(std::chrono::seconds{10}) >> [] {});
  // The ingress answers by the deadline; the margin only covers an ingress that is gone.
  self->request(fd.ingress, deadline + 5s, atom::drain_v, deadline)
    .receive([&](uint64_t n) { report.calls_in_flight = n; }, [&](caf::error&) {});
  // The replies handed over so far go out before the replier stops.
  self->request(fd.replier, 10s, atom::drain_v)
    .receive([&](uint64_t n) { report.replies_held = n; }, [&](caf::error&) {});
  // Likewise the state transitions of the shutdown itself.
  self->request(fd.publisher, 5s, atom::drain_v)
    .receive([&](uint64_t n) { report.events_held = n; }, [&](caf::error&) {});
  return report;
}

void cut_drain_short(const front_door& fd) {
  caf::anon_send(fd.ingress, atom::drain_v, caf::timespan::zero());
}

void stop_front_door(const front_door& fd) {
  caf::anon_send_exit(fd.listener, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(fd.ingress, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(fd.replier, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(fd.publisher, caf::exit_reason::user_shutdown);
}

} // namespace contd
