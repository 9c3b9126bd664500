#include "src/containerd/metrics.hpp"

#include "github.com/containerd/cgroups/stats/v1/metrics.pb.h"
#include "github.com/containerd/cgroups/v2/stats/metrics.pb.h"

namespace contd::containerd {

namespace {

namespace cg1 = ::io::containerd::cgroups::v1;
namespace cg2 = ::io::containerd::cgroups::v2;

/// The message name of a type URL: the text after its last '/', or all of it.
std::string message_name(const std::string& type_url) {
  auto slash = type_url.rfind('/');
  return slash == std::string::npos ? type_url : type_url.substr(slash + 1);
}

task_metrics from_v1(const cg1::Metrics& m) {
  task_metrics out;
  if (m.has_memory()) {
    const auto& mem = m.memory();
    out.memory_cache = mem.cache();
    if (mem.has_usage()) {
      out.memory_usage = mem.usage().usage();
      out.memory_limit = mem.usage().limit();
    }
  }
  if (m.has_cpu() && m.cpu().has_usage())
    out.cpu_usage_ns = m.cpu().usage().total();
  if (m.has_pids())
    out.pids_current = m.pids().current();
  return out;
}

task_metrics from_v2(const cg2::Metrics& m) {
  task_metrics out;
  out.cgroup_v2 = true;
  if (m.has_memory()) {
    const auto& mem = m.memory();
    out.memory_usage = mem.usage();
    out.memory_limit = mem.usage_limit();
    out.memory_cache = mem.file();
  }
  if (m.has_cpu())
    out.cpu_usage_ns = m.cpu().usage_usec() * 1000;
  if (m.has_pids())
    out.pids_current = m.pids().current();
  return out;
}

} // namespace

result<task_metrics> decode_metrics(const std::string& type_url, const std::string& value) {
  auto name = message_name(type_url);
  if (name == cgroups_v1_metrics_type_url) {
    cg1::Metrics m;
    if (m.ParseFromString(value))
      return from_v1(m);
  } else if (name == cgroups_v2_metrics_type_url) {
    cg2::Metrics m;
    if (m.ParseFromString(value))
      return from_v2(m);
  } else {
    return fail("unknown metrics type " + type_url);
  }
  return fail("malformed " + type_url + " message");
}

} // namespace contd::containerd
