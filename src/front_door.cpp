#include "src/front_door.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "actors/zbus_ingress.hpp"
#include "actors/zbus_redis.hpp"
#include "src/zbus/codec.hpp"

namespace contd {

front_door spawn_front_door(caf::actor_system& sys, container_module_actor module,
                            const front_door_config& cfg) {
  front_door fd;
  fd.replier = sys.spawn<caf::detached>(
    zbus_replier, zbus_replier_config{cfg.broker, zbus::reply_ttl_seconds, {}});
  fd.ingress = sys.spawn(zbus_ingress, std::move(module), fd.replier,
                         zbus_ingress_config{cfg.max_in_flight});
  fd.listener = sys.spawn<caf::detached>(
    zbus_listener,
    zbus_listener_config{cfg.broker, zbus::object_queue(), zbus::status_queue(),
                         cfg.pop_timeout_s, {}},
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

void stop_front_door(const front_door& fd) {
  caf::anon_send_exit(fd.listener, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(fd.ingress, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(fd.replier, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(fd.publisher, caf::exit_reason::user_shutdown);
}

} // namespace contd
