#include "src/oci/node.hpp"

#include <sched.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace contd::oci {

std::optional<uint64_t> parse_meminfo_total(std::string_view meminfo) {
  static constexpr std::string_view key = "MemTotal:";
  size_t at = 0;
  while (at < meminfo.size()) {
    auto eol = meminfo.find('\n', at);
    auto line = meminfo.substr(at, eol == std::string_view::npos ? meminfo.npos : eol - at);
    at = eol == std::string_view::npos ? meminfo.size() : eol + 1;
    if (line.substr(0, key.size()) != key)
      continue;
    line.remove_prefix(key.size());
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
      line.remove_prefix(1);
    uint64_t value = 0;
    size_t digits = 0;
    while (digits < line.size() && line[digits] >= '0' && line[digits] <= '9') {
      if (digits >= 18)
        return std::nullopt; // would overflow; no machine has that much memory
      value = value * 10 + static_cast<uint64_t>(line[digits] - '0');
      ++digits;
    }
    if (digits == 0)
      return std::nullopt;
    auto unit = line.substr(digits);
    while (!unit.empty() && unit.front() == ' ')
      unit.remove_prefix(1);
    if (unit == "kB")
      return value * 1024;
    if (unit.empty())
      return value;
    return std::nullopt;
  }
  return std::nullopt;
}

node_facts discover_node_facts() {
  node_facts out;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) {
    out.cpu_count = static_cast<uint32_t>(CPU_COUNT(&set));
  } else if (auto n = std::thread::hardware_concurrency(); n > 0) {
    out.cpu_count = n;
  } else if (auto m = sysconf(_SC_NPROCESSORS_ONLN); m > 0) {
    out.cpu_count = static_cast<uint32_t>(m);
  }
  std::ifstream in{"/proc/meminfo"};
  std::ostringstream text;
  text << in.rdbuf();
  if (auto total = parse_meminfo_total(text.str()))
    out.memory_bytes = *total;
  return out;
}

} // namespace contd::oci
