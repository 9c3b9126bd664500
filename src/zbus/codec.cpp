#include "src/zbus/codec.hpp"

#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

namespace contd::zbus {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

// --- msgpack well-formedness ------------------------------------------------------------------

uint64_t read_be(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i)
    v = (v << 8) | p[i];
  return v;
}

// --- helpers over parsed values ----------------------------------------------------------------

const char* kind_of(const json& v) {
  switch (v.type()) {
  case json::value_t::null:
    return "nil";
  case json::value_t::boolean:
    return "bool";
  case json::value_t::number_integer:
  case json::value_t::number_unsigned:
    return "int";
  case json::value_t::number_float:
    return "float";
  case json::value_t::string:
    return "str";
  case json::value_t::binary:
    return v.get_binary().has_subtype() ? "ext" : "bin";
  case json::value_t::array:
    return "array";
  case json::value_t::object:
    return "map";
  default:
    return "unknown";
  }
}

[[noreturn]] void wrong_type(const std::string& what, const json& v) {
  throw type_error(what + ": unexpected " + kind_of(v));
}

std::string as_string(const json& v, const std::string& what) {
  if (v.is_null())
    return {};
  if (v.is_string())
    return v.get_ref<const std::string&>();
  if (v.is_binary() && !v.get_binary().has_subtype()) {
    const auto& b = v.get_binary();
    return std::string(b.begin(), b.end());
  }
  wrong_type(what, v);
}

uint64_t as_uint(const json& v, const std::string& what) {
  if (v.is_null())
    return 0;
  if (v.is_number_unsigned())
    return v.get<uint64_t>();
  if (v.is_number_integer()) {
    auto x = v.get<int64_t>();
    if (x < 0)
      throw type_error(what + ": negative value " + std::to_string(x));
    return static_cast<uint64_t>(x);
  }
  wrong_type(what, v);
}

int64_t as_int(const json& v, const std::string& what) {
  if (v.is_null())
    return 0;
  if (v.is_number_integer())
    return v.get<int64_t>();
  if (v.is_number_unsigned()) {
    auto x = v.get<uint64_t>();
    if (x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      throw type_error(what + ": value out of range");
    return static_cast<int64_t>(x);
  }
  wrong_type(what, v);
}

bool as_bool(const json& v, const std::string& what) {
  // Go's decoder refuses nil for bool ("invalid code=c0 decoding bool"); so do we.
  if (v.is_boolean())
    return v.get<bool>();
  wrong_type(what, v);
}

go_time as_time(const json& v, const std::string& what) {
  if (v.is_binary() && v.get_binary().has_subtype() && v.get_binary().subtype() == 0xff) {
    try {
      return decode_time_ext(v.get_binary());
    } catch (const type_error& e) {
      throw type_error(what + ": " + e.what());
    }
  }
  // The legacy [sec, nsec] array form.
  if (v.is_array() && v.size() == 2) {
    go_time t;
    t.sec = as_int(v[0], what);
    auto ns = as_int(v[1], what);
    if (ns < 0 || ns > 999999999)
      throw type_error(what + ": nanoseconds out of range");
    t.nsec = static_cast<uint32_t>(ns);
    return t;
  }
  wrong_type(what, v);
}

template <class F>
void for_each_element(const json& v, const std::string& what, F f) {
  if (v.is_null())
    return;
  if (!v.is_array())
    wrong_type(what, v);
  size_t i = 0;
  for (const auto& x : v)
    f(x, what + "[" + std::to_string(i++) + "]");
}

/// Calls f(key, value) for each entry of a struct map; nil is the zero struct. Keys are matched
/// exactly by the caller; unknown keys are skipped, as Go does.
template <class F>
void for_each_field(const json& v, const std::string& what, F f) {
  if (v.is_null())
    return;
  if (!v.is_object())
    wrong_type(what, v);
  for (auto it = v.begin(); it != v.end(); ++it)
    f(it.key(), it.value());
}

std::vector<std::string> as_strings(const json& v, const std::string& what) {
  std::vector<std::string> out;
  for_each_element(v, what,
                   [&](const json& x, const std::string& w) { out.push_back(as_string(x, w)); });
  return out;
}

// --- structs with a field table (messages/fields.hpp), read key by key ---------------------

void read_value(const json& v, const std::string& what, std::string& out) {
  out = as_string(v, what);
}
void read_value(const json& v, const std::string& what, container_status& out) {
  auto text = as_string(v, what);
  auto status = parse_container_status(text);
  if (!status)
    throw type_error(what + ": unknown status \"" + text + "\"");
  out = *status;
}
void read_value(const json& v, const std::string& what, bool& out) {
  out = as_bool(v, what);
}
void read_value(const json& v, const std::string& what, uint64_t& out) {
  out = as_uint(v, what);
}
void read_value(const json& v, const std::string& what, uint32_t& out) {
  auto x = as_uint(v, what);
  if (x > UINT32_MAX)
    throw type_error(what + ": " + std::to_string(x) + " overflows uint32");
  out = static_cast<uint32_t>(x);
}
void read_value(const json& v, const std::string& what, int64_t& out) {
  out = as_int(v, what);
}
void read_value(const json& v, const std::string& what, go_time& out) {
  out = as_time(v, what);
}
void read_value(const json& v, const std::string& what, std::vector<std::string>& out) {
  out = as_strings(v, what);
}

template <class T>
std::enable_if_t<has_fields_v<T>> read_value(const json& v, const std::string& what, T& out);

template <class T>
void read_value(const json& v, const std::string& what, std::vector<T>& out) {
  for_each_element(v, what, [&](const json& x, const std::string& w) {
    T e;
    read_value(x, w, e);
    out.push_back(std::move(e));
  });
}

/// Reads a struct map into `out`: `what` names the map in errors, `prefix` its keys (empty at the
/// top level, where the wire's errors name bare keys). Unknown keys are skipped, as Go does.
template <class T>
void read_struct(const json& v, const std::string& what, const std::string& prefix, T& out) {
  for_each_field(v, what, [&](const std::string& k, const json& x) {
    visit_fields(out, [&](auto f) {
      if (k != f.key)
        return;
      read_value(x, prefix + k, f.value);
      if constexpr (is_optional_field<decltype(f)>::value)
        f.present = true;
    });
  });
}

template <class T>
std::enable_if_t<has_fields_v<T>> read_value(const json& v, const std::string& what, T& out) {
  read_struct(v, what, what + ".", out);
}

container as_container(const json& v) {
  container c;
  read_struct(v, "Container", "", c);
  return c;
}

/// Parses one argument document after the structural check.
json parse_value(std::string_view in) {
  if (auto checked = check_msgpack(in); !checked)
    throw type_error(checked.error());
  try {
    return json::from_msgpack(in.begin(), in.end());
  } catch (const json::exception& e) {
    throw type_error(std::string{"malformed msgpack: "} + e.what());
  }
}

bytes to_bytes(const ojson& v) {
  auto out = ojson::to_msgpack(v);
  return bytes(out.begin(), out.end());
}

ojson binary_of(const bytes& b) {
  return ojson::binary(std::vector<uint8_t>(b.begin(), b.end()));
}

ojson time_value(const go_time& t) {
  return ojson::binary(encode_time_ext(t), 0xff);
}

ojson strings_or_nil(const std::vector<std::string>& xs) {
  if (xs.empty())
    return nullptr;
  return ojson(xs);
}

/// Best effort for undecodable payloads: find `ReplyTo` followed by a str in the raw bytes.
std::string scan_field(std::string_view in, std::string_view key) {
  std::string needle;
  needle.push_back(static_cast<char>(0xa0 | key.size()));
  needle.append(key);
  auto pos = in.find(needle);
  if (pos == std::string_view::npos)
    return {};
  pos += needle.size();
  if (pos >= in.size())
    return {};
  auto tag = static_cast<uint8_t>(in[pos]);
  size_t len = 0;
  if ((tag & 0xe0) == 0xa0) {
    len = tag & 0x1f;
    pos += 1;
  } else if (tag == 0xd9 && pos + 1 < in.size()) {
    len = static_cast<uint8_t>(in[pos + 1]);
    pos += 2;
  } else {
    return {};
  }
  if (len == 0 || pos + len > in.size())
    return {};
  std::string out(in.substr(pos, len));
  // Only printable ASCII is plausible as a Redis key written by a client library.
  for (char ch : out)
    if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7e)
      return {};
  return out;
}

} // namespace

std::string queue_name(std::string_view module, std::string_view name, std::string_view version) {
  std::string out{module};
  out += '.';
  out += name;
  if (!version.empty()) {
    out += '@';
    out += version;
  }
  return out;
}

result<void> check_msgpack(std::string_view in, size_t max_depth) {
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  const size_t n = in.size();
  size_t pos = 0;
  // Each entry counts the items still expected at that nesting level.
  std::vector<uint64_t> pending{1};
  auto need = [&](size_t k) { return pos + k <= n; };
  while (!pending.empty()) {
    if (pending.back() == 0) {
      pending.pop_back();
      continue;
    }
    --pending.back();
    if (!need(1))
      return fail("truncated msgpack at byte " + std::to_string(pos));
    uint8_t tag = p[pos++];
    uint64_t children = 0;
    size_t skip = 0;
    if (tag <= 0x7f || tag >= 0xe0 || tag == 0xc0 || tag == 0xc2 || tag == 0xc3) {
      // fixint, nil, bool: no payload
    } else if ((tag & 0xf0) == 0x80) {
      children = 2 * uint64_t(tag & 0x0f);
    } else if ((tag & 0xf0) == 0x90) {
      children = tag & 0x0f;
    } else if ((tag & 0xe0) == 0xa0) {
      skip = tag & 0x1f;
    } else {
      size_t len_bytes = 0;
      switch (tag) {
      case 0xc4:
      case 0xd9:
        len_bytes = 1;
        break;
      case 0xc5:
      case 0xda:
        len_bytes = 2;
        break;
      case 0xc6:
      case 0xdb:
        len_bytes = 4;
        break;
      case 0xc7:
        len_bytes = 1;
        skip = 1;
        break; // ext: + type byte
      case 0xc8:
        len_bytes = 2;
        skip = 1;
        break;
      case 0xc9:
        len_bytes = 4;
        skip = 1;
        break;
      case 0xca:
        skip = 4;
        break;
      case 0xcb:
        skip = 8;
        break;
      case 0xcc:
      case 0xd0:
        skip = 1;
        break;
      case 0xcd:
      case 0xd1:
        skip = 2;
        break;
      case 0xce:
      case 0xd2:
        skip = 4;
        break;
      case 0xcf:
      case 0xd3:
        skip = 8;
        break;
      case 0xd4:
        skip = 2;
        break;
      case 0xd5:
        skip = 3;
        break;
      case 0xd6:
        skip = 5;
        break;
      case 0xd7:
        skip = 9;
        break;
      case 0xd8:
        skip = 17;
        break;
      case 0xdc:
      case 0xde:
        len_bytes = 2;
        break;
      case 0xdd:
      case 0xdf:
        len_bytes = 4;
        break;
      default:
        return fail("invalid msgpack type byte 0xc1 at byte " + std::to_string(pos - 1));
      }
      if (len_bytes > 0) {
        if (!need(len_bytes))
          return fail("truncated msgpack at byte " + std::to_string(pos));
        uint64_t len = read_be(p + pos, len_bytes);
        pos += len_bytes;
        if (tag == 0xdc || tag == 0xdd)
          children = len;
        else if (tag == 0xde || tag == 0xdf)
          children = 2 * len;
        else
          skip += len;
      }
    }
    if (skip > 0) {
      if (!need(skip))
        return fail("truncated msgpack at byte " + std::to_string(pos));
      pos += skip;
    }
    if (children > 0) {
      // Every item takes at least one byte: a count beyond the rest of the buffer is a lie.
      if (children > n - pos)
        return fail("msgpack length exceeds the payload at byte " + std::to_string(pos));
      if (pending.size() >= max_depth + 1)
        return fail("msgpack nested deeper than " + std::to_string(max_depth));
      pending.push_back(children);
    }
  }
  if (pos != n)
    return fail("trailing bytes after the msgpack document");
  return {};
}

result<request, decode_failure> decode_request(std::string_view in) {
  auto recover = [&](std::string reason) -> result<request, decode_failure> {
    return unexpected<decode_failure>{
      {std::move(reason), scan_field(in, "ID"), scan_field(in, "ReplyTo")}};
  };
  if (in.size() > max_payload_size)
    return recover("request too large: " + std::to_string(in.size()) + " bytes (limit "
                   + std::to_string(max_payload_size) + ")");
  if (auto checked = check_msgpack(in); !checked)
    return recover("malformed request: " + checked.error());
  json v;
  try {
    v = json::from_msgpack(in.begin(), in.end());
  } catch (const json::exception& e) {
    return recover(std::string{"malformed request: "} + e.what());
  }
  if (!v.is_object())
    return recover(std::string{"malformed request: expected a map, got "} + kind_of(v));
  request req;
  try {
    // ReplyTo first, then ID: when another key (the ID too) is malformed, the protocol error
    // can still be addressed.
    if (auto it = v.find("ReplyTo"); it != v.end())
      req.reply_to = as_string(*it, "ReplyTo");
    if (auto it = v.find("ID"); it != v.end())
      req.id = as_string(*it, "ID");
    for (auto it = v.begin(); it != v.end(); ++it) {
      const auto& k = it.key();
      const auto& x = it.value();
      if (k == "Method") {
        req.method = as_string(x, "Method");
      } else if (k == "Object") {
        for_each_field(x, "Object", [&](const std::string& ok, const json& ox) {
          if (ok == "Name")
            req.object.name = as_string(ox, "Object.Name");
          else if (ok == "Version")
            req.object.version = as_string(ox, "Object.Version");
        });
      } else if (k == "Inputs") {
        for_each_element(x, "Inputs", [&](const json& e, const std::string& w) {
          req.inputs.push_back(as_string(e, w));
        });
      } else if (k == "Arguments") {
        // zbus v0 (§18): a client this server cannot talk to.
        throw type_error("zbus v0 request (key Arguments); this server speaks v1");
      }
    }
  } catch (const type_error& e) {
    return unexpected<decode_failure>{
      {std::string{"malformed request: "} + e.what(), req.id, req.reply_to}};
  }
  return req;
}

bytes encode_request(const request& req) {
  ojson inputs = ojson::array();
  for (const auto& in : req.inputs)
    inputs.push_back(binary_of(in));
  ojson v;
  v["ID"] = req.id;
  v["Inputs"] = std::move(inputs);
  v["Object"] = ojson{{"Name", req.object.name}, {"Version", req.object.version}};
  v["ReplyTo"] = req.reply_to;
  v["Method"] = req.method;
  return to_bytes(v);
}

bytes encode_response(const response& resp) {
  ojson output;
  output["Data"] = resp.data ? binary_of(*resp.data) : ojson(nullptr);
  if (resp.call_error)
    output["Error"] = ojson{{"Message", *resp.call_error}};
  else
    output["Error"] = nullptr;
  ojson v;
  v["ID"] = resp.id;
  v["Output"] = std::move(output);
  v["Error"] = resp.protocol_error ? ojson(*resp.protocol_error) : ojson(nullptr);
  return to_bytes(v);
}

result<response> decode_response(std::string_view in) {
  try {
    auto v = parse_value(in);
    if (!v.is_object())
      throw type_error(std::string{"response: expected a map, got "} + kind_of(v));
    response r;
    for_each_field(v, "response", [&](const std::string& k, const json& x) {
      if (k == "ID") {
        r.id = as_string(x, "ID");
      } else if (k == "Error") {
        if (!x.is_null())
          r.protocol_error = as_string(x, "Error");
      } else if (k == "Output") {
        for_each_field(x, "Output", [&](const std::string& ok, const json& ox) {
          if (ok == "Data") {
            if (!ox.is_null())
              r.data = as_string(ox, "Output.Data");
          } else if (ok == "Error") {
            for_each_field(ox, "Output.Error", [&](const std::string& ek, const json& ex) {
              if (ek == "Message") {
                auto msg = as_string(ex, "Output.Error.Message");
                if (!msg.empty()) // an empty message reads as "no error", as in Go
                  r.call_error = std::move(msg);
              }
            });
          }
        });
      }
    });
    return r;
  } catch (const type_error& e) {
    return fail(e.what());
  }
}

bytes encode_string(std::string_view s) {
  return to_bytes(ojson(std::string{s}));
}

bytes encode_nil() {
  return to_bytes(ojson(nullptr));
}

bytes encode_strings(const std::vector<std::string>& xs) {
  return to_bytes(ojson(xs));
}

// --- structs with a field table, written in the table's order (Go's) ----------------------

ojson write_value(const std::string& x) {
  return x;
}
ojson write_value(container_status x) {
  return to_string(x);
}
ojson write_value(bool x) {
  return x;
}
ojson write_value(uint64_t x) {
  return x;
}
ojson write_value(uint32_t x) {
  return x;
}
ojson write_value(int64_t x) {
  return x;
}
ojson write_value(const go_time& t) {
  return time_value(t);
}
ojson write_value(const std::vector<std::string>& xs) {
  return strings_or_nil(xs);
}

template <class T>
std::enable_if_t<has_fields_v<T>, ojson> write_value(const T& x);

/// Empty lists are nil, as Go writes a nil slice.
template <class T>
ojson write_value(const std::vector<T>& xs) {
  if (xs.empty())
    return nullptr;
  ojson out = ojson::array();
  for (const auto& x : xs)
    out.push_back(write_value(x));
  return out;
}

/// contd's own keys are left out when they hold nothing, so that replies stay byte-identical to
/// the Go server's: a default restart policy, and a mount's seed-era Type and Options when
/// neither is used (current Go stubs skip them either way).
template <class T>
bool left_out(const T&, const char*) {
  return false;
}
bool left_out(const restart_policy& p, const char*) {
  return p.is_default();
}

template <class T>
std::enable_if_t<has_fields_v<T>, ojson> write_value(const T& x) {
  ojson out = ojson::object();
  bool seed_keys = true;
  if constexpr (std::is_same_v<T, mount_info>)
    seed_keys = !x.type.empty() || !x.options.empty();
  visit_fields(x, [&](auto f) {
    if constexpr (std::is_same_v<T, mount_info>)
      if (!seed_keys && (std::string_view{f.key} == "Type" || std::string_view{f.key} == "Options"))
        return;
    if constexpr (is_optional_field<decltype(f)>::value)
      if (!f.present)
        return;
    if (left_out(f.value, f.key))
      return;
    out[f.key] = write_value(f.value);
  });
  return out;
}

bytes encode_container(const container& c) {
  return to_bytes(write_value(c));
}

std::string decode_string(std::string_view in) {
  return as_string(parse_value(in), "string");
}

int64_t decode_int64(std::string_view in) {
  return as_int(parse_value(in), "int64");
}

std::optional<uint64_t> unsigned_above_int64(std::string_view in) {
  // 0xcf: uint 64, big-endian (the only msgpack form that can exceed INT64_MAX).
  if (in.size() != 9 || static_cast<uint8_t>(in[0]) != 0xcf)
    return std::nullopt;
  uint64_t x = 0;
  for (size_t i = 1; i < 9; ++i)
    x = (x << 8) | static_cast<uint8_t>(in[i]);
  if (x <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return std::nullopt;
  return x;
}

container decode_container(std::string_view in) {
  return as_container(parse_value(in));
}

std::vector<std::string> decode_strings(std::string_view in) {
  return as_strings(parse_value(in), "[]string");
}

bytes encode_stats(const task_metrics& m) {
  ojson v;
  v["timestamp"] = static_cast<uint64_t>(m.unix_ns < 0 ? 0 : m.unix_ns / 1000000000);
  v["memory_usage"] = m.memory_usage;
  v["memory_limit"] = m.memory_limit;
  v["memory_cache"] = m.memory_cache;
  v["cpu_usage"] = m.cpu_usage_ns;
  v["pids_current"] = m.pids_current;
  return to_bytes(v);
}

std::string stats_json(const task_metrics& m) {
  // Whole seconds rounded down, as Go's Time.Unix (also before 1970).
  int64_t seconds = m.unix_ns / 1'000'000'000;
  if (m.unix_ns % 1'000'000'000 < 0)
    --seconds;
  ojson j;
  j["timestamp"] = seconds;
  j["memory_usage"] = m.memory_usage;
  j["memory_limit"] = m.memory_limit;
  j["memory_cache"] = m.memory_cache;
  j["cpu_usage"] = m.cpu_usage_ns;
  j["pids_current"] = m.pids_current;
  return j.dump();
}

std::vector<std::pair<std::string, uint64_t>> decode_stats(std::string_view in) {
  auto v = parse_value(in);
  if (!v.is_object())
    throw type_error{"stats: expecting a map"};
  std::vector<std::pair<std::string, uint64_t>> out;
  for (auto& [k, x] : v.items())
    if (x.is_number_unsigned())
      out.emplace_back(k, x.get<uint64_t>());
  return out;
}

bytes encode_status(const std::vector<object_id>& objects,
                    const std::vector<worker_status>& workers, const ingress_stats* stats) {
  ojson objs = ojson::array();
  for (const auto& o : objects)
    objs.push_back(ojson{{"Name", o.name}, {"Version", o.version}});
  ojson ws = ojson::array();
  for (const auto& w : workers) {
    ojson x;
    x["State"] = w.state;
    x["StartTime"] = time_value(w.start_time);
    x["Action"] = w.action;
    ws.push_back(std::move(x));
  }
  ojson v;
  v["Objects"] = std::move(objs);
  v["Workers"] = std::move(ws);
  if (stats != nullptr) {
    ojson st;
    st["Received"] = stats->received;
    st["Replied"] = stats->replied;
    st["Undecodable"] = stats->undecodable;
    st["Dropped"] = stats->dropped;
    st["ProtocolErrors"] = stats->protocol_errors;
    st["Unanswerable"] = stats->unanswerable;
    st["WarningsSuppressed"] = stats->warnings_suppressed;
    st["InFlight"] = stats->in_flight;
    v["Stats"] = std::move(st);
  }
  return to_bytes(v);
}

bytes encode_event(const container_event& ev) {
  ojson v;
  v["Namespace"] = ev.ns;
  v["ID"] = ev.id;
  v["Kind"] = ev.kind;
  v["ExitCode"] = ev.exit_code;
  v["Signal"] = ev.signal;
  v["OOMKilled"] = ev.oom_killed;
  v["Restarts"] = ev.restarts;
  v["At"] = time_value(ev.at);
  v["Reason"] = ev.reason;
  return to_bytes(v);
}

container_event decode_event(std::string_view in) {
  if (in.size() > max_payload_size)
    throw type_error("event too large: " + std::to_string(in.size()) + " bytes");
  auto v = parse_value(in);
  if (!v.is_object())
    throw type_error(std::string{"event: expected a map, got "} + kind_of(v));
  auto as_uint32 = [](const json& x, const std::string& what) {
    auto n = as_uint(x, what);
    if (n > std::numeric_limits<uint32_t>::max())
      throw type_error(what + ": value out of range");
    return static_cast<uint32_t>(n);
  };
  container_event ev;
  for_each_field(v, "event", [&](const std::string& k, const json& x) {
    if (k == "Namespace")
      ev.ns = as_string(x, "Namespace");
    else if (k == "ID")
      ev.id = as_string(x, "ID");
    else if (k == "Kind")
      ev.kind = as_string(x, "Kind");
    else if (k == "ExitCode")
      ev.exit_code = as_uint32(x, "ExitCode");
    else if (k == "Signal")
      ev.signal = as_uint32(x, "Signal");
    else if (k == "OOMKilled")
      ev.oom_killed = as_bool(x, "OOMKilled");
    else if (k == "Restarts")
      ev.restarts = as_uint(x, "Restarts");
    else if (k == "At")
      ev.at = as_time(x, "At");
    else if (k == "Reason")
      ev.reason = as_string(x, "Reason");
  });
  if (ev.kind.empty())
    throw type_error("event without Kind");
  return ev;
}

std::vector<uint8_t> encode_time_ext(const go_time& t) {
  std::vector<uint8_t> out;
  auto put = [&](uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i)
      out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  if (t.sec >= 0 && (static_cast<uint64_t>(t.sec) >> 34) == 0) {
    if (t.nsec == 0 && (static_cast<uint64_t>(t.sec) >> 32) == 0) {
      put(static_cast<uint64_t>(t.sec), 4);
    } else {
      put((uint64_t{t.nsec} << 34) | static_cast<uint64_t>(t.sec), 8);
    }
  } else {
    put(t.nsec, 4);
    put(static_cast<uint64_t>(t.sec), 8);
  }
  return out;
}

go_time decode_time_ext(const std::vector<uint8_t>& b) {
  go_time t;
  if (b.size() == 4) {
    t.sec = static_cast<int64_t>(read_be(b.data(), 4));
    t.nsec = 0;
  } else if (b.size() == 8) {
    uint64_t v = read_be(b.data(), 8);
    t.nsec = static_cast<uint32_t>(v >> 34);
    t.sec = static_cast<int64_t>(v & ((uint64_t{1} << 34) - 1));
  } else if (b.size() == 12) {
    t.nsec = static_cast<uint32_t>(read_be(b.data(), 4));
    t.sec = static_cast<int64_t>(read_be(b.data() + 4, 8));
  } else {
    throw type_error("time ext of " + std::to_string(b.size()) + " bytes");
  }
  if (t.nsec > 999999999)
    throw type_error("time nanoseconds out of range");
  return t;
}

} // namespace contd::zbus
