// Built where libdpdk-dev is missing: serve and churn only say why they
// cannot run (exit status 2, as for a usage mistake).
#include <ostream>

#include "apps/twstack/dpdk/dpdk_commands.hh"

namespace twstack::app {

namespace {

Command unavailable(CLI::App& top, const char* name) {
  CLI::App* app = top.add_subcommand(name, "runs on DPDK ports: not in this build");
  app->allow_extras();
  app->prefix_command();
  return Command{app, [name](std::ostream&, std::ostream& err) {
                   err << "twstack: '" << name << "' runs on DPDK ports, and this twstack was built without DPDK "
                       << "(install libdpdk-dev and reconfigure)\n";
                   return 2;
                 }};
}

}  // namespace

std::vector<Command> add_dpdk_commands(CLI::App& top) {
  return {unavailable(top, "serve"), unavailable(top, "churn"), unavailable(top, "flood")};
}
bool have_dpdk() { return false; }

}  // namespace twstack::app
