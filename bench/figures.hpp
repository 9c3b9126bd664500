// Small helpers the benchmark programs share: elapsed milliseconds and percentiles.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

namespace contd::bench {

using clk = std::chrono::steady_clock;

inline double ms_since(clk::time_point t) {
  return std::chrono::duration<double, std::milli>(clk::now() - t).count();
}

/// The p-th percentile (nearest rank) of `xs`; 0 for none.
inline double pct(std::vector<double> xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto idx = static_cast<size_t>(p / 100.0 * static_cast<double>(xs.size() - 1) + 0.5);
  return xs[std::min(idx, xs.size() - 1)];
}

} // namespace contd::bench
