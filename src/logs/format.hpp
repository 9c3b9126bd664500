// The local log format of a container, shared by the logger program (which writes it), the Logs
// method and the Redis forwarder (which read it).
//
// One record per line, in the format the Kubernetes CRI uses for container logs:
//
//   <RFC 3339 UTC time with nanoseconds> <stream> <tag> <text>\n
//   2026-11-30T23:34:10.123456789Z stdout F hello
//
// stream is stdout, stderr or logger (the logger's own notices, e.g. dropped output). The tag is
// F for a full line, P for a part of a line longer than the logger's line limit, or of a last line
// that had no newline when its stream was cut off; the parts of one line follow each other (per
// stream) and the last part is tagged F. The text never contains '\n'.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace contd::logs {

enum class stream { out, err, logger };

/// "stdout", "stderr", "logger".
const char* stream_name(stream s);

struct record {
  int64_t unix_ns = 0; // when the logger read the bytes
  stream source = stream::out;
  bool partial = false; // tag P
  std::string text;     // without the newline
  friend bool operator==(const record& a, const record& b) {
    return a.unix_ns == b.unix_ns && a.source == b.source && a.partial == b.partial
           && a.text == b.text;
  }
};

/// The record as one line, '\n' included. A '\n' inside text is not allowed (the logger splits
/// there); encode replaces it with a space so a line is always one record.
std::string encode(const record& r);

/// Appends the encoding of one record to `out`, like encode but without building a record (the
/// logger encodes every line it reads).
void append_encoded(std::string& out, int64_t unix_ns, stream source, bool partial,
                    std::string_view text);

/// One line (without its '\n'); nullopt when it is not a record.
std::optional<record> parse(std::string_view line);

/// The complete lines of `bytes`, parsed; lines that are not records are skipped. When
/// `starts_mid_line` is true the bytes begin somewhere inside a line (a tail read), and the text
/// up to the first '\n' is skipped. A last line without '\n' is incomplete and skipped.
/// With `keep_plain`, a line that is not a record is kept as a stdout record of time 0 (text
/// written by something else than the logger, e.g. the shim's plain file:// output).
std::vector<record> parse_all(std::string_view bytes, bool starts_mid_line,
                              bool keep_plain = false);

/// The last `n` lines of output, stdout and stderr merged in file order, as Logs returns them:
/// P parts joined with the rest of their line, each line ending in '\n'. Logger notices appear
/// as "[contd-logger] <text>".
std::string tail_text(const std::vector<record>& records, size_t n);

/// "2026-11-30T23:34:10.123456789Z"; and back (nullopt when malformed).
std::string format_time(int64_t unix_ns);
std::optional<int64_t> parse_time(std::string_view text);

} // namespace contd::logs
