// Tasks.Metrics payloads: recorded cgroup v1 and saved cgroup v2 messages decoded by type URL,
// malformed and unknown payloads, absent sections, and the stats JSON (tests/data/metrics).
#include <catch2/catch.hpp>

#include <fstream>
#include <limits>
#include <sstream>

#include "github.com/containerd/cgroups/stats/v1/metrics.pb.h"
#include "github.com/containerd/cgroups/v2/stats/metrics.pb.h"
#include "src/containerd/metrics.hpp"

using namespace contd;
namespace cd = contd::containerd;

namespace {

std::string data_file(const std::string& name) {
  std::ifstream in{std::string{CONTD_SOURCE_DIR} + "/tests/data/metrics/" + name, std::ios::binary};
  REQUIRE(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::string v1_url = "io.containerd.cgroups.v1.Metrics";
const std::string v2_url = "io.containerd.cgroups.v2.Metrics";

} // namespace

/// Why decode_metrics refused the payload (it must refuse it).
std::string refusal(const std::string& url, const std::string& value) {
  auto m = cd::decode_metrics(url, value);
  REQUIRE_FALSE(m);
  return m.error();
}

TEST_CASE("a cgroup v1 message recorded from containerd 1.6 decodes to its figures") {
  auto url = data_file("v1-busybox-sleep.type_url");
  CHECK(url == v1_url);
  CHECK(url == cd::cgroups_v1_metrics_type_url);
  auto m = cd::decode_metrics(url, data_file("v1-busybox-sleep.bin"));
  INFO(m.error());
  REQUIRE(m);
  CHECK(m->unix_ns == 0); // Metric.timestamp is outside the payload
  CHECK(m->memory_usage == 380928);
  CHECK(m->memory_limit == 9223372036854771712u); // no limit: the kernel's "unlimited"
  CHECK(m->memory_cache == 0);
  CHECK(m->cpu_usage_ns == 46479015);
  CHECK(m->pids_current == 1);
  CHECK_FALSE(m->cgroup_v2);
}

TEST_CASE("a saved cgroup v2 message decodes to its figures, CPU time in nanoseconds") {
  auto url = data_file("v2-small.type_url");
  CHECK(url == v2_url);
  CHECK(url == cd::cgroups_v2_metrics_type_url);
  auto m = cd::decode_metrics(url, data_file("v2-small.bin"));
  INFO(m.error());
  REQUIRE(m);
  task_metrics want;
  want.memory_usage = 1048576;
  want.memory_limit = 268435456;
  want.memory_cache = 102400;   // memory.file
  want.cpu_usage_ns = 12345000; // cpu.usage_usec 12345
  want.pids_current = 1;
  want.cgroup_v2 = true;
  CHECK(*m == want);
}

TEST_CASE("a type URL with a prefix before the message name is accepted") {
  auto m = cd::decode_metrics("type.googleapis.com/" + v1_url, data_file("v1-busybox-sleep.bin"));
  REQUIRE(m);
  CHECK(m->memory_usage == 380928);
  auto m2 = cd::decode_metrics("types.containerd.io/" + v2_url, data_file("v2-small.bin"));
  REQUIRE(m2);
  CHECK(m2->cgroup_v2);
}

TEST_CASE("an unknown type URL is refused by name") {
  CHECK(refusal("io.containerd.cgroups.v3.Metrics", data_file("v1-busybox-sleep.bin"))
        == "unknown metrics type io.containerd.cgroups.v3.Metrics");
  CHECK(refusal("", "") == "unknown metrics type ");
  CHECK(refusal("io.containerd.cgroups.v1.MetricsX", "")
        == "unknown metrics type io.containerd.cgroups.v1.MetricsX");
}

TEST_CASE("bytes that are no protobuf message are malformed") {
  // A varint that never ends.
  std::string garbage{"\xff\xff\xff\xff", 4};
  CHECK(refusal(v1_url, garbage) == "malformed io.containerd.cgroups.v1.Metrics message");
  CHECK(refusal(v2_url, garbage) == "malformed io.containerd.cgroups.v2.Metrics message");
  // The recording cut short inside a section.
  auto cut = data_file("v1-busybox-sleep.bin").substr(0, 40);
  CHECK(refusal(v1_url, cut) == "malformed io.containerd.cgroups.v1.Metrics message");
  // A section whose length runs past the end.
  std::string overlong{"\x22\x7f\x08\x01", 4}; // memory (field 4), 127 bytes announced, 2 there
  CHECK_FALSE(refusal(v1_url, overlong).empty());
  CHECK_FALSE(refusal(v2_url, overlong).empty());
}

TEST_CASE("absent sections and fields read as zero") {
  auto empty1 = cd::decode_metrics(v1_url, "");
  REQUIRE(empty1);
  CHECK(*empty1 == task_metrics{});
  auto empty2 = cd::decode_metrics(v2_url, "");
  REQUIRE(empty2);
  task_metrics v2_zero;
  v2_zero.cgroup_v2 = true;
  CHECK(*empty2 == v2_zero);

  // v1: memory without its usage entry, cpu without usage, no pids.
  ::io::containerd::cgroups::v1::Metrics partial;
  partial.mutable_memory()->set_cache(4096);
  partial.mutable_cpu()->mutable_throttling()->set_periods(3);
  auto p1 = cd::decode_metrics(v1_url, partial.SerializeAsString());
  REQUIRE(p1);
  CHECK(p1->memory_cache == 4096);
  CHECK(p1->memory_usage == 0);
  CHECK(p1->memory_limit == 0);
  CHECK(p1->cpu_usage_ns == 0);
  CHECK(p1->pids_current == 0);

  // v2: only pids.
  ::io::containerd::cgroups::v2::Metrics only_pids;
  only_pids.mutable_pids()->set_current(7);
  auto p2 = cd::decode_metrics(v2_url, only_pids.SerializeAsString());
  REQUIRE(p2);
  task_metrics want;
  want.pids_current = 7;
  want.cgroup_v2 = true;
  CHECK(*p2 == want);
}
