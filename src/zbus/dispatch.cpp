#include "src/zbus/dispatch.hpp"

#include <array>

namespace contd::zbus {

namespace {

enum class arg_kind { string, container, duration };

struct signature {
  method m;
  const char* name;
  std::vector<std::pair<arg_kind, const char*>> fixed; // kind and Go type name
  bool variadic_strings = false;
};

const std::vector<signature>& signatures() {
  static const std::vector<signature> table = {
    {method::run, "Run", {{arg_kind::string, "string"}, {arg_kind::container, "pkg.Container"}}},
    {method::exec,
     "Exec",
     {{arg_kind::string, "string"},
      {arg_kind::string, "string"},
      {arg_kind::duration, "time.Duration"}},
     true},
    {method::list_ns, "ListNS", {}},
    {method::list, "List", {{arg_kind::string, "string"}}},
    {method::inspect,
     "Inspect",
     {{arg_kind::string, "string"}, {arg_kind::string, "pkg.ContainerID"}}},
    {method::signal_delete,
     "SignalDelete",
     {{arg_kind::string, "string"}, {arg_kind::string, "pkg.ContainerID"}}},
    {method::delete_,
     "Delete",
     {{arg_kind::string, "string"}, {arg_kind::string, "pkg.ContainerID"}}},
    {method::logs, "Logs", {{arg_kind::string, "string"}, {arg_kind::string, "string"}}},
    // contd's addition: the Go module has no Stats; its stubs never call it.
    {method::stats, "Stats", {{arg_kind::string, "string"}, {arg_kind::string, "pkg.ContainerID"}}},
  };
  return table;
}

} // namespace

const char* method_name(method m) {
  for (const auto& s : signatures())
    if (s.m == m)
      return s.name;
  return "?";
}

checked_call check_call(const request& req) {
  checked_call out;
  if (!(req.object == object_id{object_name, object_version})) {
    out.protocol_error = "unknown object";
    return out;
  }
  const signature* sig = nullptr;
  for (const auto& s : signatures())
    if (req.method == s.name)
      sig = &s;
  if (sig == nullptr) {
    out.protocol_error = "not a function";
    return out;
  }
  const auto n = sig->fixed.size();
  const auto got = req.inputs.size();
  if (got < n || (!sig->variadic_strings && got != n)) {
    out.protocol_error =
      "invalid number of arguments expecting " + std::to_string(n) + " got " + std::to_string(got);
    return out;
  }
  call c;
  c.m = sig->m;
  for (size_t i = 0; i < n; ++i) {
    const auto& in = req.inputs[i];
    try {
      switch (sig->fixed[i].first) {
      case arg_kind::string: {
        auto s = decode_string(in);
        if (i == 0)
          c.ns = std::move(s);
        else
          c.id = std::move(s);
        break;
      }
      case arg_kind::container:
        c.data = decode_container(in);
        break;
      case arg_kind::duration:
        if (auto big = unsigned_above_int64(in)) {
          // Go would wrap it to a negative duration; say what is wrong instead.
          out.protocol_error = "invalid argument [" + std::to_string(i) + "]: time.Duration "
                               + std::to_string(*big) + "ns is out of range";
          return out;
        }
        c.timeout_ns = decode_int64(in);
        break;
      }
    } catch (const type_error&) {
      // The text really ends with "got" in the Go server.
      out.protocol_error = "invalid argument type [" + std::to_string(i) + "] expecting "
                           + sig->fixed[i].second + " got";
      return out;
    }
  }
  for (size_t i = n; i < got; ++i) {
    try {
      c.args.push_back(decode_string(req.inputs[i]));
    } catch (const type_error&) {
      // The Go server adds the fixed count to the input index (a double offset; kept as is).
      out.protocol_error = "invalid argument type [" + std::to_string(i + n) + "] expecting string";
      return out;
    }
  }
  out.value = std::move(c);
  return out;
}

bool returns_value(method m) {
  return m != method::exec && m != method::signal_delete && m != method::delete_;
}

std::optional<bytes> zero_result(method m) {
  switch (m) {
  case method::run:
  case method::logs:
    return encode_string("");
  case method::inspect:
    return encode_container(container{});
  case method::list:
  case method::list_ns:
    return encode_nil();
  case method::stats:
    return encode_stats(task_metrics{});
  default:
    return std::nullopt;
  }
}

} // namespace contd::zbus
