#include "src/config/actor_config.hpp"

#include "messages/messages.hpp"

namespace contd {

actor_config::actor_config() {
  register_messages(*this);
}

} // namespace contd
