// Fuzz target: an Entrypoint string through the shlex-compatible splitter.
//
// Properties: errors are one of shlex's two texts; every word is valid UTF-8 (invalid bytes are
// read as U+FFFD, as Go's ReadRune does); join_entrypoint() of the words splits back into the same
// words; and join_entrypoint() of any valid UTF-8 argv (here: the input cut at NUL bytes) splits
// back into that argv.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/check.hpp"
#include "src/oci/lexer.hpp"
#include "src/oci/validate.hpp"

using namespace contd::oci;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in{reinterpret_cast<const char*>(data), size};

  std::vector<std::string> argv;
  bool utf8 = true;
  for (size_t at = 0;;) {
    auto nul = in.find('\0', at);
    argv.emplace_back(in.substr(at, nul == std::string_view::npos ? nul : nul - at));
    utf8 = utf8 && is_valid_utf8(argv.back());
    if (nul == std::string_view::npos)
      break;
    at = nul + 1;
  }
  if (utf8) {
    auto back = split_entrypoint(join_entrypoint(argv));
    FUZZ_CHECK(back.ok() && *back == argv);
  }

  auto words = split_entrypoint(in);
  if (!words) {
    FUZZ_CHECK(words.error() == "EOF found when expecting closing quote"
               || words.error() == "EOF found after escape character");
    return 0;
  }
  for (const auto& w : *words)
    FUZZ_CHECK(is_valid_utf8(w));
  auto again = split_entrypoint(join_entrypoint(*words));
  FUZZ_CHECK(again.ok() && *again == *words);
  return 0;
}
