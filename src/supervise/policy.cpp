#include "src/supervise/policy.hpp"

#include <algorithm>
#include <charconv>

namespace contd::supervise {

namespace {

constexpr size_t max_kept_exits = 32;

} // namespace

policy effective(const restart_policy& p) {
  policy out;
  if (p.name == "on-failure")
    out.kind = policy_kind::on_failure;
  else if (p.name == "no")
    out.kind = policy_kind::never;
  if (p.max_restarts > 0)
    out.max_restarts = p.max_restarts;
  if (p.window > 0)
    out.window = std::chrono::nanoseconds{p.window};
  return out;
}

const char* to_string(policy_kind k) {
  switch (k) {
  case policy_kind::always:
    return "always";
  case policy_kind::on_failure:
    return "on-failure";
  case policy_kind::never:
    return "no";
  }
  return "always";
}

std::chrono::nanoseconds backoff(size_t n, double jitter) {
  using namespace std::chrono;
  nanoseconds base = seconds{1};
  for (size_t i = 1; i < n && base < seconds{60}; ++i)
    base *= 2;
  base = std::min<nanoseconds>(base, seconds{60});
  jitter = std::clamp(jitter, 0.0, 1.0);
  return nanoseconds{
    static_cast<int64_t>(static_cast<double>(base.count()) * (0.8 + 0.4 * jitter))};
}

void prune(const policy& p, history& h, int64_t now) {
  auto oldest = now - p.window.count();
  h.exits.erase(
    std::remove_if(h.exits.begin(), h.exits.end(), [oldest](int64_t t) { return t <= oldest; }),
    h.exits.end());
}

decision on_exit(const policy& p, history& h, int64_t at, uint32_t exit_code, bool oom,
                 double jitter) {
  decision d;
  if (p.kind == policy_kind::never) {
    d.reason = "restart policy \"no\"";
    return d;
  }
  if (p.kind == policy_kind::on_failure && exit_code == 0 && !oom) {
    d.reason = "exited with code 0 under restart policy \"on-failure\"";
    return d;
  }
  prune(p, h, at);
  h.exits.push_back(at);
  if (h.exits.size() > max_kept_exits)
    h.exits.erase(h.exits.begin(), h.exits.end() - max_kept_exits);
  auto in_window = h.exits.size();
  if (in_window > p.max_restarts) {
    d.what = decision::give_up;
    auto secs = std::chrono::duration_cast<std::chrono::milliseconds>(p.window).count() / 1000.0;
    char window[32];
    std::snprintf(window, sizeof(window), "%g", secs);
    d.reason = "gave up: " + std::to_string(in_window) + " exits within " + window
               + " s (last: " + (oom ? std::string{"OOM-killed, "} : std::string{}) + "exit code "
               + std::to_string(exit_code) + "); restart policy \"" + to_string(p.kind)
               + "\" allows " + std::to_string(p.max_restarts);
    return d;
  }
  d.what = decision::restart;
  d.delay = backoff(in_window, jitter);
  return d;
}

std::string encode_exits(const std::vector<int64_t>& exits) {
  std::string out;
  auto first = exits.size() > max_kept_exits ? exits.end() - max_kept_exits : exits.begin();
  for (auto i = first; i != exits.end(); ++i) {
    if (!out.empty())
      out += ',';
    out += std::to_string(*i);
  }
  return out;
}

std::vector<int64_t> decode_exits(std::string_view text) {
  std::vector<int64_t> out;
  while (!text.empty() && out.size() < max_kept_exits) {
    auto comma = text.find(',');
    auto part = text.substr(0, comma);
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (ec == std::errc{} && ptr == part.data() + part.size())
      out.push_back(v);
    if (comma == std::string_view::npos)
      break;
    text.remove_prefix(comma + 1);
  }
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace contd::supervise
