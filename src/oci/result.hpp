// A value or a human sentence saying why there is none. src/oci stays free of CAF so that the pure
// functions can be tested and reused without an actor system; the actor turns the sentence into a
// contd error.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace contd::oci {

template <class T>
class result {
public:
  result(T value) : value_(std::move(value)) { // NOLINT: implicit on purpose, like expected<T>
  }

  static result failure(std::string why) {
    result r;
    r.error_ = std::move(why);
    return r;
  }

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }

  const T& value() const& { return *value_; }
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }
  const T& operator*() const& { return *value_; }
  T& operator*() & { return *value_; }
  const T* operator->() const { return &*value_; }

  /// Empty when ok().
  const std::string& error() const { return error_; }

private:
  result() = default;
  std::optional<T> value_;
  std::string error_;
};

} // namespace contd::oci
