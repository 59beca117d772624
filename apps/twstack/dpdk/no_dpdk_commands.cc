// Built where libdpdk-dev is missing: no DPDK commands.
#include "apps/twstack/dpdk/dpdk_commands.hh"

namespace twstack::app {

std::vector<Command> dpdk_commands() { return {}; }
bool have_dpdk() { return false; }

}  // namespace twstack::app
