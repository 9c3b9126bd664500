// JSON of any struct with a field table (messages/fields.hpp), for nlohmann's json or
// ordered_json: the stored request in a container's spec, and contctl's --json output. The two
// differ only in how a time is written, which the caller passes.
//
// Every list is an array (empty ones too); contd's extra keys are left out when they hold nothing
// (a default RestartPolicy, an absent State).
#pragma once

#include <string>
#include <type_traits>
#include <vector>

#include "messages/types.hpp"

namespace contd {

template <class Json, class TimeFn>
struct fields_json_writer {
  TimeFn time;

  Json operator()(const std::string& x) const { return x; }
  Json operator()(bool x) const { return x; }
  Json operator()(container_status x) const { return to_string(x); }
  Json operator()(uint64_t x) const { return x; }
  Json operator()(uint32_t x) const { return x; }
  Json operator()(int64_t x) const { return x; }
  Json operator()(const go_time& t) const { return time(t); }

  template <class T>
  Json operator()(const std::vector<T>& xs) const {
    Json out = Json::array();
    for (const auto& x : xs)
      out.push_back((*this)(x));
    return out;
  }

  template <class T, std::enable_if_t<has_fields_v<T>, int> = 0>
  Json operator()(const T& x) const {
    Json out = Json::object();
    visit_fields(x, [&](auto f) {
      if constexpr (is_optional_field<decltype(f)>::value)
        if (!f.present)
          return;
      if constexpr (std::is_same_v<std::decay_t<decltype(f.value)>, restart_policy>)
        if (f.value.is_default())
          return;
      out[f.key] = (*this)(f.value);
    });
    return out;
  }
};

/// x as JSON, with times written by `time(const go_time&)`.
template <class Json, class T, class TimeFn>
Json fields_to_json(const T& x, TimeFn time) {
  return fields_json_writer<Json, TimeFn>{time}(x);
}

} // namespace contd
