#include "actors/spec_builder.hpp"

#include "src/oci/spec.hpp"

namespace contd {

spec_builder_actor::behavior_type spec_builder(spec_builder_pointer self,
                                               spec_builder_config config) {
  self->state.config = std::move(config);
  return {
    [self](atom::build, const std::string& ns, const container& c) -> caf::result<std::string> {
      const auto& cfg = self->state.config;
      // Validation reads the file system (stat) but changes nothing; it runs before the caller
      // creates anything, so a refused request leaves no trace.
      if (auto problem = oci::validate(ns, c, cfg.node, cfg.limits))
        return make_error(errc::invalid_argument, std::move(*problem));
      auto spec = oci::build_spec(ns, c, cfg.node, cfg.defaults);
      if (!spec)
        return make_error(errc::invalid_argument, spec.error());
      // error_handler replace: validated input is valid UTF-8, but never throw in a handler.
      return spec->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    },
  };
}

} // namespace contd
