#include "tests/integration/containerd_fixture.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace contd::test {

namespace {

// The runc v2 shim keeps runc's state under this root, one directory per namespace.
const fs::path runc_root = "/run/containerd/runc";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    if (!line.empty())
      out.push_back(line);
  return out;
}

std::string read_text(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// True once something accepts connections on the unix socket at `path`.
bool socket_accepts(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// Builds the argv array before fork: after fork in a multi-threaded process (CAF and gRPC run
// threads) the child may only call async-signal-safe functions.
std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv)
    out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

} // namespace

command_outcome run_command(const std::vector<std::string>& argv,
                            std::chrono::milliseconds deadline) {
  int fds[2];
  if (argv.empty() || pipe2(fds, O_CLOEXEC) != 0)
    return {-1, "cannot start command"};
  auto args = c_argv(argv);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return {-1, "fork failed"};
  }
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  command_outcome out;
  auto until = std::chrono::steady_clock::now() + deadline;
  bool killed = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(pid, SIGKILL);
      killed = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR)
      break;
    if (n <= 0)
      continue;
    char buf[4096];
    auto got = read(fds[0], buf, sizeof(buf));
    if (got <= 0)
      break;
    out.output.append(buf, static_cast<size_t>(got));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  out.status = !killed && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

fs::path make_temp_dir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  // Short paths on purpose: a unix socket path must fit in 108 bytes.
  fs::path base = tmp != nullptr && *tmp != '\0' ? fs::path{tmp} : fs::path{"/tmp"};
  std::string tmpl = (base / (prefix + "-XXXXXX")).string();
  if (mkdtemp(tmpl.data()) == nullptr)
    throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
  return tmpl;
}

std::string random_name(const std::string& prefix, size_t hex_digits) {
  static thread_local std::mt19937_64 gen{std::random_device{}()};
  static const char* digits = "0123456789abcdef";
  std::string out = prefix;
  for (size_t i = 0; i < hex_digits; ++i)
    out += digits[gen() % 16];
  return out;
}

// --- containerd_instance ---------------------------------------------------------------------

containerd_instance::containerd_instance(std::chrono::milliseconds ready_timeout)
    : ready_timeout_(ready_timeout) {
  dir_ = make_temp_dir("contd-ctrd");
  socket_ = (dir_ / "containerd.sock").string();
  rootfs_ = dir_ / "rootfs";
  try {
    std::ofstream{dir_ / "owner.pid"} << getpid() << "\n";
    sweep_stale();
    fs::create_directories(scratch());
    write_config();
    prepare_rootfs();
    start();
  } catch (...) {
    // The destructor does not run for a half-constructed object: clean up here.
    stop();
    kill_leftover_shims();
    unmount_all();
    std::error_code ec;
    fs::remove_all(dir_, ec);
    throw;
  }
}

containerd_instance::~containerd_instance() {
  if (running()) {
    auto listed = ctr({"namespaces", "ls", "-q"}, 10s);
    if (listed.status == 0)
      for (const auto& ns : lines_of(listed.output))
        purge_namespace(ns);
  }
  stop();
  kill_leftover_shims();
  unmount_all();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void containerd_instance::write_config() {
  std::ofstream cfg{dir_ / "config.toml"};
  cfg << "version = 2\n"
      << "root = \"" << (dir_ / "root").string() << "\"\n"
      << "state = \"" << (dir_ / "state").string() << "\"\n"
      << "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
      << "[grpc]\n  address = \"" << socket_ << "\"\n"
      << "[ttrpc]\n  address = \"" << socket_ << ".ttrpc\"\n"
      << "[debug]\n  address = \"" << (dir_ / "debug.sock").string() << "\"\n"
      << "  level = \"info\"\n"
      << "[metrics]\n  address = \"\"\n";
  if (!cfg)
    throw std::runtime_error("cannot write " + (dir_ / "config.toml").string());
}

void containerd_instance::prepare_rootfs() {
  for (const char* d : {"bin", "etc", "proc", "sys", "dev", "tmp", "run", "root", "var"})
    fs::create_directories(rootfs_ / d);
  fs::permissions(rootfs_ / "tmp", fs::perms::all | fs::perms::sticky_bit);
  const fs::path busybox = rootfs_ / "bin" / "busybox";
  fs::copy_file("/usr/bin/busybox", busybox, fs::copy_options::overwrite_existing);
  fs::permissions(busybox, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec
                             | fs::perms::others_read | fs::perms::others_exec);
  auto applets = run_command({busybox.string(), "--list"}, 10s);
  if (applets.status != 0)
    throw std::runtime_error("busybox --list failed: " + applets.output);
  for (const auto& name : lines_of(applets.output)) {
    if (name == "busybox" || name.find('/') != std::string::npos)
      continue;
    std::error_code ec;
    fs::create_symlink("busybox", rootfs_ / "bin" / name, ec);
  }
  std::ofstream{rootfs_ / "etc" / "passwd"} << "root:x:0:0:root:/root:/bin/sh\n"
                                            << "nobody:x:65534:65534:nobody:/:/bin/false\n";
  std::ofstream{rootfs_ / "etc" / "group"} << "root:x:0:\nnogroup:x:65534:\n";
  std::ofstream{rootfs_ / "etc" / "hostname"} << "busybox\n";
}

void containerd_instance::start() {
  if (running())
    return;
  std::vector<std::string> argv{"containerd", "--config", (dir_ / "config.toml").string()};
  auto args = c_argv(argv);
  std::string log_path = (dir_ / "containerd.log").string();
  pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) {
    pid_ = -1;
    throw std::runtime_error("fork failed");
  }
  if (pid_ == 0) {
    // Its own session, so that a ^C on the test reaches the fixture (which stops it) and not
    // containerd first; and it dies with the test process if that is killed outright.
    setsid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
      _exit(1);
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log >= 0) {
      dup2(log, 1);
      dup2(log, 2);
    }
    execvp(args[0], args.data());
    _exit(127);
  }
  if (!wait_ready(ready_timeout_)) {
    auto text = log();
    stop();
    throw std::runtime_error("containerd did not answer within "
                             + std::to_string(ready_timeout_.count()) + " ms; log:\n" + text);
  }
}

bool containerd_instance::wait_ready(std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1; // it died: no point in waiting longer
      return false;
    }
    if (socket_accepts(socket_) && ctr({"version"}, 5s).status == 0)
      return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

void containerd_instance::stop() {
  if (pid_ <= 0)
    return;
  kill(pid_, SIGTERM);
  auto until = std::chrono::steady_clock::now() + 10s;
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD))
      break;
    if (std::chrono::steady_clock::now() >= until) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  pid_ = -1;
  // containerd removes its socket on a clean exit, not after SIGKILL; a stale one would make the
  // next wait_ready() see a socket that refuses connections, which is harmless, but be tidy.
  std::error_code ec;
  fs::remove(socket_, ec);
}

void containerd_instance::kill_hard() {
  if (pid_ <= 0)
    return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  std::error_code ec;
  fs::remove(socket_, ec); // left behind by SIGKILL
}

void containerd_instance::restart() {
  stop();
  start();
}

std::string containerd_instance::log() const {
  return read_text(dir_ / "containerd.log");
}

command_outcome containerd_instance::ctr(const std::vector<std::string>& args,
                                         std::chrono::milliseconds deadline) const {
  std::vector<std::string> argv{"ctr", "--address", socket_};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, deadline);
}

void containerd_instance::purge_namespace(const std::string& ns) const {
  if (!running())
    return;
  auto tasks = ctr({"-n", ns, "tasks", "ls", "-q"}, 10s);
  for (const auto& id : lines_of(tasks.output)) {
    ctr({"-n", ns, "tasks", "kill", "-a", "-s", "SIGKILL", id}, 10s);
    // Tasks.Delete refuses a RUNNING task: give SIGKILL a moment to land.
    for (int i = 0; i < 50; ++i) {
      if (ctr({"-n", ns, "tasks", "rm", "-f", id}, 10s).status == 0)
        break;
      std::this_thread::sleep_for(100ms);
    }
  }
  auto containers = ctr({"-n", ns, "containers", "ls", "-q"}, 10s);
  for (const auto& id : lines_of(containers.output))
    ctr({"-n", ns, "containers", "rm", id}, 10s);
  ctr({"namespaces", "rm", ns}, 10s);
  // The shim leaves runc's (empty) per-namespace directory behind; rmdir only removes it when
  // empty, and "default" is left alone in case a system containerd uses it.
  if (ns != "default")
    rmdir((runc_root / ns).c_str());
  // runc removes a container's cgroups but not the per-namespace parents (cgroupsPath is
  // /<ns>/<id>); rmdir removes them only when empty.
  std::error_code ec;
  for (const auto& controller : fs::directory_iterator("/sys/fs/cgroup", ec))
    rmdir((controller.path() / ns).c_str());
  rmdir((fs::path{"/sys/fs/cgroup"} / ns).c_str());
}

namespace {

std::vector<std::string> cmdline_of(pid_t pid) {
  auto raw = read_text(fs::path{"/proc"} / std::to_string(pid) / "cmdline");
  std::vector<std::string> out;
  std::string cur;
  for (char c : raw) {
    if (c == '\0') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

std::string arg_after(const std::vector<std::string>& argv, const std::string& flag) {
  for (size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == flag)
      return argv[i + 1];
  return {};
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr)
    return out;
  while (auto* entry = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (pid > 0 && *end == '\0')
      out.push_back(static_cast<pid_t>(pid));
  }
  closedir(proc);
  return out;
}

// The unix sockets `pid` listens on under /run/containerd/s (the shim's own socket), found by
// matching its socket inodes in /proc/net/unix.
std::vector<std::string> shim_sockets(pid_t pid) {
  std::vector<std::string> inodes;
  std::error_code ec;
  for (auto& fd : fs::directory_iterator(fs::path{"/proc"} / std::to_string(pid) / "fd", ec)) {
    auto target = fs::read_symlink(fd.path(), ec).string();
    if (target.rfind("socket:[", 0) == 0)
      inodes.push_back(target.substr(8, target.size() - 9));
  }
  std::vector<std::string> out;
  std::istringstream in{read_text("/proc/net/unix")};
  for (std::string line; std::getline(in, line);) {
    std::istringstream f{line};
    std::string num, refs, proto, flags, type, st, inode, path;
    f >> num >> refs >> proto >> flags >> type >> st >> inode >> path;
    if (path.rfind("/run/containerd/s/", 0) == 0
        && std::find(inodes.begin(), inodes.end(), inode) != inodes.end())
      out.push_back(path);
  }
  return out;
}

// Kills a shim of ours and what it leaves outside our directory: its container (runc delete
// --force kills the processes and removes runc's state), its socket, the namespace's runc dir.
void reap_shim(pid_t pid, const std::vector<std::string>& argv) {
  auto ns = arg_after(argv, "-namespace");
  auto id = arg_after(argv, "-id");
  auto sockets = shim_sockets(pid);
  if (!ns.empty() && !id.empty())
    run_command({"runc", "--root", (runc_root / ns).string(), "delete", "--force", id}, 10s);
  kill(pid, SIGKILL);
  for (const auto& s : sockets)
    unlink(s.c_str());
  if (!ns.empty())
    rmdir((runc_root / ns).c_str()); // only when empty
}

bool is_shim(const std::vector<std::string>& argv) {
  return !argv.empty() && argv[0].find("containerd-shim") != std::string::npos;
}

} // namespace

std::vector<pid_t> containerd_instance::shim_pids() const {
  std::vector<pid_t> out;
  for (pid_t pid : all_pids()) {
    auto argv = cmdline_of(pid);
    if (is_shim(argv) && arg_after(argv, "-address") == socket_)
      out.push_back(pid);
  }
  return out;
}

void containerd_instance::kill_leftover_shims() const {
  // A shim's command line carries `-address <our socket>`; shims of a system containerd never do.
  for (pid_t pid : all_pids()) {
    auto argv = cmdline_of(pid);
    if (is_shim(argv) && arg_after(argv, "-address") == socket_)
      reap_shim(pid, argv);
  }
}

namespace {

/// Detaches every mount below `dir`, deepest first so nested mounts go before their parents.
void unmount_below(const fs::path& dir) {
  std::vector<std::string> targets;
  std::istringstream in{read_text("/proc/self/mountinfo")};
  const std::string prefix = dir.string() + "/";
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields{line};
    std::string id, parent, dev, root, target;
    fields >> id >> parent >> dev >> root >> target;
    if (target.compare(0, prefix.size(), prefix) == 0)
      targets.push_back(target);
  }
  std::sort(targets.begin(), targets.end(),
            [](const auto& a, const auto& b) { return a.size() > b.size(); });
  for (const auto& t : targets)
    umount2(t.c_str(), MNT_DETACH);
}

} // namespace

void containerd_instance::sweep_stale() {
  // Leftovers of a fixture whose test process died without its destructor (a crash, a ctest
  // timeout): its directory names the owner PID; when that process is gone, nothing of it may
  // live on. A live owner (another test running in parallel) is never touched.
  auto base = dir_.parent_path();
  auto owner_alive = [](const fs::path& dir) {
    auto text = read_text(dir / "owner.pid");
    long pid = std::strtol(text.c_str(), nullptr, 10);
    if (pid <= 0) {
      // A fixture of a parallel test may be between mkdtemp and writing its owner.pid: a young
      // directory without an owner is not stale yet.
      std::error_code ec;
      auto age = fs::file_time_type::clock::now() - fs::last_write_time(dir, ec);
      return !ec && age < std::chrono::minutes{5};
    }
    return kill(static_cast<pid_t>(pid), 0) == 0;
  };
  auto stale = [&](const fs::path& dir) {
    return dir.parent_path() == base && dir.filename().string().rfind("contd-ctrd-", 0) == 0
           && dir != dir_ && !owner_alive(dir);
  };
  for (pid_t pid : all_pids()) {
    auto argv = cmdline_of(pid);
    if (is_shim(argv) && stale(fs::path{arg_after(argv, "-address")}.parent_path()))
      reap_shim(pid, argv);
  }
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(base, ec)) {
    if (!entry.is_directory() || !stale(entry.path()))
      continue;
    // A containerd of a dead owner is stopped too (it would otherwise hold the directory).
    auto config = (entry.path() / "config.toml").string();
    for (pid_t pid : all_pids()) {
      auto argv = cmdline_of(pid);
      if (!argv.empty() && fs::path{argv[0]}.filename() == "containerd"
          && arg_after(argv, "--config") == config)
        kill(pid, SIGKILL);
    }
    unmount_below(entry.path());
    fs::remove_all(entry.path(), ec);
  }
}

void containerd_instance::unmount_all() const {
  unmount_below(dir_);
}

std::string containerd_instance::spec_json(const std::string& ns, const std::string& id,
                                           const std::vector<std::string>& args) const {
  using nlohmann::json;
  const json caps = {"CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
                     "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
                     "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
                     "CAP_KILL",    "CAP_AUDIT_WRITE"};
  json process = json::parse(process_json(args));
  process["capabilities"] = {{"bounding", caps}, {"effective", caps}, {"permitted", caps}};
  process["rlimits"] = json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}});
  json spec = {
    {"ociVersion", "1.0.2-dev"},
    {"process", process},
    {"root", {{"path", rootfs_.string()}}},
    {"hostname", "busybox"},
    {"mounts",
     json::array({
       {{"destination", "/proc"},
        {"type", "proc"},
        {"source", "proc"},
        {"options", {"nosuid", "noexec", "nodev"}}},
       {{"destination", "/dev"},
        {"type", "tmpfs"},
        {"source", "tmpfs"},
        {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
       {{"destination", "/dev/pts"},
        {"type", "devpts"},
        {"source", "devpts"},
        {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
       {{"destination", "/dev/shm"},
        {"type", "tmpfs"},
        {"source", "shm"},
        {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
       {{"destination", "/dev/mqueue"},
        {"type", "mqueue"},
        {"source", "mqueue"},
        {"options", {"nosuid", "noexec", "nodev"}}},
       {{"destination", "/sys"},
        {"type", "sysfs"},
        {"source", "sysfs"},
        {"options", {"nosuid", "noexec", "nodev", "ro"}}},
       {{"destination", "/run"},
        {"type", "tmpfs"},
        {"source", "tmpfs"},
        {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
     })},
    {"linux",
     {{"resources", {{"devices", json::array({{{"allow", false}, {"access", "rwm"}}})}}},
      {"cgroupsPath", "/" + ns + "/" + id},
      {"namespaces", json::array({{{"type", "pid"}},
                                  {{"type", "ipc"}},
                                  {{"type", "uts"}},
                                  {{"type", "mount"}},
                                  {{"type", "network"}}})},
      {"maskedPaths",
       {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
        "/proc/scsi"}},
      {"readonlyPaths",
       {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}}},
  };
  return spec.dump();
}

std::string containerd_instance::process_json(const std::vector<std::string>& args) {
  using nlohmann::json;
  json process = {
    {"user", {{"uid", 0}, {"gid", 0}}},
    {"args", args},
    {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
    {"cwd", "/"},
    {"noNewPrivileges", true},
  };
  return process.dump();
}

} // namespace contd::test
