// A file system in memory for actor tests: the fakes that stand for programs writing files (the
// shim appending an exec's output to its capture file) and the fake log I/O actor that creates,
// reads and removes them share one, so the tests touch no real file.
#pragma once

#include <map>
#include <string>

namespace contd::test {

struct fake_files {
  std::map<std::string, std::string> content; // path -> bytes; no directories

  bool exists(const std::string& path) const { return content.count(path) > 0; }
  /// Creates the file empty unless it exists (O_CREAT without O_TRUNC).
  void touch(const std::string& path) { content[path]; }
  void write(const std::string& path, std::string bytes) { content[path] = std::move(bytes); }
  void append(const std::string& path, const std::string& bytes) { content[path] += bytes; }
  void remove(const std::string& path) { content.erase(path); }
  /// Files whose path starts with `prefix`.
  size_t count_under(const std::string& prefix) const {
    size_t n = 0;
    for (auto it = content.lower_bound(prefix);
         it != content.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
      ++n;
    return n;
  }
};

} // namespace contd::test
