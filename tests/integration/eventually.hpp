// Polls a condition in real time (integration tests only: deterministic tests move time by hand).
#pragma once

#include <chrono>
#include <thread>

namespace contd::test {

/// True as soon as `pred()` holds; false if it still does not after `limit`.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds{10}) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return pred();
}

} // namespace contd::test
