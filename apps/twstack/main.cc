// twstack: one binary, several subcommands (`twstack --help` lists them).
//
// Exit status: what the command returns (0 success, 1 a failed run), or 2
// for a usage mistake: unknown command or option, bad option value.
#include <algorithm>
#include <array>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "apps/common/command.hh"
#include "apps/twstack/dpdk/dpdk_commands.hh"
#include "apps/twstack/lab/lab.hh"
#include "apps/twstack/sim/sim_churn.hh"
#include "apps/twstack/sim/sim_ports.hh"
#include "apps/twstack/sim/sim_transfer.hh"
#include "apps/twstack/stat/stat.hh"

namespace twstack::app {
namespace {

constexpr int kUsageExit = 2;

std::vector<Command> all_commands() {
  std::vector<Command> v = {lab_command(have_dpdk()), sim_transfer_command(), sim_ports_command(), sim_churn_command()};
  for (Command& c : dpdk_commands()) v.push_back(c);
  v.push_back(stat_command());
  return v;
}

std::vector<std::string_view> words_of(std::string_view path) {
  std::vector<std::string_view> w;
  while (!path.empty()) {
    std::size_t sp = path.find(' ');
    w.push_back(path.substr(0, sp));
    path = sp == std::string_view::npos ? std::string_view{} : path.substr(sp + 1);
  }
  return w;
}

void print_usage(std::ostream& os, const std::vector<Command>& cmds) {
  os << "usage: twstack <command> [options]\n\nCommands:\n";
  std::size_t width = 0;
  for (const Command& c : cmds) width = std::max(width, c.path.size());
  for (const Command& c : cmds) {
    os << "  " << c.path << std::string(width - c.path.size() + 2, ' ') << c.summary << "\n";
  }
  os << "\n'twstack <command> --help' describes a command and its options.\n";
}

// The full help; after a mistake (`brief`) only the synopsis and options.
void print_command_usage(std::ostream& os, const Command& c, bool brief = false) {
  os << "usage: twstack " << c.path << " [options]\n\n";
  if (!brief) os << c.description << "\n\n";
  os << describe_options(c.options);
  if (brief) os << "\n'twstack " << c.path << " --help' says more.\n";
}

// The command whose words start `args`, longest first; nullptr if none.
const Command* match(const std::vector<Command>& cmds, std::span<const std::string_view> args, std::size_t* used) {
  const Command* best = nullptr;
  for (const Command& c : cmds) {
    std::vector<std::string_view> w = words_of(c.path);
    if (w.size() > args.size() || (best != nullptr && w.size() <= *used)) continue;
    if (std::equal(w.begin(), w.end(), args.begin())) {
      best = &c;
      *used = w.size();
    }
  }
  return best;
}

// No command matched: name what was wrong, listing the subcommands of a
// known group ("sim") when that is what the words began with.
int unknown_command(std::ostream& err, const std::vector<Command>& cmds, std::span<const std::string_view> args) {
  std::string group = std::string(args[0]);
  std::vector<std::string_view> under;
  for (const Command& c : cmds) {
    if (words_of(c.path)[0] == args[0] && c.path.size() > group.size()) under.push_back(c.path);
  }
  if (under.empty() && !have_dpdk() && (args[0] == "serve" || args[0] == "churn")) {
    err << "twstack: '" << args[0] << "' runs on DPDK ports, and this twstack was built without DPDK "
        << "(install libdpdk-dev and reconfigure)\n\n";
  } else if (under.empty()) {
    err << "twstack: unknown command '" << args[0] << "'\n\n";
  } else {
    if (args.size() < 2 || args[1].starts_with("-")) {
      err << "twstack " << group << ": missing subcommand\n\n";
    } else {
      err << "twstack " << group << ": unknown subcommand '" << args[1] << "'\n\n";
    }
  }
  print_usage(err, cmds);
  return kUsageExit;
}

int run(std::span<const std::string_view> args) {
  std::vector<Command> cmds = all_commands();
  if (args.empty()) {
    print_usage(std::cerr, cmds);
    return kUsageExit;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_usage(std::cout, cmds);
    return 0;
  }
  std::size_t used = 0;
  const Command* c = match(cmds, args, &used);
  if (c == nullptr) return unknown_command(std::cerr, cmds, args);
  try {
    Options opts = Options::parse(c->options, args.subspan(used), c->max_positional);
    if (opts.help()) {
      print_command_usage(std::cout, *c);
      return 0;
    }
    return c->run(opts, std::cout, std::cerr);
  } catch (const UsageError& e) {
    std::cerr << "twstack " << c->path << ": " << e.what() << "\n\n";
    print_command_usage(std::cerr, *c, true);
    return kUsageExit;
  }
}

}  // namespace
}  // namespace twstack::app

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  try {
    return twstack::app::run(args);
  } catch (const std::exception& e) {
    std::cerr << "twstack: " << e.what() << "\n";
    return 1;
  }
}
