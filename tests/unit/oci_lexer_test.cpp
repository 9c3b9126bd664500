// The entrypoint splitter must split exactly like google/shlex in the original (its 2019 revision):
// zdb feeds Inspect's Entrypoint back into Run, so a different split changes what runs.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "src/oci/lexer.hpp"

using contd::oci::join_entrypoint;
using contd::oci::split_entrypoint;
using words = std::vector<std::string>;

namespace {

struct ok_case {
  const char* rule;
  std::string input;
  words expected;
};

struct error_case {
  const char* rule;
  std::string input;
  const char* error;
};

} // namespace

TEST_CASE("the splitter follows every shlex rule", "[oci][lexer]") {
  const std::vector<ok_case> cases = {
    // rule 1: separators are exactly space, tab, CR, LF
    {"1 space", "a b", {"a", "b"}},
    {"1 tab", "a\tb", {"a", "b"}},
    {"1 CR", "a\rb", {"a", "b"}},
    {"1 LF", "a\nb", {"a", "b"}},
    {"1 vertical tab is a word rune", "a\vb", {"a\vb"}},
    {"1 form feed is a word rune", "a\fb", {"a\fb"}},
    {"1 NBSP is a word rune",
     "a\xC2\xA0"
     "b",
     {"a\xC2\xA0"
      "b"}},
    {"1 ideographic space is a word rune",
     "a\xE3\x80\x80"
     "b",
     {"a\xE3\x80\x80"
      "b"}},
    {"1 non-ASCII word", "\xC3\xA9t\xC3\xA9 caf\xC3\xA9", {"\xC3\xA9t\xC3\xA9", "caf\xC3\xA9"}},
    // rule 2: runs of separators, leading and trailing separators
    {"2 runs", "a  \t\r\n  b", {"a", "b"}},
    {"2 leading and trailing", "  \t a b \n ", {"a", "b"}},
    // rule 3: single quotes are literal, concatenate with the word
    {"3 single quotes", "'x y'", {"x y"}},
    {"3 backslash literal in single quotes", R"('a\b')", {R"(a\b)"}},
    {"3 double quote literal in single quotes", R"('say "hi"')", {R"(say "hi")"}},
    {"3 concatenation", "a'b c'd", {"ab cd"}},
    {"3 hash in single quotes", "'#x'", {"#x"}},
    {"3 LF in single quotes", "'a\nb'", {"a\nb"}},
    // rule 4: double quotes: a backslash escapes any next character
    {"4 double quotes", R"("x y")", {"x y"}},
    {"4 backslash escapes any char", R"("a\b")", {"ab"}},
    {"4 escaped backslash", R"("a\\b")", {R"(a\b)"}},
    {"4 escaped quote", R"("say \"hi\"")", {R"(say "hi")"}},
    {"4 escaped dollar", R"("\$x")", {"$x"}},
    {"4 single quote in double quotes", R"("it's")", {"it's"}},
    {"4 escaped LF in double quotes", "\"a\\\nb\"", {"a\nb"}},
    {"4 concatenation", R"(x"y z"w)", {"xy zw"}},
    // rule 5: outside quotes a backslash makes the next char literal
    {"5 escaped space", R"(a\ b)", {"a b"}},
    {"5 escaped LF", "a\\\nb", {"a\nb"}},
    {"5 escaped backslash", R"(a\\b)", {R"(a\b)"}},
    {"5 escaped quote", R"(\"a\")", {R"("a")"}},
    {"5 escaped single quote", R"(\'a)", {"'a"}},
    {"5 escape at word start", R"(\a)", {"a"}},
    // rule 6: '#' starts a comment only at the start of a word, up to LF
    {"6 comment", "echo hello #comment here", {"echo", "hello"}},
    {"6 comment at start", "#only a comment", {}},
    {"6 comment ends at LF", "a #c d\nb", {"a", "b"}},
    {"6 CR does not end a comment", "a #c\rd e", {"a"}},
    {"6 quotes in a comment are ignored", "a #'unterminated", {"a"}},
    {"6 backslash in a comment is ignored", "a #\\", {"a"}},
    {"6 hash inside a word", "echo a#b", {"echo", "a#b"}},
    {"6 hash after a closing quote", R"("a"#b)", {"a#b"}},
    {"6 hash at word end", "a# b", {"a#", "b"}},
    {"6 escaped hash", R"(\#a)", {"#a"}},
    {"6 comment directly after LF", "a\n#b\nc", {"a", "c"}},
    // rule 7: empty quoted strings are arguments
    {"7 empty double quotes", R"(a "" b)", {"a", "", "b"}},
    {"7 empty single quotes", "''", {""}},
    {"7 two empty quotes make one empty word", R"(''"")", {""}},
    {"7 empty quotes at end", "a ''", {"a", ""}},
    // rule 8: no expansion of any kind
    {"8 no expansion", R"(sh -c "echo $HOME && ls | wc")", {"sh", "-c", "echo $HOME && ls | wc"}},
    {"8 operators are words",
     "a;b && c | d > e $(f) ~ *",
     {"a;b", "&&", "c", "|", "d", ">", "e", "$(f)", "~", "*"}},
    // rule 10: nothing to split
    {"10 empty", "", {}},
    {"10 blank", "   ", {}},
    {"10 blank with LF", " \n\t\r ", {}},
    // rule 11: invalid UTF-8 bytes each become U+FFFD
    {"11 lone continuation byte",
     "a\x80"
     "b",
     {"a\xEF\xBF\xBD"
      "b"}},
    {"11 invalid lead byte", "\xFF", {"\xEF\xBF\xBD"}},
    {"11 truncated sequence", "\xE2\x82", {"\xEF\xBF\xBD\xEF\xBF\xBD"}},
    {"11 broken sequence then ASCII", "\xE2(\xA1", {"\xEF\xBF\xBD(\xEF\xBF\xBD"}},
    {"11 overlong encoding", "\xC0\xAF", {"\xEF\xBF\xBD\xEF\xBF\xBD"}},
    {"11 overlong 3-byte", "\xE0\x80\xAF", {"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}},
    {"11 surrogate", "\xED\xA0\x80", {"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}},
    {"11 above U+10FFFF", "\xF4\x90\x80\x80", {"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}},
    {"11 valid 4-byte", "\xF0\x9F\x98\x80", {"\xF0\x9F\x98\x80"}},
    {"11 in single quotes", "'\xFF'", {"\xEF\xBF\xBD"}},
    {"11 escaped invalid byte",
     "\\\xFF"
     "a",
     {"\xEF\xBF\xBD"
      "a"}},
    {"11 NUL is a word rune", std::string{"a\0b", 3}, {std::string{"a\0b", 3}}},
    // §5 examples table
    {"ex zdb admin", "/bin/zdb --admin 'x y'", {"/bin/zdb", "--admin", "x y"}},
    {"ex windows path", R"("C:\path")", {"C:path"}},
    {"ex zinit", "/sbin/zinit init --container", {"/sbin/zinit", "init", "--container"}},
    {"ex zdb full",
     "/bin/zdb --protect --admin '<diskid>' --data /zdb/data --index /zdb/index  --listen :: "
     "--port 9900 --socket /socket/zdb.sock --dualnet",
     {"/bin/zdb", "--protect", "--admin", "<diskid>", "--data", "/zdb/data", "--index",
      "/zdb/index", "--listen", "::", "--port", "9900", "--socket", "/socket/zdb.sock",
      "--dualnet"}},
    // §6: what .startup.toml entrypoints look like
    {"startup.toml style",
     R"(/start "extra" "argument with spaces" "with \"skip\"")",
     {"/start", "extra", "argument with spaces", R"(with "skip")"}},
  };
  for (const auto& c : cases) {
    INFO("rule " << c.rule);
    auto got = split_entrypoint(c.input);
    REQUIRE(got.ok());
    CHECK(*got == c.expected);
  }
}

TEST_CASE("the splitter reports shlex's errors", "[oci][lexer]") {
  const std::vector<error_case> cases = {
    {"9 unterminated double quote", R"("unterminated)", "EOF found when expecting closing quote"},
    {"9 unterminated single quote", "a 'b c", "EOF found when expecting closing quote"},
    {"9 quote closed by the other kind", R"("a')", "EOF found when expecting closing quote"},
    {"9 trailing backslash", "a\\", "EOF found after escape character"},
    {"9 trailing backslash in double quotes", "\"a\\", "EOF found after escape character"},
    {"9 escaped closing quote", R"("a\")", "EOF found when expecting closing quote"},
    {"9 lone backslash", "\\", "EOF found after escape character"},
    {"9 error after good words", "a b c 'd", "EOF found when expecting closing quote"},
  };
  for (const auto& c : cases) {
    INFO("rule " << c.rule);
    auto got = split_entrypoint(c.input);
    REQUIRE_FALSE(got.ok());
    CHECK(got.error() == c.error);
  }
}

TEST_CASE("joined arguments split back to the same argv", "[oci][lexer]") {
  const std::vector<words> argvs = {
    {"/bin/zdb", "--admin", "x y"},
    {"sh", "-c", "echo $HOME && ls | wc"},
    {"a", "", "b"},
    {"it's", R"(say "hi")", R"(C:\path)", "#not-a-comment", "a#b"},
    {"tab\there", "line\nbreak", "cr\rhere"},
    {"'", "''", "\\"},
  };
  for (const auto& argv : argvs) {
    auto text = join_entrypoint(argv);
    INFO("joined: " << text);
    auto back = split_entrypoint(text);
    REQUIRE(back.ok());
    CHECK(*back == argv);
  }
  // Plain words are not quoted, so simple entrypoints stay as callers wrote them.
  CHECK(join_entrypoint({"/sbin/zinit", "init", "--container"}) == "/sbin/zinit init --container");
}

TEST_CASE("hostile input is split in linear time", "[oci][lexer]") {
  // Alternating quotes and escapes exercise every state transition; 4 MiB must take well under a
  // second on any machine if the splitter is linear.
  std::string input;
  for (int i = 0; i < 1 << 18; ++i)
    input += "a\"b\\\"'c'\\ #";
  input += "\n";
  auto start = std::chrono::steady_clock::now();
  auto got = split_entrypoint(input);
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(got.ok());
  CHECK(got->size() == 1);
  CHECK(took < std::chrono::seconds(2));
  std::string many(1 << 20, ' ');
  for (size_t i = 0; i < many.size(); i += 2)
    many[i] = 'x';
  auto split = split_entrypoint(many);
  REQUIRE(split.ok());
  CHECK(split->size() == many.size() / 2);
}
