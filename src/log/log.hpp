// contd logs through spdlog: text lines by default, JSON lines on request.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <spdlog/spdlog.h>

namespace contd::log {

/// Sets the default logger's level ("trace" … "off") and format ("text" or "json").
/// Returns false (and changes nothing) for an unknown level or format.
bool init(const std::string& level, const std::string& format);

/// The body of a JSON string for `s` (without the surrounding quotes): quotes, backslashes and
/// control characters escaped, valid UTF-8 kept as it is, each byte that is not valid UTF-8
/// replaced by \ufffd. The one routine every JSON log line goes through.
std::string escape_json(std::string_view s);

/// A value from the wire made safe to quote in a log message, in either format: quotes and
/// backslashes escaped, control characters and bytes that are not valid UTF-8 written as \xNN,
/// valid UTF-8 kept, at most `max_len` bytes of `s` ("..." marks a cut).
std::string printable(std::string_view s, size_t max_len = 256);

/// Lets at most `burst` log messages of one kind through per `period` and counts the rest, so
/// that a flood of hostile requests cannot fill the disk with warnings. The caller passes the
/// time (an actor passes its clock's).
class limiter {
public:
  using time_point = std::chrono::steady_clock::time_point;
  limiter(uint64_t burst, std::chrono::seconds period) : burst_(burst), period_(period) {}

  /// True when a message may be written at `now`. When a period ends with messages held back,
  /// the first call of the next one sets `suppressed` to their number (else 0), so that the
  /// caller can say how many it did not write.
  bool allow(time_point now, uint64_t& suppressed) {
    suppressed = 0;
    if (now - start_ >= period_) {
      suppressed = held_;
      held_ = 0;
      used_ = 0;
      start_ = now;
    }
    if (used_ < burst_) {
      ++used_;
      return true;
    }
    ++held_;
    return false;
  }

private:
  uint64_t burst_;
  std::chrono::seconds period_;
  time_point start_{};
  uint64_t used_ = 0;
  uint64_t held_ = 0;
};

} // namespace contd::log
