// 0-OS v1 flists declare their entrypoint, environment and working directory in
// <RootFS>/.startup.toml; Run honours it the way the Go original does, with a deterministic env
// order and an entrypoint that keeps every argument intact.
//
//   [startup.entry]
//   name = "core.system"          # or "core.base"
//   [startup.entry.args]
//   name = "/bin/app"             # the program
//   args = ["--flag", "value with spaces"]
//   dir  = "/srv"                 # working directory
//   [startup.entry.args.env]
//   KEY = "VALUE"
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "messages/types.hpp"
#include "messages/result.hpp"

namespace contd::oci {

struct startup_entry {
  std::string name;                                     // core.system or core.base
  std::string program;                                  // args.name
  std::vector<std::string> args;                        // args.args
  std::string dir;                                      // args.dir
  std::vector<std::pair<std::string, std::string>> env; // args.env, in key order
};

/// The file's name inside a rootfs.
inline constexpr std::string_view startup_file = ".startup.toml";
/// Larger files are refused (real ones are a few hundred bytes).
inline constexpr size_t max_startup_bytes = 64 * 1024;

/// Parses the text of `file` (named in every error). No [startup.entry] table: nullopt. Wrong
/// types, env keys that are empty or contain '=' or NUL, NUL in any value: an error.
result<std::optional<startup_entry>> parse_startup(std::string_view text, const std::string& file);

/// Reads <root_fs>/.startup.toml: missing gives nullopt. A symbolic link, FIFO, device or
/// directory at that name, or a file larger than max_startup_bytes, is an error naming the file;
/// it is opened without following links and without blocking, so the read stays inside the
/// rootfs and cannot hang.
result<std::optional<startup_entry>> read_startup(const std::string& root_fs);

/// The request with the entry merged in, as the original merges it:
/// - Entrypoint, only when the request has none: for core.system, or core.base with a program,
///   the program followed by the args (for core.system without a program the first arg is the
///   program), joined so that the entrypoint splitter gives them back unchanged;
/// - WorkingDir, only when the request has none: args.dir;
/// - Env: the request's entries first (they win for the same key), then the file's other keys
///   in key order.
container merge_startup(container c, const startup_entry& e);

} // namespace contd::oci
