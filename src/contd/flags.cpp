#include "src/contd/flags.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <spdlog/common.h>

namespace contd::flags {

const char* const usage = R"(usage: contd [flags]

  --broker URL          Redis broker, unix:///path or tcp://[password@]host:port
                        (default unix:///var/run/redis.sock)
  --root DIR            working directory; logs in DIR/logs (default /var/cache/modules/contd)
  --containerd SOCKET   containerd's socket (default /run/containerd/containerd.sock)
  --netns-dir DIR       named network namespaces (default /var/run/netns)
  --corex PATH          coreX binary for interactive containers (default /usr/bin/corex)
  --shim-per-container  one containerd shim per container (13 MB each) instead of shims
                        shared by up to --shim-group-size containers of a namespace (the
                        default, false); a crash of a shared shim stops all of its
                        containers, which are then restarted under their policies
  --shim-group-size N   containers of a namespace per shared shim (default 10, 1 to 1000)
  --max-inflight N      calls out of Redis at once (default 1024)
  --log-max-size SIZE   cap of one container's log plus its rotated file, in bytes or with
                        a K, M or G suffix (default 10M; at least 64K)
  --logger PATH         the contd-logger program the shim starts for every task
                        (default: contd-logger next to contd)
  --log-level LEVEL     trace, debug, info, warn, error (default info)
  --log-format FORMAT   text or json (default text)
  --config FILE         read flags from FILE (lines "name = value"; flags given here win)
  --version             print the version and exit
  --help                this text

Flags accept -name value, --name value and --name=value, like the Go original.
)";

namespace {

/// The flags that take a value, with their defaults as text ("config" has none).
std::map<std::string, std::string> default_values() {
  return {
    {"broker", "unix:///var/run/redis.sock"},
    {"root", "/var/cache/modules/contd"},
    {"containerd", "/run/containerd/containerd.sock"},
    {"netns-dir", "/var/run/netns"},
    {"corex", "/usr/bin/corex"},
    {"shim-per-container", "false"},
    {"shim-group-size", "10"},
    {"max-inflight", "1024"},
    {"log-max-size", "10M"},
    {"logger", ""},
    {"log-level", "info"},
    {"log-format", "text"},
  };
}

bool is_value_flag(const std::string& name) {
  return name == "config" || default_values().count(name) > 0;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string{} : s.substr(b, e - b + 1);
}

struct command_line {
  std::map<std::string, std::string> given;
  bool help = false;
  bool version = false;
};

/// Go-flag style: -name value, --name value, -name=value, --name=value. The last of a repeated
/// flag wins.
result<command_line> parse_argv(const std::vector<std::string>& args) {
  command_line out;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a.size() < 2 || a[0] != '-')
      return fail("unexpected argument '" + a + "'");
    auto name = a.substr(a[1] == '-' ? 2 : 1);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (name == "help" || name == "h") {
      out.help = true;
      continue;
    }
    if (name == "version" || name == "v") {
      out.version = true;
      continue;
    }
    if (!is_value_flag(name))
      return fail("unknown flag '" + a + "'");
    if (!value && name == "shim-per-container") // a boolean: present means true
      value = "true";
    if (!value) {
      if (i + 1 >= args.size())
        return fail("flag --" + name + " needs a value");
      value = args[++i];
    }
    out.given[name] = *value;
  }
  return out;
}

/// Lines "name = value" (or "name: value"); '#' starts a comment; a value may be in double
/// quotes. Every flag that takes a value except "config" may appear.
result<void> apply_config(const std::string& path, const std::string& text,
                          std::map<std::string, std::string>& values) {
  std::istringstream in{text};
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    line = trim(line.substr(0, line.find('#')));
    if (line.empty())
      continue;
    auto eq = line.find_first_of("=:");
    if (eq == std::string::npos)
      return fail(path + ":" + std::to_string(n) + ": expecting 'name = value'");
    auto name = trim(line.substr(0, eq));
    auto value = trim(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (!is_value_flag(name) || name == "config")
      return fail(path + ":" + std::to_string(n) + ": unknown setting '" + name + "'");
    values[name] = value;
  }
  return {};
}

bool is_level(const std::string& level) {
  auto lvl = spdlog::level::from_str(level);
  return lvl != spdlog::level::off || level == "off";
}

/// The values as settings, checked in the order contd always checked them.
result<settings> to_settings(const std::map<std::string, std::string>& v) {
  settings s;
  auto broker = zbus::parse_broker_url(v.at("broker"));
  if (!broker)
    return fail(broker.error());
  s.broker = *broker;
  const auto& inflight = v.at("max-inflight");
  if (inflight.empty() || inflight.size() > 7
      || inflight.find_first_not_of("0123456789") != std::string::npos || std::stoul(inflight) == 0
      || std::stoul(inflight) > 1'000'000)
    return fail("--max-inflight must be between 1 and 1000000");
  s.max_inflight = static_cast<uint32_t>(std::stoul(inflight));
  s.root = v.at("root");
  if (!std::filesystem::path{s.root}.is_absolute())
    return fail("--root must be an absolute path");
  s.log_level = v.at("log-level");
  if (!is_level(s.log_level))
    return fail("bad --log-level '" + s.log_level
                + "': expecting trace, debug, info, warn, error, critical or off");
  s.log_format = v.at("log-format");
  if (s.log_format != "text" && s.log_format != "json")
    return fail("bad --log-format '" + s.log_format + "': expecting text or json");
  auto log_max = parse_size(v.at("log-max-size"));
  if (!log_max || *log_max < (64u << 10) || *log_max > (1ull << 40))
    return fail("--log-max-size must be a size from 64K to 1024G");
  s.log_max_size = *log_max;
  s.logger = v.at("logger");
  if (!s.logger.empty() && !std::filesystem::path{s.logger}.is_absolute())
    return fail("--logger must be an absolute path");
  s.containerd = v.at("containerd");
  s.netns_dir = v.at("netns-dir");
  s.corex = v.at("corex");
  const auto& shims = v.at("shim-per-container");
  if (shims != "true" && shims != "false")
    return fail("--shim-per-container is true or false, not '" + shims + "'");
  s.shim_per_container = shims == "true";
  const auto& group = v.at("shim-group-size");
  if (group.empty() || group.size() > 4
      || group.find_first_not_of("0123456789") != std::string::npos || std::stoul(group) == 0
      || std::stoul(group) > 1000)
    return fail("--shim-group-size must be between 1 and 1000");
  s.shim_group_size = std::stoul(group);
  return s;
}

} // namespace

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad())
    return std::nullopt;
  return text.str();
}

result<settings> parse(const std::vector<std::string>& args, const file_reader& read) {
  auto cl = parse_argv(args);
  if (!cl)
    return fail(cl.error());
  if (cl->help || cl->version) {
    settings s;
    s.help = cl->help;
    s.version = cl->version;
    return s;
  }
  auto values = default_values();
  if (auto it = cl->given.find("config"); it != cl->given.end()) {
    auto text = read(it->second);
    if (!text)
      return fail("cannot read config file '" + it->second + "'");
    if (auto applied = apply_config(it->second, *text, values); !applied)
      return fail(applied.error());
  }
  for (auto& [name, value] : cl->given)
    if (name != "config")
      values[name] = value;
  return to_settings(values);
}

std::optional<uint64_t> parse_size(const std::string& text) {
  if (text.empty())
    return std::nullopt;
  unsigned shift = 0;
  auto digits = text;
  switch (text.back()) {
  case 'K':
  case 'k':
    shift = 10;
    digits.pop_back();
    break;
  case 'M':
  case 'm':
    shift = 20;
    digits.pop_back();
    break;
  case 'G':
  case 'g':
    shift = 30;
    digits.pop_back();
    break;
  default:
    break;
  }
  if (digits.empty() || digits.size() > 20
      || digits.find_first_not_of("0123456789") != std::string::npos
      || (digits.size() == 20 && digits > "18446744073709551615"))
    return std::nullopt;
  uint64_t n = std::stoull(digits);
  if (n > (UINT64_MAX >> shift))
    return std::nullopt;
  return n << shift;
}

} // namespace contd::flags
