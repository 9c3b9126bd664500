// contd's command line, like the Go original's flag package: -name value, --name value,
// -name=value and --name=value, plus `--config FILE` with "name = value" lines (flags given on
// the command line win). Parsing is pure: a settings struct or an error text, nothing printed.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "src/zbus/redis_link.hpp"

namespace contd::flags {

/// The usage text contd prints for --help and after a usage error.
extern const char* const usage;

/// What contd runs with. The defaults are those of a contd started without flags.
struct settings {
  zbus::broker_url broker;
  std::string root = "/var/cache/modules/contd";
  std::string containerd = "/run/containerd/containerd.sock";
  std::string netns_dir = "/var/run/netns";
  std::string corex = "/usr/bin/corex";
  /// One containerd shim per container; false (the default): the containers of a namespace
  /// share shims, at most shim_group_size per shim.
  bool shim_per_container = false;
  size_t shim_group_size = 10;
  uint32_t max_inflight = 1024;
  uint64_t log_max_size = 10ull << 20;
  /// Empty: contd-logger next to the contd binary (the caller resolves it).
  std::string logger;
  /// A level spdlog knows (trace, debug, info, warn, error, ...).
  std::string log_level = "info";
  /// "text" or "json".
  std::string log_format = "text";
  /// --help or --version was given: nothing else was read or checked.
  bool help = false;
  bool version = false;
};

/// Reads a config file: its text, or nullopt when it cannot be read.
using file_reader = std::function<std::optional<std::string>(const std::string& path)>;

/// The file's contents from the file system.
std::optional<std::string> read_file(const std::string& path);

/// Parses contd's arguments (without the program name). `read` gives the text of --config FILE.
/// Fails with the text of a usage error (without a "contd: " prefix).
result<settings> parse(const std::vector<std::string>& args, const file_reader& read = read_file);

/// "10485760", "64K", "10M", "1G" (binary multiples, either case) -> bytes; nullopt when
/// malformed or too large for 64 bits.
std::optional<uint64_t> parse_size(const std::string& text);

} // namespace contd::flags
