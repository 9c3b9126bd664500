// What the spec builder needs to know about the node, and the defaults the operator configures.
// Both are plain values handed to the pure functions; discovering them is kept apart so that the
// builder and the validator stay deterministic under test.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace contd::oci {

struct node_facts {
  uint32_t cpu_count = 1;    // logical CPUs this process may run on
  uint64_t memory_bytes = 0; // MemTotal; 0 = unknown (the upper memory bound is then not checked)
  std::string netns_dir = "/var/run/netns";     // where networkd keeps named netns files
  std::string corex_path = "/usr/bin/corex";    // host binary bind-mounted in interactive mode
  std::string resolv_conf = "/etc/resolv.conf"; // bind-mounted read-only into every container
};

struct spec_defaults {
  /// Memory == 0 means this. The original meant 256 MiB but wrote 256*1024*1204 (zos #1551).
  uint64_t memory = 268435456;
  /// linux.resources.pids.limit; 0 leaves the pids controller unlimited.
  int64_t pids_limit = 4096;
  /// ShutdownTimeout == 0 means this (ns). The original's value; its docs promise 5 s.
  int64_t shutdown_timeout = 3'000'000'000;
};

/// Reads the node: CPUs from the scheduler affinity mask (as Go's runtime.NumCPU does, so the
/// bound matches the original's), memory from /proc/meminfo. Paths keep their defaults.
node_facts discover_node_facts();

/// The MemTotal line of a /proc/meminfo text, in bytes.
std::optional<uint64_t> parse_meminfo_total(std::string_view meminfo);

} // namespace contd::oci
