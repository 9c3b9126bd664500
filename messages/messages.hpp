// One include for the whole vocabulary, plus the registration every actor system of contd runs.
#pragma once

#include <caf/fwd.hpp>

#include "messages/atoms.hpp"
#include "messages/error.hpp"
#include "messages/interfaces.hpp"
#include "messages/types.hpp"

namespace contd {

/// Registers contd's message types and the readable rendering of contd errors.
void register_messages(caf::actor_system_config& cfg);

} // namespace contd
