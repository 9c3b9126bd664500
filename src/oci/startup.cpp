#include "src/oci/startup.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include <toml++/toml.h>

#include "src/logs/safe_file.hpp"
#include "src/oci/lexer.hpp"

namespace contd::oci {

namespace {

using out_t = result<std::optional<startup_entry>>;

bool has_nul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}

} // namespace

out_t parse_startup(std::string_view text, const std::string& file) {
  toml::table doc;
  try {
    doc = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    return out_t::failure(file + ": line " + std::to_string(at.line) + ", column "
                          + std::to_string(at.column) + ": " + std::string{e.description()});
  }
  auto entry = doc["startup"]["entry"];
  if (!entry)
    return std::optional<startup_entry>{};
  if (!entry.is_table())
    return out_t::failure(file + ": startup.entry must be a table");
  startup_entry e;
  auto string_at = [&](toml::node_view<toml::node> v, const char* key,
                       std::string& out) -> std::optional<std::string> {
    if (!v)
      return std::nullopt;
    auto s = v.value<std::string>();
    if (!v.is_string() || !s)
      return file + ": " + key + " must be a string";
    if (has_nul(*s))
      return file + ": " + key + " must not contain NUL";
    out = *s;
    return std::nullopt;
  };
  if (auto err = string_at(entry["name"], "startup.entry.name", e.name))
    return out_t::failure(*err);
  auto args = entry["args"];
  if (args && !args.is_table())
    return out_t::failure(file + ": startup.entry.args must be a table");
  if (args) {
    if (auto err = string_at(args["name"], "startup.entry.args.name", e.program))
      return out_t::failure(*err);
    if (auto err = string_at(args["dir"], "startup.entry.args.dir", e.dir))
      return out_t::failure(*err);
    if (auto list = args["args"]) {
      auto* arr = list.as_array();
      if (arr == nullptr)
        return out_t::failure(file + ": startup.entry.args.args must be an array of strings");
      for (auto& item : *arr) {
        auto s = item.value<std::string>();
        if (!item.is_string() || !s || has_nul(*s))
          return out_t::failure(file + ": startup.entry.args.args must be an array of strings");
        e.args.push_back(*s);
      }
    }
    if (auto env = args["env"]) {
      auto* tbl = env.as_table();
      if (tbl == nullptr)
        return out_t::failure(file + ": startup.entry.args.env must be a table of strings");
      for (auto& [k, v] : *tbl) {
        std::string key{k.str()};
        auto s = v.value<std::string>();
        if (!v.is_string() || !s)
          return out_t::failure(file + ": startup.entry.args.env." + key + " must be a string");
        if (key.empty() || key.find('=') != std::string::npos || has_nul(key) || has_nul(*s))
          return out_t::failure(file + ": startup.entry.args.env has an unusable key or value \""
                                + key + "\"");
        e.env.emplace_back(key, *s);
      }
      std::sort(e.env.begin(), e.env.end());
    }
  }
  return std::optional<startup_entry>{std::move(e)};
}

out_t read_startup(const std::string& root_fs) {
  auto path = root_fs + "/" + std::string{startup_file};
  auto f = logs::open_regular(path, O_RDONLY);
  if (!f) {
    if (f.code() == ENOENT)
      return std::optional<startup_entry>{};
    return out_t::failure("cannot use " + path + ": " + f.error());
  }
  struct stat sb {};
  if (::fstat(f.fd(), &sb) != 0 || static_cast<uint64_t>(sb.st_size) > max_startup_bytes)
    return out_t::failure("cannot use " + path + ": larger than "
                          + std::to_string(max_startup_bytes) + " bytes");
  auto text = logs::read_at(f.fd(), 0, max_startup_bytes + 1);
  if (text.size() > max_startup_bytes)
    return out_t::failure("cannot use " + path + ": larger than "
                          + std::to_string(max_startup_bytes) + " bytes");
  auto parsed = parse_startup(text, path);
  if (!parsed)
    return out_t::failure("invalid " + parsed.error());
  return parsed;
}

container merge_startup(container c, const startup_entry& e) {
  if (c.entrypoint.empty()) {
    std::vector<std::string> argv;
    if (e.name == "core.system" || (e.name == "core.base" && !e.program.empty())) {
      if (!e.program.empty())
        argv.push_back(e.program);
      argv.insert(argv.end(), e.args.begin(), e.args.end());
    }
    if (!argv.empty())
      c.entrypoint = join_entrypoint(argv);
  }
  if (c.working_dir.empty())
    c.working_dir = e.dir;
  std::set<std::string> keys;
  for (const auto& kv : c.env)
    keys.insert(kv.substr(0, kv.find('=')));
  for (const auto& [k, v] : e.env)
    if (!keys.count(k))
      c.env.push_back(k + "=" + v);
  return c;
}

} // namespace contd::oci
