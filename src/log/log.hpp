// contd logs through spdlog: text lines by default, JSON lines on request.
#pragma once

#include <string>

#include <spdlog/spdlog.h>

namespace contd::log {

/// Sets the default logger's level ("trace" … "off") and format ("text" or "json").
/// Returns false (and changes nothing) for an unknown level or format.
bool init(const std::string& level, const std::string& format);

/// The body of a JSON string for `s` (without the surrounding quotes); bytes outside printable
/// ASCII become \u00XX escapes.
std::string escape_json(std::string_view s);

/// Escapes a string for a JSON value and replaces bytes that are not printable ASCII, so that
/// hostile input (non-UTF-8 names, control characters) cannot break a log line.
std::string printable(std::string_view s, size_t max_len = 256);

} // namespace contd::log
