#include "messages/status.hpp"

#include <array>

namespace contd {

namespace {

// Indexed by the enum's value; the first six are shared by both enums.
constexpr std::array<std::string_view, 10> status_words{
  "unknown", "created",    "running", "stopped", "paused",
  "pausing", "restarting", "failed",  "stuck",   "no-task",
};

} // namespace

std::string to_string(task_status s) {
  return std::string{status_words.at(static_cast<size_t>(s))};
}

std::string to_string(container_status s) {
  return std::string{status_words.at(static_cast<size_t>(s))};
}

std::optional<container_status> parse_container_status(std::string_view text) {
  for (size_t i = 0; i < status_words.size(); ++i)
    if (status_words[i] == text)
      return static_cast<container_status>(i);
  return std::nullopt;
}

} // namespace contd
