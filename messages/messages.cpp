#include "messages/messages.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

namespace contd {

std::string to_string(errc x) {
  switch (x) {
  case errc::invalid_argument:
    return "invalid_argument";
  case errc::not_found:
    return "not_found";
  case errc::already_exists:
    return "already_exists";
  case errc::timeout:
    return "timeout";
  case errc::unavailable:
    return "unavailable";
  case errc::failed_precondition:
    return "failed_precondition";
  case errc::internal:
    return "internal";
  case errc::stuck:
    return "stuck";
  case errc::exec_failed:
    return "exec_failed";
  case errc::protocol:
    return "protocol";
  }
  return "errc(" + std::to_string(static_cast<int>(x)) + ")";
}

caf::error make_error(errc code, std::string text) {
  return caf::make_error(code, std::move(text));
}

std::string error_text(const caf::error& err) {
  if (!err)
    return {};
  const auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0)) {
    const auto& text = ctx.get_as<std::string>(0);
    if (!text.empty())
      return text;
  }
  if (err.category() == caf::atom("contd"))
    return to_string(static_cast<errc>(err.code()));
  if (err.category() == caf::atom("system"))
    return "actor system error: " + caf::to_string(static_cast<caf::sec>(err.code()));
  return caf::to_string(err);
}

namespace {

std::string render_contd(uint8_t code, caf::atom_value, const caf::message& ctx) {
  std::string out = to_string(static_cast<errc>(code));
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    out += ": " + ctx.get_as<std::string>(0);
  return out;
}

} // namespace

void register_messages(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::contd>();
  cfg.add_error_category(caf::atom("contd"), render_contd);
}

} // namespace contd
