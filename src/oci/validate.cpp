#include "src/oci/validate.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <climits>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>

#include "src/log/utf8.hpp"
#include "src/oci/lexer.hpp"

namespace contd::oci {

namespace {

using problem = std::optional<std::string>;

constexpr std::string_view identifier_pattern = "^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$";
constexpr size_t identifier_max = 76; // containerd's maxLength
constexpr size_t quoted_max = 128;    // bytes of a value shown in a message

std::string invalid(std::string_view field, std::string_view value, std::string_view why) {
  std::string out = "invalid ";
  out += field;
  out += ' ';
  out += oci::quoted(value); // qualified: std::quoted is found by ADL
  out += ": ";
  out += why;
  return out;
}

std::string invalid_number(std::string_view field, const std::string& value, std::string_view why) {
  return "invalid " + std::string{field} + " " + value + ": " + std::string{why};
}

std::string indexed(std::string_view field, size_t i, std::string_view sub = {}) {
  std::string out{field};
  out += '[';
  out += std::to_string(i);
  out += ']';
  out += sub;
  return out;
}

bool is_alnum(char ch) {
  return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

enum class kind { missing, directory, other };

kind stat_kind(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return kind::missing;
  return S_ISDIR(st.st_mode) ? kind::directory : kind::other;
}

std::string human_bytes(uint64_t n) {
  constexpr uint64_t mib = 1024 * 1024;
  if (n % mib == 0)
    return std::to_string(n / mib) + " MiB";
  return std::to_string(n) + " bytes";
}

// Length, NUL and UTF-8 of any string that ends up in the JSON spec: Go's JSON decoders in
// containerd and runc would silently turn invalid UTF-8 into U+FFFD, and NUL cannot reach execve.
problem check_text(std::string_view field, std::string_view value, size_t max) {
  if (value.size() > max)
    return invalid(field, value, "longer than " + std::to_string(max) + " bytes");
  if (value.find('\0') != std::string_view::npos)
    return invalid(field, value, "contains a NUL byte");
  if (!is_valid_utf8(value))
    return invalid(field, value, "is not valid UTF-8");
  return std::nullopt;
}

problem check_size(const container& c, const validation_limits& lim) {
  if (c.env.size() > lim.max_env)
    return "invalid Env: " + std::to_string(c.env.size()) + " entries, at most "
           + std::to_string(lim.max_env) + " allowed";
  if (c.mounts.size() > lim.max_mounts)
    return "invalid Mounts: " + std::to_string(c.mounts.size()) + " entries, at most "
           + std::to_string(lim.max_mounts) + " allowed";
  for (size_t i = 0; i < c.mounts.size(); ++i)
    if (c.mounts[i].options.size() > lim.max_mount_options)
      return "invalid " + indexed("Mounts", i, ".Options") + ": "
             + std::to_string(c.mounts[i].options.size()) + " options, at most "
             + std::to_string(lim.max_mount_options) + " allowed";
  if (c.logs.size() > lim.max_sinks)
    return "invalid Logs: " + std::to_string(c.logs.size()) + " entries, at most "
           + std::to_string(lim.max_sinks) + " allowed";
  if (c.stats.size() > lim.max_sinks)
    return "invalid Stats: " + std::to_string(c.stats.size()) + " entries, at most "
           + std::to_string(lim.max_sinks) + " allowed";
  size_t total = c.name.size() + c.root_fs.size() + c.working_dir.size() + c.network.ns.size()
                 + c.entrypoint.size() + c.root_fs_propagation.size();
  for (const auto& e : c.env)
    total += e.size();
  for (const auto& m : c.mounts) {
    total += m.source.size() + m.target.size() + m.type.size();
    for (const auto& o : m.options)
      total += o.size();
  }
  for (const auto& l : c.logs)
    total += l.type.size() + l.data.stdout_url.size() + l.data.stderr_url.size();
  for (const auto& s : c.stats)
    total += s.type.size() + s.endpoint.size();
  if (total > lim.max_request_bytes)
    return "invalid request: " + std::to_string(total) + " bytes of text, at most "
           + std::to_string(lim.max_request_bytes) + " allowed";
  return std::nullopt;
}

problem check_rootfs(const std::string& root_fs, const validation_limits& lim) {
  if (root_fs.empty())
    return std::string{"invalid RootFS \"\": must not be empty"};
  if (auto p = check_text("RootFS", root_fs, lim.max_path))
    return p;
  if (root_fs.front() != '/')
    return invalid("RootFS", root_fs, "must be an absolute path");
  if (root_fs.find_first_not_of('/') == std::string::npos)
    return invalid("RootFS", root_fs, "must not be the host's root directory");
  switch (stat_kind(root_fs)) {
  case kind::missing:
    return invalid("RootFS", root_fs, "no such directory");
  case kind::other:
    return invalid("RootFS", root_fs, "not a directory");
  case kind::directory:
    break;
  }
  // Every spelling of the host's root ("/tmp/..", "/.", a symlink to "/") resolves to "/".
  char resolved[PATH_MAX];
  if (::realpath(root_fs.c_str(), resolved) == nullptr)
    return invalid("RootFS", root_fs, std::string{"cannot be resolved: "} + std::strerror(errno));
  if (std::string_view{resolved} == "/")
    return invalid("RootFS", root_fs, "resolves to the host's root directory");
  return std::nullopt;
}

problem check_env(const std::vector<std::string>& env, const validation_limits& lim) {
  for (size_t i = 0; i < env.size(); ++i) {
    auto field = indexed("Env", i);
    if (auto p = check_text(field, env[i], lim.max_env_entry))
      return p;
    auto eq = env[i].find('=');
    if (eq == std::string::npos)
      return invalid(field, env[i], "must have the form KEY=VALUE");
    if (eq == 0)
      return invalid(field, env[i], "the key before '=' must not be empty");
  }
  return std::nullopt;
}

problem check_working_dir(const std::string& dir, const validation_limits& lim) {
  if (dir.empty())
    return std::nullopt; // "/"
  if (auto p = check_text("WorkingDir", dir, lim.max_path))
    return p;
  if (dir.front() != '/')
    return invalid("WorkingDir", dir, "must be an absolute path");
  // Inside the container's root: ".." would only mislead a reader of the spec.
  for (size_t pos = 0; pos != std::string::npos;) {
    auto next = dir.find('/', pos + 1);
    if (dir.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1) == "..")
      return invalid("WorkingDir", dir, "must not contain a '..' component");
    pos = next;
  }
  return std::nullopt;
}

problem check_entrypoint(const container& c, const validation_limits& lim) {
  if (auto p = check_text("Entrypoint", c.entrypoint, lim.max_entrypoint))
    return p;
  if (c.interactive)
    return std::nullopt; // coreX runs instead; the entrypoint is kept but not parsed
  auto words = split_entrypoint(c.entrypoint);
  if (!words)
    return invalid("Entrypoint", c.entrypoint, words.error());
  if (words->empty())
    return invalid("Entrypoint", c.entrypoint, "contains no command");
  return std::nullopt;
}

problem check_network(const network_info& net, const node_facts& node) {
  const auto& name = net.ns;
  if (name.empty())
    return std::string{"invalid Network.Namespace \"\": a network namespace is required"};
  // A plain file name: the value is joined to the netns directory, so nothing may climb out.
  bool plain = name.size() <= 255 && is_alnum(name.front());
  for (char ch : name)
    plain = plain && (is_alnum(ch) || ch == '.' || ch == '_' || ch == '-');
  if (!plain)
    return invalid("Network.Namespace", name,
                   "must be a plain name of letters, digits, '.', '_' and '-' starting with a "
                   "letter or digit");
  auto path = node.netns_dir + "/" + name;
  switch (stat_kind(path)) {
  case kind::missing:
    return invalid("Network.Namespace", name, "no such network namespace in " + node.netns_dir);
  case kind::directory:
    return invalid("Network.Namespace", name, path + " is a directory");
  case kind::other:
    break;
  }
  return std::nullopt;
}

bool is_propagation(std::string_view x) {
  return x == "private" || x == "rprivate" || x == "shared" || x == "rshared" || x == "slave"
         || x == "rslave";
}

// size=N[k|m|g] as the kernel's memparse reads it (we allow the common suffixes only).
bool is_tmpfs_size(std::string_view v) {
  if (v.empty())
    return false;
  char last = v.back();
  if (last == 'k' || last == 'K' || last == 'm' || last == 'M' || last == 'g' || last == 'G')
    v.remove_suffix(1);
  if (v.empty() || v.size() > 15)
    return false;
  for (char ch : v)
    if (ch < '0' || ch > '9')
      return false;
  return v.find_first_not_of('0') != std::string_view::npos; // size=0 would mean unlimited
}

bool is_octal_mode(std::string_view v) {
  if (v.empty() || v.size() > 4)
    return false;
  for (char ch : v)
    if (ch < '0' || ch > '7')
      return false;
  return true;
}

problem check_mount_options(const mount_info& m, size_t i) {
  auto field = indexed("Mounts", i, ".Options");
  const bool tmpfs = m.type == "tmpfs";
  int recursion = 0, access = 0, propagation = 0, size = 0, mode = 0;
  std::set<std::string_view> seen;
  for (const auto& opt : m.options) {
    std::string_view o = opt;
    if (!seen.insert(o).second)
      return invalid(field, o, "given twice");
    if (o == "ro" || o == "rw") {
      ++access;
    } else if (o == "nosuid" || o == "nodev" || o == "noexec") {
      // allowed for both types
    } else if (!tmpfs && (o == "bind" || o == "rbind")) {
      ++recursion;
    } else if (!tmpfs && is_propagation(o)) {
      ++propagation;
    } else if (tmpfs && o.substr(0, 5) == "size=") {
      if (!is_tmpfs_size(o.substr(5)))
        return invalid(field, o, "size must be a positive number with an optional k, m or g");
      ++size;
    } else if (tmpfs && o.substr(0, 5) == "mode=") {
      if (!is_octal_mode(o.substr(5)))
        return invalid(field, o, "mode must be octal, e.g. mode=1777");
      ++mode;
    } else if (tmpfs) {
      return invalid(field, o,
                     "unknown tmpfs option (known: size=N[k|m|g], mode=OCTAL, ro, rw, nosuid, "
                     "nodev, noexec)");
    } else {
      return invalid(field, o,
                     "unknown bind option (known: bind, rbind, ro, rw, private, rprivate, "
                     "shared, rshared, slave, rslave, nosuid, nodev, noexec)");
    }
  }
  if (recursion > 1)
    return "invalid " + field + ": bind and rbind exclude each other";
  if (m.type == "rbind" && seen.count("bind") != 0)
    return "invalid " + field + ": option bind contradicts Type rbind";
  if (access > 1)
    return "invalid " + field + ": ro and rw exclude each other";
  if (propagation > 1)
    return "invalid " + field + ": at most one propagation option";
  if (size > 1 || mode > 1)
    return "invalid " + field + ": size and mode may be given once";
  return std::nullopt;
}

problem check_mounts(const std::vector<mount_info>& mounts, const validation_limits& lim) {
  std::set<std::string_view> targets;
  for (size_t i = 0; i < mounts.size(); ++i) {
    const auto& m = mounts[i];
    auto type_field = indexed("Mounts", i, ".Type");
    if (!(m.type.empty() || m.type == "bind" || m.type == "rbind" || m.type == "tmpfs"))
      return invalid(type_field, m.type, "must be bind, rbind or tmpfs (or empty for rbind)");
    auto target_field = indexed("Mounts", i, ".Target");
    if (auto p = check_text(target_field, m.target, lim.max_path))
      return p;
    if (m.target.empty() || m.target.front() != '/')
      return invalid(target_field, m.target, "must be an absolute path");
    if (!is_normalised_absolute(m.target))
      return invalid(target_field, m.target,
                     "must be normalised (no empty, '.' or '..' component, no trailing '/')");
    if (m.target == "/")
      return invalid(target_field, m.target, "cannot mount over the container's root");
    if (!targets.insert(m.target).second)
      return invalid(target_field, m.target, "used by another mount");
    auto source_field = indexed("Mounts", i, ".Source");
    if (auto p = check_text(source_field, m.source, lim.max_path))
      return p;
    if (m.type == "tmpfs") {
      if (!m.source.empty() && m.source != "tmpfs")
        return invalid(source_field, m.source, "a tmpfs mount takes no source (or \"tmpfs\")");
    } else {
      if (m.source.empty() || m.source.front() != '/')
        return invalid(source_field, m.source, "must be an absolute path");
      if (stat_kind(m.source) == kind::missing)
        return invalid(source_field, m.source, "no such file or directory");
      // The host's root in any spelling ("/", "/tmp/..", a link to it) would hand the container
      // the whole host.
      char resolved[PATH_MAX];
      if (::realpath(m.source.c_str(), resolved) != nullptr && std::string_view{resolved} == "/")
        return invalid(source_field, m.source, "resolves to the host's root directory");
    }
    if (auto p = check_mount_options(m, i))
      return p;
  }
  return std::nullopt;
}

problem check_resources(const container& c, const node_facts& node, const validation_limits& lim) {
  if (c.memory != 0 && c.memory < lim.min_memory)
    return invalid_number("Memory", std::to_string(c.memory),
                          "must be 0 (the default) or at least " + std::to_string(lim.min_memory)
                            + " bytes (" + human_bytes(lim.min_memory) + ")");
  if (node.memory_bytes != 0 && c.memory > node.memory_bytes)
    return invalid_number("Memory", std::to_string(c.memory),
                          "more than the node's " + std::to_string(node.memory_bytes)
                            + " bytes of memory");
  if (c.cpu > node.cpu_count)
    return invalid_number("CPU", std::to_string(c.cpu),
                          "the node has only " + std::to_string(node.cpu_count)
                            + (node.cpu_count == 1 ? " CPU" : " CPUs"));
  return std::nullopt;
}

problem check_sinks(const container& c, const validation_limits& lim) {
  for (size_t i = 0; i < c.logs.size(); ++i) {
    const auto& l = c.logs[i];
    if (l.type != "redis")
      return invalid(indexed("Logs", i, ".Type"), l.type, "must be redis");
    if (l.data.stdout_url.empty() && l.data.stderr_url.empty())
      return "invalid " + indexed("Logs", i, ".Data")
             + ": at least one of Stdout and Stderr must be a redis:// URL";
    for (auto [sub, url] : {std::pair{".Data.Stdout", &l.data.stdout_url},
                            std::pair{".Data.Stderr", &l.data.stderr_url}}) {
      if (url->empty())
        continue;
      auto field = indexed("Logs", i, sub);
      if (url->size() > lim.max_url)
        return invalid(field, *url, "longer than " + std::to_string(lim.max_url) + " bytes");
      if (auto p = check_redis_url(field, *url))
        return p;
    }
  }
  for (size_t i = 0; i < c.stats.size(); ++i) {
    const auto& s = c.stats[i];
    if (s.type != "redis")
      return invalid(indexed("Stats", i, ".Type"), s.type, "must be redis");
    auto field = indexed("Stats", i, ".Endpoint");
    if (s.endpoint.size() > lim.max_url)
      return invalid(field, s.endpoint, "longer than " + std::to_string(lim.max_url) + " bytes");
    if (auto p = check_redis_url(field, s.endpoint))
      return p;
  }
  return std::nullopt;
}

} // namespace

bool is_valid_utf8(std::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    auto n = utf8_length(s, pos);
    if (n == 0)
      return false;
    pos += n;
  }
  return true;
}

std::string quoted(std::string_view value) {
  std::string out = "\"";
  size_t pos = 0;
  while (pos < value.size() && pos < quoted_max) {
    auto ch = static_cast<unsigned char>(value[pos]);
    size_t n = utf8_length(value, pos);
    if (n > 1) {
      out.append(value.substr(pos, n)); // printable enough; never split a character
      pos += n;
      continue;
    }
    ++pos;
    switch (ch) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\r':
      out += "\\r";
      break;
    default:
      if (ch < 0x20 || ch >= 0x7F) {
        char buf[5];
        std::snprintf(buf, sizeof(buf), "\\x%02x", ch);
        out += buf;
      } else {
        out += static_cast<char>(ch);
      }
    }
  }
  out += '"';
  if (pos < value.size())
    out += "... (" + std::to_string(value.size()) + " bytes)";
  return out;
}

bool is_normalised_absolute(std::string_view path) {
  if (path.empty() || path.front() != '/')
    return false;
  if (path == "/")
    return true;
  if (path.back() == '/' || path.find('\0') != std::string_view::npos)
    return false;
  size_t at = 1;
  while (at <= path.size()) {
    auto next = path.find('/', at);
    if (next == std::string_view::npos)
      next = path.size();
    auto part = path.substr(at, next - at);
    if (part.empty() || part == "." || part == "..")
      return false;
    at = next + 1;
  }
  return true;
}

std::optional<std::string> check_identifier(std::string_view field, std::string_view value) {
  if (value.empty())
    return invalid(field, value, "must not be empty");
  if (value.size() > identifier_max)
    return invalid(field, value,
                   "longer than the maximum of " + std::to_string(identifier_max) + " characters");
  // Alphanumeric runs separated by exactly one of . _ -, starting and ending alphanumeric: a
  // separator is allowed only right after an alphanumeric, and the last character must be one.
  bool after_alnum = false;
  for (char ch : value) {
    if (is_alnum(ch))
      after_alnum = true;
    else if ((ch == '.' || ch == '_' || ch == '-') && after_alnum)
      after_alnum = false;
    else
      return invalid(field, value, "must match " + std::string{identifier_pattern});
  }
  if (!after_alnum)
    return invalid(field, value, "must match " + std::string{identifier_pattern});
  return std::nullopt;
}

std::optional<std::string> check_redis_url(std::string_view field, std::string_view url) {
  const std::string expected = "expected redis://host[:port]/channel";
  static constexpr std::string_view scheme = "redis://";
  auto lower_prefix = std::string{url.substr(0, scheme.size())};
  for (auto& ch : lower_prefix)
    if (ch >= 'A' && ch <= 'Z')
      ch = static_cast<char>(ch - 'A' + 'a');
  if (lower_prefix != scheme)
    return invalid(field, url, "scheme must be redis://, " + expected);
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  if (authority.find('@') != std::string_view::npos)
    return invalid(field, url, "user information is not supported, " + expected);
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return invalid(field, url, "unterminated IPv6 address, " + expected);
    host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return invalid(field, url, "bad text after the IPv6 address, " + expected);
      port = after.substr(1);
      if (port.empty())
        return invalid(field, url, "empty port, " + expected);
    }
    if (host.empty() || host.find_first_not_of("0123456789abcdefABCDEF:.") != host.npos)
      return invalid(field, url, "bad IPv6 address, " + expected);
  } else {
    auto colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      if (port.empty())
        return invalid(field, url, "empty port, " + expected);
    }
    if (host.empty())
      return invalid(field, url, "missing host, " + expected);
    if (host.size() > 253)
      return invalid(field, url, "host name longer than 253 characters");
    for (char ch : host)
      if (!(is_alnum(ch) || ch == '.' || ch == '-' || ch == '_'))
        return invalid(field, url, "bad character in the host name, " + expected);
  }
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
      return invalid(field, url, "port must be a number from 1 to 65535");
    auto value = std::stoul(std::string{port});
    if (value == 0 || value > 65535)
      return invalid(field, url, "port must be a number from 1 to 65535");
  }
  if (slash == std::string_view::npos || slash + 1 >= rest.size())
    return invalid(field, url, "missing channel name, " + expected);
  auto channel = rest.substr(slash + 1);
  for (char ch : channel) {
    auto u = static_cast<unsigned char>(ch);
    if (u <= 0x20 || u == 0x7F)
      return invalid(field, url, "the channel must not contain spaces or control characters");
    if (ch == '?' || ch == '#')
      return invalid(field, url, "query and fragment are not supported, " + expected);
  }
  if (!is_valid_utf8(channel))
    return invalid(field, url, "is not valid UTF-8");
  return std::nullopt;
}

std::optional<std::string> validate(const std::string& ns, const container& c,
                                    const node_facts& node, const validation_limits& lim) {
  // Cheap bounds first, so the checks below only ever walk a bounded request.
  if (auto p = check_size(c, lim))
    return p;
  if (auto p = check_identifier("namespace", ns))
    return p;
  if (auto p = check_identifier("Name", c.name))
    return p;
  if (auto p = check_rootfs(c.root_fs, lim))
    return p;
  if (auto p = check_env(c.env, lim))
    return p;
  if (auto p = check_working_dir(c.working_dir, lim))
    return p;
  if (auto p = check_entrypoint(c, lim))
    return p;
  if (auto p = check_network(c.network, node))
    return p;
  if (auto p = check_mounts(c.mounts, lim))
    return p;
  if (auto p = check_resources(c, node, lim))
    return p;
  if (!c.root_fs_propagation.empty() && !is_propagation(c.root_fs_propagation))
    return invalid("RootFsPropagation", c.root_fs_propagation,
                   "must be one of private, rprivate, shared, rshared, slave, rslave (or empty)");
  if (c.shutdown_timeout < 0 || c.shutdown_timeout > lim.max_shutdown_timeout)
    return invalid_number("ShutdownTimeout", std::to_string(c.shutdown_timeout) + "ns",
                          "must be between 0 (the default, 3 s) and 1 h");
  if (auto p = check_sinks(c, lim))
    return p;
  if (auto p = check_restart_policy(c.restart))
    return p;
  return std::nullopt;
}

std::optional<std::string> check_restart_policy(const restart_policy& p) {
  if (!p.name.empty() && p.name != "always" && p.name != "on-failure" && p.name != "no")
    return invalid("RestartPolicy.Name", p.name,
                   "must be one of always, on-failure, no (or empty: always)");
  if (p.max_restarts > 1000)
    return invalid_number("RestartPolicy.MaxRestarts", std::to_string(p.max_restarts),
                          "must be between 0 (the default, 3) and 1000");
  constexpr int64_t day = 24LL * 3600 * 1'000'000'000;
  if (p.window < 0 || p.window > day)
    return invalid_number("RestartPolicy.Window", std::to_string(p.window) + "ns",
                          "must be between 0 (the default, 60 s) and 24 h");
  return std::nullopt;
}

} // namespace contd::oci
