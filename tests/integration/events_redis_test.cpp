// Container events on Redis pub/sub against a real redis-server (private, on a unix socket): the
// publisher and its outage handling, the front door's wiring to a module, and `contctl events` as
// a process.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>
#include <tuple>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <nlohmann/json.hpp>

#include "actors/zbus_redis.hpp"
#include "src/config/actor_config.hpp"
#include "src/front_door.hpp"
#include "src/zbus/codec.hpp"
#include "src/zbus/redis_link.hpp"
#include "tests/fakes/zbus_fakes.hpp"
#include "tests/integration/eventually.hpp"
#include "tests/integration/redis_fixture.hpp"

extern char** environ;

using namespace contd;
using namespace std::chrono_literals;

namespace {

using test::eventually;

container_event make_event(const std::string& ns, const std::string& id, const std::string& kind) {
  container_event ev;
  ev.ns = ns;
  ev.id = id;
  ev.kind = kind;
  ev.exit_code = 137;
  ev.signal = 9;
  ev.oom_killed = true;
  ev.restarts = 3;
  ev.at = go_time{1700000000, 123456789};
  ev.reason = "memory limit reached";
  return ev;
}

/// A module that only does what the front door relies on: it takes a publisher with attach and
/// forwards `publish` to it, as the real module does for its tenants' transitions.
struct stub_module_state {
  static inline const char* name = "mock.module";
  event_publisher_actor publisher;
};

module_actor::behavior_type stub_module(module_actor::stateful_pointer<stub_module_state> self) {
  return {
    [](atom::run, const std::string&, const container&) { return std::string{}; },
    [](atom::inspect, const std::string&, const std::string&) { return container{}; },
    [](atom::delete_, const std::string&, const std::string&) {},
    [](atom::sig_delete, const std::string&, const std::string&) {},
    [](atom::exec, const std::string&, const std::string&, caf::timespan,
       const std::vector<std::string>&) {},
    [](atom::logs, const std::string&, const std::string&) { return std::string{}; },
    [](atom::list, const std::string&) { return std::vector<std::string>{}; },
    [](atom::list_ns) { return std::vector<std::string>{}; },
    [](atom::metrics, const std::string&, const std::string&) -> caf::result<task_metrics> {
      return make_error(errc::not_found, "no task");
    },
    [](atom::retire, const std::string&, const tenant_actor&) {},
    [](atom::event, const task_event&) {},
    [](atom::resync) {},
    [self](atom::publish, container_event& ev) {
      if (self->state.publisher)
        self->send(self->state.publisher, atom::publish_v, std::move(ev));
    },
    [self](atom::attach, event_publisher_actor p) { self->state.publisher = std::move(p); },
    [](atom::attach, shim_reaper_actor) {},
    [](atom::attach, log_io_actor) {},
    [](atom::stats) -> caf::result<uint64_t, uint64_t, uint64_t> {
      return {uint64_t{0}, uint64_t{0}, uint64_t{0}};
    },
  };
}

/// A SUBSCRIBE client on the events channel.
struct subscriber {
  zbus::redis_connection conn;
  explicit subscriber(const zbus::broker_url& url) : conn(url) {
    REQUIRE(conn.subscribe({zbus::events_channel()}));
  }
  /// The next event, or nullopt after `limit`.
  std::optional<container_event> next(std::chrono::milliseconds limit = 5s) {
    std::string channel, payload;
    auto r = conn.next_message(limit, channel, payload);
    if (r != zbus::redis_connection::message_result::message)
      return std::nullopt;
    CHECK(channel == zbus::events_channel());
    return zbus::decode_event(payload);
  }
};

struct counters {
  uint64_t published = 0;
  uint64_t dropped = 0;
  uint64_t held = 0;
};

/// The publisher's counters, and how long it took to answer.
counters stats_of(caf::actor_system& sys, const zbus_publisher_actor& pub,
                  std::chrono::milliseconds* took = nullptr) {
  caf::scoped_actor self{sys};
  counters out;
  auto start = std::chrono::steady_clock::now();
  self->request(pub, 5s, atom::stats_v)
    .receive(
      [&](uint64_t p, uint64_t d, uint64_t h) {
        out = {p, d, h};
      },
      [&](caf::error&) { FAIL("the publisher did not answer stats"); });
  if (took != nullptr)
    *took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now()
                                                                  - start);
  return out;
}

/// Publishes `payload` until `n` subscribers received it at once (PUBLISH counts the receivers).
bool publish_when_subscribed(const zbus::broker_url& url, const std::string& payload, long long n,
                             std::chrono::milliseconds limit = 10s) {
  zbus::redis_connection conn{url};
  return eventually(
    [&] {
      long long receivers = 0;
      return conn.publish(zbus::events_channel(), payload, &receivers) && receivers == n;
    },
    limit);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// A program with stdout and stderr in files.
struct process {
  pid_t pid = -1;
  std::string out, err;

  process(std::vector<std::string> args, std::string out_file, std::string err_file)
      : out(std::move(out_file)), err(std::move(err_file)) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0)
      pid = -1;
    posix_spawn_file_actions_destroy(&fa);
  }

  /// Exit code (128+n for a signal), or -1 if it did not exit within `limit` (then it is killed).
  int wait_exit(std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(20ms);
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pid = -1;
    return -1;
  }

  ~process() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }

  std::string stdout_text() const { return read_file(out); }
  std::string stderr_text() const { return read_file(err); }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

} // namespace

TEST_CASE("a transition the module reports reaches a SUBSCRIBE client as the same value",
          "[events][integration]") {
  test::redis_server redis;
  actor_config cfg;
  caf::actor_system sys{cfg};
  auto module = sys.spawn(stub_module);
  auto door = spawn_front_door(sys, module, front_door_config{redis.broker(), 1024, 0.2});
  subscriber sub{redis.broker()};

  auto ev = make_event("ns1", "web", "exited");
  // As a tenant does: the module forwards to the publisher the front door attached.
  caf::anon_send(module, atom::publish_v, ev);
  auto got = sub.next();
  REQUIRE(got);
  CHECK(*got == ev);
  CHECK(eventually([&] { return stats_of(sys, door.publisher).published == 1; }));

  // A front door over a module that cannot take attach still serves, and publishes what it is
  // given directly.
  auto fake = sys.spawn(test::fake_module);
  auto door2 = spawn_front_door(sys, container_module_actor{fake},
                                front_door_config{redis.broker(), 1024, 0.2});
  auto ev2 = make_event("ns2", "db", "started");
  caf::anon_send(door2.publisher, atom::publish_v, ev2);
  got = sub.next();
  REQUIRE(got);
  CHECK(*got == ev2);

  stop_front_door(door);
  stop_front_door(door2);
  caf::anon_send_exit(module, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(fake, caf::exit_reason::user_shutdown);
}

TEST_CASE("while Redis is away the publisher holds a bounded queue, drops the oldest and keeps "
          "answering",
          "[events][integration]") {
  test::redis_server redis;
  actor_config cfg;
  caf::actor_system sys{cfg};
  zbus_publisher_config pcfg;
  pcfg.broker = redis.broker();
  pcfg.max_queued = 100;
  // No automatic retry within the test: only drain flushes, so what arrives is deterministic.
  pcfg.backoff = redis_backoff{std::chrono::hours{1}, std::chrono::hours{1}};
  auto pub = sys.spawn<caf::detached>(zbus_publisher, pcfg);
  {
    subscriber sub{redis.broker()};
    caf::anon_send(pub, atom::publish_v, make_event("ns1", "before", "started"));
    auto got = sub.next();
    REQUIRE(got);
    CHECK(got->id == "before");
  }

  redis.stop();
  for (int i = 0; i < 250; ++i)
    caf::anon_send(pub, atom::publish_v, make_event("ns1", "c" + std::to_string(i), "exited"));
  std::chrono::milliseconds took{0};
  auto c = stats_of(sys, pub, &took);
  CHECK(took < 1s);
  CHECK(c.published == 1);
  CHECK(c.dropped == 150);
  CHECK(c.held == 100);
  // More events during the outage never wait for Redis either.
  for (int i = 0; i < 5; ++i) {
    auto start = std::chrono::steady_clock::now();
    caf::anon_send(pub, atom::publish_v, make_event("ns1", "late", "exited"));
    CHECK(stats_of(sys, pub, &took).held == 100);
    CHECK(took < 1s);
    CHECK(std::chrono::steady_clock::now() - start < 1s);
  }

  redis.start();
  subscriber sub{redis.broker()};
  {
    caf::scoped_actor self{sys};
    uint64_t held = 1;
    self->request(pub, 10s, atom::drain_v)
      .receive([&](uint64_t n) { held = n; }, [&](caf::error&) { FAIL("no drain answer"); });
    CHECK(held == 0);
  }
  // The oldest were dropped: what was held is c155..c249 then the five "late" ones, in order.
  for (int i = 155; i < 250; ++i) {
    auto got = sub.next();
    REQUIRE(got);
    CHECK(got->id == "c" + std::to_string(i));
  }
  for (int i = 0; i < 5; ++i) {
    auto got = sub.next();
    REQUIRE(got);
    CHECK(got->id == "late");
  }
  c = stats_of(sys, pub);
  CHECK(c.dropped == 155);
  CHECK(c.held == 0);

  caf::anon_send(pub, atom::publish_v, make_event("ns1", "after", "started"));
  auto got = sub.next();
  REQUIRE(got);
  CHECK(got->id == "after");
  caf::anon_send_exit(pub, caf::exit_reason::user_shutdown);
}

TEST_CASE("after Redis restarts the publisher reconnects by itself and later events arrive",
          "[events][integration]") {
  test::redis_server redis;
  actor_config cfg;
  caf::actor_system sys{cfg};
  auto module = sys.spawn(stub_module);
  auto door = spawn_front_door(sys, module, front_door_config{redis.broker(), 1024, 0.2});
  {
    subscriber sub{redis.broker()};
    caf::anon_send(module, atom::publish_v, make_event("ns1", "first", "started"));
    auto got = sub.next();
    REQUIRE(got);
    CHECK(got->id == "first");
  }

  redis.stop();
  for (int i = 0; i < 20; ++i)
    caf::anon_send(module, atom::publish_v, make_event("ns1", "held", "exited"));
  std::chrono::milliseconds took{0};
  CHECK(eventually([&] { return stats_of(sys, door.publisher).held == 20; }, 5s));
  CHECK(stats_of(sys, door.publisher, &took).dropped == 0);
  CHECK(took < 1s);
  // contd's own front door keeps serving meanwhile.
  {
    caf::scoped_actor self{sys};
    bool answered = false;
    self->request(door.ingress, 2s, atom::stats_v)
      .receive([&](ingress_stats&) { answered = true; }, [&](caf::error&) {});
    CHECK(answered);
  }

  redis.start();
  // The retry timer (backoff at most 5 s) flushes the held events without any help.
  CHECK(eventually([&] { return stats_of(sys, door.publisher).held == 0; }, 15s));
  subscriber sub{redis.broker()};
  caf::anon_send(module, atom::publish_v, make_event("ns1", "after", "restarted"));
  auto got = sub.next();
  REQUIRE(got);
  CHECK(got->id == "after");
  CHECK(got->kind == "restarted");
  auto c = stats_of(sys, door.publisher);
  CHECK(c.published == 22);
  CHECK(c.dropped == 0);

  stop_front_door(door);
  caf::anon_send_exit(module, caf::exit_reason::user_shutdown);
}

TEST_CASE("contctl events prints published events, survives malformed payloads and a Redis "
          "restart, and exits 0 on SIGINT",
          "[events][integration][programs]") {
  test::redis_server redis;
  const std::string contctl = std::string{CONTD_BIN_DIR} + "/contctl";
  process text({contctl, "--broker", redis.url(), "events"}, redis.dir() + "/text.out",
               redis.dir() + "/text.err");
  process json({contctl, "--broker", redis.url(), "events", "ns1", "--json"},
               redis.dir() + "/json.out", redis.dir() + "/json.err");
  REQUIRE(text.pid > 0);
  REQUIRE(json.pid > 0);

  // Both subscribed once a PUBLISH reaches two receivers; the first payload is garbage.
  REQUIRE(publish_when_subscribed(redis.broker(), std::string("\x85\xa1x", 3), 2));
  zbus::redis_connection conn{redis.broker()};
  REQUIRE(
    conn.publish(zbus::events_channel(), zbus::encode_event(make_event("ns2", "db", "started"))));
  REQUIRE(
    conn.publish(zbus::events_channel(), zbus::encode_event(make_event("ns1", "web", "exited"))));

  const std::string web_line = "2023-11-14T22:13:20.123Z ns1/web exited exit=137 signal=SIGKILL "
                               "oom restarts=3 reason=\"memory limit reached\"";
  CHECK(eventually([&] { return text.stdout_text().find(web_line) != std::string::npos; }));
  CHECK(eventually([&] { return lines_of(json.stdout_text()).size() == 1; }));
  auto tl = lines_of(text.stdout_text());
  REQUIRE(tl.size() == 2);
  CHECK(tl[0].find(" ns2/db started ") != std::string::npos);
  CHECK(tl[1] == web_line);
  // --json with NS: only ns1, one object per line.
  auto jl = lines_of(json.stdout_text());
  REQUIRE(jl.size() == 1);
  auto j = nlohmann::json::parse(jl[0]);
  CHECK(j["At"] == "2023-11-14T22:13:20.123456789Z");
  CHECK(j["Namespace"] == "ns1");
  CHECK(j["ID"] == "web");
  CHECK(j["Kind"] == "exited");
  CHECK(j["ExitCode"] == 137);
  CHECK(j["Signal"] == 9);
  CHECK(j["OOMKilled"] == true);
  CHECK(j["Restarts"] == 3);
  CHECK(j["Reason"] == "memory limit reached");
  // The malformed payload: a warning, no crash.
  CHECK(text.stderr_text().find("malformed event") != std::string::npos);
  CHECK(json.stderr_text().find("malformed event") != std::string::npos);

  // Redis goes away and comes back: contctl resubscribes by itself.
  redis.stop();
  std::this_thread::sleep_for(300ms);
  redis.start();
  REQUIRE(publish_when_subscribed(
    redis.broker(), zbus::encode_event(make_event("ns1", "again", "restarted")), 2, 20s));
  CHECK(eventually([&] {
    return text.stdout_text().find(" ns1/again restarted ") != std::string::npos
           && json.stdout_text().find("\"again\"") != std::string::npos;
  }));
  CHECK(text.stderr_text().find("reconnecting") != std::string::npos);

  kill(text.pid, SIGINT);
  kill(json.pid, SIGTERM);
  CHECK(text.wait_exit(5s) == 0);
  CHECK(json.wait_exit(5s) == 0);
}
