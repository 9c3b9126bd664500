// Every validation rule of a Run request, with the exact sentence the caller receives. Paths are
// real: a temp directory holds the rootfs, the netns directory and the mount sources.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "src/oci/validate.hpp"

namespace fs = std::filesystem;
using namespace contd;
using namespace contd::oci;

namespace {

// A scratch tree removed on destruction, also when a REQUIRE fails.
struct scratch {
  fs::path root;
  scratch() {
    std::string tmpl = (fs::temp_directory_path() / "contd-oci-validate-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    root = tmpl;
    fs::create_directories(root / "rootfs");
    fs::create_directories(root / "netns");
    fs::create_directories(root / "data");
    std::ofstream{root / "netns" / "n1"} << "";
    std::ofstream{root / "file"} << "x";
    fs::create_directories(root / "netns" / "a-dir");
  }
  ~scratch() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  std::string path(const char* rel) const { return (root / rel).string(); }
};

struct fixture {
  scratch tmp;
  node_facts node;
  container c;

  fixture() {
    node.cpu_count = 2;
    node.memory_bytes = 1ULL << 30;
    node.netns_dir = tmp.path("netns");
    c.name = "c1";
    c.root_fs = tmp.path("rootfs");
    c.env = {"A=1"};
    c.network.ns = "n1";
    c.entrypoint = "/bin/sh -c 'sleep 1'";
    c.mounts = {{tmp.path("data"), "/data", "", {}}};
  }

  std::optional<std::string> run(const std::string& ns = "ns1") { return validate(ns, c, node); }
};

struct rule {
  const char* name;
  std::function<void(fixture&)> change;
  std::string message; // "{tmp}" is replaced by the scratch directory
};

std::string expand(std::string text, const fixture& f) {
  const std::string key = "{tmp}";
  for (auto at = text.find(key); at != std::string::npos; at = text.find(key))
    text.replace(at, key.size(), f.tmp.root.string());
  return text;
}

const std::string id_rule = "must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$";

} // namespace

TEST_CASE("a complete, sane request passes", "[oci][validate]") {
  fixture f;
  CHECK(f.run() == std::nullopt);
  f.c.mounts.push_back({f.tmp.path("file"), "/etc/some.conf", "bind", {"ro", "rslave", "nosuid"}});
  f.c.mounts.push_back({"", "/tmp", "tmpfs", {"size=64m", "mode=1777", "nodev", "noexec"}});
  f.c.mounts.push_back({"tmpfs", "/scratch", "tmpfs", {"size=1g"}});
  f.c.mounts.push_back({f.tmp.path("data"), "/flat", "bind", {"bind", "rw", "private"}});
  f.c.memory = 4 * 1024 * 1024;
  f.c.cpu = 2;
  f.c.root_fs_propagation = "rshared";
  f.c.shutdown_timeout = 3600LL * 1'000'000'000;
  f.c.working_dir = "/srv";
  f.c.logs = {{"redis", {"redis://10.0.0.1:6379/out", ""}}};
  f.c.stats = {{"redis", "redis://[fd00::1]/stats"}};
  f.c.elevated = true;
  CHECK(f.run() == std::nullopt);
  f.c.interactive = true;
  f.c.entrypoint = "";
  CHECK(f.run() == std::nullopt);
}

TEST_CASE("every rule refuses with a sentence naming the field and the value", "[oci][validate]") {
  const std::vector<rule> rules = {
    // Name and namespace: containerd's identifier rule
    {"empty name", [](fixture& f) { f.c.name = ""; }, R"(invalid Name "": must not be empty)"},
    {"name with space", [](fixture& f) { f.c.name = "a b"; }, R"(invalid Name "a b": )" + id_rule},
    {"name with slash", [](fixture& f) { f.c.name = "../x"; },
     R"(invalid Name "../x": )" + id_rule},
    {"name leading separator", [](fixture& f) { f.c.name = "-a"; },
     R"(invalid Name "-a": )" + id_rule},
    {"name trailing separator", [](fixture& f) { f.c.name = "a."; },
     R"(invalid Name "a.": )" + id_rule},
    {"name double separator", [](fixture& f) { f.c.name = "a..b"; },
     R"(invalid Name "a..b": )" + id_rule},
    {"name too long", [](fixture& f) { f.c.name = std::string(77, 'a'); },
     "invalid Name \"" + std::string(77, 'a') + "\": longer than the maximum of 76 characters"},
    // RootFS
    {"empty rootfs", [](fixture& f) { f.c.root_fs = ""; },
     R"(invalid RootFS "": must not be empty)"},
    {"relative rootfs", [](fixture& f) { f.c.root_fs = "mnt/x"; },
     R"(invalid RootFS "mnt/x": must be an absolute path)"},
    {"host root", [](fixture& f) { f.c.root_fs = "//"; },
     R"(invalid RootFS "//": must not be the host's root directory)"},
    {"missing rootfs", [](fixture& f) { f.c.root_fs = f.tmp.path("nope"); },
     R"(invalid RootFS "{tmp}/nope": no such directory)"},
    {"rootfs is a file", [](fixture& f) { f.c.root_fs = f.tmp.path("file"); },
     R"(invalid RootFS "{tmp}/file": not a directory)"},
    // Env
    {"env without =",
     [](fixture& f) {
       f.c.env = {"A=1", "FOO"};
     },
     R"(invalid Env[1] "FOO": must have the form KEY=VALUE)"},
    {"env empty key", [](fixture& f) { f.c.env = {"=x"}; },
     R"(invalid Env[0] "=x": the key before '=' must not be empty)"},
    {"env with NUL",
     [](fixture& f) {
       f.c.env = {std::string{"A=\0b", 4}};
     },
     R"(invalid Env[0] "A=\x00b": contains a NUL byte)"},
    {"env invalid UTF-8", [](fixture& f) { f.c.env = {"A=\xFF"}; },
     R"(invalid Env[0] "A=\xff": is not valid UTF-8)"},
    {"env entry too long", [](fixture& f) { f.c.env = {"A=" + std::string(32 * 1024, 'x')}; },
     "invalid Env[0] \"A=" + std::string(126, 'x')
       + "\"... (32770 bytes): longer than 32768 bytes"},
    // WorkingDir
    {"relative working dir", [](fixture& f) { f.c.working_dir = "srv"; },
     R"(invalid WorkingDir "srv": must be an absolute path)"},
    // Entrypoint
    {"empty entrypoint", [](fixture& f) { f.c.entrypoint = ""; },
     R"(invalid Entrypoint "": contains no command)"},
    {"blank entrypoint", [](fixture& f) { f.c.entrypoint = " \t\n"; },
     R"(invalid Entrypoint " \t\n": contains no command)"},
    {"comment-only entrypoint", [](fixture& f) { f.c.entrypoint = "# x"; },
     R"(invalid Entrypoint "# x": contains no command)"},
    {"unterminated quote", [](fixture& f) { f.c.entrypoint = R"(/bin/sh -c "echo)"; },
     R"(invalid Entrypoint "/bin/sh -c \"echo": EOF found when expecting closing quote)"},
    {"trailing backslash", [](fixture& f) { f.c.entrypoint = R"(/bin/x \)"; },
     R"(invalid Entrypoint "/bin/x \\": EOF found after escape character)"},
    {"NUL in entrypoint",
     [](fixture& f) {
       f.c.entrypoint = std::string{"/bin/x\0", 7};
     },
     R"(invalid Entrypoint "/bin/x\x00": contains a NUL byte)"},
    {"invalid UTF-8 in entrypoint", [](fixture& f) { f.c.entrypoint = "/bin/\xC0\xAF"; },
     R"(invalid Entrypoint "/bin/\xc0\xaf": is not valid UTF-8)"},
    // Network.Namespace
    {"no netns", [](fixture& f) { f.c.network.ns = ""; },
     R"(invalid Network.Namespace "": a network namespace is required)"},
    {"netns with slash", [](fixture& f) { f.c.network.ns = "../n1"; },
     R"(invalid Network.Namespace "../n1": must be a plain name of letters, digits, '.', '_' and '-' starting with a letter or digit)"},
    {"netns dot-dot", [](fixture& f) { f.c.network.ns = ".."; },
     R"(invalid Network.Namespace "..": must be a plain name of letters, digits, '.', '_' and '-' starting with a letter or digit)"},
    {"netns absolute", [](fixture& f) { f.c.network.ns = "/proc/1/ns/net"; },
     R"(invalid Network.Namespace "/proc/1/ns/net": must be a plain name of letters, digits, '.', '_' and '-' starting with a letter or digit)"},
    {"netns missing", [](fixture& f) { f.c.network.ns = "n2"; },
     R"(invalid Network.Namespace "n2": no such network namespace in {tmp}/netns)"},
    {"netns is a directory", [](fixture& f) { f.c.network.ns = "a-dir"; },
     R"(invalid Network.Namespace "a-dir": {tmp}/netns/a-dir is a directory)"},
    // Mounts
    {"unknown mount type", [](fixture& f) { f.c.mounts[0].type = "nfs"; },
     R"(invalid Mounts[0].Type "nfs": must be bind, rbind or tmpfs (or empty for rbind))"},
    {"relative target", [](fixture& f) { f.c.mounts[0].target = "data"; },
     R"(invalid Mounts[0].Target "data": must be an absolute path)"},
    {"empty target", [](fixture& f) { f.c.mounts[0].target = ""; },
     R"(invalid Mounts[0].Target "": must be an absolute path)"},
    {"target with ..", [](fixture& f) { f.c.mounts[0].target = "/data/../etc"; },
     R"(invalid Mounts[0].Target "/data/../etc": must be normalised (no empty, '.' or '..' component, no trailing '/'))"},
    {"target with //", [](fixture& f) { f.c.mounts[0].target = "/data//x"; },
     R"(invalid Mounts[0].Target "/data//x": must be normalised (no empty, '.' or '..' component, no trailing '/'))"},
    {"target with trailing /", [](fixture& f) { f.c.mounts[0].target = "/data/"; },
     R"(invalid Mounts[0].Target "/data/": must be normalised (no empty, '.' or '..' component, no trailing '/'))"},
    {"target with .", [](fixture& f) { f.c.mounts[0].target = "/./data"; },
     R"(invalid Mounts[0].Target "/./data": must be normalised (no empty, '.' or '..' component, no trailing '/'))"},
    {"target is root", [](fixture& f) { f.c.mounts[0].target = "/"; },
     R"(invalid Mounts[0].Target "/": cannot mount over the container's root)"},
    {"duplicate target",
     [](fixture& f) {
       f.c.mounts.push_back({f.tmp.path("file"), "/data", "", {}});
     },
     R"(invalid Mounts[1].Target "/data": used by another mount)"},
    {"relative bind source", [](fixture& f) { f.c.mounts[0].source = "data"; },
     R"(invalid Mounts[0].Source "data": must be an absolute path)"},
    {"empty bind source", [](fixture& f) { f.c.mounts[0].source = ""; },
     R"(invalid Mounts[0].Source "": must be an absolute path)"},
    {"missing bind source", [](fixture& f) { f.c.mounts[0].source = f.tmp.path("gone"); },
     R"(invalid Mounts[0].Source "{tmp}/gone": no such file or directory)"},
    {"tmpfs with a source", [](fixture& f) { f.c.mounts[0].type = "tmpfs"; },
     R"(invalid Mounts[0].Source "{tmp}/data": a tmpfs mount takes no source (or "tmpfs"))"},
    {"unknown bind option",
     [](fixture& f) {
       f.c.mounts[0].options = {"ro", "suid"};
     },
     R"(invalid Mounts[0].Options "suid": unknown bind option (known: bind, rbind, ro, rw, private, rprivate, shared, rshared, slave, rslave, nosuid, nodev, noexec))"},
    {"tmpfs option on a bind", [](fixture& f) { f.c.mounts[0].options = {"size=1m"}; },
     R"(invalid Mounts[0].Options "size=1m": unknown bind option (known: bind, rbind, ro, rw, private, rprivate, shared, rshared, slave, rslave, nosuid, nodev, noexec))"},
    {"ro and rw",
     [](fixture& f) {
       f.c.mounts[0].options = {"ro", "rw"};
     },
     "invalid Mounts[0].Options: ro and rw exclude each other"},
    {"bind and rbind",
     [](fixture& f) {
       f.c.mounts[0].options = {"bind", "rbind"};
     },
     "invalid Mounts[0].Options: bind and rbind exclude each other"},
    {"bind option on an rbind",
     [](fixture& f) {
       f.c.mounts[0].type = "rbind";
       f.c.mounts[0].options = {"bind"};
     },
     "invalid Mounts[0].Options: option bind contradicts Type rbind"},
    {"two propagations",
     [](fixture& f) {
       f.c.mounts[0].options = {"slave", "shared"};
     },
     "invalid Mounts[0].Options: at most one propagation option"},
    {"repeated option",
     [](fixture& f) {
       f.c.mounts[0].options = {"ro", "ro"};
     },
     R"(invalid Mounts[0].Options "ro": given twice)"},
    {"tmpfs bad size",
     [](fixture& f) {
       f.c.mounts = {{"", "/tmp", "tmpfs", {"size=lots"}}};
     },
     R"(invalid Mounts[0].Options "size=lots": size must be a positive number with an optional k, m or g)"},
    {"tmpfs zero size",
     [](fixture& f) {
       f.c.mounts = {{"", "/tmp", "tmpfs", {"size=0"}}};
     },
     R"(invalid Mounts[0].Options "size=0": size must be a positive number with an optional k, m or g)"},
    {"tmpfs percent size",
     [](fixture& f) {
       f.c.mounts = {{"", "/tmp", "tmpfs", {"size=50%"}}};
     },
     R"(invalid Mounts[0].Options "size=50%": size must be a positive number with an optional k, m or g)"},
    {"tmpfs bad mode",
     [](fixture& f) {
       f.c.mounts = {{"", "/tmp", "tmpfs", {"mode=0999"}}};
     },
     R"(invalid Mounts[0].Options "mode=0999": mode must be octal, e.g. mode=1777)"},
    {"tmpfs unknown option",
     [](fixture& f) {
       f.c.mounts = {{"", "/tmp", "tmpfs", {"uid=0"}}};
     },
     R"(invalid Mounts[0].Options "uid=0": unknown tmpfs option (known: size=N[k|m|g], mode=OCTAL, ro, rw, nosuid, nodev, noexec))"},
    {"tmpfs propagation",
     [](fixture& f) {
       f.c.mounts = {{"", "/tmp", "tmpfs", {"rshared"}}};
     },
     R"(invalid Mounts[0].Options "rshared": unknown tmpfs option (known: size=N[k|m|g], mode=OCTAL, ro, rw, nosuid, nodev, noexec))"},
    {"tmpfs two sizes",
     [](fixture& f) {
       f.c.mounts = {{"", "/tmp", "tmpfs", {"size=1m", "size=2m"}}};
     },
     "invalid Mounts[0].Options: size and mode may be given once"},
    // Memory and CPU
    {"memory below 4 MiB", [](fixture& f) { f.c.memory = 4 * 1024 * 1024 - 1; },
     "invalid Memory 4194303: must be 0 (the default) or at least 4194304 bytes (4 MiB)"},
    {"memory of 1024 bytes", [](fixture& f) { f.c.memory = 1024; },
     "invalid Memory 1024: must be 0 (the default) or at least 4194304 bytes (4 MiB)"},
    {"memory above the node", [](fixture& f) { f.c.memory = (1ULL << 30) + 1; },
     "invalid Memory 1073741825: more than the node's 1073741824 bytes of memory"},
    {"CPU above the node", [](fixture& f) { f.c.cpu = 3; },
     "invalid CPU 3: the node has only 2 CPUs"},
    {"CPU on a one-CPU node",
     [](fixture& f) {
       f.node.cpu_count = 1;
       f.c.cpu = 2;
     },
     "invalid CPU 2: the node has only 1 CPU"},
    // RootFsPropagation
    {"unknown propagation", [](fixture& f) { f.c.root_fs_propagation = "unbindable"; },
     R"(invalid RootFsPropagation "unbindable": must be one of private, rprivate, shared, rshared, slave, rslave (or empty))"},
    // ShutdownTimeout
    {"negative timeout", [](fixture& f) { f.c.shutdown_timeout = -1; },
     "invalid ShutdownTimeout -1ns: must be between 0 (the default, 3 s) and 1 h"},
    {"timeout above 1 h", [](fixture& f) { f.c.shutdown_timeout = 3600LL * 1'000'000'000 + 1; },
     "invalid ShutdownTimeout 3600000000001ns: must be between 0 (the default, 3 s) and 1 h"},
    // RestartPolicy
    {"unknown restart policy", [](fixture& f) { f.c.restart.name = "sometimes"; },
     R"(invalid RestartPolicy.Name "sometimes": must be one of always, on-failure, no (or empty: always))"},
    {"restart policy in another case", [](fixture& f) { f.c.restart.name = "Always"; },
     R"(invalid RestartPolicy.Name "Always": must be one of always, on-failure, no (or empty: always))"},
    {"too many restarts", [](fixture& f) { f.c.restart.max_restarts = 1001; },
     "invalid RestartPolicy.MaxRestarts 1001: must be between 0 (the default, 3) and 1000"},
    {"negative window", [](fixture& f) { f.c.restart.window = -1; },
     "invalid RestartPolicy.Window -1ns: must be between 0 (the default, 60 s) and 24 h"},
    {"window above 24 h", [](fixture& f) { f.c.restart.window = 86400LL * 1'000'000'000 + 1; },
     "invalid RestartPolicy.Window 86400000000001ns: must be between 0 (the default, 60 s) and 24 "
     "h"},
    // Logs and Stats
    {"log type",
     [](fixture& f) {
       f.c.logs = {{"file", {"redis://h/c", ""}}};
     },
     R"(invalid Logs[0].Type "file": must be redis)"},
    {"log without URLs",
     [](fixture& f) {
       f.c.logs = {{"redis", {"", ""}}};
     },
     "invalid Logs[0].Data: at least one of Stdout and Stderr must be a redis:// URL"},
    {"log scheme",
     [](fixture& f) {
       f.c.logs = {{"redis", {"http://h/c", ""}}};
     },
     R"(invalid Logs[0].Data.Stdout "http://h/c": scheme must be redis://, expected redis://host[:port]/channel)"},
    {"log missing channel",
     [](fixture& f) {
       f.c.logs = {{"redis", {"", "redis://h"}}};
     },
     R"(invalid Logs[0].Data.Stderr "redis://h": missing channel name, expected redis://host[:port]/channel)"},
    {"log empty channel",
     [](fixture& f) {
       f.c.logs = {{"redis", {"", "redis://h:6379/"}}};
     },
     R"(invalid Logs[0].Data.Stderr "redis://h:6379/": missing channel name, expected redis://host[:port]/channel)"},
    {"stats type",
     [](fixture& f) {
       f.c.stats = {{"", "redis://h/c"}};
     },
     R"(invalid Stats[0].Type "": must be redis)"},
    {"stats missing host",
     [](fixture& f) {
       f.c.stats = {{"redis", "redis:///c"}};
     },
     R"(invalid Stats[0].Endpoint "redis:///c": missing host, expected redis://host[:port]/channel)"},
    {"stats bad port",
     [](fixture& f) {
       f.c.stats = {{"redis", "redis://h:99999/c"}};
     },
     R"(invalid Stats[0].Endpoint "redis://h:99999/c": port must be a number from 1 to 65535)"},
    {"stats port zero",
     [](fixture& f) {
       f.c.stats = {{"redis", "redis://h:0/c"}};
     },
     R"(invalid Stats[0].Endpoint "redis://h:0/c": port must be a number from 1 to 65535)"},
    {"stats empty port",
     [](fixture& f) {
       f.c.stats = {{"redis", "redis://h:/c"}};
     },
     R"(invalid Stats[0].Endpoint "redis://h:/c": empty port, expected redis://host[:port]/channel)"},
    {"stats user info",
     [](fixture& f) {
       f.c.stats = {{"redis", "redis://u:p@h/c"}};
     },
     R"(invalid Stats[0].Endpoint "redis://u:p@h/c": user information is not supported, expected redis://host[:port]/channel)"},
    {"stats bad host",
     [](fixture& f) {
       f.c.stats = {{"redis", "redis://h st/c"}};
     },
     R"(invalid Stats[0].Endpoint "redis://h st/c": bad character in the host name, expected redis://host[:port]/channel)"},
    {"stats bad IPv6",
     [](fixture& f) {
       f.c.stats = {{"redis", "redis://[fd00::g]/c"}};
     },
     R"(invalid Stats[0].Endpoint "redis://[fd00::g]/c": bad IPv6 address, expected redis://host[:port]/channel)"},
    {"stats open IPv6",
     [](fixture& f) {
       f.c.stats = {{"redis", "redis://[fd00::1/c"}};
     },
     R"(invalid Stats[0].Endpoint "redis://[fd00::1/c": unterminated IPv6 address, expected redis://host[:port]/channel)"},
    {"stats query",
     [](fixture& f) {
       f.c.stats = {{"redis", "redis://h/c?db=1"}};
     },
     R"(invalid Stats[0].Endpoint "redis://h/c?db=1": query and fragment are not supported, expected redis://host[:port]/channel)"},
    {"stats space in channel",
     [](fixture& f) {
       f.c.stats = {{"redis", "redis://h/a b"}};
     },
     R"(invalid Stats[0].Endpoint "redis://h/a b": the channel must not contain spaces or control characters)"},
  };
  for (const auto& r : rules) {
    fixture f;
    r.change(f);
    INFO("rule: " << r.name);
    auto got = f.run();
    REQUIRE(got.has_value());
    CHECK(*got == expand(r.message, f));
  }
}

TEST_CASE("the namespace follows the identifier rule too", "[oci][validate]") {
  fixture f;
  CHECK(f.run("") == R"(invalid namespace "": must not be empty)");
  CHECK(f.run("a/b") == R"(invalid namespace "a/b": )" + id_rule);
  CHECK(f.run(std::string(77, 'n'))
        == "invalid namespace \"" + std::string(77, 'n')
             + "\": longer than the maximum of 76 characters");
  CHECK(f.run(std::string(76, 'n')) == std::nullopt);
  CHECK(f.run("a.b_c-d") == std::nullopt);
}

TEST_CASE("an interactive request needs no entrypoint but everything else", "[oci][validate]") {
  fixture f;
  f.c.interactive = true;
  f.c.entrypoint = "'unterminated is not parsed";
  CHECK(f.run() == std::nullopt);
  f.c.network.ns = "";
  CHECK(f.run() == R"(invalid Network.Namespace "": a network namespace is required)");
}

TEST_CASE("URL forms the stats and log sinks accept", "[oci][validate]") {
  for (const char* url :
       {"redis://h/c", "redis://h:6379/c", "REDIS://h/c", "redis://10.1.2.3/c",
        "redis://[::1]:7000/c", "redis://my-host.example.org/a/b", "redis://h/ch\xC3\xA9"}) {
    INFO(url);
    CHECK(check_redis_url("Stats[0].Endpoint", url) == std::nullopt);
  }
}

TEST_CASE("normalised absolute paths", "[oci][validate]") {
  CHECK(is_normalised_absolute("/"));
  CHECK(is_normalised_absolute("/a"));
  CHECK(is_normalised_absolute("/a/b.c/..d"));
  CHECK_FALSE(is_normalised_absolute(""));
  CHECK_FALSE(is_normalised_absolute("a"));
  CHECK_FALSE(is_normalised_absolute("//"));
  CHECK_FALSE(is_normalised_absolute("/a/"));
  CHECK_FALSE(is_normalised_absolute("/a/./b"));
  CHECK_FALSE(is_normalised_absolute("/a/.."));
  CHECK_FALSE(is_normalised_absolute(std::string{"/a\0b", 4}));
}

TEST_CASE("hostile sizes are refused before any per-entry work", "[oci][validate]") {
  const std::vector<rule> rules = {
    {"too many env entries", [](fixture& f) { f.c.env.assign(1025, "A=1"); },
     "invalid Env: 1025 entries, at most 1024 allowed"},
    {"too many mounts",
     [](fixture& f) {
       f.c.mounts.assign(65, mount_info{f.tmp.path("data"), "/d", "", {}});
     },
     "invalid Mounts: 65 entries, at most 64 allowed"},
    {"too many mount options", [](fixture& f) { f.c.mounts[0].options.assign(17, "ro"); },
     "invalid Mounts[0].Options: 17 options, at most 16 allowed"},
    {"too many log sinks", [](fixture& f) { f.c.logs.assign(9, log_sink{}); },
     "invalid Logs: 9 entries, at most 8 allowed"},
    {"too many stats sinks", [](fixture& f) { f.c.stats.assign(9, stats_sink{}); },
     "invalid Stats: 9 entries, at most 8 allowed"},
    {"too much text in total",
     [](fixture& f) {
       f.c = container{}; // only the env counts, so the total is exact
       f.c.env.assign(1000, "A=" + std::string(2000, 'x'));
     },
     "invalid request: 2002000 bytes of text, at most 1048576 allowed"},
    {"entrypoint too long",
     [](fixture& f) { f.c.entrypoint = "/bin/x " + std::string(64 * 1024, 'a'); },
     "invalid Entrypoint \"/bin/x " + std::string(121, 'a')
       + "\"... (65543 bytes): longer than 65536 bytes"},
    {"mount target too long",
     [](fixture& f) { f.c.mounts[0].target = "/" + std::string(4096, 't'); },
     "invalid Mounts[0].Target \"/" + std::string(127, 't')
       + "\"... (4097 bytes): longer than 4096 bytes"},
    {"log URL too long",
     [](fixture& f) {
       f.c.logs = {{"redis", {"redis://h/" + std::string(2048, 'c'), ""}}};
     },
     "invalid Logs[0].Data.Stdout \"redis://h/" + std::string(118, 'c')
       + "\"... (2058 bytes): longer than 2048 bytes"},
  };
  for (const auto& r : rules) {
    fixture f;
    r.change(f);
    INFO("rule: " << r.name);
    auto got = f.run();
    REQUIRE(got.has_value());
    CHECK(*got == r.message);
  }
  // A megabyte of quotes and escapes is checked in well under a second.
  fixture f;
  f.c.entrypoint.clear();
  while (f.c.entrypoint.size() < 60 * 1024)
    f.c.entrypoint += "a\"b\\\"'c'\\ ";
  auto start = std::chrono::steady_clock::now();
  CHECK(f.run() == std::nullopt);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
}

TEST_CASE("values in messages are quoted, escaped and cut", "[oci][validate]") {
  CHECK(contd::oci::quoted("plain") == R"("plain")");
  CHECK(contd::oci::quoted("a\"b\\c") == R"("a\"b\\c")");
  CHECK(contd::oci::quoted("tab\there\nnl\r\x01\x7f") == R"("tab\there\nnl\r\x01\x7f")");
  CHECK(contd::oci::quoted("caf\xC3\xA9") == "\"caf\xC3\xA9\"");
  CHECK(contd::oci::quoted("bad\xFF") == R"("bad\xff")");
  CHECK(contd::oci::quoted(std::string(200, 'z'))
        == "\"" + std::string(128, 'z') + "\"... (200 bytes)");
  // A multi-byte character is never split by the cut.
  auto text = std::string(127, 'a') + "\xE2\x82\xAC" + "tail";
  CHECK(contd::oci::quoted(text) == "\"" + std::string(127, 'a') + "\xE2\x82\xAC\"... (134 bytes)");
}
