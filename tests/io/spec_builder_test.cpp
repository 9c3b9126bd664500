// The spec builder actor under the deterministic scheduler: a valid request gets the spec the
// pure function builds, an invalid one an invalid_argument error with the validator's sentence.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <caf/local_actor.hpp>
#include <nlohmann/json.hpp>

#include "actors/spec_builder.hpp"
#include "src/oci/spec.hpp"
#include "tests/deterministic_fixture.hpp"

namespace fs = std::filesystem;
using namespace contd;

namespace {

struct builder_fixture : test::deterministic_fixture<> {
  fs::path tmp;
  spec_builder_config config;
  spec_builder_actor builder;
  container c;

  builder_fixture() {
    std::string tmpl = (fs::temp_directory_path() / "contd-spec-builder-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    tmp = tmpl;
    fs::create_directories(tmp / "rootfs");
    fs::create_directories(tmp / "netns");
    std::ofstream{tmp / "netns" / "n1"} << "";
    config.node.cpu_count = 2;
    config.node.memory_bytes = 1ULL << 30;
    config.node.netns_dir = (tmp / "netns").string();
    config.defaults.pids_limit = 100;
    builder = sys.spawn(spec_builder, config);
    run();
    c.name = "c1";
    c.root_fs = (tmp / "rootfs").string();
    c.network.ns = "n1";
    c.entrypoint = "/bin/sh -c 'exit 0'";
  }

  ~builder_fixture() override {
    caf::anon_send_exit(builder, caf::exit_reason::user_shutdown);
    run();
    std::error_code ec;
    fs::remove_all(tmp, ec);
  }
};

} // namespace

TEST_CASE_METHOD(builder_fixture, "a valid request is answered with the built spec",
                 "[oci][spec_builder]") {
  auto reply = request<std::string>(builder, atom::build_v, std::string{"ns1"}, c, std::string{});
  REQUIRE(reply);
  auto spec = nlohmann::json::parse(*reply);
  auto direct = oci::build_spec("ns1", c, config.node, config.defaults);
  REQUIRE(direct.ok());
  CHECK(spec == *direct);
  CHECK(spec["linux"]["resources"]["pids"]["limit"] == 100); // the spawn-time defaults
  CHECK(spec["linux"]["namespaces"][4]["path"] == config.node.netns_dir + "/n1");
  CHECK(spec["process"]["args"] == nlohmann::json{"/bin/sh", "-c", "exit 0"});
  // The tenant's choice of shim group goes into the spec as the runc shim's annotation.
  auto grouped =
    request<std::string>(builder, atom::build_v, std::string{"ns1"}, c, std::string{"shim-1"});
  REQUIRE(grouped);
  CHECK(nlohmann::json::parse(*grouped)
        == *oci::build_spec("ns1", c, config.node, config.defaults, "shim-1"));
  CHECK(nlohmann::json::parse(*grouped)["annotations"][std::string{oci::annotation_shim_group}]
        == "shim-1");
}

TEST_CASE_METHOD(builder_fixture, "an invalid request is refused with the field and value",
                 "[oci][spec_builder]") {
  c.env = {"NOEQUALS"};
  auto reply = request<std::string>(builder, atom::build_v, std::string{"ns1"}, c, std::string{});
  REQUIRE_FALSE(reply);
  CHECK(reply.error() == errc::invalid_argument);
  CHECK(error_text(reply.error()) == R"(invalid Env[0] "NOEQUALS": must have the form KEY=VALUE)");

  c.env.clear();
  c.cpu = 3;
  reply = request<std::string>(builder, atom::build_v, std::string{"ns1"}, c, std::string{});
  REQUIRE_FALSE(reply);
  CHECK(reply.error() == errc::invalid_argument);
  CHECK(error_text(reply.error()) == "invalid CPU 3: the node has only 2 CPUs");

  c.cpu = 0;
  reply = request<std::string>(builder, atom::build_v, std::string{"bad ns"}, c, std::string{});
  REQUIRE_FALSE(reply);
  CHECK(error_text(reply.error())
        == R"(invalid namespace "bad ns": must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$)");
}

TEST_CASE_METHOD(builder_fixture, "the builder keeps serving after a refusal",
                 "[oci][spec_builder]") {
  auto bad = c;
  bad.entrypoint = "\"open";
  CHECK_FALSE(request<std::string>(builder, atom::build_v, std::string{"ns1"}, bad, std::string{}));
  CHECK(request<std::string>(builder, atom::build_v, std::string{"ns1"}, c, std::string{}));
  auto* local = dynamic_cast<caf::local_actor*>(caf::actor_cast<caf::abstract_actor*>(builder));
  REQUIRE(local != nullptr);
  CHECK(std::string{local->name()} == "contd.spec_builder");
}

TEST_CASE_METHOD(builder_fixture,
                 "a rootfs's .startup.toml fills what the request leaves empty, "
                 "the spec runs it, the stored request stays the caller's",
                 "[oci][spec_builder][startup]") {
  std::ofstream{tmp / "rootfs" / ".startup.toml"} << R"(
[startup.entry]
name = "core.system"
[startup.entry.args]
name = "/start"
args = ["extra", "argument with spaces", "with \"skip\"", 'C:\path']
dir = "/srv"
[startup.entry.args.env]
FROM_FILE = "1"
SHARED = "file"
)";
  c.entrypoint.clear();
  c.env = {"SHARED=caller", "ONLY_CALLER=x"};
  auto reply = request<std::string>(builder, atom::build_v, std::string{"ns1"}, c, std::string{});
  REQUIRE(reply);
  auto spec = nlohmann::json::parse(*reply);
  // Every argument intact (the original dropped the backslash of C:\path).
  CHECK(spec["process"]["args"]
        == nlohmann::json{"/start", "extra", "argument with spaces", "with \"skip\"", "C:\\path"});
  CHECK(spec["process"]["cwd"] == "/srv");
  // The caller's entries first (they win), then the file's other keys in key order (the PATH
  // default the spec adds is not part of this rule).
  std::vector<std::string> env;
  for (auto& e : spec["process"]["env"])
    if (e.get<std::string>().rfind("PATH=", 0) != 0)
      env.push_back(e.get<std::string>());
  CHECK(env == std::vector<std::string>{"SHARED=caller", "ONLY_CALLER=x", "FROM_FILE=1"});
  CHECK(std::find(env.begin(), env.end(), "SHARED=file") == env.end());
  auto stored = oci::request_from_spec(spec);
  REQUIRE(stored);
  CHECK(stored->entrypoint.empty());
  CHECK(stored->working_dir.empty());
  CHECK(stored->env == c.env);

  // What the caller sets wins over the file.
  c.entrypoint = "/bin/own";
  c.working_dir = "/own";
  reply = request<std::string>(builder, atom::build_v, std::string{"ns1"}, c, std::string{});
  REQUIRE(reply);
  spec = nlohmann::json::parse(*reply);
  CHECK(spec["process"]["args"] == nlohmann::json{"/bin/own"});
  CHECK(spec["process"]["cwd"] == "/own");
}

TEST_CASE_METHOD(builder_fixture,
                 "a malformed, huge, special or linked .startup.toml is refused "
                 "with its name",
                 "[oci][spec_builder][startup]") {
  auto file = tmp / "rootfs" / ".startup.toml";
  auto refused = [&](const std::string& part) {
    auto reply = request<std::string>(builder, atom::build_v, std::string{"ns1"}, c, std::string{});
    REQUIRE_FALSE(reply);
    CHECK(reply.error() == errc::invalid_argument);
    auto text = error_text(reply.error());
    INFO(text);
    CHECK(text.find(file.string()) != std::string::npos);
    CHECK(text.find(part) != std::string::npos);
  };
  std::ofstream{file} << "[startup.entry\nname = ";
  refused("line 1");
  std::ofstream{file} << "[startup.entry]\nname = 3\n";
  refused("startup.entry.name must be a string");
  std::ofstream{file} << "[startup.entry.args.env]\n\"A=B\" = \"x\"\n";
  refused("unusable key");
  fs::remove(file);
  std::ofstream{file} << "# " << std::string(100 * 1024, 'x') << "\n";
  refused("larger than");
  fs::remove(file);
  std::ofstream{tmp / "elsewhere.toml"} << "[startup.entry]\nname = \"core.system\"\n";
  fs::create_symlink(tmp / "elsewhere.toml", file);
  refused("symbolic link");
  fs::remove(file);
  REQUIRE(mkfifo(file.c_str(), 0600) == 0); // a blocking open would hang the builder
  refused("FIFO");
  fs::remove(file);
  fs::create_directory(file);
  refused("directory");
  fs::remove(file);
  // No file, or a file without [startup.entry]: the request as it is.
  CHECK(request<std::string>(builder, atom::build_v, std::string{"ns1"}, c, std::string{}));
  std::ofstream{file} << "[other]\nx = 1\n";
  CHECK(request<std::string>(builder, atom::build_v, std::string{"ns1"}, c, std::string{}));
}

TEST_CASE_METHOD(builder_fixture,
                 "core.base needs a program, core.system without one runs its "
                 "first argument",
                 "[oci][spec_builder][startup]") {
  auto file = tmp / "rootfs" / ".startup.toml";
  c.entrypoint.clear();
  std::ofstream{file} << "[startup.entry]\nname = \"core.base\"\n[startup.entry.args]\n"
                         "args = [\"/bin/x\"]\n";
  auto reply = request<std::string>(builder, atom::build_v, std::string{"ns1"}, c, std::string{});
  REQUIRE_FALSE(reply); // no entrypoint at all
  CHECK(error_text(reply.error()).find("Entrypoint") != std::string::npos);
  std::ofstream{file} << "[startup.entry]\nname = \"core.system\"\n[startup.entry.args]\n"
                         "args = [\"/bin/x\", \"-v\"]\n";
  reply = request<std::string>(builder, atom::build_v, std::string{"ns1"}, c, std::string{});
  REQUIRE(reply);
  CHECK(nlohmann::json::parse(*reply)["process"]["args"] == nlohmann::json{"/bin/x", "-v"});
}

TEST_CASE_METHOD(builder_fixture, "every spelling of the host's root is refused as RootFS",
                 "[oci][spec_builder]") {
  fs::create_symlink("/", tmp / "to-root");
  for (auto root : {std::string{"/tmp/.."}, std::string{"/."}, std::string{"//."},
                    (tmp / "to-root").string(), (tmp / "rootfs" / ".." / ".." / "..").string()}) {
    c.root_fs = root;
    auto reply = request<std::string>(builder, atom::build_v, std::string{"ns1"}, c, std::string{});
    INFO(root);
    REQUIRE_FALSE(reply);
    CHECK(error_text(reply.error()).find("host's root directory") != std::string::npos);
  }
  c.working_dir = "/srv/../etc";
  c.root_fs = (tmp / "rootfs").string();
  auto reply = request<std::string>(builder, atom::build_v, std::string{"ns1"}, c, std::string{});
  REQUIRE_FALSE(reply);
  CHECK(error_text(reply.error()).find("'..'") != std::string::npos);
}

TEST_CASE_METHOD(builder_fixture, "a mount of the host's root is refused in every spelling",
                 "[oci][spec_builder]") {
  for (auto src : {std::string{"/"}, std::string{"/tmp/.."}, std::string{"/."}}) {
    c.mounts = {mount_info{src, "/host", "", {}}};
    auto reply = request<std::string>(builder, atom::build_v, std::string{"ns1"}, c, std::string{});
    INFO(src);
    REQUIRE_FALSE(reply);
    CHECK(error_text(reply.error()).find("Mounts[0].Source") != std::string::npos);
    CHECK(error_text(reply.error()).find("host's root directory") != std::string::npos);
  }
  c.mounts = {mount_info{tmp.string(), "/data", "", {}}};
  CHECK(request<std::string>(builder, atom::build_v, std::string{"ns1"}, c, std::string{}));
}
