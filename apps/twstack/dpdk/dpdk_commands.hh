// The commands that run on DPDK ports (built only where libdpdk is found;
// elsewhere dpdk_commands() is empty and `twstack` says so).
#pragma once

#include <vector>

#include "apps/common/command.hh"

namespace twstack::app {

// serve, churn; empty without DPDK.
std::vector<Command> dpdk_commands();
// Whether this build has the DPDK commands.
bool have_dpdk();

Command serve_command();
Command churn_command();

}  // namespace twstack::app
