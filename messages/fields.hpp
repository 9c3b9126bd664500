// Field tables: one list per struct of its members and the Go keys they travel under.
//
// `fields_of(x)` (found by argument-dependent lookup) returns a tuple of `field`s and
// `optional_field`s referring into `x`, const or not. Everything that walks a struct member by
// member is derived from that one list: equality, CAF's inspect(), the msgpack codec of the wire,
// the JSON of the stored request and contctl's JSON. A field added to the list reaches all of them.
#pragma once

#include <tuple>
#include <type_traits>
#include <utility>

#include <caf/meta/type_name.hpp>

namespace contd {

/// A member and its key.
template <class T>
struct field {
  const char* key;
  T& value;
};

/// A member that is present only when `present` is true (the codecs write it only then; decoding
/// it sets `present`). Go's structs have none; contd's extra keys do.
template <class T, class B>
struct optional_field {
  const char* key;
  T& value;
  B& present;
};

template <class T>
field<T> fld(const char* key, T& value) {
  return {key, value};
}

template <class T, class B>
optional_field<T, B> opt_fld(const char* key, T& value, B& present) {
  return {key, value, present};
}

/// Declares `fields_of` for Type, for const and mutable objects alike (`x` is the object).
#define CONTD_FIELDS(Type)                                                                         \
  template <class C, std::enable_if_t<std::is_same_v<std::remove_const_t<C>, Type>, int> = 0>      \
  auto fields_of(C& x)

template <class F>
struct is_optional_field : std::false_type {};

template <class T, class B>
struct is_optional_field<optional_field<T, B>> : std::true_type {};

/// True for types with a field table.
template <class T, class = void>
struct has_fields : std::false_type {};

template <class T>
struct has_fields<T, std::void_t<decltype(fields_of(std::declval<T&>()))>> : std::true_type {};

template <class T>
inline constexpr bool has_fields_v = has_fields<T>::value;

/// Calls f(field) for each entry of x's table, in order.
template <class T, class F>
void visit_fields(T& x, F&& f) {
  std::apply([&](auto... fs) { (f(fs), ...); }, fields_of(x));
}

namespace detail {

template <class T>
auto refs(field<T> f) {
  return std::tie(f.value);
}

template <class T, class B>
auto refs(optional_field<T, B> f) {
  return std::tie(f.present, f.value);
}

} // namespace detail

/// A tuple of references to every member in the table (presence flags included).
template <class T>
auto refs_of(T& x) {
  return std::apply([](auto... fs) { return std::tuple_cat(detail::refs(fs)...); }, fields_of(x));
}

/// Member-wise equality over the table.
template <class T>
bool fields_equal(const T& a, const T& b) {
  return refs_of(a) == refs_of(b);
}

/// CAF's inspect() over the table.
template <class Inspector, class T>
typename Inspector::result_type inspect_fields(Inspector& f, const char* name, T& x) {
  return std::apply([&](auto&... xs) { return f(caf::meta::type_name(name), xs...); }, refs_of(x));
}

/// ==, != and CAF's inspect() for a type with a field table.
#define CONTD_FIELD_OPS(Type, type_name)                                                           \
  inline bool operator==(const Type& a, const Type& b) {                                           \
    return fields_equal(a, b);                                                                     \
  }                                                                                                \
  inline bool operator!=(const Type& a, const Type& b) {                                           \
    return !(a == b);                                                                              \
  }                                                                                                \
  template <class Inspector>                                                                       \
  typename Inspector::result_type inspect(Inspector& f, Type& x) {                                 \
    return inspect_fields(f, type_name, x);                                                        \
  }

} // namespace contd
