// The log I/O actor on real files under a temporary directory (its job is file I/O; the module
// and supervision tests use the in-memory fake of tests/fakes/fake_log_io.hpp, which answers as
// this actor does here).
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "actors/log_io.hpp"
#include "tests/deterministic_fixture.hpp"

namespace fs = std::filesystem;
using namespace contd;

namespace {

struct io_fixture : test::deterministic_fixture<> {
  fs::path tmp;
  std::string logs_dir;
  std::string exec_dir;
  log_io_actor io;

  io_fixture() {
    std::string tmpl = (fs::temp_directory_path() / "contd-log-io-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    tmp = tmpl;
    logs_dir = (tmp / "logs").string();
    exec_dir = (tmp / "exec").string();
    log_io_config cfg;
    cfg.log_dir = logs_dir;
    cfg.scratch_dir = exec_dir;
    io = sys.spawn(log_io, cfg);
  }

  ~io_fixture() override {
    self->send_exit(io, caf::exit_reason::user_shutdown);
    run();
    std::error_code ec;
    fs::remove_all(tmp, ec);
  }

  caf::expected<std::string> prepare(const std::string& ns, const std::string& id) {
    return request<std::string>(io, atom::log_prepare_v, ns, id);
  }
  caf::expected<std::string> logs_of(const std::string& ns, const std::string& id) {
    return request<std::string>(io, atom::logs_v, ns, id);
  }
};

} // namespace

TEST_CASE_METHOD(io_fixture, "log_prepare creates the log and the lock file the logger needs",
                 "[log_io]") {
  auto path = prepare("ns1", "c1");
  REQUIRE(path);
  CHECK(*path == logs_dir + "/ns1/c1.log");
  CHECK(fs::is_regular_file(*path));
  CHECK(fs::is_regular_file(*path + ".lock"));
  // An existing log keeps what it has.
  std::ofstream(*path) << "kept\n";
  REQUIRE(prepare("ns1", "c1"));
  CHECK(fs::file_size(*path) == 5);
  CHECK(prepare("ns1", "../x").error() == errc::invalid_argument);
  CHECK(prepare("..", "c1").error() == errc::invalid_argument);
  CHECK_FALSE(fs::exists(tmp / "x.log"));
}

TEST_CASE_METHOD(io_fixture,
                 "log_remove drops log, rotated log, lock file, offsets and the "
                 "empty namespace directory",
                 "[log_io]") {
  REQUIRE(prepare("ns1", "c1"));
  std::ofstream(logs_dir + "/ns1/c1.log.1") << "old\n";
  std::ofstream(logs_dir + "/ns1/c1.log.fwd-0123456789abcdef") << "1 2 3\n";
  REQUIRE(prepare("ns1", "c2"));
  CHECK_FALSE(request_void(io, atom::log_remove_v, std::string{"ns1"}, std::string{"c1"}));
  CHECK_FALSE(fs::exists(logs_dir + "/ns1/c1.log"));
  CHECK_FALSE(fs::exists(logs_dir + "/ns1/c1.log.1"));
  CHECK_FALSE(fs::exists(logs_dir + "/ns1/c1.log.lock"));
  CHECK_FALSE(fs::exists(logs_dir + "/ns1/c1.log.fwd-0123456789abcdef"));
  CHECK(fs::exists(logs_dir + "/ns1/c2.log")); // the neighbour's stays
  CHECK_FALSE(request_void(io, atom::log_remove_v, std::string{"ns1"}, std::string{"c2"}));
  CHECK_FALSE(fs::exists(logs_dir + "/ns1")); // gone with its last container
  // Removing what is not there is no error.
  CHECK_FALSE(request_void(io, atom::log_remove_v, std::string{"ns1"}, std::string{"c2"}));
}

TEST_CASE_METHOD(io_fixture, "Logs merges the rotated file, shows plain text and refuses bad names",
                 "[log_io]") {
  REQUIRE(prepare("ns1", "c1"));
  {
    std::ofstream old(logs_dir + "/ns1/c1.log.1");
    for (int i = 1; i <= 40; ++i)
      old << "2026-11-30T23:34:10.000000001Z stdout F line " << i << "\n";
    std::ofstream out(logs_dir + "/ns1/c1.log");
    for (int i = 41; i <= 150; ++i)
      out << "2026-11-30T23:34:11.000000001Z " << (i % 2 ? "stdout" : "stderr") << " F line " << i
          << "\n";
  }
  auto text = logs_of("ns1", "c1");
  REQUIRE(text);
  CHECK(text->rfind("line 51\n", 0) == 0);
  CHECK(std::count(text->begin(), text->end(), '\n') == 100);
  std::ofstream(logs_dir + "/ns1/c1.log") << "2026-11-30T23:34:11.000000001Z stderr F newest\n";
  text = logs_of("ns1", "c1");
  REQUIRE(text);
  CHECK(text->rfind("line 1\n", 0) == 0);
  CHECK(text->substr(text->size() - 7) == "newest\n");
  fs::remove(logs_dir + "/ns1/c1.log.1");
  std::ofstream(logs_dir + "/ns1/c1.log") << "plain 1\nplain 2\n";
  CHECK(logs_of("ns1", "c1") == std::string{"plain 1\nplain 2\n"});
  auto none = logs_of("ns1", "ghost");
  REQUIRE_FALSE(none);
  CHECK(none.error() == errc::not_found);
  CHECK(logs_of("ns1", "../../etc/passwd").error() == errc::invalid_argument);
}

TEST_CASE_METHOD(io_fixture, "Logs refuses a FIFO, a symlink or a device at the log path at once",
                 "[log_io]") {
  REQUIRE(prepare("ns1", "c1"));
  auto log = logs_dir + "/ns1/c1.log";
  // A FIFO nobody writes to: a blocking open would hang the actor forever.
  fs::remove(log);
  REQUIRE(mkfifo(log.c_str(), 0600) == 0);
  auto fifo = logs_of("ns1", "c1");
  REQUIRE_FALSE(fifo);
  CHECK(error_text(fifo.error()).find("is a FIFO, not a regular file") != std::string::npos);
  // A symlink to someone else's file: never followed.
  fs::remove(log);
  auto secret = logs_dir + "/secret";
  std::ofstream(secret) << "2026-11-30T23:34:11.000000001Z stdout F the secret\n";
  fs::create_symlink(secret, log);
  auto link = logs_of("ns1", "c1");
  REQUIRE_FALSE(link);
  CHECK(error_text(link.error()).find("symbolic link") != std::string::npos);
  CHECK(error_text(link.error()).find("the secret") == std::string::npos);
  // A device.
  fs::remove(log);
  fs::create_symlink("/dev/zero", log); // a link to it is refused as a link
  CHECK_FALSE(logs_of("ns1", "c1"));
  fs::remove(log);
  REQUIRE(mknod(log.c_str(), S_IFCHR | 0600, makedev(1, 5)) == 0); // /dev/zero's numbers
  auto dev = logs_of("ns1", "c1");
  REQUIRE_FALSE(dev);
  CHECK(error_text(dev.error()).find("character device") != std::string::npos);
}

TEST_CASE_METHOD(io_fixture, "exec capture files are unguessable, read back bounded and removed",
                 "[log_io]") {
  auto a = request<std::string>(io, atom::capture_new_v, std::string{"ns1"}, uint64_t{4096});
  auto b = request<std::string>(io, atom::capture_new_v, std::string{"ns1"}, uint64_t{0});
  REQUIRE(a);
  REQUIRE(b);
  CHECK(*a != *b);
  CHECK(a->rfind(exec_dir + "/ns1/", 0) == 0);
  CHECK(fs::is_regular_file(*a));
  std::ofstream(*a, std::ios::app) << "0123456789";
  auto whole = request<exec_result>(io, atom::capture_read_v, *a, uint64_t{100});
  REQUIRE(whole);
  CHECK(whole->output == "0123456789");
  CHECK_FALSE(whole->truncated);
  CHECK_FALSE(fs::exists(*a));
  std::ofstream(*b, std::ios::app) << "0123456789";
  auto tail = request<exec_result>(io, atom::capture_read_v, *b, uint64_t{4});
  REQUIRE(tail);
  CHECK(tail->output == "6789");
  CHECK(tail->truncated);
  CHECK(fs::is_empty(exec_dir + "/ns1"));
  // Only capture files can be read (and removed) through it.
  auto outside = request<exec_result>(io, atom::capture_read_v, logs_dir + "/x", uint64_t{4});
  CHECK(outside.error() == errc::invalid_argument);
  auto climb = request<exec_result>(io, atom::capture_read_v, exec_dir + "/../logs/x", uint64_t{4});
  CHECK(climb.error() == errc::invalid_argument);
}
