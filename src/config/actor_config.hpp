// The actor system configuration shared by contd, contctl and the tests: it registers the
// vocabulary so that production and tests render errors the same way.
#pragma once

#include <caf/actor_system_config.hpp>

namespace contd {

class actor_config : public caf::actor_system_config {
public:
  actor_config();
};

} // namespace contd
