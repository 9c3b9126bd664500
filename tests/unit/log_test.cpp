// Log formatting of text from the wire: one JSON-correct escaping routine, valid UTF-8 kept,
// invalid bytes and control characters made harmless, and the warning rate limit.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "src/log/log.hpp"

using namespace contd;
using namespace std::chrono_literals;

TEST_CASE("JSON log text keeps UTF-8 and parses back to the same string", "[log]") {
  // The old escaping wrote café as caf\u00c3\u00a9, which parses back as cafÃ©.
  for (std::string s :
       {std::string{"café"}, std::string{"naïve ünïcödé 日本 🚀"},
        std::string{"quote \" backslash \\ tab \t nl \n"}, std::string("nul \0 del \x7f", 11)}) {
    auto line = "\"" + log::escape_json(s) + "\"";
    INFO(line);
    auto back = nlohmann::json::parse(line);
    CHECK(back.get<std::string>() == s);
  }
  CHECK(log::escape_json("café") == "café");
}

TEST_CASE("bytes that are not UTF-8 become U+FFFD in JSON, and the line still parses", "[log]") {
  std::string bad = "a\xff"
                    "b\xc3"
                    "c\xed\xa0\x80"
                    "d"; // stray byte, cut sequence, surrogate
  auto line = "\"" + log::escape_json(bad) + "\"";
  INFO(line);
  auto back = nlohmann::json::parse(line).get<std::string>();
  CHECK(back
        == "a\xef\xbf\xbd"
           "b\xef\xbf\xbd"
           "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
           "d");
}

TEST_CASE("printable keeps UTF-8, escapes the rest, and cuts long values", "[log]") {
  CHECK(log::printable("café") == "café");
  CHECK(log::printable("a\"b\\c") == "a\\\"b\\\\c");
  CHECK(log::printable(std::string("x\x01y\xffz", 5)) == "x\\x01y\\xffz");
  CHECK(log::printable(std::string(300, 'a'), 10) == "aaaaaaaaaa...");
  // Its output is valid UTF-8, so a JSON log line built from it parses.
  auto line = "\"" + log::escape_json(log::printable("caf\xc3\xa9 \xff")) + "\"";
  CHECK(nlohmann::json::parse(line).get<std::string>() == "café \\xff");
}

TEST_CASE("the warning limiter lets a burst through per period and counts the rest", "[log]") {
  log::limiter lim{3, std::chrono::seconds{60}};
  std::chrono::steady_clock::time_point t{std::chrono::hours{1}};
  uint64_t held = 0;
  int written = 0;
  for (int i = 0; i < 100; ++i) {
    written += lim.allow(t, held) ? 1 : 0;
    CHECK(held == 0);
  }
  CHECK(written == 3);
  t += 59s;
  CHECK_FALSE(lim.allow(t, held));
  t += 2s;
  CHECK(lim.allow(t, held));
  CHECK(held == 98); // reported once, at the start of the next period
  CHECK(lim.allow(t, held));
  CHECK(held == 0);
}
