// contctl's command line (CLI11): what was asked for, before anything is checked against the
// wire. Values a command checks itself (durations, sizes, mounts) are kept as given.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "messages/result.hpp"
#include "messages/types.hpp"

namespace contd::ctl {

/// contctl's usage text: --help, the help command, and after every usage error.
extern const char* const usage_text;

struct invocation {
  bool help = false;    // -h, --help, the help command
  bool version = false; // --version
  std::string broker = "unix:///var/run/redis.sock";
  std::optional<std::string> timeout; // --timeout
  bool json = false;                  // --json (before or after the command)
  /// status, ns, ls, run, inspect, exec, logs, stats, stop, rm or events; empty without one.
  std::string command;
  /// The command's positional arguments (before "--").
  std::vector<std::string> params;
  /// What followed "--", untouched: the command line of run or exec.
  std::vector<std::string> command_line;
  bool ids_only = false;     // ls -q
  bool follow = false;       // logs -f, --follow
  bool watch = false;        // stats -w, --watch
  bool command_json = false; // inspect --json, events --json
  /// run: --rootfs, --netns, --env, --workdir, --interactive, --elevated, --propagation.
  container spec;
  std::vector<std::string> mounts;             // run --mount, each SRC:DST[:MODE]
  std::optional<std::string> memory;           // run --memory
  std::optional<std::string> cpu;              // run --cpu
  std::optional<std::string> shutdown_timeout; // run --shutdown-timeout
  std::optional<std::string> exec_timeout;     // exec --timeout
};

/// Parses argv (argv[0] is the program); fails with the text of a usage error.
result<invocation> parse_command_line(int argc, const char* const* argv);

} // namespace contd::ctl
