// UTF-8 validity, shared by the log formatting and request validation. Header only: no
// library needed.
#pragma once

#include <cstddef>
#include <string_view>

namespace contd {

/// The length of the valid UTF-8 sequence at s[pos] (1 for ASCII), or 0 when the bytes there are
/// not one (RFC 3629: no overlong forms, no UTF-16 surrogates, nothing above U+10FFFF) — the rule
/// Go's utf8 package applies.
inline size_t utf8_length(std::string_view s, size_t pos) {
  auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  auto b0 = b(pos);
  if (b0 < 0x80)
    return 1;
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF; // the second byte's range (RFC 3629 table 3-7)
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    lo = b0 == 0xE0 ? 0xA0 : 0x80;
    hi = b0 == 0xED ? 0x9F : 0xBF; // no UTF-16 surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    lo = b0 == 0xF0 ? 0x90 : 0x80;
    hi = b0 == 0xF4 ? 0x8F : 0xBF; // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (pos + len > s.size() || b(pos + 1) < lo || b(pos + 1) > hi)
    return 0;
  for (size_t i = 2; i < len; ++i)
    if (b(pos + i) < 0x80 || b(pos + i) > 0xBF)
      return 0;
  return len;
}

} // namespace contd
