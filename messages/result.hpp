// contd's one way to fail below the actors: a function that can fail returns `result<T>`, a value
// or the reason there is none. The reason is a human sentence by default (what a caller of the
// daemon ends up reading), or a structured error where the caller needs more (E). Nothing here
// depends on CAF, so the libraries stay usable without an actor system; an actor turns a failed
// result into a contd error with `make_error(code, r.error())`.
//
// The one exception to the rule is the zbus codec's argument decoders (decode_string,
// decode_container, ...): they throw zbus::type_error to unwind out of a nested msgpack document,
// and the dispatcher, their caller in the daemon, catches it and answers the protocol error. The
// codec's envelope decoders (decode_request, decode_response, check_msgpack) return results.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace contd {

/// The error of a failed result, as a value that converts to any result<T, E>.
template <class E>
struct unexpected {
  E error;
};

/// A failed result with a sentence: `return fail("no such thing");`.
inline unexpected<std::string> fail(std::string why) {
  return {std::move(why)};
}

template <class T, class E = std::string>
class [[nodiscard]] result {
public:
  result(T value) : state_(std::in_place_index<0>, std::move(value)) { // NOLINT: like expected<T>
  }
  result(unexpected<E> e) : state_(std::in_place_index<1>, std::move(e.error)) { // NOLINT
  }

  /// The same as `fail(why)`; kept for call sites that name the type.
  static result failure(E why) { return result{unexpected<E>{std::move(why)}}; }

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  const T& value() const& { return std::get<0>(state_); }
  T& value() & { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  /// The reason; an empty one (E{}) when ok(), so that it can always be logged.
  const E& error() const {
    static const E none{};
    return ok() ? none : std::get<1>(state_);
  }

private:
  std::variant<T, E> state_;
};

/// Success without a value, or the reason.
template <class E>
class [[nodiscard]] result<void, E> {
public:
  result() = default;
  result(unexpected<E> e) : error_(std::move(e.error)) { // NOLINT: like expected<void>
  }

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }

  /// The reason; an empty one (E{}) when ok().
  const E& error() const {
    static const E none{};
    return ok() ? none : *error_;
  }

private:
  std::optional<E> error_;
};

} // namespace contd
