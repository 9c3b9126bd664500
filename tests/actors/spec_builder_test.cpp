// The spec builder actor under the deterministic scheduler: a valid request gets the spec the
// pure function builds, an invalid one an invalid_argument error with the validator's sentence.
#include <catch2/catch.hpp>

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
  auto reply = request<std::string>(builder, atom::build_v, std::string{"ns1"}, c);
  REQUIRE(reply);
  auto spec = nlohmann::json::parse(*reply);
  auto direct = oci::build_spec("ns1", c, config.node, config.defaults);
  REQUIRE(direct.ok());
  CHECK(spec == *direct);
  CHECK(spec["linux"]["resources"]["pids"]["limit"] == 100); // the spawn-time defaults
  CHECK(spec["linux"]["namespaces"][4]["path"] == config.node.netns_dir + "/n1");
  CHECK(spec["process"]["args"] == nlohmann::json{"/bin/sh", "-c", "exit 0"});
}

TEST_CASE_METHOD(builder_fixture, "an invalid request is refused with the field and value",
                 "[oci][spec_builder]") {
  c.env = {"NOEQUALS"};
  auto reply = request<std::string>(builder, atom::build_v, std::string{"ns1"}, c);
  REQUIRE_FALSE(reply);
  CHECK(reply.error() == errc::invalid_argument);
  CHECK(error_text(reply.error()) == R"(invalid Env[0] "NOEQUALS": must have the form KEY=VALUE)");

  c.env.clear();
  c.cpu = 3;
  reply = request<std::string>(builder, atom::build_v, std::string{"ns1"}, c);
  REQUIRE_FALSE(reply);
  CHECK(reply.error() == errc::invalid_argument);
  CHECK(error_text(reply.error()) == "invalid CPU 3: the node has only 2 CPUs");

  c.cpu = 0;
  reply = request<std::string>(builder, atom::build_v, std::string{"bad ns"}, c);
  REQUIRE_FALSE(reply);
  CHECK(error_text(reply.error())
        == R"(invalid namespace "bad ns": must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$)");
}

TEST_CASE_METHOD(builder_fixture, "the builder keeps serving after a refusal",
                 "[oci][spec_builder]") {
  auto bad = c;
  bad.entrypoint = "\"open";
  CHECK_FALSE(request<std::string>(builder, atom::build_v, std::string{"ns1"}, bad));
  CHECK(request<std::string>(builder, atom::build_v, std::string{"ns1"}, c));
  auto* local = dynamic_cast<caf::local_actor*>(caf::actor_cast<caf::abstract_actor*>(builder));
  REQUIRE(local != nullptr);
  CHECK(std::string{local->name()} == "contd.spec_builder");
}
