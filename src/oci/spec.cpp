#include "src/oci/spec.hpp"

#include <limits>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "messages/fields_json.hpp"
#include "src/oci/lexer.hpp"

namespace contd::oci {

using nlohmann::json;

namespace {

// containerd 1.6's default Unix spec, verbatim from `ctr containers info`
// minus what ctr adds (args, the nine device allow rules, cpu.shares) and minus the /run tmpfs,
// which the original removes so that /run comes from the rootfs. Kept as text so a reviewer can
// diff it against the reference.
constexpr const char* base_spec_text = R"({
  "ociVersion": "1.0.2-dev",
  "process": {
    "user": {"uid": 0, "gid": 0},
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"],
      "effective": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"],
      "permitted": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
    },
    "rlimits": [
      {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}
    ],
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs"},
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
  ],
  "linux": {
    "resources": {
      "devices": [
        {"allow": false, "access": "rwm"}
      ]
    },
    "namespaces": [
      {"type": "pid"},
      {"type": "ipc"},
      {"type": "uts"},
      {"type": "mount"},
      {"type": "network"}
    ],
    "maskedPaths": [
      "/proc/acpi",
      "/proc/asound",
      "/proc/kcore",
      "/proc/keys",
      "/proc/latency_stats",
      "/proc/timer_list",
      "/proc/timer_stats",
      "/proc/sched_debug",
      "/sys/firmware",
      "/proc/scsi"
    ],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
})";

// The FUSE device Elevated adds. Fixed values instead of the host node's (the original lstat()s
// /dev/fuse): the function stays pure, and 10:229 with 0666 root:root is what every kernel uses.
constexpr int64_t fuse_major = 10;
constexpr int64_t fuse_minor = 229;

constexpr int64_t cpu_period = 100000;
constexpr size_t host_name_max = 64;

bool has_path(const std::vector<std::string>& env) {
  for (const auto& entry : env)
    if (entry.compare(0, 5, "PATH=") == 0)
      return true;
  return false;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace

std::vector<std::string> corex_args() {
  return {"/corex", "--ipv6", "-d", "7", "--interface", "eth0"};
}

json base_spec(const std::string& ns, const std::string& id) {
  static const json base = json::parse(base_spec_text);
  json spec = base;
  spec["linux"]["cgroupsPath"] = "/" + ns + "/" + id;
  return spec;
}

container apply_defaults(container c, const spec_defaults& defaults) {
  if (c.memory == 0)
    c.memory = defaults.memory;
  if (c.cpu == 0)
    c.cpu = 1;
  if (c.shutdown_timeout == 0)
    c.shutdown_timeout = defaults.shutdown_timeout;
  c.created_at = go_time{};
  c.has_state = false;
  c.state = container_state{};
  return c;
}

json oci_mount(const mount_info& m) {
  if (m.type == "tmpfs") {
    return json{
      {"destination", m.target}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", m.options}};
  }
  // Every bind is recursive unless the caller asked for `bind` explicitly: the original's
  // contract is "mounts are rbind", and a plain bind would hide the submounts of the source.
  std::string recursion = "rbind";
  json options = json::array();
  for (const auto& opt : m.options) {
    if (opt == "bind" || opt == "rbind")
      recursion = opt;
    else
      options.push_back(opt);
  }
  options.insert(options.begin(), recursion);
  return json{{"destination", m.target},
              {"type", "bind"},
              {"source", m.source},
              {"options", std::move(options)}};
}

result<json> build_spec(const std::string& ns, const container& request, const node_facts& node,
                        const spec_defaults& defaults, const std::string& shim_group) {
  using out_t = result<json>;
  const container c = apply_defaults(request, defaults);

  // process.args first: it is the only step that can fail on validated input.
  std::vector<std::string> args;
  if (c.interactive) {
    args = corex_args(); // the entrypoint is not run (nor parsed), as in the original
  } else {
    auto words = split_entrypoint(c.entrypoint);
    if (!words)
      return out_t::failure("invalid Entrypoint " + dump(json(c.entrypoint)) + ": "
                            + words.error());
    if (words->empty())
      return out_t::failure("invalid Entrypoint " + dump(json(c.entrypoint))
                            + ": contains no command");
    args = std::move(words).value();
  }
  constexpr auto int64_max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (c.memory > int64_max)
    return out_t::failure("invalid Memory " + std::to_string(c.memory) + ": too large");
  if (c.cpu > int64_max / cpu_period)
    return out_t::failure("invalid CPU " + std::to_string(c.cpu) + ": too large");

  json spec = base_spec(ns, c.name);
  spec["ociVersion"] = oci_version;
  auto& process = spec["process"];
  process["args"] = args;
  json env = c.env;
  if (!has_path(c.env))
    env.push_back(default_path_env);
  process["env"] = std::move(env);
  if (!c.working_dir.empty())
    process["cwd"] = c.working_dir;
  spec["root"]["path"] = c.root_fs;
  // The kernel refuses host names longer than HOST_NAME_MAX (64) while containerd ids may have
  // 76 characters; runc would fail at task creation, so the host name is the name's prefix.
  spec["hostname"] = c.name.substr(0, host_name_max);

  auto& mounts = spec["mounts"];
  mounts.push_back(json{{"destination", "/etc/resolv.conf"},
                        {"type", "bind"},
                        {"source", node.resolv_conf},
                        {"options", {"rbind", "ro"}}});
  for (const auto& m : c.mounts)
    mounts.push_back(oci_mount(m));
  if (c.interactive)
    mounts.push_back(json{{"destination", corex_target},
                          {"type", "bind"},
                          {"source", node.corex_path},
                          {"options", {"rbind", "ro"}}});

  auto& linux = spec["linux"];
  for (auto& entry : linux["namespaces"])
    if (entry["type"] == "network")
      entry["path"] = node.netns_dir + "/" + c.network.ns;

  auto& resources = linux["resources"];
  resources["memory"] = json{{"limit", static_cast<int64_t>(c.memory)}};
  resources["cpu"] =
    json{{"quota", static_cast<int64_t>(c.cpu) * cpu_period}, {"period", cpu_period}};
  if (defaults.pids_limit > 0)
    resources["pids"] = json{{"limit", defaults.pids_limit}};

  if (!c.root_fs_propagation.empty())
    linux["rootfsPropagation"] = c.root_fs_propagation;

  if (c.elevated) {
    for (const char* set : {"bounding", "effective", "permitted"})
      process["capabilities"][set].push_back("CAP_SYS_ADMIN");
    linux["devices"] = json::array({json{{"path", "/dev/fuse"},
                                         {"type", "c"},
                                         {"major", fuse_major},
                                         {"minor", fuse_minor},
                                         {"fileMode", 438},
                                         {"uid", 0},
                                         {"gid", 0}}});
    resources["devices"].push_back(json{{"allow", true},
                                        {"type", "c"},
                                        {"major", fuse_major},
                                        {"minor", fuse_minor},
                                        {"access", "rwm"}});
  }

  spec["annotations"] = json{
    {std::string{annotation_shutdown_timeout}, std::to_string(c.shutdown_timeout)},
    {std::string{annotation_request}, request_to_json(c)},
  };
  if (!shim_group.empty())
    spec["annotations"][std::string{annotation_shim_group}] = shim_group;
  return spec;
}

// --- the stored request ------------------------------------------------------------------------

namespace {

json time_to_json(const go_time& t) {
  return json{{"Seconds", t.sec}, {"Nanos", t.nsec}};
}

go_time time_from_json(const json& j) {
  if (!j.is_object() || !j.contains("Seconds") || !j["Seconds"].is_number_integer()
      || (j["Seconds"].is_number_unsigned()
          && j["Seconds"].get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      || !j.contains("Nanos") || !j["Nanos"].is_number_unsigned()
      || j["Nanos"].get<uint64_t>() > 999'999'999)
    throw std::invalid_argument("a time must be {\"Seconds\": int, \"Nanos\": 0..999999999}");
  go_time t;
  t.sec = j["Seconds"].get<int64_t>();
  t.nsec = j["Nanos"].get<uint32_t>();
  return t;
}

// Strict readers: a value must have the right JSON type. nlohmann's get<> would silently convert
// between numbers (e.g. -1 into uint64_t), which would make a corrupt annotation look valid.
// `what` names the value in errors ("Mounts[1].Source").
template <class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
void read_json(const json& j, const std::string& what, T& out) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean())
      throw std::invalid_argument(what + " must be a boolean");
  } else if constexpr (std::is_unsigned_v<T>) {
    if (!j.is_number_unsigned())
      throw std::invalid_argument(what + " must be an unsigned integer");
    if (j.get<uint64_t>() > std::numeric_limits<T>::max())
      throw std::invalid_argument(what + " is out of range");
  } else {
    if (!j.is_number_integer()
        || (j.is_number_unsigned()
            && j.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<T>::max())))
      throw std::invalid_argument(what + " must be an integer in range");
  }
  out = j.get<T>();
}

void read_json(const json& j, const std::string& what, std::string& out) {
  if (!j.is_string())
    throw std::invalid_argument(what + " must be a string");
  out = j.get<std::string>();
}

void read_json(const json& j, const std::string& what, container_status& out) {
  auto status = j.is_string() ? parse_container_status(j.get<std::string>()) : std::nullopt;
  if (!status)
    throw std::invalid_argument(what + " must be a container status");
  out = *status;
}

void read_json(const json& j, const std::string&, go_time& out) {
  out = time_from_json(j);
}

template <class T, std::enable_if_t<has_fields_v<T>, int> = 0>
void read_json(const json& j, const std::string& what, T& out);

template <class T>
void read_json(const json& j, const std::string& what, std::vector<T>& out) {
  if (!j.is_array())
    throw std::invalid_argument(what + " must be an array");
  for (const auto& x : j) {
    T e;
    read_json(x, what + "[" + std::to_string(out.size()) + "]", e);
    out.push_back(std::move(e));
  }
}

/// Missing and null keys keep their defaults; unknown keys are skipped.
template <class T>
void read_fields(const json& j, const std::string& what, const std::string& prefix, T& out) {
  if (!j.is_object())
    throw std::invalid_argument(what + " must be an object");
  visit_fields(out, [&](auto f) {
    auto it = j.find(f.key);
    if (it == j.end() || it->is_null())
      return;
    read_json(*it, prefix + f.key, f.value);
    if constexpr (is_optional_field<decltype(f)>::value)
      f.present = true;
  });
}

template <class T, std::enable_if_t<has_fields_v<T>, int>>
void read_json(const json& j, const std::string& what, T& out) {
  read_fields(j, what, what + ".", out);
  if constexpr (std::is_same_v<T, container_state>) {
    // Requests stored before the key was named as on the wire spelled it "OomKilled".
    if (auto it = j.find("OomKilled"); it != j.end() && !it->is_null())
      read_json(*it, what + ".OomKilled", out.oom_killed);
  }
}

} // namespace

std::string request_to_json(const container& c) {
  return dump(fields_to_json<json>(c, time_to_json));
}

result<container> request_from_json(std::string_view text) {
  using out_t = result<container>;
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded())
    return out_t::failure("stored request is not valid JSON");
  try {
    container c;
    read_fields(j, "the stored request", "", c);
    return c;
  } catch (const std::exception& e) {
    return out_t::failure(std::string{"stored request is malformed: "} + e.what());
  }
}

result<container> request_from_spec(const json& spec) {
  using out_t = result<container>;
  auto annotations = spec.find("annotations");
  if (annotations == spec.end() || !annotations->is_object())
    return out_t::failure("the spec has no annotations");
  auto it = annotations->find(std::string{annotation_request});
  if (it == annotations->end() || !it->is_string())
    return out_t::failure("the spec has no " + std::string{annotation_request} + " annotation");
  return request_from_json(it->get_ref<const std::string&>());
}

result<json> exec_process(const json& spec, const std::vector<std::string>& args) {
  using out_t = result<json>;
  if (args.empty())
    return out_t::failure("exec needs at least one argument");
  auto it = spec.find("process");
  if (it == spec.end() || !it->is_object())
    return out_t::failure("the container's spec has no process");
  const auto& proc = *it;
  json out = json::object();
  // Copy exactly the settings that make an exec behave like the container's own process.
  for (const char* key : {"user", "env", "cwd", "capabilities", "rlimits", "noNewPrivileges",
                          "apparmorProfile", "selinuxLabel", "oomScoreAdj"})
    if (auto k = proc.find(key); k != proc.end())
      out[key] = *k;
  if (!out.contains("cwd"))
    out["cwd"] = "/";
  if (!out.contains("user"))
    out["user"] = json{{"uid", 0}, {"gid", 0}};
  out["args"] = args;
  out["terminal"] = false;
  return out;
}

result<json> exec_process_from_text(std::string_view spec_json,
                                    const std::vector<std::string>& args) {
  json spec = json::parse(spec_json.begin(), spec_json.end(), nullptr, false);
  if (spec.is_discarded() || !spec.is_object())
    return result<json>::failure("the container's spec is not a JSON object");
  return exec_process(spec, args);
}

} // namespace contd::oci
