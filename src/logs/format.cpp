#include "src/logs/format.hpp"

#include <algorithm>
#include <cstring>
#include <array>
#include <deque>

namespace contd::logs {

namespace {

constexpr int64_t ns_per_s = 1'000'000'000;
constexpr int64_t s_per_day = 86'400;

// Days since 1970-01-01 of a date in the proleptic Gregorian calendar, and back (the algorithms
// of Howard Hinnant's date library, valid for every int64 day count used here).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct civil {
  int64_t year;
  unsigned month;
  unsigned day;
};

civil civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

bool leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(int64_t y, unsigned m) {
  static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

char* put_digits(char* at, uint64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    at[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return at + width;
}

// Writes the 30 characters of the time (int64 nanoseconds span the years 1677 to 2262, so the
// year always has 4 digits) and returns how many.
size_t format_time_to(char* out, int64_t unix_ns) {
  int64_t secs = unix_ns / ns_per_s;
  int64_t frac = unix_ns % ns_per_s;
  if (frac < 0) {
    frac += ns_per_s;
    secs -= 1;
  }
  int64_t days = secs / s_per_day;
  int64_t in_day = secs % s_per_day;
  if (in_day < 0) {
    in_day += s_per_day;
    days -= 1;
  }
  auto date = civil_from_days(days);
  char* p = out;
  p = put_digits(p, static_cast<uint64_t>(date.year), 4);
  *p++ = '-';
  p = put_digits(p, date.month, 2);
  *p++ = '-';
  p = put_digits(p, date.day, 2);
  *p++ = 'T';
  p = put_digits(p, static_cast<uint64_t>(in_day / 3600), 2);
  *p++ = ':';
  p = put_digits(p, static_cast<uint64_t>(in_day / 60 % 60), 2);
  *p++ = ':';
  p = put_digits(p, static_cast<uint64_t>(in_day % 60), 2);
  *p++ = '.';
  p = put_digits(p, static_cast<uint64_t>(frac), 9);
  *p++ = 'Z';
  return static_cast<size_t>(p - out);
}

// `len` decimal digits at `at`, or false.
bool number(std::string_view text, size_t at, size_t len, int& value) {
  if (at + len > text.size())
    return false;
  value = 0;
  for (size_t i = at; i < at + len; ++i) {
    if (text[i] < '0' || text[i] > '9')
      return false;
    value = value * 10 + (text[i] - '0');
  }
  return true;
}

size_t index_of(stream s) {
  switch (s) {
  case stream::out:
    return 0;
  case stream::err:
    return 1;
  case stream::logger:
    return 2;
  }
  return 0;
}

} // namespace

const char* stream_name(stream s) {
  switch (s) {
  case stream::out:
    return "stdout";
  case stream::err:
    return "stderr";
  case stream::logger:
    return "logger";
  }
  return "stdout";
}

std::string format_time(int64_t unix_ns) {
  char buf[32];
  return std::string(buf, format_time_to(buf, unix_ns));
}

// YYYY-MM-DDTHH:MM:SS[.1 to 9 digits](Z|+HH:MM|-HH:MM): what the logger writes (always 9
// digits and Z) and the RFC 3339 times other CRI writers use.
std::optional<int64_t> parse_time(std::string_view t) {
  int y, mo, d, h, mi, s;
  if (!number(t, 0, 4, y) || t.size() < 20 || t[4] != '-' || !number(t, 5, 2, mo) || t[7] != '-'
      || !number(t, 8, 2, d) || t[10] != 'T' || !number(t, 11, 2, h) || t[13] != ':'
      || !number(t, 14, 2, mi) || t[16] != ':' || !number(t, 17, 2, s))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || static_cast<unsigned>(d) > days_in_month(y, mo) || h > 23
      || mi > 59 || s > 59)
    return std::nullopt;
  size_t i = 19;
  int64_t frac = 0;
  if (i < t.size() && t[i] == '.') {
    ++i;
    int digits = 0;
    for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i, ++digits) {
      if (digits == 9)
        return std::nullopt;
      frac = frac * 10 + (t[i] - '0');
    }
    if (digits == 0)
      return std::nullopt;
    for (; digits < 9; ++digits)
      frac *= 10;
  }
  int64_t offset = 0;
  if (i < t.size() && t[i] == 'Z') {
    ++i;
  } else if (i + 6 == t.size() && (t[i] == '+' || t[i] == '-')) {
    int oh, om;
    if (!number(t, i + 1, 2, oh) || t[i + 3] != ':' || !number(t, i + 4, 2, om) || oh > 23
        || om > 59)
      return std::nullopt;
    offset = (t[i] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != t.size())
    return std::nullopt;
  int64_t secs = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * s_per_day
                 + h * 3600 + mi * 60 + s - offset;
  // Negative times: seconds + 1 and a negative fraction, so the earliest representable
  // nanosecond does not overflow on the way.
  if (secs < 0 && frac > 0) {
    secs += 1;
    frac -= ns_per_s;
  }
  int64_t ns;
  if (__builtin_mul_overflow(secs, ns_per_s, &ns) || __builtin_add_overflow(ns, frac, &ns))
    return std::nullopt;
  return ns;
}

void append_encoded(std::string& out, int64_t unix_ns, stream source, bool partial,
                    std::string_view text) {
  char t[32];
  out.append(t, format_time_to(t, unix_ns));
  out += ' ';
  out += stream_name(source);
  out += ' ';
  out += partial ? 'P' : 'F';
  out += ' ';
  auto from = out.size();
  out.append(text);
  if (std::memchr(text.data(), '\n', text.size()) != nullptr) // never from the logger
    std::replace(out.begin() + static_cast<std::ptrdiff_t>(from), out.end(), '\n', ' ');
  out += '\n';
}

std::string encode(const record& r) {
  std::string out;
  out.reserve(42 + r.text.size());
  append_encoded(out, r.unix_ns, r.source, r.partial, r.text);
  return out;
}

std::optional<record> parse(std::string_view line) {
  auto sp = line.find(' ');
  if (sp == std::string_view::npos)
    return std::nullopt;
  auto time = parse_time(line.substr(0, sp));
  if (!time)
    return std::nullopt;
  record r;
  r.unix_ns = *time;
  auto rest = line.substr(sp + 1);
  sp = rest.find(' ');
  if (sp == std::string_view::npos)
    return std::nullopt;
  auto name = rest.substr(0, sp);
  if (name == "stdout")
    r.source = stream::out;
  else if (name == "stderr")
    r.source = stream::err;
  else if (name == "logger")
    r.source = stream::logger;
  else
    return std::nullopt;
  rest = rest.substr(sp + 1);
  // The tag, then a space and the text; an empty text may lack the space.
  if (rest.empty() || (rest[0] != 'F' && rest[0] != 'P') || (rest.size() > 1 && rest[1] != ' '))
    return std::nullopt;
  r.partial = rest[0] == 'P';
  if (rest.size() > 2) {
    auto text = rest.substr(2);
    if (text.find('\n') != std::string_view::npos)
      return std::nullopt;
    r.text.assign(text.data(), text.size());
  }
  return r;
}

std::vector<record> parse_all(std::string_view bytes, bool starts_mid_line, bool keep_plain) {
  std::vector<record> out;
  size_t pos = 0;
  if (starts_mid_line) {
    auto nl = bytes.find('\n');
    if (nl == std::string_view::npos)
      return out;
    pos = nl + 1;
  }
  for (;;) {
    auto nl = bytes.find('\n', pos);
    if (nl == std::string_view::npos)
      break;
    auto line = bytes.substr(pos, nl - pos);
    if (auto r = parse(line))
      out.push_back(std::move(*r));
    else if (keep_plain)
      out.push_back(record{0, stream::out, false, std::string{line}});
    pos = nl + 1;
  }
  return out;
}

// A line takes the place of its last part (the F record), so a long stdout line that was
// interleaved with stderr lines follows them. Lines whose F never came are shown after all
// others, in the order of their first parts.
std::string tail_text(const std::vector<record>& records, size_t n) {
  if (n == 0)
    return {};
  std::deque<std::string> lines;
  auto push = [&](stream s, std::string text) {
    if (s == stream::logger)
      text.insert(0, "[contd-logger] ");
    text += '\n';
    lines.push_back(std::move(text));
    if (lines.size() > n)
      lines.pop_front();
  };
  struct open_line {
    bool open = false;
    size_t first = 0; // index of the first part
    std::string text;
  };
  std::array<open_line, 3> parts;
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    auto& line = parts[index_of(r.source)];
    if (!line.open) {
      line.open = true;
      line.first = i;
    }
    line.text += r.text;
    if (!r.partial) {
      push(r.source, std::move(line.text));
      line = open_line{};
    }
  }
  std::array<stream, 3> left{stream::out, stream::err, stream::logger};
  std::sort(left.begin(), left.end(), [&](stream a, stream b) {
    return parts[index_of(a)].first < parts[index_of(b)].first;
  });
  for (auto s : left)
    if (parts[index_of(s)].open)
      push(s, std::move(parts[index_of(s)].text));
  std::string out;
  for (const auto& l : lines)
    out += l;
  return out;
}

} // namespace contd::logs
