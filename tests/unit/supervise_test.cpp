// Restart policies over the durable history, and the per-container FIFO.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "src/supervise/fifo.hpp"
#include "src/supervise/policy.hpp"

using namespace contd;
using namespace contd::supervise;
using namespace std::chrono_literals;

namespace {

constexpr int64_t sec = 1'000'000'000;

restart_policy named(std::string name, uint64_t max = 0, int64_t window = 0) {
  return restart_policy{std::move(name), max, window};
}

} // namespace

TEST_CASE("an absent RestartPolicy is the original's: always, give up at the 4th exit in 60 s") {
  auto p = effective(restart_policy{});
  CHECK(p.kind == policy_kind::always);
  CHECK(p.max_restarts == 3);
  CHECK(p.window == 60s);
  history h;
  int64_t t = 1000 * sec;
  for (int i = 1; i <= 3; ++i) {
    auto d = on_exit(p, h, t + i * sec, 1, false, 0.5);
    CHECK(d.what == decision::restart);
  }
  auto d = on_exit(p, h, t + 4 * sec, 1, false, 0.5);
  CHECK(d.what == decision::give_up);
  CHECK(d.reason.find("4 exits within 60 s") != std::string::npos);
  CHECK(d.reason.find("exit code 1") != std::string::npos);
}

TEST_CASE("exits that left the window no longer count") {
  auto p = effective(named("always", 2, 10 * sec));
  history h;
  CHECK(on_exit(p, h, 100 * sec, 1, false, 0).what == decision::restart);
  CHECK(on_exit(p, h, 105 * sec, 1, false, 0).what == decision::restart);
  // 20 s later both earlier exits are outside the 10 s window.
  CHECK(on_exit(p, h, 125 * sec, 1, false, 0).what == decision::restart);
  CHECK(h.exits.size() == 1);
  CHECK(on_exit(p, h, 126 * sec, 1, false, 0).what == decision::restart);
  CHECK(on_exit(p, h, 127 * sec, 1, false, 0).what == decision::give_up);
}

TEST_CASE("on-failure restarts failures and OOM kills, not a clean exit") {
  auto p = effective(named("on-failure"));
  history h;
  auto d = on_exit(p, h, 10 * sec, 0, false, 0);
  CHECK(d.what == decision::stay_stopped);
  CHECK(h.exits.empty()); // not counted
  CHECK(on_exit(p, h, 11 * sec, 2, false, 0).what == decision::restart);
  CHECK(on_exit(p, h, 12 * sec, 0, true, 0).what == decision::restart); // OOM with code 0
  CHECK(h.exits.size() == 2);
}

TEST_CASE("policy no never restarts") {
  auto p = effective(named("no"));
  history h;
  CHECK(on_exit(p, h, 10 * sec, 1, false, 0).what == decision::stay_stopped);
  CHECK(on_exit(p, h, 11 * sec, 137, true, 0).what == decision::stay_stopped);
}

TEST_CASE("backoff doubles from about 1 s, is capped at 1 min, and jitters by at most 20 %") {
  CHECK(backoff(1, 0.5) == 1s);
  CHECK(backoff(2, 0.5) == 2s);
  CHECK(backoff(3, 0.5) == 4s);
  CHECK(backoff(7, 0.5) == 60s);
  CHECK(backoff(50, 0.5) == 60s);
  CHECK(backoff(1, 0.0) == 800ms);
  CHECK(backoff(1, 1.0) == 1200ms);
  CHECK(backoff(100, 1.0) == 72s);
}

TEST_CASE("the exit history survives as a label and a hostile label is read safely") {
  std::vector<int64_t> exits{3 * sec, 1 * sec, 2 * sec};
  auto text = encode_exits(exits);
  CHECK(text == "3000000000,1000000000,2000000000");
  CHECK(decode_exits(text) == std::vector<int64_t>{1 * sec, 2 * sec, 3 * sec});
  CHECK(decode_exits("").empty());
  CHECK(decode_exits("x,12,,-4,99999999999999999999999,7y") == std::vector<int64_t>{-4, 12});
  std::string many;
  for (int i = 0; i < 1000; ++i)
    many += std::to_string(i) + ",";
  CHECK(decode_exits(many).size() == 32); // bounded
}

TEST_CASE("the FIFO runs one write at a time per container, in arrival order") {
  container_fifo fifo;
  std::vector<std::string> log;
  std::vector<container_fifo::done_fn> dones;
  auto op = [&](std::string name) {
    return [&, name](container_fifo::done_fn done) {
      log.push_back(name);
      dones.push_back(std::move(done));
    };
  };
  fifo.push("a", op("a1"));
  fifo.push("a", op("a2"));
  fifo.push("b", op("b1")); // another container: not held up by a
  CHECK(log == std::vector<std::string>{"a1", "b1"});
  CHECK(fifo.waiting("a") == 1);
  dones[0]();
  dones[0](); // a second call is harmless
  CHECK(log == std::vector<std::string>{"a1", "b1", "a2"});
  dones[1]();
  dones[2]();
  CHECK(fifo.idle());
}

TEST_CASE("reads that meet only reads run side by side, a write waits for them") {
  container_fifo fifo;
  int idles = 0;
  fifo.on_idle = [&] { ++idles; };
  std::vector<std::string> log;
  std::vector<container_fifo::done_fn> dones;
  auto op = [&](std::string name) {
    return [&, name](container_fifo::done_fn done) {
      log.push_back(name);
      dones.push_back(std::move(done));
    };
  };
  fifo.push("a", op("r1"), true);
  fifo.push("a", op("r2"), true);
  fifo.push("a", op("w"));
  fifo.push("a", op("r3"), true);
  CHECK(log == std::vector<std::string>{"r1", "r2"});
  dones[1]();
  CHECK(log.size() == 2); // r1 still runs
  dones[0]();
  CHECK(log == std::vector<std::string>{"r1", "r2", "w"});
  dones[2]();
  CHECK(log.back() == "r3");
  CHECK(idles == 0);
  dones[3]();
  CHECK(idles == 1);
  CHECK(fifo.idle());
}

TEST_CASE("an operation that completes before it returns starts the next one") {
  container_fifo fifo;
  std::vector<int> log;
  for (int i = 0; i < 5; ++i)
    fifo.push("a", [&log, i](container_fifo::done_fn done) {
      log.push_back(i);
      done();
    });
  CHECK(log == std::vector<int>{0, 1, 2, 3, 4});
  CHECK(fifo.idle());
  CHECK_FALSE(fifo.busy("a"));
}

TEST_CASE("a done that outlives its FIFO does nothing") {
  container_fifo::done_fn kept;
  {
    container_fifo fifo;
    fifo.push("a", [&](container_fifo::done_fn done) { kept = std::move(done); });
  }
  kept(); // must not touch freed memory (ASan would tell)
  SUCCEED();
}
