// The entrypoint splitter, bug-for-bug compatible with the google/shlex revision the original
// contd uses (github.com/google/shlex, the 2019 revision): callers feed Inspect's Entrypoint back
// into Run, so both daemons must split the same string into the same argv.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "messages/result.hpp"

namespace contd::oci {

/// Splits `input` into words. Errors carry shlex's own texts: "EOF found when expecting closing
/// quote" and "EOF found after escape character". Runs in O(input) time and memory.
result<std::vector<std::string>> split_entrypoint(std::string_view input);

/// Joins argv so that split_entrypoint() gives it back unchanged (single-quoting where needed).
/// Inspect can use it instead of the original's lossy join with spaces.
std::string join_entrypoint(const std::vector<std::string>& argv);

} // namespace contd::oci
