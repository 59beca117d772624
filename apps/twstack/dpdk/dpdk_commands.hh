// The commands that run on DPDK ports: serve and churn. Where libdpdk is
// missing they are still there, to say so (no_dpdk_commands.cc).
#pragma once

#include <vector>

#include "apps/common/cli.hh"

namespace twstack::app {

// Adds serve and churn to the top-level app.
std::vector<Command> add_dpdk_commands(CLI::App& top);
// Whether this build has the DPDK commands.
bool have_dpdk();

Command add_serve_command(CLI::App& top);
Command add_churn_command(CLI::App& top);
Command add_flood_command(CLI::App& top);

}  // namespace twstack::app
