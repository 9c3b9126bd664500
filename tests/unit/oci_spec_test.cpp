// The OCI spec builder against hand-written golden specs (tests/data/oci/README.md), the stored
// request's round trip, and the Exec process helper.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "src/oci/node.hpp"
#include "src/oci/spec.hpp"

using nlohmann::json;
using namespace contd;
using namespace contd::oci;

namespace {

json load_golden(const std::string& name) {
  std::ifstream in{std::string{CONTD_SOURCE_DIR} + "/tests/data/oci/" + name};
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

// The annotation is a string in the spec and an object in the golden files (for review).
json readable(json spec) {
  auto& a = spec["annotations"][std::string{annotation_request}];
  REQUIRE(a.is_string());
  a = json::parse(a.get<std::string>());
  return spec;
}

void check_golden(const json& built, const std::string& file) {
  auto expected = load_golden(file);
  auto actual = readable(built);
  INFO(file << " differs: " << json::diff(expected, actual).dump(1));
  CHECK(actual == expected);
}

node_facts test_node() {
  node_facts n;
  n.cpu_count = 4;
  n.memory_bytes = 8ULL << 30;
  return n;
}

json build_ok(const std::string& ns, const container& c, const node_facts& node = test_node(),
              const spec_defaults& defaults = {}) {
  auto spec = build_spec(ns, c, node, defaults);
  INFO("build error: " << spec.error());
  REQUIRE(spec.ok());
  return *spec;
}

container example_4_2() {
  container c;
  c.name = "c1";
  c.root_fs = "/mnt/c1";
  c.env = {"A=1"};
  c.network.ns = "ns-c1";
  c.entrypoint = "/bin/sh";
  c.cpu = 1;
  c.memory = 1024;
  c.elevated = true;
  c.root_fs_propagation = "rshared";
  c.shutdown_timeout = 5'000'000'000;
  return c;
}

} // namespace

TEST_CASE("the §4.2 request gives the original's spec plus contd's documented additions",
          "[oci][spec]") {
  auto spec = build_ok("ns1", example_4_2());
  check_golden(spec, "example-4.2.json");
  // Undo exactly the four additions; what is left must be the original's document.
  auto stripped = spec;
  stripped.erase("hostname");
  auto& env = stripped["process"]["env"];
  REQUIRE(env.back() == std::string{default_path_env});
  env.erase(env.size() - 1);
  stripped["linux"]["resources"].erase("pids");
  stripped["annotations"].erase(std::string{annotation_request});
  auto original = load_golden("zos-4.2-original.json");
  INFO(json::diff(original, stripped).dump(1));
  CHECK(stripped == original);
}

TEST_CASE("a shim group becomes the runc shim's group annotation, without one there is none",
          "[oci][spec]") {
  auto built = build_spec("tenant7", example_4_2(), test_node(), {}, "shim-3");
  REQUIRE(built);
  auto shared = *built;
  CHECK(shared["annotations"][std::string{annotation_shim_group}] == "shim-3");
  auto alone = build_ok("tenant7", example_4_2());
  CHECK_FALSE(alone["annotations"].contains(std::string{annotation_shim_group}));
  // Nothing else differs.
  shared["annotations"].erase(std::string{annotation_shim_group});
  CHECK(shared == alone);
}

TEST_CASE("a plain container gets every default", "[oci][spec]") {
  container c;
  c.name = "web";
  c.root_fs = "/mnt/web";
  c.env = {"A=1", "GREETING=hello world"};
  c.network.ns = "n-web";
  c.mounts = {{"/var/cache/web-data", "/data", "", {}}};
  c.entrypoint = "/bin/httpd -f -p 80 -h '/var/www html' # the web server";
  c.created_at = go_time{1700000000, 5}; // output-only: not stored
  check_golden(build_ok("tenant1", c), "plain.json");
}

TEST_CASE("seed-era mount types and options are honoured", "[oci][spec]") {
  container c;
  c.name = "zdb-disk1";
  c.root_fs = "/mnt/zdb";
  c.env = {"PATH=/bin:/usr/bin", "HOME=/root"};
  c.working_dir = "/zdb";
  c.network.ns = "ndmz";
  c.entrypoint = "/bin/zdb --data /zdb/data --index /zdb/index";
  c.mounts = {
    {"/mnt/disk1", "/zdb", "", {}},
    {"/var/run/zdb-socket", "/socket", "bind", {"ro", "rslave"}},
    {"/srv/plain", "/plain", "bind", {"bind", "nosuid", "nodev"}},
    {"/srv/shared", "/shared", "rbind", {"rw", "rshared", "noexec"}},
    {"", "/tmp", "tmpfs", {"size=64m", "mode=1777", "nosuid", "nodev"}},
    {"tmpfs", "/run", "tmpfs", {}},
  };
  check_golden(build_ok("zdb", c), "seed-mounts.json");
}

TEST_CASE("an elevated container gets CAP_SYS_ADMIN and /dev/fuse", "[oci][spec]") {
  container c;
  c.name = "qsfs-1";
  c.root_fs = "/mnt/qsfs";
  c.network.ns = "qfs-ns-1";
  c.entrypoint = "/sbin/zinit init --container";
  c.elevated = true;
  c.shutdown_timeout = 600'000'000'000;
  c.logs = {{"redis", {"redis://10.0.0.1:6379/qsfs-out", "redis://10.0.0.1/qsfs-err"}}};
  c.stats = {{"redis", "redis://[fd00::1]:6380/qsfs-stats"}};
  check_golden(build_ok("qsfs", c), "elevated.json");
}

TEST_CASE("an interactive container runs coreX and not its entrypoint", "[oci][spec]") {
  container c;
  c.name = "shell";
  c.root_fs = "/mnt/shell";
  c.env = {"TERM=xterm"};
  c.working_dir = "/root";
  c.network.ns = "n-user1";
  c.mounts = {{"/var/cache/home", "/home", "", {}}};
  c.entrypoint = "not 'parsed in interactive mode";
  c.interactive = true;
  check_golden(build_ok("user1", c), "interactive.json");
}

TEST_CASE("CPU, memory, pids and the grace period become limits", "[oci][spec]") {
  container c;
  c.name = "big.job_1";
  c.root_fs = "/mnt/job";
  c.env = {"LANG=C.UTF-8"};
  c.network.ns = "n-jobs";
  c.entrypoint = "/bin/sleep 1000";
  c.cpu = 2;
  c.memory = 1ULL << 30;
  c.shutdown_timeout = 30'000'000'000;
  spec_defaults defaults;
  defaults.pids_limit = 512;
  check_golden(build_ok("jobs", c, test_node(), defaults), "limits.json");
}

TEST_CASE("rootfs propagation and the node's paths are applied", "[oci][spec]") {
  container c;
  c.name = "prop";
  c.root_fs = "/mnt/prop";
  c.network.ns = "n-prop";
  c.entrypoint = R"(sh -c "echo \"hi\" && sleep 1")";
  c.root_fs_propagation = "rslave";
  auto node = test_node();
  node.netns_dir = "/run/netns-test";
  node.resolv_conf = "/run/contd/resolv.conf";
  check_golden(build_ok("ns3", c, node), "propagation.json");
}

TEST_CASE("the builder's defaults and edge cases", "[oci][spec]") {
  auto c = example_4_2();
  SECTION("a pids limit of 0 leaves the pids controller alone") {
    spec_defaults d;
    d.pids_limit = 0;
    auto spec = build_ok("ns1", c, test_node(), d);
    CHECK_FALSE(spec["linux"]["resources"].contains("pids"));
  }
  SECTION("memory 0 is the configured default, which really is 256 MiB") {
    c.memory = 0;
    CHECK(build_ok("ns1", c)["linux"]["resources"]["memory"]["limit"] == 268435456);
    spec_defaults d;
    d.memory = 512ULL << 20;
    CHECK(build_ok("ns1", c, test_node(), d)["linux"]["resources"]["memory"]["limit"] == 536870912);
  }
  SECTION("CPU 0 is one CPU") {
    c.cpu = 0;
    auto cpu = build_ok("ns1", c)["linux"]["resources"]["cpu"];
    CHECK(cpu == json{{"quota", 100000}, {"period", 100000}});
  }
  SECTION("a variable merely starting with PATH is not a PATH") {
    c.env = {"PATHS=/x"};
    auto env = build_ok("ns1", c)["process"]["env"];
    CHECK(env == json{"PATHS=/x", std::string{default_path_env}});
  }
  SECTION("the caller's PATH is kept and no default is added") {
    c.env = {"A=1", "PATH=/opt/bin"};
    CHECK(build_ok("ns1", c)["process"]["env"] == json{"A=1", "PATH=/opt/bin"});
  }
  SECTION("a configured coreX path is mounted") {
    c.interactive = true;
    auto node = test_node();
    node.corex_path = "/opt/corex-2.1.4";
    auto mounts = build_ok("ns1", c, node)["mounts"];
    CHECK(mounts.back()
          == json{{"destination", "/corex"},
                  {"type", "bind"},
                  {"source", "/opt/corex-2.1.4"},
                  {"options", {"rbind", "ro"}}});
  }
  SECTION("an unterminated quote is refused with shlex's reason") {
    c.entrypoint = "/bin/sh -c 'echo";
    auto spec = build_spec("ns1", c, test_node(), {});
    REQUIRE_FALSE(spec.ok());
    CHECK(spec.error()
          == R"(invalid Entrypoint "/bin/sh -c 'echo": EOF found when expecting closing quote)");
  }
  SECTION("an entrypoint that is only a comment is refused") {
    c.entrypoint = "  # nothing";
    auto spec = build_spec("ns1", c, test_node(), {});
    REQUIRE_FALSE(spec.ok());
    CHECK(spec.error() == R"(invalid Entrypoint "  # nothing": contains no command)");
  }
  SECTION("a memory limit beyond int64 cannot be expressed") {
    c.memory = ~0ULL;
    auto spec = build_spec("ns1", c, test_node(), {});
    REQUIRE_FALSE(spec.ok());
    CHECK(spec.error() == "invalid Memory 18446744073709551615: too large");
  }
  SECTION("the host name is the name, cut to the kernel's 64 characters") {
    c.name = std::string(64, 'h');
    CHECK(build_ok("ns1", c)["hostname"] == c.name);
    c.name = std::string(70, 'h') + "-tail";
    auto spec = build_ok("ns1", c);
    CHECK(spec["hostname"] == std::string(64, 'h'));
    CHECK(spec["linux"]["cgroupsPath"] == "/ns1/" + c.name); // the id itself is not cut
  }
  SECTION("the spec is a pure function of its inputs") {
    CHECK(build_ok("ns1", c) == build_ok("ns1", c));
  }
}

TEST_CASE("the stored request round-trips every field", "[oci][spec]") {
  container c;
  c.name = "all.fields";
  c.root_fs = "/mnt/all";
  c.env = {"A=1", "B=two words", "C=", "UNICODE=\xC3\xA9\xE2\x82\xAC"};
  c.working_dir = "/w";
  c.network.ns = "n-all";
  c.mounts = {
    {"/a", "/b", "bind", {"ro", "rslave"}}, {"", "/t", "tmpfs", {"size=1m"}}, {"/c", "/d", "", {}}};
  c.entrypoint = R"(/bin/x "a b" 'c' \d # e)";
  c.interactive = true;
  c.cpu = 3;
  c.memory = 0xFFFF'FFFF'FFFF'FFFFULL; // uint64 must survive JSON exactly
  c.logs = {{"redis", {"redis://h/o", "redis://h:1/e"}}, {"other", {"", ""}}};
  c.stats = {{"redis", "redis://h/s"}};
  c.elevated = true;
  c.created_at = go_time{1700000000, 123456789};
  c.root_fs_propagation = "rprivate";
  c.shutdown_timeout = -5; // not valid for Run, but the codec must not care
  c.has_state = true;
  c.state = container_state{
    container_status::running, 42,       137, go_time{1700000001, 1}, true, true, 4, 1,
    go_time{1700000002, 3},    "backoff"};
  c.restart = restart_policy{"on-failure", 2, 1000};
  auto text = request_to_json(c);
  auto back = request_from_json(text);
  INFO(text << " → " << back.error());
  REQUIRE(back.ok());
  CHECK(*back == c);

  container zero;
  auto zero_back = request_from_json(request_to_json(zero));
  REQUIRE(zero_back.ok());
  CHECK(*zero_back == zero);
}

// The stored request is compared with the one a reconcile would store (same_spec), so its bytes
// must not change between versions of contd: these are the bytes an earlier contd stored.
TEST_CASE("the stored request keeps the bytes earlier versions stored", "[oci][spec]") {
  container c;
  c.name = "all.fields";
  c.root_fs = "/mnt/all";
  c.env = {"A=1", "B=two words", "C="};
  c.working_dir = "/w";
  c.network.ns = "n-all";
  c.mounts = {{"/a", "/b", "bind", {"ro", "rslave"}}, {"/c", "/d", "", {}}};
  c.entrypoint = R"(/bin/x "a b")";
  c.interactive = true;
  c.cpu = 3;
  c.memory = 0xFFFF'FFFF'FFFF'FFFFULL;
  c.logs = {{"redis", {"redis://h/o", "redis://h:1/e"}}};
  c.stats = {{"redis", "redis://h/s"}};
  c.elevated = true;
  c.created_at = go_time{1700000000, 123456789};
  c.root_fs_propagation = "rprivate";
  c.shutdown_timeout = 5;
  c.restart = restart_policy{"on-failure", 2, 1000};
  CHECK(
    request_to_json(c)
    == R"({"CPU":3,"CreatedAt":{"Nanos":123456789,"Seconds":1700000000},"Elevated":true,"Entrypoint":"/bin/x \"a b\"","Env":["A=1","B=two words","C="],"Interactive":true,"Logs":[{"Data":{"Stderr":"redis://h:1/e","Stdout":"redis://h/o"},"Type":"redis"}],"Memory":18446744073709551615,"Mounts":[{"Options":["ro","rslave"],"Source":"/a","Target":"/b","Type":"bind"},{"Options":[],"Source":"/c","Target":"/d","Type":""}],"Name":"all.fields","Network":{"Namespace":"n-all"},"RestartPolicy":{"MaxRestarts":2,"Name":"on-failure","Window":1000},"RootFS":"/mnt/all","RootFsPropagation":"rprivate","ShutdownTimeout":5,"Stats":[{"Endpoint":"redis://h/s","Type":"redis"}],"WorkingDir":"/w"})");
  CHECK(
    request_to_json(container{})
    == R"({"CPU":0,"CreatedAt":{"Nanos":0,"Seconds":-62135596800},"Elevated":false,"Entrypoint":"","Env":[],"Interactive":false,"Logs":[],"Memory":0,"Mounts":[],"Name":"","Network":{"Namespace":""},"RootFS":"","RootFsPropagation":"","ShutdownTimeout":0,"Stats":[],"WorkingDir":""})");
}

TEST_CASE("a stored State reads OOMKilled and the older spelling OomKilled", "[oci][spec]") {
  auto now = request_from_json(R"({"State": {"Status": "stopped", "OOMKilled": true}})");
  REQUIRE(now.ok());
  CHECK(now->has_state);
  CHECK(now->state.oom_killed);
  auto before = request_from_json(R"({"State": {"Status": "stopped", "OomKilled": true}})");
  REQUIRE(before.ok());
  CHECK(before->state.oom_killed);
  container c;
  c.has_state = true;
  c.state.oom_killed = true;
  auto text = request_to_json(c);
  CHECK(text.find("\"OOMKilled\":true") != std::string::npos);
  CHECK(text.find("OomKilled") == std::string::npos);
}

TEST_CASE("the stored request rejects malformed JSON and wrong types", "[oci][spec]") {
  CHECK(request_from_json("{}").ok()); // every key is optional
  CHECK(request_from_json(R"({"Unknown": 1})").ok());
  auto missing = request_from_json(R"({"Name": "x"})");
  REQUIRE(missing.ok());
  CHECK(missing->name == "x");
  CHECK(missing->created_at.is_zero());

  const std::vector<std::pair<std::string, std::string>> bad = {
    {"not json", "stored request is not valid JSON"},
    {"[]", "stored request is malformed: the stored request must be an object"},
    {R"({"Name": 1})", "stored request is malformed: Name must be a string"},
    {R"({"Memory": -1})", "stored request is malformed: Memory must be an unsigned integer"},
    {R"({"Memory": 1.5})", "stored request is malformed: Memory must be an unsigned integer"},
    {R"({"CPU": "1"})", "stored request is malformed: CPU must be an unsigned integer"},
    {R"({"Env": "A=1"})", "stored request is malformed: Env must be an array"},
    {R"({"Env": [1]})", "stored request is malformed: Env[0] must be a string"},
    {R"({"Interactive": 1})", "stored request is malformed: Interactive must be a boolean"},
    {R"({"ShutdownTimeout": 9223372036854775808})",
     "stored request is malformed: ShutdownTimeout must be an integer in range"},
    {R"({"Mounts": [1]})", "stored request is malformed: Mounts[0] must be an object"},
    {R"({"CreatedAt": {"Seconds": 1}})",
     R"(stored request is malformed: a time must be {"Seconds": int, "Nanos": 0..999999999})"},
    {R"({"CreatedAt": {"Seconds": 1, "Nanos": 1000000000}})",
     R"(stored request is malformed: a time must be {"Seconds": int, "Nanos": 0..999999999})"},
    {R"({"State": {"Pid": 4294967296}})", "stored request is malformed: State.Pid is out of range"},
  };
  for (const auto& [text, why] : bad) {
    INFO(text);
    auto got = request_from_json(text);
    REQUIRE_FALSE(got.ok());
    CHECK(got.error() == why);
  }
}

TEST_CASE("Inspect can read the request back from the spec, after defaults", "[oci][spec]") {
  auto c = example_4_2();
  c.memory = 0;
  c.cpu = 0;
  c.shutdown_timeout = 0;
  c.created_at = go_time{1, 2};
  auto spec = build_ok("ns1", c);
  auto back = request_from_spec(spec);
  REQUIRE(back.ok());
  auto expected = c;
  expected.memory = 268435456;
  expected.cpu = 1;
  expected.shutdown_timeout = 3'000'000'000;
  expected.created_at = go_time{};
  CHECK(*back == expected);
  CHECK(*back == apply_defaults(c, spec_defaults{}));
  CHECK(spec["annotations"]["shutdown_timeout"] == "3000000000");

  CHECK(request_from_spec(json::object()).error() == "the spec has no annotations");
  CHECK(request_from_spec(json{{"annotations", json::object()}}).error()
        == "the spec has no contd.request annotation");
}

TEST_CASE("an exec process inherits the container's process settings", "[oci][spec]") {
  auto c = example_4_2();
  c.env = {"A=1"};
  c.working_dir = "/srv";
  auto spec = build_ok("ns1", c);
  auto proc = exec_process_from_text(spec.dump(), {"/bin/ls", "-l"});
  REQUIRE(proc.ok());
  const auto& p = *proc;
  CHECK(p["args"] == json{"/bin/ls", "-l"});
  CHECK(p["env"] == json{"A=1", std::string{default_path_env}});
  CHECK(p["cwd"] == "/srv");
  CHECK(p["user"] == json{{"uid", 0}, {"gid", 0}});
  CHECK(p["capabilities"] == spec["process"]["capabilities"]);
  CHECK(p["capabilities"]["effective"].back() == "CAP_SYS_ADMIN");
  CHECK(p["rlimits"] == spec["process"]["rlimits"]);
  CHECK(p["noNewPrivileges"] == true);
  CHECK(p["terminal"] == false);

  CHECK(exec_process(spec, {}).error() == "exec needs at least one argument");
  CHECK(exec_process(json::object(), {"/bin/true"}).error()
        == "the container's spec has no process");
  CHECK(exec_process_from_text("{", {"/bin/true"}).error()
        == "the container's spec is not a JSON object");
  // A spec without cwd/user still gives a runnable process.
  auto minimal = exec_process(json{{"process", json::object()}}, {"/bin/true"});
  REQUIRE(minimal.ok());
  CHECK((*minimal)["cwd"] == "/");
  CHECK((*minimal)["user"] == json{{"uid", 0}, {"gid", 0}});
}

TEST_CASE("node facts come from /proc/meminfo and the affinity mask", "[oci][node]") {
  CHECK(parse_meminfo_total("MemTotal:       24684092 kB\nMemFree: 1 kB\n")
        == uint64_t{24684092} * 1024);
  CHECK(parse_meminfo_total("MemFree: 1 kB\nMemTotal: 2048 kB") == uint64_t{2048} * 1024);
  CHECK_FALSE(parse_meminfo_total("MemFree: 1 kB\n").has_value());
  CHECK_FALSE(parse_meminfo_total("MemTotal: lots kB\n").has_value());
  CHECK_FALSE(parse_meminfo_total("MemTotal: 99999999999999999999 kB\n").has_value());
  auto node = discover_node_facts();
  CHECK(node.cpu_count >= 1);
  CHECK(node.memory_bytes > 0);
  CHECK(node.netns_dir == "/var/run/netns");
  CHECK(node.corex_path == "/usr/bin/corex");
}
