#include "src/oci/lexer.hpp"

#include <cstdint>

namespace contd::oci {

namespace {

// Go reads the string with strings.Reader.ReadRune, which decodes UTF-8 like utf8.DecodeRune:
// every byte that does not start a valid, shortest-form, non-surrogate sequence becomes U+FFFD
// and consumes exactly one byte. Returns the bytes to append and advances `pos`.
std::string_view next_rune(std::string_view in, size_t& pos) {
  static constexpr std::string_view replacement = "\xEF\xBF\xBD";
  auto byte = [&](size_t i) { return static_cast<uint8_t>(in[i]); };
  uint8_t b0 = byte(pos);
  size_t len = 0;
  uint8_t lo = 0x80, hi = 0xBF; // allowed range of the second byte
  if (b0 < 0x80) {
    len = 1;
  } else if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0)
      lo = 0xA0; // overlong
    else if (b0 == 0xED)
      hi = 0x9F; // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0)
      lo = 0x90; // overlong
    else if (b0 == 0xF4)
      hi = 0x8F; // above U+10FFFF
  }
  auto invalid = [&] {
    ++pos;
    return replacement;
  };
  if (len == 0 || pos + len > in.size())
    return invalid();
  if (len > 1 && (byte(pos + 1) < lo || byte(pos + 1) > hi))
    return invalid();
  for (size_t i = 2; i < len; ++i)
    if (byte(pos + i) < 0x80 || byte(pos + i) > 0xBF)
      return invalid();
  auto out = in.substr(pos, len);
  pos += len;
  return out;
}

enum class rune_class { other, space, escaping_quote, non_escaping_quote, escape, comment };

rune_class classify(std::string_view rune) {
  if (rune.size() != 1)
    return rune_class::other; // only ASCII has a meaning; U+00A0 and friends are word runes
  switch (rune[0]) {
  case ' ':
  case '\t':
  case '\r':
  case '\n':
    return rune_class::space;
  case '"':
    return rune_class::escaping_quote;
  case '\'':
    return rune_class::non_escaping_quote;
  case '\\':
    return rune_class::escape;
  case '#':
    return rune_class::comment;
  default:
    return rune_class::other;
  }
}

// The states of shlex's tokenizer, with its names.
enum class state {
  start,            // between words
  in_word,          // in an unquoted part of a word
  escaping,         // after a backslash outside quotes
  escaping_quoted,  // after a backslash inside double quotes
  quoting_escaping, // inside double quotes
  quoting,          // inside single quotes
  comment,          // after '#' at the start of a word, up to LF
};

} // namespace

result<std::vector<std::string>> split_entrypoint(std::string_view input) {
  using out_t = result<std::vector<std::string>>;
  std::vector<std::string> words;
  std::string word;
  state st = state::start;
  size_t pos = 0;
  while (pos < input.size()) {
    auto rune = next_rune(input, pos);
    auto cls = classify(rune);
    switch (st) {
    case state::start:
      switch (cls) {
      case rune_class::space:
        break;
      case rune_class::escaping_quote:
        st = state::quoting_escaping;
        break;
      case rune_class::non_escaping_quote:
        st = state::quoting;
        break;
      case rune_class::escape:
        st = state::escaping;
        break;
      case rune_class::comment:
        st = state::comment;
        break;
      case rune_class::other:
        word.append(rune);
        st = state::in_word;
        break;
      }
      break;
    case state::in_word:
      switch (cls) {
      case rune_class::space:
        words.push_back(std::move(word));
        word.clear();
        st = state::start;
        break;
      case rune_class::escaping_quote:
        st = state::quoting_escaping;
        break;
      case rune_class::non_escaping_quote:
        st = state::quoting;
        break;
      case rune_class::escape:
        st = state::escaping;
        break;
      case rune_class::comment: // '#' inside a word is literal
      case rune_class::other:
        word.append(rune);
        break;
      }
      break;
    case state::escaping:
      word.append(rune);
      st = state::in_word;
      break;
    case state::escaping_quoted:
      word.append(rune);
      st = state::quoting_escaping;
      break;
    case state::quoting_escaping:
      if (cls == rune_class::escaping_quote)
        st = state::in_word;
      else if (cls == rune_class::escape)
        st = state::escaping_quoted;
      else
        word.append(rune);
      break;
    case state::quoting:
      if (cls == rune_class::non_escaping_quote)
        st = state::in_word;
      else
        word.append(rune);
      break;
    case state::comment:
      // Only LF ends a comment; CR and tab are part of it, as in shlex.
      if (rune == "\n")
        st = state::start;
      break;
    }
  }
  switch (st) {
  case state::in_word:
    words.push_back(std::move(word));
    break;
  case state::escaping:
  case state::escaping_quoted:
    return out_t::failure("EOF found after escape character");
  case state::quoting_escaping:
  case state::quoting:
    return out_t::failure("EOF found when expecting closing quote");
  case state::start:
  case state::comment:
    break;
  }
  return words;
}

std::string join_entrypoint(const std::vector<std::string>& argv) {
  std::string out;
  bool first = true;
  for (const auto& arg : argv) {
    if (!first)
      out += ' ';
    first = false;
    // The characters the splitter treats specially, and NUL (counted in: the view is 9 long).
    static constexpr std::string_view special{" \t\r\n'\"\\#\0", 9};
    bool plain = !arg.empty() && arg.find_first_of(special) == std::string::npos;
    if (plain) {
      out += arg;
      continue;
    }
    // Single quotes keep everything literal; a quote itself is written as '\'' (close, escaped
    // quote outside quotes, reopen).
    out += '\'';
    for (char ch : arg) {
      if (ch == '\'')
        out += "'\\''";
      else
        out += ch;
    }
    out += '\'';
  }
  return out;
}

} // namespace contd::oci
