#include "src/contctl/command_line.hpp"

#include <algorithm>

#include <CLI/CLI.hpp>

namespace contd::ctl {

const char* const usage_text =
  R"(usage: contctl [--broker URL] [--timeout DURATION] [--json] COMMAND
       contctl --version

commands:
  status                          health of contd (the zbus status object)
  ns                              list namespaces
  ls [-q] [NS]                    containers with their status and restarts (all namespaces
                                  without NS; -q: ids only)
  run NS NAME --rootfs DIR --netns NAME [--env K=V]... [--mount SRC:DST[:ro]]...
      [--memory 256M] [--cpu 1] [--workdir DIR] [--interactive] [--elevated]
      [--shutdown-timeout 5s] [--propagation MODE] -- CMD [ARG...]
  inspect NS ID [--json]          show a container and its state
  exec NS ID [--timeout 10s] -- CMD [ARG...]
  logs [-f] NS ID                 the last 100 lines of the container's output; -f keeps
                                  following it (polls Logs; until Ctrl-C)
  stats [NS [ID]] [--watch]       memory, CPU and pids of running containers; --watch
                                  refreshes every 2 s (until Ctrl-C)
  stop NS ID                      SignalDelete: SIGTERM, do not wait
  rm NS ID                        Delete: stop gracefully and remove
  events [NS] [--json]            follow container state transitions (of NS only with NS), one
                                  line each, until Ctrl-C; events while nobody listens are lost

options:
  --broker URL     Redis broker (default unix:///var/run/redis.sock)
  --timeout D      how long to wait for contd (default 30s)
  --json           machine-readable output
  --version        print the version and exit
  --help           this text

Options may also follow the command. Everything after "--" is the command line of run or exec.
)";

namespace {

/// The arguments before the first "--" (the Go spelling -broker made --broker) and those after
/// it, untouched: the command line of run or exec.
struct split_args {
  std::vector<std::string> options;
  std::vector<std::string> command;
  bool saw_dashes = false;
};

split_args split_at_dashes(int argc, const char* const* argv) {
  split_args out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (out.saw_dashes)
      out.command.push_back(std::move(a));
    else if (a == "--")
      out.saw_dashes = true;
    else if (a == "-broker" || a.rfind("-broker=", 0) == 0)
      out.options.push_back("-" + a);
    else
      out.options.push_back(std::move(a));
  }
  return out;
}

} // namespace

result<invocation> parse_command_line(int argc, const char* const* argv) {
  auto args = split_at_dashes(argc, argv);
  invocation inv;
  CLI::App app{"contctl"};
  app.set_help_flag(); // usage_text instead of CLI11's generated help
  // A repeated option: the last one counts (the repeatable ones below take all).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  // Options a command does not know are the global ones, also after the command.
  app.fallthrough();
  // At most one command: after it, a command's name is a positional argument (a container may
  // be called "logs").
  app.require_subcommand(0, 1);
  std::string timeout, memory, cpu, shutdown_timeout, exec_timeout;
  std::vector<std::string> unknown;
  app.add_flag("-h,--help", inv.help);
  app.add_flag("--version", inv.version);
  app.add_option("--broker", inv.broker);
  auto* timeout_opt = app.add_option("--timeout", timeout);
  app.add_flag("--json", inv.json);
  app.add_option("unknown", unknown)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);

  auto command = [&](const char* name) {
    auto* sub = app.add_subcommand(name);
    sub->add_option("args", inv.params)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    return sub;
  };
  // --env A --env B: one value each time, all kept.
  auto repeated = [](CLI::Option* opt) {
    opt->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)->allow_extra_args(false);
  };
  auto* help_cmd = command("help");
  command("status");
  command("ns");
  command("ls")->add_flag("-q", inv.ids_only);
  auto* run_cmd = command("run");
  run_cmd->add_option("--rootfs", inv.spec.root_fs);
  run_cmd->add_option("--netns", inv.spec.network.ns);
  repeated(run_cmd->add_option("--env", inv.spec.env));
  repeated(run_cmd->add_option("--mount", inv.mounts));
  auto* memory_opt = run_cmd->add_option("--memory", memory);
  auto* cpu_opt = run_cmd->add_option("--cpu", cpu);
  run_cmd->add_option("--workdir", inv.spec.working_dir);
  run_cmd->add_flag("--interactive", inv.spec.interactive);
  run_cmd->add_flag("--elevated", inv.spec.elevated);
  auto* shutdown_opt = run_cmd->add_option("--shutdown-timeout", shutdown_timeout);
  run_cmd->add_option("--propagation", inv.spec.root_fs_propagation);
  command("inspect")->add_flag("--json", inv.command_json);
  auto* exec_cmd = command("exec");
  auto* exec_timeout_opt = exec_cmd->add_option("--timeout", exec_timeout);
  command("logs")->add_flag("-f,--follow", inv.follow);
  command("stats")->add_flag("-w,--watch", inv.watch);
  command("stop");
  command("rm");
  command("events")->add_flag("--json", inv.command_json);

  try {
    std::reverse(args.options.begin(), args.options.end()); // CLI11 takes them last first
    app.parse(args.options);
  } catch (const CLI::ParseError& e) {
    return fail(e.what());
  }
  if (help_cmd->parsed())
    inv.help = true;
  if (inv.help || inv.version)
    return inv;
  if (!unknown.empty()) {
    return fail("unknown command " + unknown.front());
  }
  auto chosen = app.get_subcommands();
  if (chosen.empty()) {
    return fail("no command");
  }
  auto* cmd = chosen.front();
  inv.command = cmd->get_name();
  if (args.saw_dashes && cmd != run_cmd && cmd != exec_cmd) {
    return fail("\"--\" only comes before the command line of run or exec");
  }
  inv.command_line = std::move(args.command);
  auto given = [](const CLI::Option* opt, std::string& value) {
    return opt->count() > 0 ? std::optional<std::string>{std::move(value)} : std::nullopt;
  };
  inv.timeout = given(timeout_opt, timeout);
  inv.memory = given(memory_opt, memory);
  inv.cpu = given(cpu_opt, cpu);
  inv.shutdown_timeout = given(shutdown_opt, shutdown_timeout);
  inv.exec_timeout = given(exec_timeout_opt, exec_timeout);
  return inv;
}

} // namespace contd::ctl
