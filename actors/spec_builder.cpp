#include "actors/spec_builder.hpp"

#include "src/oci/spec.hpp"
#include "src/oci/startup.hpp"
#include "src/oci/validate.hpp"

namespace contd {

spec_builder_actor::behavior_type spec_builder(spec_builder_pointer self,
                                               spec_builder_config config) {
  self->state.config = std::move(config);
  return {
    [self](atom::build, const std::string& ns, const container& c,
           const std::string& shim_group) -> caf::result<std::string> {
      const auto& cfg = self->state.config;
      // A 0-OS v1 flist's <RootFS>/.startup.toml supplies what the request leaves empty. Read
      // (bounded, no links, no blocking) before validation, so that the merged request is what
      // gets validated and run; a path that validation refuses has no file anyway.
      auto ran = c;
      bool merged = false;
      if (!c.root_fs.empty() && c.root_fs.front() == '/') {
        auto entry = oci::read_startup(c.root_fs);
        if (!entry)
          return make_error(errc::invalid_argument, entry.error());
        if (*entry) {
          ran = oci::merge_startup(c, **entry);
          merged = true;
        }
      }
      // Validation reads the file system (stat) but changes nothing; it runs before the caller
      // creates anything, so a refused request leaves no trace.
      if (auto problem = oci::validate(ns, ran, cfg.node, cfg.limits))
        return make_error(errc::invalid_argument, std::move(*problem));
      auto spec = oci::build_spec(ns, ran, cfg.node, cfg.defaults, shim_group);
      if (!spec)
        return make_error(errc::invalid_argument, spec.error());
      // The spec runs the merged request; the stored request (what Inspect returns) is the
      // caller's.
      if (merged)
        (*spec)["annotations"][std::string{oci::annotation_request}] =
          oci::request_to_json(oci::apply_defaults(c, cfg.defaults));
      // error_handler replace: validated input is valid UTF-8, but never throw in a handler.
      return spec->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    },
  };
}

} // namespace contd
