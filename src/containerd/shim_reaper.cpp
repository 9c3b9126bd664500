#include "src/containerd/shim_reaper.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

extern char** environ;

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace contd::containerd {

namespace {

// --- small file and /proc helpers ------------------------------------------------------------

constexpr const char* task_dir = "io.containerd.runtime.v2.task";
constexpr const char* shim_binary = "containerd-shim-runc-v2";

// Reads a file without following a symlink in its last component; at most `limit` bytes.
// Nothing when it cannot be opened or is not a regular file (a /proc file counts as regular).
std::optional<std::string> read_file(const std::string& path, size_t limit = 4u << 20) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return std::nullopt;
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return std::nullopt;
  }
  std::string out;
  char buf[8192];
  for (;;) {
    auto n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > limit) {
      ::close(fd);
      return std::nullopt;
    }
  }
  ::close(fd);
  return out;
}

std::vector<std::string> split_nul(const std::string& raw) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : raw) {
    if (c == '\0') {
      out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty())
    out.push_back(std::move(cur));
  return out;
}

std::vector<std::string> cmdline_of(pid_t pid) {
  auto raw = read_file("/proc/" + std::to_string(pid) + "/cmdline");
  return raw ? split_nul(*raw) : std::vector<std::string>{};
}

std::string base_name(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

struct proc_stat {
  char state = '?';
  pid_t ppid = 0;
  uint64_t start_ticks = 0;
  std::string comm;
};

// /proc/<pid>/stat; comm may contain spaces and parentheses, so fields count from the last ')'.
std::optional<proc_stat> stat_of(pid_t pid) {
  auto raw = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!raw)
    return std::nullopt;
  auto open = raw->find('(');
  auto close = raw->rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open)
    return std::nullopt;
  proc_stat out;
  out.comm = raw->substr(open + 1, close - open - 1);
  std::istringstream in{raw->substr(close + 1)};
  std::vector<std::string> f; // f[0] is field 3 (state)
  for (std::string x; in >> x;)
    f.push_back(x);
  if (f.size() < 20)
    return std::nullopt;
  out.state = f[0].empty() ? '?' : f[0][0];
  out.ppid = static_cast<pid_t>(std::strtol(f[1].c_str(), nullptr, 10));
  out.start_ticks = std::strtoull(f[19].c_str(), nullptr, 10); // field 22
  return out;
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr)
    return out;
  while (auto* e = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid > 0 && *end == '\0')
      out.push_back(static_cast<pid_t>(pid));
  }
  closedir(proc);
  return out;
}

// Alive = exists, is not a zombie, and is the same process (start time) we looked at.
bool same_process_alive(pid_t pid, uint64_t start_ticks) {
  auto st = stat_of(pid);
  return st && st->start_ticks == start_ticks && st->state != 'Z' && st->state != 'X';
}

bool is_runc_init(pid_t pid) {
  auto argv = cmdline_of(pid);
  if (argv.size() >= 2 && base_name(argv[0]) == "runc" && argv[1] == "init")
    return true;
  auto st = stat_of(pid);
  return st && st->comm.rfind("runc:[", 0) == 0;
}

bool is_dir_no_follow(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists_no_follow(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

// Go's filepath.Clean for '/'-separated paths (what filepath.Join applies).
std::string go_clean(const std::string& p) {
  if (p.empty())
    return ".";
  bool rooted = p[0] == '/';
  std::vector<std::string> parts;
  std::string cur;
  auto flush = [&] {
    if (cur.empty() || cur == ".") {
    } else if (cur == "..") {
      if (!parts.empty() && parts.back() != "..")
        parts.pop_back();
      else if (!rooted)
        parts.emplace_back("..");
    } else {
      parts.push_back(cur);
    }
    cur.clear();
  };
  for (char c : p) {
    if (c == '/')
      flush();
    else
      cur += c;
  }
  flush();
  std::string out = rooted ? "/" : "";
  for (size_t i = 0; i < parts.size(); ++i)
    out += (i > 0 ? "/" : "") + parts[i];
  return out.empty() ? "." : out;
}

// An absolute path without ".", ".." or doubled slashes: what a path built from validated parts
// looks like. Anything else is refused rather than interpreted.
bool is_clean_absolute(const std::string& p) {
  return !p.empty() && p[0] == '/' && go_clean(p) == p && p != "/";
}

// Mount points from /proc/self/mountinfo (octal escapes of spaces etc. decoded).
std::vector<std::string> mount_points() {
  std::vector<std::string> out;
  auto raw = read_file("/proc/self/mountinfo", 64u << 20);
  if (!raw)
    return out;
  std::istringstream in{*raw};
  for (std::string line; std::getline(in, line);) {
    std::istringstream f{line};
    std::string id, parent, dev, root, target;
    f >> id >> parent >> dev >> root >> target;
    std::string decoded;
    for (size_t i = 0; i < target.size(); ++i) {
      if (target[i] == '\\' && i + 3 < target.size()) {
        auto oct = target.substr(i + 1, 3);
        if (oct.size() == 3
            && std::all_of(oct.begin(), oct.end(), [](char c) { return c >= '0' && c <= '7'; })) {
          decoded += static_cast<char>(std::strtol(oct.c_str(), nullptr, 8));
          i += 3;
          continue;
        }
      }
      decoded += target[i];
    }
    out.push_back(decoded);
  }
  return out;
}

bool is_mounted(const std::string& p) {
  auto m = mount_points();
  return std::find(m.begin(), m.end(), p) != m.end();
}

bool has_mount_at_or_below(const std::string& dir) {
  for (const auto& m : mount_points())
    if (m == dir || m.rfind(dir + "/", 0) == 0)
      return true;
  return false;
}

// Runs argv (no shell, output discarded) with a deadline; the exit status, or -1.
int run_bounded(const std::vector<std::string>& argv, std::chrono::milliseconds deadline) {
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    return -1;
  auto until = std::chrono::steady_clock::now() + deadline;
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (r < 0 && errno != EINTR)
      return -1;
    if (std::chrono::steady_clock::now() >= until) {
      ::kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return -1;
    }
    std::this_thread::sleep_for(20ms);
  }
}

std::string errno_text() {
  return std::strerror(errno);
}

// The runc root the shim of `bundle` uses: options.json's Root when set (and clean), otherwise
// the default.
std::string runc_root_of(const std::string& bundle, bool bundle_deleted, const reap_options& opts) {
  if (!bundle.empty() && !bundle_deleted) {
    if (auto text = read_file(bundle + "/options.json")) {
      auto j = nlohmann::json::parse(*text, nullptr, false);
      if (j.is_object())
        for (const char* key : {"Root", "root"})
          if (auto it = j.find(key); it != j.end() && it->is_string()) {
            auto root = it->get<std::string>();
            if (is_clean_absolute(root))
              return root;
          }
    }
  }
  return opts.runc_root;
}

// The bundle must be <state>/io.containerd.runtime.v2.task/<ns>/<id>, clean and absolute.
bool bundle_shape_ok(const std::string& bundle, const std::string& ns, const std::string& id) {
  const std::string suffix = std::string{"/"} + task_dir + "/" + ns + "/" + id;
  return is_clean_absolute(bundle) && bundle.size() > suffix.size() + 1
         && bundle.compare(bundle.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Signals the shim only if `pid` is still the process with `start_ticks`: a pidfd pins the
// process, so a recycled pid is never hit.
bool signal_shim(pid_t pid, uint64_t start_ticks, int sig, std::string& err) {
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_send_signal)
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd >= 0) {
    if (!same_process_alive(pid, start_ticks)) {
      ::close(fd);
      return true; // gone already
    }
    int rc = static_cast<int>(syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0));
    int saved = errno;
    ::close(fd);
    if (rc != 0 && saved != ESRCH) {
      err = std::string{"signal "} + std::to_string(sig) + " to " + std::to_string(pid) + ": "
            + std::strerror(saved);
      return false;
    }
    return true;
  }
  if (errno == ESRCH)
    return true;
#endif
  if (!same_process_alive(pid, start_ticks))
    return true;
  if (::kill(pid, sig) != 0 && errno != ESRCH) {
    err = "kill " + std::to_string(pid) + ": " + errno_text();
    return false;
  }
  return true;
}

bool wait_gone(pid_t pid, uint64_t start_ticks, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (same_process_alive(pid, start_ticks)) {
    if (std::chrono::steady_clock::now() >= until)
      return false;
    std::this_thread::sleep_for(25ms);
  }
  return true;
}

// remove_all that tolerates a concurrent remover (containerd's own cleanup of a dead shim).
bool remove_tree(const std::string& p, std::string& err) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (!exists_no_follow(p))
      return true;
    std::error_code ec;
    fs::remove_all(p, ec);
    if (!ec || !exists_no_follow(p))
      return true;
    err = "remove " + p + ": " + ec.message();
    std::this_thread::sleep_for(50ms);
  }
  return !exists_no_follow(p);
}

// containerd's bundle.Delete: unmount `bundle`/rootfs, remove the bundle, then the work dir
// (when given). Records what it does; an error text when a mount stays or a removal fails.
std::optional<std::string> remove_bundle(const std::string& bundle, const std::string& work,
                                         std::vector<std::string>& actions) {
  std::string err;
  if (is_dir_no_follow(bundle)) {
    const auto rootfs = bundle + "/rootfs";
    for (int i = 0; i < 8 && is_mounted(rootfs); ++i) {
      actions.push_back("umount " + rootfs);
      if (::umount2(rootfs.c_str(), 0) != 0 && errno == EBUSY)
        ::umount2(rootfs.c_str(), MNT_DETACH);
    }
    if (has_mount_at_or_below(bundle))
      return "a mount is left under " + bundle + "; bundle kept";
    actions.push_back("remove " + bundle);
    if (!remove_tree(bundle, err))
      return err;
  }
  if (!work.empty() && is_dir_no_follow(work)) {
    if (has_mount_at_or_below(work))
      return "a mount is left under " + work + "; work dir kept";
    actions.push_back("remove " + work);
    if (!remove_tree(work, err))
      return err;
  }
  return std::nullopt;
}

} // namespace

// --- public ----------------------------------------------------------------------------------

std::optional<std::string> identifier_problem(const std::string& what, const std::string& value) {
  if (value.empty())
    return what + " must not be empty";
  if (value.size() > 76)
    return what + " is longer than 76 characters";
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  bool after_sep = true; // at the start, or right after a separator: a letter or digit must follow
  for (char c : value) {
    if (alnum(c)) {
      after_sep = false;
    } else if ((c == '.' || c == '_' || c == '-') && !after_sep) {
      after_sep = true;
    } else {
      return what + " \"" + value + "\" is not a valid containerd identifier";
    }
  }
  if (after_sep)
    return what + " \"" + value + "\" is not a valid containerd identifier";
  return std::nullopt;
}

std::string socket_path(const std::string& socket_or_target) {
  std::string p = socket_or_target;
  if (p.rfind("unix://", 0) == 0)
    p = p.substr(7);
  return go_clean(p);
}

namespace {

/// The shims of namespace `ns` of the containerd at `containerd_socket`; of container `id` only
/// when given.
std::vector<shim_process> shims_matching(const std::string& containerd_socket,
                                         const std::string& ns,
                                         const std::optional<std::string>& id) {
  std::vector<shim_process> out;
  if (identifier_problem("namespace", ns) || (id && identifier_problem("id", *id)))
    return out;
  const auto sock = socket_path(containerd_socket);
  for (pid_t pid : all_pids()) {
    auto argv = cmdline_of(pid);
    if (argv.size() < 7 || base_name(argv[0]) != shim_binary)
      continue;
    // Exactly -namespace, -id, -address (each once) and optionally -debug: the long-running
    // shim. `start`/`delete` invocations carry more (a subcommand, -bundle, -publish-binary).
    std::optional<std::string> a_ns, a_id, a_addr;
    bool debug = false, ok = true;
    for (size_t i = 1; i < argv.size() && ok; ++i) {
      auto take = [&](std::optional<std::string>& slot) {
        if (slot || i + 1 >= argv.size())
          ok = false;
        else
          slot = argv[++i];
      };
      if (argv[i] == "-namespace")
        take(a_ns);
      else if (argv[i] == "-id")
        take(a_id);
      else if (argv[i] == "-address")
        take(a_addr);
      else if (argv[i] == "-debug" && !debug)
        debug = true;
      else
        ok = false;
    }
    if (!ok || !a_ns || !a_id || !a_addr || *a_ns != ns || (id && *a_id != *id)
        || identifier_problem("id", *a_id) || socket_path(*a_addr) != sock)
      continue;
    auto st = stat_of(pid);
    if (!st || st->state == 'Z' || st->state == 'X')
      continue;
    shim_process s;
    s.pid = pid;
    s.start_ticks = st->start_ticks;
    s.ns = ns;
    s.id = *a_id;
    s.address = *a_addr;
    std::error_code ec;
    auto cwd = fs::read_symlink("/proc/" + std::to_string(pid) + "/cwd", ec).string();
    const std::string deleted = " (deleted)";
    if (cwd.size() > deleted.size()
        && cwd.compare(cwd.size() - deleted.size(), deleted.size(), deleted) == 0) {
      cwd.resize(cwd.size() - deleted.size());
      s.bundle_deleted = true;
    }
    s.bundle = cwd;
    // The process may have exited between reading argv and cwd: keep only a consistent view.
    if (same_process_alive(pid, s.start_ticks))
      out.push_back(std::move(s));
  }
  return out;
}

} // namespace

std::vector<shim_process> find_shims(const std::string& containerd_socket, const std::string& ns,
                                     const std::string& id) {
  return shims_matching(containerd_socket, ns, id);
}

std::vector<shim_process> find_namespace_shims(const std::string& containerd_socket,
                                               const std::string& ns) {
  return shims_matching(containerd_socket, ns, std::nullopt);
}

namespace {

/// The fd link targets ("socket:[<inode>]") of the listening Unix sockets bound to `sock`, from
/// /proc/net/unix; nullopt when it cannot be read.
std::optional<std::set<std::string>> listening_sockets(const std::string& sock) {
  auto table = read_file("/proc/net/unix", 256u << 20);
  if (!table)
    return std::nullopt;
  // Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 = __SO_ACCEPTCON (listening).
  // Accepted connections show the listener's path too, but only the listener has that flag.
  std::set<std::string> inodes;
  std::istringstream in{*table};
  for (std::string line; std::getline(in, line);) {
    std::istringstream f{line};
    std::string num, refs, proto, flags, type, st, inode, path;
    if (!(f >> num >> refs >> proto >> flags >> type >> st >> inode >> path))
      continue;
    if (path == sock && flags == "00010000")
      inodes.insert("socket:[" + inode + "]");
  }
  return inodes;
}

/// True when one of pid's file descriptors is one of `sockets`.
bool holds_any(pid_t pid, const std::set<std::string>& sockets) {
  std::error_code ec;
  fs::directory_iterator fds{"/proc/" + std::to_string(pid) + "/fd", ec};
  if (ec)
    return false;
  for (auto it = fds; it != fs::directory_iterator{}; it.increment(ec)) {
    if (ec)
      return false;
    auto target = fs::read_symlink(it->path(), ec).string();
    if (!ec && sockets.count(target) > 0)
      return true;
  }
  return false;
}

/// The paths of the listening Unix sockets `pid` holds, as bound (/proc/net/unix keeps the name
/// of a socket file that was unlinked since); nullopt when /proc cannot be read.
std::optional<std::set<std::string>> listening_paths(pid_t pid) {
  auto table = read_file("/proc/net/unix", 256u << 20);
  if (!table)
    return std::nullopt;
  std::map<std::string, std::string> listeners; // "socket:[inode]" -> path
  std::istringstream in{*table};
  for (std::string line; std::getline(in, line);) {
    std::istringstream f{line};
    std::string num, refs, proto, flags, type, st, inode, path;
    if ((f >> num >> refs >> proto >> flags >> type >> st >> inode >> path) && flags == "00010000")
      listeners.emplace("socket:[" + inode + "]", path);
  }
  std::error_code ec;
  fs::directory_iterator fds{"/proc/" + std::to_string(pid) + "/fd", ec};
  if (ec)
    return std::nullopt;
  std::set<std::string> out;
  for (auto it = fds; it != fs::directory_iterator{}; it.increment(ec)) {
    if (ec)
      return std::nullopt;
    auto target = fs::read_symlink(it->path(), ec).string();
    if (auto l = listeners.find(target); !ec && l != listeners.end())
      out.insert(l->second);
  }
  return out;
}

/// Why runc's state of the shim's container forbids removing it: when `runc create` got
/// through, the init must still be waiting as `runc init` (a started task is never a leak).
std::optional<std::string> runc_state_problem(const shim_process& shim, const reap_options& opts) {
  auto root = runc_root_of(shim.bundle, shim.bundle_deleted, opts);
  auto state_json = root + "/" + shim.ns + "/" + shim.id + "/state.json";
  auto text = read_file(state_json);
  if (!text)
    return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  pid_t init = -1;
  uint64_t init_start = 0;
  if (j.is_object()) {
    if (auto it = j.find("init_process_pid"); it != j.end() && it->is_number_integer())
      init = it->get<pid_t>();
    if (auto it = j.find("init_process_start"); it != j.end() && it->is_number_unsigned())
      init_start = it->get<uint64_t>();
  }
  if (init <= 0 || !same_process_alive(init, init_start) || !is_runc_init(init))
    return "runc container " + shim.id + " was started (its init is not `runc init`)";
  return std::nullopt;
}

/// The verdict on a shim whose bundle containerd has deleted. containerd deletes a bundle only
/// once it has let go of the shim (after the shim's Shutdown, or in the cleanup of a failed
/// Tasks.Create, whose request the shim may still be working on), and a restarted containerd
/// finds shims only through bundles: nothing will ever ask this shim to exit. It is abandoned
/// unless a bundle of its namespace still reaches it, as the other members of a shared shim
/// whose first member was deleted do.
leak_verdict classify_abandoned(const shim_process& shim, const reap_options& opts) {
  auto no = [](std::string why) { return leak_verdict{false, std::move(why)}; };
  const auto pid = std::to_string(shim.pid);
  const fs::path cwd{shim.bundle};
  const auto name = cwd.filename().string();
  const auto ns_dir = cwd.parent_path().string();
  // containerd renames a bundle to ".<id>" before removing it.
  if ((name != shim.id && name != "." + shim.id)
      || !bundle_shape_ok(ns_dir + "/" + shim.id, shim.ns, shim.id))
    return no("shim " + pid + " works in \"" + shim.bundle + "\" (deleted), not a bundle of "
              + shim.ns + "/" + shim.id);
  auto own = listening_paths(shim.pid);
  if (!own)
    return no("cannot read the sockets of shim " + pid);
  if (own->empty())
    return no("shim " + pid + " listens on no socket");
  std::error_code ec;
  for (auto& e : fs::directory_iterator(ns_dir, ec)) {
    auto other = e.path().filename().string();
    if (other.empty() || other[0] == '.' || !is_dir_no_follow(e.path().string()))
      continue; // a bundle being removed
    if (other == shim.id)
      return no("container " + shim.id + " has a new bundle");
    auto address = read_file(e.path().string() + "/address", 4096);
    if (!address)
      return no("bundle " + other + " has no shim address yet (its shim is starting)");
    auto target = *address;
    while (!target.empty() && std::isspace(static_cast<unsigned char>(target.back())))
      target.pop_back();
    if (own->count(socket_path(target)) > 0)
      return no("shim " + pid + " also serves container " + other + " (a shared shim)");
  }
  if (ec && ec != std::errc::no_such_file_or_directory)
    return no("cannot list " + ns_dir + ": " + ec.message());
  if (auto problem = runc_state_problem(shim, opts))
    return no(*problem);
  return {true, "containerd let go of shim " + pid + " (its bundle is deleted) and no bundle of "
                  + shim.ns + " reaches it"};
}

} // namespace

result<containerd_process> find_containerd(const std::string& containerd_socket) {
  const auto sock = socket_path(containerd_socket);
  auto inodes = listening_sockets(sock);
  if (!inodes)
    return fail("cannot read /proc/net/unix");
  if (inodes->empty())
    return fail("no process listens on " + sock);
  std::set<pid_t> holders;
  for (pid_t pid : all_pids()) {
    if (!holds_any(pid, *inodes))
      continue;
    auto argv = cmdline_of(pid);
    if (!argv.empty() && base_name(argv[0]) == "containerd")
      holders.insert(pid);
  }
  // containerd forks to start each shim: until the child execs, it is a second "containerd" that
  // holds the socket. The one serving is the holder whose parent is not a holder.
  for (auto it = holders.begin(); it != holders.end();) {
    auto st = stat_of(*it);
    if (st && holders.count(st->ppid) > 0)
      it = holders.erase(it);
    else
      ++it;
  }
  if (holders.size() != 1)
    return fail(holders.empty() ? "no containerd process holds the listening socket " + sock
                                : "more than one containerd process holds " + sock);
  auto pid = *holders.begin();
  auto st = stat_of(pid);
  if (!st)
    return fail("containerd " + std::to_string(pid) + " vanished");
  return containerd_process{pid, st->start_ticks};
}

leak_verdict classify(const shim_process& shim, const containerd_process& ctrd,
                      const reap_options& opts) {
  auto no = [](std::string why) { return leak_verdict{false, std::move(why)}; };
  if (auto p = identifier_problem("namespace", shim.ns))
    return no(*p);
  if (auto p = identifier_problem("id", shim.id))
    return no(*p);
  if (!same_process_alive(shim.pid, shim.start_ticks))
    return no("shim " + std::to_string(shim.pid) + " is gone");
  if (shim.bundle_deleted)
    return classify_abandoned(shim, opts);
  if (shim.start_ticks >= ctrd.start_ticks)
    return no("shim " + std::to_string(shim.pid) + " started after containerd "
              + std::to_string(ctrd.pid) + " (its Create may be in flight)");
  for (pid_t pid : all_pids()) {
    auto st = stat_of(pid);
    if (!st || st->ppid != shim.pid || st->state == 'Z' || st->state == 'X')
      continue;
    if (!is_runc_init(pid))
      return no("shim " + std::to_string(shim.pid) + " has a child " + std::to_string(pid) + " ("
                + st->comm + "): a started task");
  }
  // A shim shared through the io.containerd.runc.v2.group annotation serves every container whose
  // bundle's `address` file names its socket: while another bundle of the namespace does, the
  // shim is that container's too, whatever its children look like.
  std::error_code ec;
  for (auto& e : fs::directory_iterator(fs::path{shim.bundle}.parent_path(), ec)) {
    auto name = e.path().filename().string();
    if (name == shim.id || !is_dir_no_follow(e.path().string()))
      continue;
    auto address = read_file(e.path().string() + "/address", 4096);
    if (!address)
      continue;
    auto target = *address;
    while (!target.empty() && std::isspace(static_cast<unsigned char>(target.back())))
      target.pop_back();
    auto sockets = listening_sockets(socket_path(target));
    if (sockets && !sockets->empty() && holds_any(shim.pid, *sockets))
      return no("shim " + std::to_string(shim.pid) + " also serves container " + name
                + " (a shared shim)");
  }
  if (auto problem = runc_state_problem(shim, opts))
    return no(*problem);
  return {true, "shim " + std::to_string(shim.pid) + " started before containerd "
                  + std::to_string(ctrd.pid) + " and has no started task"};
}

std::string shim_socket_path(const std::string& address, const std::string& ns,
                             const std::string& id, const std::string& socket_dir) {
  auto input = go_clean(address + "/" + ns + "/" + id);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha256(), nullptr) != 1 || len != 32)
    return {};
  static const char* hex = "0123456789abcdef";
  std::string out = go_clean(socket_dir) + "/";
  for (unsigned i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xf];
  }
  return out;
}

reap_result reap(const shim_process& shim, const reap_options& opts) {
  reap_result r;
  auto fail = [&](std::string text) {
    r.ok = false;
    r.error = std::move(text);
    return r;
  };
  const auto& ns = shim.ns;
  const auto& id = shim.id;
  if (auto p = identifier_problem("namespace", ns))
    return fail(*p);
  if (auto p = identifier_problem("id", id))
    return fail(*p);
  if (socket_path(shim.address) != socket_path(opts.containerd_socket))
    return fail("shim " + std::to_string(shim.pid) + " belongs to another containerd ("
                + shim.address + ")");
  if (!is_clean_absolute(go_clean(opts.runc_root)) || !is_clean_absolute(go_clean(opts.socket_dir))
      || !is_clean_absolute(go_clean(opts.cgroup_root)))
    return fail("runc root, socket dir and cgroup root must be absolute paths");
  // 1. Identity and the criterion, again, right before acting.
  auto current = find_shims(opts.containerd_socket, ns, id);
  auto same = std::find_if(current.begin(), current.end(), [&](const shim_process& s) {
    return s.pid == shim.pid && s.start_ticks == shim.start_ticks;
  });
  if (same == current.end())
    return fail("shim " + std::to_string(shim.pid) + " of " + ns + "/" + id
                + " is gone or changed; nothing done");
  const shim_process s = *same; // the fresh view (cwd may have become "(deleted)")
  auto ctrd = find_containerd(opts.containerd_socket);
  if (!ctrd)
    return fail("cannot tell which containerd serves " + socket_path(opts.containerd_socket) + ": "
                + ctrd.error() + "; nothing done");
  auto verdict = classify(s, *ctrd, opts);
  if (!verdict.leaked)
    return fail("refused: " + verdict.reason);
  // 2. Everything derived from the bundle is computed and checked before the shim is signalled.
  const bool have_bundle = !s.bundle_deleted && is_dir_no_follow(s.bundle);
  if (!s.bundle_deleted && !bundle_shape_ok(s.bundle, ns, id))
    return fail("refused: shim cwd \"" + s.bundle + "\" is not a bundle <state>/" + task_dir + "/"
                + ns + "/" + id);
  std::string work;
  std::string own_cgroups_path = "/" + ns + "/" + id;
  std::string group;
  if (have_bundle) {
    std::error_code ec;
    auto link = fs::read_symlink(s.bundle + "/work", ec);
    if (!ec) {
      work = link.string();
      if (!bundle_shape_ok(work, ns, id))
        return fail("refused: " + s.bundle + "/work points to \"" + work + "\", not <root>/"
                    + task_dir + "/" + ns + "/" + id);
    }
    if (auto text = read_file(s.bundle + "/config.json")) {
      auto j = nlohmann::json::parse(*text, nullptr, false);
      if (j.is_object() && j.contains("annotations") && j["annotations"].is_object()) {
        auto& an = j["annotations"];
        if (auto it = an.find("io.containerd.runc.v2.group"); it != an.end() && it->is_string())
          group = it->get<std::string>();
      }
      if (j.is_object() && j.contains("linux") && j["linux"].is_object()) {
        auto& lx = j["linux"];
        if (auto it = lx.find("cgroupsPath");
            it != lx.end() && it->is_string() && !it->get<std::string>().empty())
          own_cgroups_path = it->get<std::string>();
      }
    }
  }
  const auto runc_root = runc_root_of(s.bundle, s.bundle_deleted, opts);
  const auto runc_ns_root = runc_root + "/" + ns;
  // A shim of a group (io.containerd.runc.v2.group) listens on the socket of the group's name.
  // Without its bundle the group is unknown: the sockets it listens on are taken from /proc, and
  // removed only if nobody listens there once it is gone.
  const auto sock =
    s.bundle_deleted ? std::string{}
                     : shim_socket_path(s.address, ns, group.empty() ? id : group, opts.socket_dir);
  std::set<std::string> abandoned_sockets;
  if (s.bundle_deleted)
    if (auto own = listening_paths(s.pid))
      for (const auto& p : *own)
        if (p.rfind(go_clean(opts.socket_dir) + "/", 0) == 0 && go_clean(p) == p)
          abandoned_sockets.insert(p);

  // The containers a shim containerd let go of holds besides its own: none of them has a bundle
  // (a bundle naming its socket would have kept it), so they are as orphaned as it is. They are
  // known by their init, a child of the shim, before the shim goes.
  std::vector<std::string> ids{id};
  if (s.bundle_deleted) {
    std::error_code ec;
    for (auto& e : fs::directory_iterator(runc_ns_root, ec)) {
      auto other = e.path().filename().string();
      if (other == id || identifier_problem("id", other) || !is_dir_no_follow(e.path().string()))
        continue;
      auto text = read_file(e.path().string() + "/state.json");
      auto j = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json{};
      auto it = j.is_object() ? j.find("init_process_pid") : j.end();
      if (!j.is_object() || it == j.end() || !it->is_number_integer())
        continue;
      auto st = stat_of(it->get<pid_t>());
      if (st && st->ppid == s.pid)
        ids.push_back(other);
    }
  }

  // 3. Stop the shim: SIGTERM, SIGKILL if it hangs.
  std::string err;
  r.actions.push_back("SIGTERM shim " + std::to_string(s.pid));
  if (!signal_shim(s.pid, s.start_ticks, SIGTERM, err))
    return fail(err);
  if (!wait_gone(s.pid, s.start_ticks, opts.term_wait)) {
    r.actions.push_back("SIGKILL shim " + std::to_string(s.pid));
    if (!signal_shim(s.pid, s.start_ticks, SIGKILL, err))
      return fail(err);
    if (!wait_gone(s.pid, s.start_ticks, opts.kill_wait))
      return fail("shim " + std::to_string(s.pid) + " survived SIGKILL");
  }
  // A running containerd notices the dead shim and runs its own cleanup (`shim delete`): give it
  // a moment so that the two do not trip over each other; both tolerate the other's work.
  for (int i = 0; i < 20 && have_bundle && is_dir_no_follow(s.bundle); ++i)
    std::this_thread::sleep_for(50ms);

  for (const auto& cid : ids) {
    const auto runc_dir = runc_ns_root + "/" + cid;
    const auto cgroups_path = cid == id ? own_cgroups_path : "/" + ns + "/" + cid;
    // 4. runc's container (exists only if runc create got through), then its directory.
    if (exists_no_follow(runc_dir + "/state.json")) {
      r.actions.push_back("runc --root " + runc_ns_root + " delete -f " + cid);
      int rc =
        run_bounded({opts.runc, "--root", runc_ns_root, "delete", "-f", cid}, opts.runc_timeout);
      if (rc != 0 && exists_no_follow(runc_dir + "/state.json"))
        return fail("runc delete -f " + cid + " failed (status " + std::to_string(rc) + ")");
    }
    if (is_dir_no_follow(runc_dir)) {
      if (has_mount_at_or_below(runc_dir))
        return fail("a mount is left under " + runc_dir);
      r.actions.push_back("remove " + runc_dir);
      if (!remove_tree(runc_dir, err))
        return fail(err);
    }

    // 5. cgroups of an interrupted runc create (cgroupfs driver); only ever rmdir.
    if (cgroups_path.find(':') != std::string::npos) {
      r.actions.push_back("cgroupsPath " + cgroups_path + " (systemd driver) left alone");
    } else if (!is_clean_absolute(cgroups_path)) {
      return fail("refused: cgroupsPath \"" + cgroups_path + "\" is not a clean absolute path");
    } else {
      std::vector<std::string> dirs;
      const auto cg_root = go_clean(opts.cgroup_root);
      if (exists_no_follow(cg_root + "/cgroup.controllers")) {
        dirs.push_back(cg_root + cgroups_path); // unified (v2) hierarchy
      } else {
        std::error_code ec;
        for (auto& e : fs::directory_iterator(cg_root, ec))
          if (e.is_directory() && !e.is_symlink()) // v1 controllers and hybrid `unified`
            dirs.push_back(e.path().string() + cgroups_path);
      }
      for (const auto& d : dirs) {
        if (!is_dir_no_follow(d))
          continue;
        auto procs = read_file(d + "/cgroup.procs");
        if (procs && !procs->empty())
          return fail("processes are still in cgroup " + d);
        r.actions.push_back("rmdir " + d);
        if (::rmdir(d.c_str()) != 0 && errno != ENOENT)
          return fail("rmdir " + d + ": " + errno_text());
      }
    }
  }

  // 6. The bundle: unmount its rootfs, remove it and the work dir (containerd's bundle.Delete).
  if (auto problem = remove_bundle(have_bundle ? s.bundle : std::string{}, work, r.actions))
    return fail(*problem);

  // 7. The shim socket (SIGTERM lets the shim remove it; after SIGKILL it is stale).
  struct stat st {};
  if (!sock.empty() && ::lstat(sock.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    r.actions.push_back("remove " + sock);
    if (::unlink(sock.c_str()) != 0 && errno != ENOENT)
      return fail("unlink " + sock + ": " + errno_text());
  }
  for (const auto& p : abandoned_sockets) {
    auto listeners = listening_sockets(p);
    if (::lstat(p.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode) || !listeners || !listeners->empty())
      continue;
    r.actions.push_back("remove " + p);
    if (::unlink(p.c_str()) != 0 && errno != ENOENT)
      return fail("unlink " + p + ": " + errno_text());
  }
  r.ok = true;
  return r;
}

namespace {

/// The first invalid containerd identifier among `names` (what, value) into `out`: true if any.
bool refused_names(reap_summary& out,
                   std::initializer_list<std::pair<const char*, const std::string*>> names) {
  for (auto [what, value] : names)
    if (auto p = identifier_problem(what, *value)) {
      out.error = *p;
      out.invalid_argument = true;
      return true;
    }
  return false;
}

/// classify() and reap() for each of `shims`, against the containerd serving the socket now;
/// stops at the first reap that fails.
void reap_classified(const std::vector<shim_process>& shims, const reap_options& opts,
                     reap_summary& out) {
  auto ctrd = find_containerd(opts.containerd_socket);
  if (!ctrd) {
    out.error = "cannot tell which containerd serves " + socket_path(opts.containerd_socket) + ": "
                + ctrd.error() + "; nothing reaped";
    out.containerd_unknown = true;
    return;
  }
  for (const auto& s : shims) {
    auto verdict = classify(s, *ctrd, opts);
    if (!verdict.leaked) {
      out.skipped.push_back(verdict.reason);
      continue;
    }
    auto r = reap(s, opts);
    out.actions.insert(out.actions.end(), r.actions.begin(), r.actions.end());
    if (!r.ok) {
      out.error =
        "reaping shim " + std::to_string(s.pid) + " of " + s.ns + "/" + s.id + ": " + r.error;
      return;
    }
    ++out.removed;
  }
}

} // namespace

reap_summary reap_leaked(const std::string& ns, const std::string& id, const reap_options& opts) {
  reap_summary out;
  if (refused_names(out, {{"namespace", &ns}, {"id", &id}}))
    return out;
  reap_classified(find_shims(opts.containerd_socket, ns, id), opts, out);
  return out;
}

reap_summary reap_abandoned(const std::string& ns, const reap_options& opts) {
  reap_summary out;
  if (refused_names(out, {{"namespace", &ns}}))
    return out;
  // A shim whose bundle exists is reap_leaked's business, with containerd's confirmation.
  auto shims = find_namespace_shims(opts.containerd_socket, ns);
  shims.erase(std::remove_if(shims.begin(), shims.end(),
                             [](const shim_process& s) { return !s.bundle_deleted; }),
              shims.end());
  reap_classified(shims, opts, out);
  return out;
}

reap_summary reap_orphan_bundle(const std::string& ns, const std::string& id,
                                const std::string& bundle, const reap_options& opts) {
  reap_summary out;
  if (refused_names(out, {{"namespace", &ns}, {"id", &id}}))
    return out;
  if (!bundle_shape_ok(bundle, ns, id)) {
    out.error =
      "refused: \"" + bundle + "\" is not a bundle <state>/" + task_dir + "/" + ns + "/" + id;
    out.invalid_argument = true;
    return out;
  }
  if (!is_dir_no_follow(bundle))
    return out; // gone meanwhile (or never a directory): nothing to do
  // Only a bundle without a shim: a shim, leaked or not, is reap_leaked's business.
  if (!find_shims(opts.containerd_socket, ns, id).empty()) {
    out.skipped.push_back("a shim of " + ns + "/" + id + " runs; its bundle is left to it");
    return out;
  }
  std::string work;
  std::error_code ec;
  auto link = fs::read_symlink(bundle + "/work", ec);
  if (!ec) {
    work = link.string();
    if (!bundle_shape_ok(work, ns, id)) {
      out.error = "refused: " + bundle + "/work points to \"" + work + "\", not <root>/" + task_dir
                  + "/" + ns + "/" + id;
      return out;
    }
  }
  if (auto problem = remove_bundle(bundle, work, out.actions)) {
    out.error = *problem;
    return out;
  }
  out.removed = 1;
  return out;
}

} // namespace contd::containerd
