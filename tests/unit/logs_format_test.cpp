// The local log format: records, times, tolerant parsing and the text Logs returns.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "src/logs/format.hpp"

using namespace contd::logs;

namespace {

// 2026-11-30T23:34:10.123456789Z
constexpr int64_t t0 = 1'796'081'650'123'456'789;

record rec(stream s, bool partial, std::string text, int64_t t = t0) {
  return record{t, s, partial, std::move(text)};
}

} // namespace

TEST_CASE("times are RFC 3339 UTC with nanoseconds and parse back") {
  CHECK(format_time(0) == "1970-01-01T00:00:00.000000000Z");
  CHECK(format_time(t0) == "2026-11-30T23:34:10.123456789Z");
  CHECK(format_time(951'782'400'000'000'001) == "2000-02-29T00:00:00.000000001Z");
  CHECK(format_time(-1) == "1969-12-31T23:59:59.999999999Z");
  for (int64_t t : {int64_t{0}, t0, int64_t{-1}, int64_t{951'782'400'000'000'001},
                    std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}) {
    INFO(t);
    CHECK(format_time(t).size() == 30);
    CHECK(parse_time(format_time(t)) == t);
  }
  // Fewer digits and offsets, as other CRI writers produce them.
  CHECK(parse_time("2026-11-30T23:34:10Z") == t0 - 123'456'789);
  CHECK(parse_time("2026-11-30T23:34:10.5Z") == t0 - 123'456'789 + 500'000'000);
  CHECK(parse_time("2026-12-01T01:34:10.123456789+02:00") == t0);
  CHECK(parse_time("2026-11-30T22:34:10.123456789-01:00") == t0);
}

TEST_CASE("malformed times are refused") {
  for (const char* bad : {"",
                          "2026",
                          "2026-11-30 23:34:10Z",
                          "2026-11-30T23:34:10",
                          "2026-11-30T23:34:10.Z",
                          "2026-11-30T23:34:10.1234567890Z",
                          "2026-13-01T00:00:00Z",
                          "2026-00-01T00:00:00Z",
                          "2026-02-29T00:00:00Z",
                          "2026-04-31T00:00:00Z",
                          "2026-11-30T24:00:00Z",
                          "2026-11-30T23:60:00Z",
                          "2026-11-30T23:59:60Z",
                          "2026-11-30T23:34:10z",
                          "2026-11-30T23:34:10ZZ",
                          "2026-11-30T23:34:10+0200",
                          "2026-11-30T23:34:10+24:00",
                          "+026-11-30T23:34:10Z",
                          "2026-1a-30T23:34:10Z",
                          "9999-12-31T23:59:59Z",
                          "1000-01-01T00:00:00Z"}) {
    INFO(bad);
    CHECK_FALSE(parse_time(bad));
  }
  CHECK(parse_time("2024-02-29T00:00:00Z")); // a leap day
}

TEST_CASE("a record encodes to one line and parses back") {
  std::vector<record> all{rec(stream::out, false, "hello world"),
                          rec(stream::err, true, "part"),
                          rec(stream::logger, false, "dropped 3 lines"),
                          rec(stream::out, false, ""),
                          rec(stream::out, false, "  spaces  F P "),
                          rec(stream::err, false, std::string("nul\0byte\ttab\r", 13))};
  for (const auto& r : all) {
    auto line = encode(r);
    INFO(line);
    REQUIRE(line.back() == '\n');
    CHECK(line.find('\n') == line.size() - 1);
    CHECK(parse(std::string_view{line}.substr(0, line.size() - 1)) == r);
  }
  CHECK(encode(rec(stream::out, false, "hello"))
        == "2026-11-30T23:34:10.123456789Z stdout F hello\n");
  CHECK(encode(rec(stream::err, true, "x")) == "2026-11-30T23:34:10.123456789Z stderr P x\n");
  // A newline inside the text cannot start a second record.
  auto line = encode(rec(stream::out, false, "a\nb\n"));
  CHECK(line == "2026-11-30T23:34:10.123456789Z stdout F a b \n");
  std::string appended = "x";
  append_encoded(appended, t0, stream::logger, false, "n");
  CHECK(appended == "x2026-11-30T23:34:10.123456789Z logger F n\n");
}

TEST_CASE("lines that are not records are refused without throwing") {
  const std::string ts = "2026-11-30T23:34:10.123456789Z";
  for (const std::string& bad : std::vector<std::string>{std::string{},
                                                         std::string{" "},
                                                         ts,
                                                         ts + " ",
                                                         ts + " stdout",
                                                         ts + " stdout ",
                                                         ts + " stdin F x",
                                                         ts + " STDOUT F x",
                                                         ts + " stdout X x",
                                                         ts + " stdout FF x",
                                                         ts + " stdout F\tx",
                                                         ts + "  stdout F x",
                                                         "garbage stdout F x",
                                                         ts + " stdout F a\nb",
                                                         "2026-11-30T23:34:10.123456789 stdout F x",
                                                         std::string(100000, 'x'),
                                                         std::string(100000, ' '),
                                                         std::string("\0\0\0\0", 4),
                                                         ts + "\xff stdout F x",
                                                         "\xff\xfe stdout F x"}) {
    INFO(bad.substr(0, 80));
    std::optional<record> r;
    CHECK_NOTHROW(r = parse(bad));
    CHECK_FALSE(r);
  }
  // A missing space after the tag only means an empty text.
  auto r = parse(ts + " stdout F");
  REQUIRE(r);
  CHECK(r->text.empty());
  CHECK_FALSE(r->partial);
}

TEST_CASE("parse_all keeps complete records and skips the rest") {
  std::string a = encode(rec(stream::out, false, "one"));
  std::string b = encode(rec(stream::err, false, "two"));
  std::string c = encode(rec(stream::out, false, "three"));
  auto bytes = a + "junk line\n" + b + "\n" + c;
  auto all = parse_all(bytes, false);
  REQUIRE(all.size() == 3);
  CHECK(all[0].text == "one");
  CHECK(all[1].text == "two");
  CHECK(all[2].text == "three");
  // The last line has no '\n': it may still be written, so it is not a record yet.
  all = parse_all(bytes.substr(0, bytes.size() - 1), false);
  REQUIRE(all.size() == 2);
  CHECK(all[1].text == "two");
  // A tail read starts inside a line: that line is skipped even when its rest parses.
  auto tail = a.substr(5) + b + c;
  all = parse_all(tail, true);
  REQUIRE(all.size() == 2);
  CHECK(all[0].text == "two");
  // At a record boundary the first record still counts without starts_mid_line.
  CHECK(parse_all(b + c, false).size() == 2);
  CHECK(parse_all(b + c, true).size() == 1);
  CHECK(parse_all("no newline at all", true).empty());
  CHECK(parse_all("", false).empty());
  CHECK(parse_all(std::string(1 << 20, '\n'), false).empty());
}

TEST_CASE("tail_text joins parts of interleaved streams and keeps the last n lines") {
  std::vector<record> rs{
    rec(stream::out, false, "first"),
    rec(stream::out, true, "long-"),
    rec(stream::err, true, "E1-"),
    rec(stream::err, false, "E2"),
    rec(stream::out, true, "line-"),
    rec(stream::logger, false, "dropped 1 lines (4 bytes) of output: x"),
    rec(stream::out, false, "end"),
    rec(stream::err, false, "after"),
  };
  std::string all = "first\nE1-E2\n[contd-logger] dropped 1 lines (4 bytes) of output: x\n"
                    "long-line-end\nafter\n";
  CHECK(tail_text(rs, 100) == all);
  CHECK(tail_text(rs, 5) == all);
  CHECK(tail_text(rs, 2) == "long-line-end\nafter\n");
  CHECK(tail_text(rs, 1) == "after\n");
  CHECK(tail_text(rs, 0).empty());
  CHECK(tail_text({}, 10).empty());
}

TEST_CASE("tail_text shows lines whose last part never came") {
  std::vector<record> rs{
    rec(stream::err, true, "err-cut"),
    rec(stream::out, false, "complete"),
    rec(stream::out, true, "out-"),
    rec(stream::out, true, "cut"),
  };
  CHECK(tail_text(rs, 10) == "complete\nerr-cut\nout-cut\n");
  CHECK(tail_text(rs, 1) == "out-cut\n");
  // A tail that starts with the F of a line whose parts were cut off shows what is there.
  CHECK(tail_text({rec(stream::out, false, "rest"), rec(stream::out, false, "x")}, 10)
        == "rest\nx\n");
}

TEST_CASE("tail_text over a file round trip") {
  std::string file;
  for (int i = 0; i < 1000; ++i)
    file += encode(
      rec(i % 3 == 0 ? stream::err : stream::out, false, "line " + std::to_string(i), t0 + i));
  auto text = tail_text(parse_all(file, false), 3);
  CHECK(text == "line 997\nline 998\nline 999\n");
}
