// contd's command line: every flag spelling, the defaults, --config files and their precedence,
// and the error texts of bad input.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>

#include "src/contd/flags.hpp"

using namespace contd;

namespace {

using args = std::vector<std::string>;

/// Config files from memory: path -> text; any other path cannot be read.
flags::file_reader files(std::map<std::string, std::string> texts) {
  return [texts = std::move(texts)](const std::string& path) -> std::optional<std::string> {
    auto it = texts.find(path);
    if (it == texts.end())
      return std::nullopt;
    return it->second;
  };
}

flags::settings ok(const args& a, const flags::file_reader& read = files({})) {
  auto r = flags::parse(a, read);
  INFO(r.error());
  REQUIRE(r);
  return *r;
}

std::string error_of(const args& a, const flags::file_reader& read = files({})) {
  auto r = flags::parse(a, read);
  REQUIRE_FALSE(r);
  return r.error();
}

/// A file under the temporary directory, removed by the destructor.
struct temp_file {
  std::string path;
  explicit temp_file(const std::string& text) {
    std::string tmpl = (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
    tmpl += "/contd-flags-XXXXXX";
    int fd = ::mkstemp(tmpl.data());
    REQUIRE(fd >= 0);
    ::close(fd);
    path = tmpl;
    std::ofstream{path} << text;
  }
  ~temp_file() { std::remove(path.c_str()); }
};

} // namespace

TEST_CASE("no flags: the defaults", "[contd][flags]") {
  auto s = ok({});
  CHECK(s.broker.is_unix);
  CHECK(s.broker.path == "/var/run/redis.sock");
  CHECK(s.root == "/var/cache/modules/contd");
  CHECK(s.containerd == "/run/containerd/containerd.sock");
  CHECK(s.netns_dir == "/var/run/netns");
  CHECK(s.corex == "/usr/bin/corex");
  CHECK(s.max_inflight == 1024);
  CHECK(s.log_max_size == 10u << 20);
  CHECK(s.logger.empty());
  CHECK(s.log_level == "info");
  CHECK(s.log_format == "text");
  CHECK_FALSE(s.shim_per_container); // shims shared in groups
  CHECK(s.shim_group_size == 10);
  CHECK_FALSE(s.help);
  CHECK_FALSE(s.version);
}

TEST_CASE("the shim-per-container flag is a boolean: present, =true, =false or in the config file",
          "[contd][flags]") {
  CHECK(ok({"--shim-per-container"}).shim_per_container);
  CHECK(ok({"-shim-per-container", "--root", "/srv"}).root == "/srv"); // takes no value
  CHECK(ok({"--shim-per-container=true"}).shim_per_container);
  CHECK_FALSE(ok({"--shim-per-container=false"}).shim_per_container);
  CHECK_FALSE(
    ok({"--config", "f"}, files({{"f", "shim-per-container = false\n"}})).shim_per_container);
  CHECK(error_of({"--shim-per-container=yes"})
        == "--shim-per-container is true or false, not 'yes'");
  CHECK_FALSE(ok({"--config", "f", "--shim-per-container=false"},
                 files({{"f", "shim-per-container = true\n"}}))
                .shim_per_container); // the command line wins
}

TEST_CASE("the shim group size is a count from 1 to 1000", "[contd][flags]") {
  CHECK(ok({"--shim-group-size", "1"}).shim_group_size == 1);
  CHECK(ok({"--shim-group-size=1000"}).shim_group_size == 1000);
  CHECK(ok({"--config", "f"}, files({{"f", "shim-group-size = 4\n"}})).shim_group_size == 4);
  for (auto bad : {"0", "1001", "-3", "ten", "", "99999999999999999999"}) {
    INFO(bad);
    CHECK(error_of({"--shim-group-size", bad}) == "--shim-group-size must be between 1 and 1000");
  }
}

TEST_CASE("every spelling: -name value, --name value, -name=value, --name=value",
          "[contd][flags]") {
  for (auto a : {args{"-root", "/srv/a"}, args{"--root", "/srv/a"}, args{"-root=/srv/a"},
                 args{"--root=/srv/a"}}) {
    INFO(a[0]);
    CHECK(ok(a).root == "/srv/a");
  }
  // A value may itself contain '=' or start with '-' when it is the next argument.
  CHECK(ok({"--corex=/opt/a=b"}).corex == "/opt/a=b");
  CHECK(ok({"--netns-dir", "-odd"}).netns_dir == "-odd");
}

TEST_CASE("every flag reaches its setting", "[contd][flags]") {
  auto s = ok({"--broker",       "tcp://secret@redis.example:6380",
               "--root",         "/srv/contd",
               "--containerd",   "/run/c.sock",
               "--netns-dir",    "/run/netns",
               "--corex",        "/opt/corex",
               "--max-inflight", "7",
               "--log-max-size", "64K",
               "--logger",       "/opt/contd-logger",
               "--log-level",    "debug",
               "--log-format",   "json"});
  CHECK_FALSE(s.broker.is_unix);
  CHECK(s.broker.host == "redis.example");
  CHECK(s.broker.port == 6380);
  CHECK(s.broker.password == "secret");
  CHECK(s.root == "/srv/contd");
  CHECK(s.containerd == "/run/c.sock");
  CHECK(s.netns_dir == "/run/netns");
  CHECK(s.corex == "/opt/corex");
  CHECK(s.max_inflight == 7);
  CHECK(s.log_max_size == 64u << 10);
  CHECK(s.logger == "/opt/contd-logger");
  CHECK(s.log_level == "debug");
  CHECK(s.log_format == "json");
}

TEST_CASE("the last of a repeated flag wins", "[contd][flags]") {
  CHECK(ok({"--root", "/a", "-root=/b"}).root == "/b");
}

TEST_CASE("help and version stop parsing before anything is read or checked", "[contd][flags]") {
  for (auto a : {args{"--help"}, args{"-help"}, args{"-h"}, args{"--h"}}) {
    INFO(a[0]);
    CHECK(ok(a).help);
  }
  for (auto a : {args{"--version"}, args{"-version"}, args{"-v"}, args{"--v"}}) {
    INFO(a[0]);
    CHECK(ok(a).version);
  }
  // Values that would be refused, a config file that cannot be read: not looked at.
  auto s = ok({"--version", "--broker", "ftp://x", "--config", "/nonexistent"});
  CHECK(s.version);
  CHECK_FALSE(s.help);
  CHECK(ok({"--help", "--max-inflight=0"}).help);
  // Unknown flags are refused even so: the command line is read first.
  CHECK(error_of({"--help", "--bogus"}) == "unknown flag '--bogus'");
}

TEST_CASE("unknown flags, stray arguments and missing values", "[contd][flags]") {
  CHECK(error_of({"--bogus"}) == "unknown flag '--bogus'");
  CHECK(error_of({"-bogus=1"}) == "unknown flag '-bogus=1'");
  CHECK(error_of({"stray"}) == "unexpected argument 'stray'");
  CHECK(error_of({"-"}) == "unexpected argument '-'");
  CHECK(error_of({"--root", "/a", "stray"}) == "unexpected argument 'stray'");
  CHECK(error_of({"--broker"}) == "flag --broker needs a value");
  CHECK(error_of({"-config"}) == "flag --config needs a value");
}

TEST_CASE("bad values name the flag", "[contd][flags]") {
  CHECK(error_of({"--broker", "ftp://x"}) == "unknown scheme 'ftp' expecting tcp or unix");
  CHECK(error_of({"--broker", "nothing"})
        == "invalid broker URL 'nothing': expecting tcp:// or unix://");
  for (auto v : {"abc", "0", "", "1000001", "-1", "12abc", "99999999999"}) {
    INFO(v);
    CHECK(error_of({std::string{"--max-inflight="} + v})
          == "--max-inflight must be between 1 and 1000000");
  }
  CHECK(ok({"--max-inflight", "1000000"}).max_inflight == 1000000);
  CHECK(error_of({"--root", "relative/dir"}) == "--root must be an absolute path");
  CHECK(error_of({"--logger", "contd-logger"}) == "--logger must be an absolute path");
  CHECK(error_of({"--log-level", "loud"})
        == "bad --log-level 'loud': expecting trace, debug, info, warn, error, critical or off");
  CHECK(error_of({"--log-format", "xml"}) == "bad --log-format 'xml': expecting text or json");
}

TEST_CASE("log levels spdlog knows", "[contd][flags]") {
  for (auto level :
       {"trace", "debug", "info", "warn", "warning", "error", "err", "critical", "off"}) {
    INFO(level);
    CHECK(ok({"--log-level", level}).log_level == level);
  }
}

TEST_CASE("sizes: bytes or K, M, G in either case, from 64K to 1024G", "[contd][flags]") {
  CHECK(ok({"--log-max-size", "65536"}).log_max_size == 65536);
  CHECK(ok({"--log-max-size", "64k"}).log_max_size == 65536);
  CHECK(ok({"--log-max-size", "3m"}).log_max_size == 3u << 20);
  CHECK(ok({"--log-max-size", "2G"}).log_max_size == 2ull << 30);
  CHECK(ok({"--log-max-size", "1024G"}).log_max_size == 1ull << 40);
  for (auto v : {"63K", "65535", "1025G", "", "M", "10MB", "1.5M", "-1M", "10T", " 10M",
                 "99999999999999999999", "18014398509481984K"}) {
    INFO(v);
    CHECK(error_of({"--log-max-size", v}) == "--log-max-size must be a size from 64K to 1024G");
  }
}

TEST_CASE("parse_size alone", "[contd][flags]") {
  CHECK(flags::parse_size("0") == uint64_t{0});
  CHECK(flags::parse_size("1k") == uint64_t{1024});
  CHECK(flags::parse_size("17179869183G") == uint64_t{17179869183ull << 30});
  CHECK_FALSE(flags::parse_size("17179869184G"));         // 2^64 bytes
  CHECK_FALSE(flags::parse_size("18446744073709551616")); // 2^64
  CHECK(flags::parse_size("18446744073709551615") == UINT64_MAX);
  CHECK_FALSE(flags::parse_size("k"));
  CHECK_FALSE(flags::parse_size("+5"));
}

TEST_CASE("a config file fills in what the command line leaves out", "[contd][flags]") {
  auto read = files({{"/etc/contd.conf", R"(# contd settings
broker = "tcp://redis.example:6390"
root = /srv/from-file   # a comment after the value
  max-inflight: 12
log-level=debug

log-format = json
log-max-size = 1M
containerd = /run/file.sock
netns-dir = /run/file-netns
corex = /opt/file-corex
logger = /opt/file-logger
)"}});
  auto s = ok({"--config", "/etc/contd.conf"}, read);
  CHECK(s.broker.host == "redis.example");
  CHECK(s.broker.port == 6390);
  CHECK(s.root == "/srv/from-file");
  CHECK(s.max_inflight == 12);
  CHECK(s.log_level == "debug");
  CHECK(s.log_format == "json");
  CHECK(s.log_max_size == 1u << 20);
  CHECK(s.containerd == "/run/file.sock");
  CHECK(s.netns_dir == "/run/file-netns");
  CHECK(s.corex == "/opt/file-corex");
  CHECK(s.logger == "/opt/file-logger");
}

TEST_CASE("flags on the command line win over the config file, wherever they stand",
          "[contd][flags]") {
  auto read = files({{"c.conf", "root = /from-file\nmax-inflight = 5\nlog-level = debug\n"}});
  auto before = ok({"--root", "/from-flag", "--config", "c.conf"}, read);
  auto after = ok({"-config=c.conf", "-root", "/from-flag"}, read);
  for (const auto& s : {before, after}) {
    CHECK(s.root == "/from-flag");
    CHECK(s.max_inflight == 5);
    CHECK(s.log_level == "debug");
    CHECK(s.log_format == "text"); // in neither: the default
  }
  // A bad value in the file is harmless when a flag replaces it.
  auto bad = files({{"b.conf", "max-inflight = many\n"}});
  CHECK(ok({"--config", "b.conf", "--max-inflight", "3"}, bad).max_inflight == 3);
  CHECK(error_of({"--config", "b.conf"}, bad) == "--max-inflight must be between 1 and 1000000");
}

TEST_CASE("config file errors give the file and line", "[contd][flags]") {
  CHECK(error_of({"--config", "/missing.conf"}) == "cannot read config file '/missing.conf'");
  auto read = files({{"a.conf", "root = /x\njust words\n"},
                     {"b.conf", "\n# fine\nbogus = 1\n"},
                     {"c.conf", "config = other.conf\n"},
                     {"d.conf", "help = true\n"}});
  CHECK(error_of({"--config", "a.conf"}, read) == "a.conf:2: expecting 'name = value'");
  CHECK(error_of({"--config", "b.conf"}, read) == "b.conf:3: unknown setting 'bogus'");
  CHECK(error_of({"--config", "c.conf"}, read) == "c.conf:1: unknown setting 'config'");
  CHECK(error_of({"--config", "d.conf"}, read) == "d.conf:1: unknown setting 'help'");
}

TEST_CASE("an empty config file changes nothing", "[contd][flags]") {
  auto s = ok({"--config", "empty.conf"}, files({{"empty.conf", ""}}));
  CHECK(s.root == "/var/cache/modules/contd");
  CHECK(s.max_inflight == 1024);
}

TEST_CASE("a config file on disk through the default reader", "[contd][flags]") {
  temp_file f{"root = /srv/disk\nlog-format = \"json\"\n"};
  auto s = ok({"--config", f.path}, flags::read_file);
  CHECK(s.root == "/srv/disk");
  CHECK(s.log_format == "json");
  auto r = flags::parse({"--config", f.path + ".absent"});
  REQUIRE_FALSE(r);
  CHECK(r.error() == "cannot read config file '" + f.path + ".absent'");
}

TEST_CASE("the usage text names every flag", "[contd][flags]") {
  std::string usage = flags::usage;
  CHECK(usage.rfind("usage: contd", 0) == 0);
  for (auto name : {"--broker", "--root", "--containerd", "--netns-dir", "--corex",
                    "--max-inflight", "--log-max-size", "--logger", "--log-level", "--log-format",
                    "--shim-per-container", "--config", "--version", "--help"}) {
    INFO(name);
    CHECK(usage.find(name) != std::string::npos);
  }
}
