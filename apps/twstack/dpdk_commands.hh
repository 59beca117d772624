// The commands that run on DPDK ports (built only where libdpdk is found;
// elsewhere dpdk_commands() is empty and `twstack` says so), and what they
// share: the end-of-run summary.
#pragma once

#include <iosfwd>
#include <string_view>
#include <vector>

#include "apps/twstack/command.hh"
#include "apps/twstack/dpdk_runtime.hh"

namespace twstack::app {

// serve, churn; empty without DPDK.
std::vector<Command> dpdk_commands();
// Whether this build has the DPDK commands.
bool have_dpdk();

Command serve_command();
Command churn_command();

// A figure by name, 0 if absent.
std::uint64_t metric(const Metrics& m, std::string_view name);
// The summary after a run: the command's totals, the first failure (churn),
// TIME_WAIT peak and end, the headline counters and what the NIC adapter
// counted; --json: one object with "summary": true.
void print_summary(std::ostream& out, bool json, std::string_view role, const RuntimeResult& r);

}  // namespace twstack::app
