// twstack: one binary, several subcommands (`twstack --help` lists them),
// parsed by one CLI::App.
//
// Exit status: what the command returns (0 success, 1 a failed run), or 2
// for a usage mistake: unknown command or option, bad option value.
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "apps/common/cli.hh"
#include "apps/twstack/dpdk/dpdk_commands.hh"
#include "apps/twstack/lab/lab.hh"
#include "apps/twstack/sim/sim_churn.hh"
#include "apps/twstack/sim/sim_ports.hh"
#include "apps/twstack/sim/sim_transfer.hh"
#include "apps/twstack/stat/stat.hh"
#include "stack/base/config.hh"

namespace twstack::app {
namespace {

constexpr int kUsageExit = 2;

constexpr const char* kFooter =
    "'twstack <command> --help' (and 'twstack sim <command> --help') describes a command and\n"
    "its options; 'twstack knobs' lists every knob --config and --set accept.";

std::vector<Command> add_commands(CLI::App& app) {
  std::vector<Command> cmds = {add_lab_command(app, have_dpdk())};
  CLI::App* sim = app.add_subcommand("sim", "in-process runs in virtual time: transfer, churn, ports");
  sim->require_subcommand(1);
  cmds.push_back(add_sim_transfer_command(*sim));
  cmds.push_back(add_sim_churn_command(*sim));
  cmds.push_back(add_sim_ports_command(*sim));
  for (Command& c : add_dpdk_commands(app)) cmds.push_back(c);
  cmds.push_back(add_stat_command(app));
  // The knob list, from the one table the configuration is built from:
  // key, default, unit, allowed values, meaning, and which are not
  // implemented yet.
  CLI::App* knobs = app.add_subcommand("knobs", "list every knob --config/--set accept, with defaults and units");
  auto markdown = std::make_shared<bool>(false);
  knobs->add_flag("--markdown", *markdown, "as the README's Markdown table");
  cmds.push_back(Command{knobs, [markdown](std::ostream& out, std::ostream&) {
                           out << (*markdown ? StackConfig::describe_markdown() : StackConfig::describe());
                           return 0;
                         }});
  return cmds;
}

// A mistake: what, and where to look.
int usage(const CLI::App& app, const std::string& what) {
  const std::string path = path_of(selected(app));
  std::cerr << path << ": " << what << "\n" << "'" << path << " --help' says more.\n";
  return kUsageExit;
}

int run(int argc, char** argv) {
  CLI::App app{"twstack: a userspace TCP/IPv4 stack on DPDK, and its TIME_WAIT lab", "twstack"};
  configure_app(app);
  app.require_subcommand(1);
  app.footer(kFooter);
  const std::vector<Command> cmds = add_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    const CLI::App& sub = selected(app);
    std::cout << sub.help(sub.get_parent() != nullptr ? path_of(*sub.get_parent()) : "");
    return 0;
  } catch (const CLI::ParseError& e) {
    return usage(app, usage_message(e, app));
  }
  for (const Command& c : cmds) {
    if (c.app->parsed() == 0) continue;
    try {
      return c.run(std::cout, std::cerr);
    } catch (const UsageError& e) {
      return usage(app, e.what());
    }
  }
  return usage(app, "missing command");
}

}  // namespace
}  // namespace twstack::app

int main(int argc, char** argv) {
  try {
    return twstack::app::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "twstack: " << e.what() << "\n";
    return 1;
  }
}
