// The spec builder: validates a Run request and builds its OCI runtime spec. The logic is the
// pure src/oci library; this actor only gives it a typed address so that tenants can ask for
// specs without knowing the node's facts or the operator's defaults.
#pragma once

#include "messages/messages.hpp"
#include "src/oci/node.hpp"
#include "src/oci/validate.hpp"

namespace contd {

struct spec_builder_config {
  oci::node_facts node;        // usually oci::discover_node_facts(), plus configured paths
  oci::spec_defaults defaults; // memory, pids limit, shutdown timeout
  oci::validation_limits limits;
};

struct spec_builder_state {
  static inline const char* name = "contd.spec_builder";
  spec_builder_config config;
};

using spec_builder_pointer = spec_builder_actor::stateful_pointer<spec_builder_state>;

spec_builder_actor::behavior_type spec_builder(spec_builder_pointer self,
                                               spec_builder_config config);

} // namespace contd
